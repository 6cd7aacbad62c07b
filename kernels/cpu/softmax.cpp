// SPDX-License-Identifier: Apache-2.0
/// @brief Softmax / log-softmax forward and backward over the last dimension on CPU.
//
// softmax.cpp: masked, scaled softmax and log-softmax; backward of both.
// Shapes:  x, y (N, C) row-major; additive mask (mask_rows, C) float, broadcast over rows.
// Mapping: rows in fixed chunks over OpenMP threads (grain depends on C only); each row is
//          processed from a private float buffer (L1/L2 resident) with `omp simd` loops and the
//          vectorisable exp of NOTE [vectorisable exp] in vec_math.h. float rows on AVX-512
//          builds: intrinsics, exp512, no z buffer (NOTE [softmax AVX-512 path]).
// Algorithm: one pass over x in blocks of kBlock columns: z = scale*x + mask into the buffer, the
//          block max, and a running (max m, sum s) pair rescaled when m grows (online softmax,
//          Milakov & Gimelshein 2018) -- so x is read from memory once even for rows far larger
//          than the cache. Softmax keeps exp(z - m_block) in the buffer, so the second pass writes
//          y = buffer * exp(m_block - m) / s with one multiply (one exp per element in all; the
//          kernel is compute-bound at ~1.5 cycles/element otherwise). Causal rows stop at their
//          last visible column (the rest is written as 0 / -inf without computing).
// Cost:    forward ~(4 + exp ~12) NC FLOP; reads NC*sizeof(T), writes NC*sizeof(T): memory-bound,
//          floor = 2NC*sizeof(T) / copy bandwidth. Backward: reads y, grad_y, writes grad_x
//          (3NC*sizeof(T)), 4NC FLOP.
// Target:  >= 70% of memcpy bandwidth. Measured: docs/kernels.md.
// Tests: tests/kernels/test_softmax.cpp   Bench: benches/kernels/bench_softmax.cpp
#include <tessera/kernels/cpu/softmax.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <tessera/error.h>
#include <tessera/kernels/cpu/compute_type.h>
#include <tessera/kernels/cpu/strided_loop.h>

#include "vec_math.h"

namespace tessera::kernels::cpu {
namespace {

using detail::exp_fast;

constexpr int64_t kRowGrainElems = 16384;
constexpr int64_t kBlock = 512;  // columns per online-softmax block (2 KiB of float z)

void check_args(const char* op, int64_t rows, int64_t cols, const SoftmaxOptions& o) {
  TESSERA_CHECK(rows >= 0 && cols >= 0, op, ": expected non-negative sizes, got rows=", rows,
                " cols=", cols);
  TESSERA_CHECK(!o.additive || o.mask_rows > 0, op, ": an additive mask needs mask_rows > 0, got ",
                o.mask_rows);
  TESSERA_CHECK(!o.causal || o.causal_rows > 0, op,
                ": causal masking needs causal_rows > 0 (the block height), got ", o.causal_rows);
}

// Columns [0, visible) of row r can be unmasked; the rest are -inf by causality.
int64_t visible_cols(int64_t r, int64_t cols, const SoftmaxOptions& o) {
  if (!o.causal) return cols;
  const int64_t last = r % o.causal_rows + o.causal_offset;  // last visible column
  return std::clamp<int64_t>(last + 1, 0, cols);
}

#if defined(__AVX512F__)
// NOTE [softmax AVX-512 path]: float rows take a path written with intrinsics (this machine's
// build; AVX2 builds use the generic loops below). Three things make it memory-bound on one
// core where the generic path is not (docs/kernels.md):
//  - exp512 (NOTE [AVX-512 exp]): ~14 operations per 16 lanes instead of ~26;
//  - no z buffer: the block max is taken from z = scale x + mask computed on the fly, and the
//    exp pass recomputes z from x (the block, 2 KiB, is still in L1) instead of storing and
//    reloading it: zmm stores are the scarce resource on Zen 4 (one per 2 cycles);
//  - softmax writes exp(z - m_b) straight into y and rescales y in place at the end;
//    log-softmax writes y = z - lse once. y may alias x: every write y[j] comes after the last
//    read of x[j] (pass 2 reads x[j] and then writes y[j]; the rescale reads only y).
// z is computed the same way in every pass (scale * x, then + mask), so the maximum element gives
// exp(0) = 1 exactly and s >= 1. Tails are masked; no scalar remainder loop.

inline __m512 load_z(const float* x, const float* mask, __m512 sc, int64_t j, __mmask16 k) {
  __m512 v = _mm512_mul_ps(sc, _mm512_maskz_loadu_ps(k, x + j));
  if (mask) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, mask + j));
  return v;
}

// max over j < len of z = scale x[j] (+ mask[j]); NaN lanes ignored (like the generic loop's
// `z > bm ? z : bm`).
inline float block_max_f32(const float* x, const float* mask, float scale, int64_t len) {
  // Without a mask and with scale > 0, max(scale x) = scale max(x) exactly (rounding is
  // monotone): the loop skips the multiply.
  const bool raw = !mask && scale > 0;
  const __m512 sc = _mm512_set1_ps(scale);
  auto z = [&](int64_t j, __mmask16 k) {
    return raw ? _mm512_maskz_loadu_ps(k, x + j) : load_z(x, mask, sc, j, k);
  };
  __m512 bm0 = _mm512_set1_ps(-std::numeric_limits<float>::infinity()), bm1 = bm0;
  int64_t j = 0;
  for (; j + 32 <= len; j += 32) {
    bm0 = _mm512_max_ps(z(j, 0xFFFF), bm0);  // 2nd operand on NaN: keeps bm
    bm1 = _mm512_max_ps(z(j + 16, 0xFFFF), bm1);
  }
  for (; j < len; j += 16) {
    const __mmask16 k = detail::tail_mask16(len - j);
    bm0 = _mm512_mask_max_ps(bm0, k, z(j, k), bm0);
  }
  const float bm = _mm512_reduce_max_ps(_mm512_max_ps(bm0, bm1));
  return raw ? scale * bm : bm;
}

// Returns sum over j < len of exp(z[j] - m); kStore: y[j] = exp(z[j] - m).
template <bool kStore>
inline float block_exp_sum_f32(const float* x, const float* mask, float scale, float m, float* y,
                               int64_t len) {
  const __m512 sc = _mm512_set1_ps(scale), mv = _mm512_set1_ps(m);
  __m512 s0 = _mm512_setzero_ps(), s1 = s0;
  int64_t j = 0;
  for (; j + 32 <= len; j += 32) {
    const __m512 e0 = detail::exp512<true>(_mm512_sub_ps(load_z(x, mask, sc, j, 0xFFFF), mv));
    const __m512 e1 = detail::exp512<true>(_mm512_sub_ps(load_z(x, mask, sc, j + 16, 0xFFFF), mv));
    if constexpr (kStore) {
      _mm512_storeu_ps(y + j, e0);
      _mm512_storeu_ps(y + j + 16, e1);
    }
    s0 = _mm512_add_ps(s0, e0);
    s1 = _mm512_add_ps(s1, e1);
  }
  for (; j < len; j += 16) {
    const __mmask16 k = detail::tail_mask16(len - j);
    const __m512 e = detail::exp512<true>(_mm512_sub_ps(load_z(x, mask, sc, j, k), mv));
    if constexpr (kStore) _mm512_mask_storeu_ps(y + j, k, e);
    s0 = _mm512_mask_add_ps(s0, k, s0, e);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// One row of softmax (kLog = false) or log-softmax over the n visible of cols columns. Softmax
// keeps exp(z - m_b) in y until the row's sum is known, then rescales y in place. Non-temporal
// stores (NOTE [streaming stores]) were measured here too and lost: writing y once needs the
// exps in a buffer, i.e. one more zmm store per vector, and this kernel is store-port-bound
// (44-60% of memcpy with streaming vs 70-108% without, interleaved runs, 1 thread).
template <bool kLog>
void row_forward_f32(const float* xr, const float* mask, float scale, float* yr, float* block_m,
                     int64_t n, int64_t cols) {
  float* e = yr;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const float fill = kLog ? kNegInf : 0.f;
  float m = kNegInf, s = 0;
  for (int64_t j0 = 0, b = 0; j0 < n; j0 += kBlock, ++b) {
    const int64_t len = std::min(n - j0, kBlock);
    const float* mk = mask ? mask + j0 : nullptr;
    const float bm = block_max_f32(xr + j0, mk, scale, len);
    if (bm == kNegInf) {  // a fully masked block adds nothing
      if constexpr (!kLog) {
        std::fill(e + j0, e + j0 + len, 0.f);
        block_m[b] = kNegInf;
      }
      continue;
    }
    if (bm > m) {
      if (s != 0) s *= exp_fast(m - bm);  // s = 0 (first block): nothing to rescale
      m = bm;
    }
    s += block_exp_sum_f32<!kLog>(xr + j0, mk, scale, m, e + j0, len);
    if constexpr (!kLog) block_m[b] = m;
  }
  if (m == kNegInf) {  // fully masked row: defined output, no 0/0
    std::fill(yr, yr + cols, fill);
    return;
  }
  if constexpr (kLog) {
    const __m512 sc = _mm512_set1_ps(scale), lse = _mm512_set1_ps(m + std::log(s));
    detail::store_row(yr, n, false, [&](int64_t j, __mmask16 k) {
      return _mm512_sub_ps(load_z(xr, mask, sc, j, k), lse);
    });
  } else {
    const float inv = 1.f / s;
    for (int64_t j0 = 0, b = 0; j0 < n; j0 += kBlock, ++b) {
      const __m512 f = _mm512_set1_ps(block_m[b] == m ? inv : exp_fast(block_m[b] - m) * inv);
      const float* eb = e + j0;
      detail::store_row(yr + j0, std::min(n - j0, kBlock), false, [&](int64_t j, __mmask16 k) {
        return _mm512_mul_ps(_mm512_maskz_loadu_ps(k, eb + j), f);
      });
    }
  }
  std::fill(yr + n, yr + cols, fill);
}
#endif

// Fills z (n) and returns (m, s) = (max z, sum exp(z - m)); m = -inf when everything is masked.
// kStoreExp (softmax): z[j] becomes exp(z[j] - m_b) with m_b = block_m[b], the running max when
// block b was summed, so the output pass is y = z * exp(m_b - m) / s: one exp per element, not two.
template <bool kStoreExp, typename T, typename A>
void row_stats(const T* xr, const float* mask, A scale, A* z, A* block_m, int64_t n, A& m_out,
               A& s_out) {
  constexpr A kNegInf = -std::numeric_limits<A>::infinity();
  A m = kNegInf, s = 0;
  for (int64_t j0 = 0, b = 0; j0 < n; j0 += kBlock, ++b) {
    const int64_t j1 = std::min(n, j0 + kBlock);
    A bm = kNegInf;
    if (mask) {
#pragma omp simd reduction(max : bm)
      for (int64_t j = j0; j < j1; ++j) {
        z[j] = scale * static_cast<A>(xr[j]) + static_cast<A>(mask[j]);
        bm = z[j] > bm ? z[j] : bm;  // not std::max: see NOTE [vectorisable exp]
      }
    } else {
#pragma omp simd reduction(max : bm)
      for (int64_t j = j0; j < j1; ++j) {
        z[j] = scale * static_cast<A>(xr[j]);
        bm = z[j] > bm ? z[j] : bm;  // not std::max: see NOTE [vectorisable exp]
      }
    }
    if (bm == kNegInf) {  // a fully masked block adds nothing
      if constexpr (kStoreExp) {
        std::fill(z + j0, z + j1, A(0));
        block_m[b] = kNegInf;
      }
      continue;
    }
    if (bm > m) {
      s *= exp_fast(m - bm);  // m = -inf gives exp = 0 and s is 0 anyway
      m = bm;
    }
    A bs = 0;
    if constexpr (kStoreExp) {
#pragma omp simd reduction(+ : bs)
      for (int64_t j = j0; j < j1; ++j) {
        z[j] = exp_fast(z[j] - m);
        bs += z[j];
      }
      block_m[b] = m;
    } else {
#pragma omp simd reduction(+ : bs)
      for (int64_t j = j0; j < j1; ++j) bs += exp_fast(z[j] - m);
    }
    s += bs;
  }
  m_out = m;
  s_out = s;
}

template <typename T, bool kLog>
void forward_impl(const char* op, const T* x, T* y, int64_t rows, int64_t cols,
                  const SoftmaxOptions& o) {
  using A = compute_t<T>;
  constexpr A kNegInf = -std::numeric_limits<A>::infinity();
  check_args(op, rows, cols, o);
  if (rows == 0 || cols == 0) return;
  TESSERA_CHECK(x && y, op, ": x and y must be non-null");
  const int64_t grain = std::max<int64_t>(1, kRowGrainElems / cols);
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
#if defined(__AVX512F__)
    constexpr bool kVecPath = std::is_same_v<T, float>;  // NOTE [softmax AVX-512 path]: no z
#else
    constexpr bool kVecPath = false;
#endif
    std::vector<A> z(kVecPath ? 0 : cols), block_m((cols + kBlock - 1) / kBlock);
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * cols;  // (C)
      T* yr = y + r * cols;        // (C)
      const float* mr = o.additive ? o.additive + (r % o.mask_rows) * cols : nullptr;
      const int64_t n = visible_cols(r, cols, o);
#if defined(__AVX512F__)
      if constexpr (kVecPath) {
        row_forward_f32<kLog>(xr, mr, o.scale, yr, block_m.data(), n, cols);
        continue;
      }
#endif
      A m, s;
      row_stats<!kLog>(xr, mr, static_cast<A>(o.scale), z.data(), block_m.data(), n, m, s);
      const T fill = static_cast<T>(kLog ? kNegInf : A(0));
      if (m == kNegInf) {  // fully masked row: defined output, no 0/0
        std::fill(yr, yr + cols, fill);
        continue;
      }
      if constexpr (kLog) {
        const A lse = m + std::log(s);
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) yr[j] = static_cast<T>(z[j] - lse);
      } else {
        const A inv = A(1) / s;
        for (int64_t j0 = 0, b = 0; j0 < n; j0 += kBlock, ++b) {
          const A f = exp_fast(block_m[b] - m) * inv;  // exactly inv when m_b == m
          const int64_t j1 = std::min(n, j0 + kBlock);
#pragma omp simd
          for (int64_t j = j0; j < j1; ++j) yr[j] = static_cast<T>(z[j] * f);
        }
      }
      std::fill(yr + n, yr + cols, fill);
    }
  });
}

template <typename T, bool kLog>
void backward_impl(const char* op, const T* y, const T* grad_y, T* grad_x, int64_t rows,
                   int64_t cols, float scale) {
  using A = compute_t<T>;
  TESSERA_CHECK(rows >= 0 && cols >= 0, op, ": expected non-negative sizes, got rows=", rows,
                " cols=", cols);
  if (rows == 0 || cols == 0) return;
  TESSERA_CHECK(y && grad_y && grad_x, op, ": y, grad_y and grad_x must be non-null");
  const A sc = static_cast<A>(scale);
  const int64_t grain = std::max<int64_t>(1, kRowGrainElems / cols);
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* yr = y + r * cols;       // (C)
      const T* gr = grad_y + r * cols;  // (C)
      T* gx = grad_x + r * cols;        // (C), may alias gr
      A dot = 0;
      if constexpr (kLog) {
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < cols; ++j) dot += static_cast<A>(gr[j]);
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          const A yj = static_cast<A>(yr[j]);
          // exp(-inf) = 0 would leave grad_y itself; a masked position has no gradient.
          const A g = sc * (static_cast<A>(gr[j]) - exp_fast(yj) * dot);
          gx[j] = static_cast<T>(yj == -std::numeric_limits<A>::infinity() ? A(0) : g);
        }
      } else {
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < cols; ++j) dot += static_cast<A>(gr[j]) * static_cast<A>(yr[j]);
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j)
          gx[j] = static_cast<T>(sc * static_cast<A>(yr[j]) * (static_cast<A>(gr[j]) - dot));
      }
    }
  });
}

}  // namespace

template <typename T>
void softmax_forward(const T* x, T* y, int64_t rows, int64_t cols, const SoftmaxOptions& opt) {
  forward_impl<T, false>("softmax_forward", x, y, rows, cols, opt);
}
template <typename T>
void log_softmax_forward(const T* x, T* y, int64_t rows, int64_t cols, const SoftmaxOptions& opt) {
  forward_impl<T, true>("log_softmax_forward", x, y, rows, cols, opt);
}
template <typename T>
void softmax_backward(const T* y, const T* grad_y, T* grad_x, int64_t rows, int64_t cols,
                      float scale) {
  backward_impl<T, false>("softmax_backward", y, grad_y, grad_x, rows, cols, scale);
}
template <typename T>
void log_softmax_backward(const T* y, const T* grad_y, T* grad_x, int64_t rows, int64_t cols,
                          float scale) {
  backward_impl<T, true>("log_softmax_backward", y, grad_y, grad_x, rows, cols, scale);
}

#define TESSERA_INSTANTIATE_SOFTMAX(T)                                                         \
  template void softmax_forward<T>(const T*, T*, int64_t, int64_t, const SoftmaxOptions&);     \
  template void log_softmax_forward<T>(const T*, T*, int64_t, int64_t, const SoftmaxOptions&); \
  template void softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t, float);          \
  template void log_softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t, float);
TESSERA_INSTANTIATE_SOFTMAX(float)
TESSERA_INSTANTIATE_SOFTMAX(double)
TESSERA_INSTANTIATE_SOFTMAX(BFloat16)
TESSERA_INSTANTIATE_SOFTMAX(Float16)
#undef TESSERA_INSTANTIATE_SOFTMAX

}  // namespace tessera::kernels::cpu
