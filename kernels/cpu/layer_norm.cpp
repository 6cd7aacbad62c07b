// SPDX-License-Identifier: Apache-2.0
/// @brief LayerNorm forward/backward over the last dimension on CPU (OpenMP rows, SIMD columns).
//
// layer_norm.cpp: y = (x - mean) * rstd * w + b per row; fused residual add; backward.
// Shapes:  x, y (N, C) row-major; weight, bias (C); mean, rstd (N) compute_t<T>.
// Mapping: rows in fixed chunks over OpenMP threads (grain depends on C only); inside a row,
//          `omp simd` loops (8 lanes AVX2, 16 AVX-512). 16-bit types are widened to float per row.
// Statistics: two passes over the row while it sits in L1/L2 (shifted mean, then corrected sum of
//          squared deviations; NOTE [layer_norm statistics]): stable variance at the DRAM cost of
//          one pass. A single-pass sum/sumsq in float loses everything when |mean| >> std; Welford
//          is serial per lane. float rows with C >= 64 on AVX-512 builds: one Welford pass (64
//          lanes, Chan merge) + one normalise pass, non-temporal stores for outputs >= 16 MiB,
//          next-row prefetch (NOTE [layer_norm AVX-512 path]; error bound in docs/kernels.md).
// Cost:    forward ~7NC FLOP, reads NC*sizeof(T) + 2C weights, writes NC*sizeof(T) + 2N stats
//          => < 1 FLOP/byte: memory-bound; floor = 2NC*sizeof(T) / copy bandwidth.
//          Residual variant: 3 reads/writes more per element (x, r in; residual_out, y out).
//          Backward ~12NC FLOP, reads x, grad_y (+ grad_extra), writes grad_x: 3NC*sizeof(T).
// Backward without atomics: rows are cut into a fixed number of chunks (a function of N only);
//          each chunk owns a private (C) partial of grad_weight and grad_bias; the partials are
//          then summed in chunk order, column-parallel. The order never depends on the thread
//          count.
// Target:  >= 70% of memcpy bandwidth. Measured: docs/kernels.md.
// Tests: tests/kernels/test_layer_norm.cpp   Bench: benches/kernels/bench_layer_norm.cpp
#include <tessera/kernels/cpu/layer_norm.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include <tessera/error.h>
#include <tessera/kernels/cpu/strided_loop.h>

#include "vec_math.h"

namespace tessera::kernels::cpu {
namespace {

constexpr int64_t kRowGrainElems = 16384;  // elements per parallel chunk of rows (forward)
constexpr int64_t kMaxGradChunks = 32;     // partial grad_weight/grad_bias buffers (backward)

void check_sizes(const char* op, int64_t rows, int64_t cols) {
  TESSERA_CHECK(rows >= 0 && cols >= 0, op, ": expected non-negative sizes, got rows=", rows,
                " cols=", cols);
}

// A (cols) vector of parameters widened to A, or `fill` where the pointer is null.
template <typename T, typename A>
const A* widen_params(const T* p, int64_t n, A fill, std::vector<A>& storage) {
  if constexpr (std::is_same_v<T, A>) {
    if (p) return p;
  }
  storage.resize(n);
  for (int64_t j = 0; j < n; ++j) storage[j] = p ? static_cast<A>(p[j]) : fill;
  return storage.data();
}

// Normalises one row already held in A: writes y, returns (mean, rstd).
template <typename T, typename A>
void normalize_row(const A* xr, const A* w, const A* b, T* yr, int64_t cols, float eps, A& mean_out,
                   A& rstd_out) {
  // NOTE [layer_norm statistics]: the mean is summed relative to x[0] so the float sum adds
  // deviations (~std) rather than values (~|mean|): with |mean| >> std a plain float sum loses
  // ~log2(|mean|/std) bits, whatever the lane count. The variance is the corrected two-pass form
  // (sum d^2 - (sum d)^2 / C) / C, d = x - mean, which also cancels the mean's own rounding.
  const A shift = cols > 0 ? xr[0] : A(0);
  A sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < cols; ++j) sum += xr[j] - shift;
  const A mean = cols > 0 ? shift + sum / static_cast<A>(cols) : A(0);
  A sq = 0, sd = 0;
#pragma omp simd reduction(+ : sq, sd)
  for (int64_t j = 0; j < cols; ++j) {
    const A d = xr[j] - mean;
    sq += d * d;
    sd += d;
  }
  const A var = cols > 0
                    ? std::max(A(0), (sq - sd * sd / static_cast<A>(cols)) / static_cast<A>(cols))
                    : A(0);
  const A rstd = A(1) / std::sqrt(var + static_cast<A>(eps));
#pragma omp simd
  for (int64_t j = 0; j < cols; ++j) yr[j] = static_cast<T>((xr[j] - mean) * rstd * w[j] + b[j]);
  mean_out = mean;
  rstd_out = rstd;
}

#if defined(__AVX512F__)
// NOTE [layer_norm AVX-512 path]: float rows with C >= 64 take a two-pass path written with
// intrinsics (this machine's build; AVX2 builds keep normalize_row). Pass 1 reads the row from
// memory once and takes both statistics with Welford's update, 64 lanes in parallel (4 zmm
// accumulators x 16 lanes, lane l sees elements l, l + 64, ...), on d = x - x[0] (the same shift
// as NOTE [layer_norm statistics]: for data with |mean| >> std, x - x[0] is exact by Sterbenz):
//     mu += (d - mu) / k;   M2 += (d - mu_old) (d - mu_new)
// then merges the 64 lane states with Chan et al.'s pairwise formula in a fixed tree
// (mu = (mu_a + mu_b)/2, M2 = M2_a + M2_b + delta^2 c/2 for two states of equal count c) and the
// < 64 tail elements with one more merge. Pass 2 normalises from L1/L2. Why: the three-pass
// normalize_row leaves DRAM idle during two in-cache passes; at C = 4096 that was 55-60% of
// memcpy. Pass 2 also prefetches the next row, so DRAM streams during it too.
// Accuracy (float32 throughout, as before): Welford's running mean is a convex update, so each
// lane's M2 carries a relative error of a few ulp times its length k = C/64, not the
// cancellation of sum/sum-of-squares; the merge tree adds log2(64) = 6 levels. Tested against the
// float64 reference with |mean|/std up to 3e4 (tests/kernels/test_layer_norm.cpp, "layer_norm
// float32 statistics ...") and stated in docs/kernels.md.

constexpr int64_t kWelfordLanes = 64;

// Merges lane states (mu, q) of equal count c pairwise until lane 0 holds all 16: h = 8, 4, 2, 1.
inline void merge_lanes16(__m512& mu, __m512& q, float c) {
  for (int h = 8; h >= 1; h /= 2) {
    const __m512i idx = _mm512_and_si512(
        _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(h)),
        _mm512_set1_epi32(15));
    const __m512 mu_b = _mm512_permutexvar_ps(idx, mu), q_b = _mm512_permutexvar_ps(idx, q);
    const __m512 delta = _mm512_sub_ps(mu_b, mu);
    mu = _mm512_fmadd_ps(delta, _mm512_set1_ps(0.5f), mu);
    q = _mm512_fmadd_ps(_mm512_mul_ps(delta, delta), _mm512_set1_ps(0.5f * c),
                        _mm512_add_ps(q, q_b));
    c *= 2;
  }
}

// Mean and M2 = sum (v - mean)^2 of one row v = x (+ res, stored to ro), cols >= 64.
inline void row_moments_f32(const float* x, const float* res, float* ro, int64_t cols,
                            float& mean_out, float& m2_out) {
  const float shift = res ? x[0] + res[0] : x[0];
  const __m512 sh = _mm512_set1_ps(shift);
  __m512 mu0 = _mm512_setzero_ps(), mu1 = mu0, mu2 = mu0, mu3 = mu0;
  __m512 q0 = mu0, q1 = mu0, q2 = mu0, q3 = mu0;
  const int64_t steps = cols / kWelfordLanes;
  auto load = [&](int64_t j) {
    __m512 v = _mm512_loadu_ps(x + j);
    if (res) {
      v = _mm512_add_ps(v, _mm512_loadu_ps(res + j));
      _mm512_storeu_ps(ro + j, v);  // the stored (rounded) sum is what gets normalised
    }
    return _mm512_sub_ps(v, sh);
  };
  auto update = [](__m512 d, __m512 inv, __m512& mu, __m512& q) {
    const __m512 e = _mm512_sub_ps(d, mu);
    mu = _mm512_fmadd_ps(e, inv, mu);
    q = _mm512_fmadd_ps(e, _mm512_sub_ps(d, mu), q);
  };
  for (int64_t k = 0; k < steps; ++k) {
    const __m512 inv = _mm512_set1_ps(1.f / static_cast<float>(k + 1));
    const int64_t j = k * kWelfordLanes;
    update(load(j), inv, mu0, q0);
    update(load(j + 16), inv, mu1, q1);
    update(load(j + 32), inv, mu2, q2);
    update(load(j + 48), inv, mu3, q3);
  }
  // 4 accumulators -> 1 (counts `steps` each), then 16 lanes -> 1.
  const float c = static_cast<float>(steps);
  const __m512 half = _mm512_set1_ps(0.5f), hc = _mm512_set1_ps(0.5f * c);
  __m512 d01 = _mm512_sub_ps(mu1, mu0), d23 = _mm512_sub_ps(mu3, mu2);
  __m512 mu01 = _mm512_fmadd_ps(d01, half, mu0), mu23 = _mm512_fmadd_ps(d23, half, mu2);
  __m512 q01 = _mm512_fmadd_ps(_mm512_mul_ps(d01, d01), hc, _mm512_add_ps(q0, q1));
  __m512 q23 = _mm512_fmadd_ps(_mm512_mul_ps(d23, d23), hc, _mm512_add_ps(q2, q3));
  const __m512 d = _mm512_sub_ps(mu23, mu01);
  __m512 mu = _mm512_fmadd_ps(d, half, mu01);
  __m512 q = _mm512_fmadd_ps(_mm512_mul_ps(d, d), _mm512_set1_ps(c), _mm512_add_ps(q01, q23));
  merge_lanes16(mu, q, 4 * c);
  float m = _mm512_cvtss_f32(mu), m2 = _mm512_cvtss_f32(q);
  // Tail (< 64 elements): two-pass moments of its own, then one Chan merge.
  const int64_t j0 = steps * kWelfordLanes, nt = cols - j0;
  if (nt > 0) {
    float t[kWelfordLanes];
    for (int64_t j = 0; j < nt; ++j) {
      float v = x[j0 + j];
      if (res) {
        v = v + res[j0 + j];
        ro[j0 + j] = v;
      }
      t[j] = v - shift;
    }
    float st = 0;
    for (int64_t j = 0; j < nt; ++j) st += t[j];
    const float mt = st / static_cast<float>(nt);
    float qt = 0;
    for (int64_t j = 0; j < nt; ++j) qt += (t[j] - mt) * (t[j] - mt);
    const float na = static_cast<float>(j0), nb = static_cast<float>(nt);
    const float delta = mt - m;
    m += delta * (nb / (na + nb));
    m2 += qt + delta * delta * (na * nb / (na + nb));
  }
  mean_out = shift + m;
  m2_out = m2;
}

// y = (v - mean) rstd w + b for v = src row, prefetching `next` and `next2` (the next row's
// inputs, or null) so that DRAM keeps streaming during this in-cache pass.
inline void normalize_f32(const float* src, const float* w, const float* b, float* y, int64_t cols,
                          float mean, float rstd, const float* next, const float* next2,
                          bool stream) {
  const __m512 mv = _mm512_set1_ps(mean), sv = _mm512_set1_ps(rstd);
  detail::store_row(y, cols, stream, [&](int64_t j, __mmask16 k) {
    if (next) _mm_prefetch(reinterpret_cast<const char*>(next + j), _MM_HINT_T0);
    if (next2) _mm_prefetch(reinterpret_cast<const char*>(next2 + j), _MM_HINT_T0);
    const __m512 a = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, src + j), mv), sv);
    return _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(k, w + j), _mm512_maskz_loadu_ps(k, b + j));
  });
}

// Backward of float rows (NOTE [layer_norm AVX-512 path]). Pass 1 (backward_sums_f32) reads x
// and grad_y from memory once and does everything that needs only them -- the grad_weight /
// grad_bias partials (pw, pb, may be null) and the two row sums -- for R = 1 or 2 rows at a
// time: with R = 2 the (C) partials are loaded and stored once per two rows (at C = 4096 they
// and w no longer fit L1 with the rows). The partial updates are the same fmas in the same row
// order as one row at a time, so the result is bit-identical either way. Pass 2
// (backward_gx_f32) writes grad_x from L1/L2 (non-temporal with `stream`), prefetching the next
// rows' x and grad_y. The generic code makes three passes.
template <int R>
inline void backward_sums_f32(const float* const* x, const float* const* dy, const float* w,
                              const float* m, const float* s, float* pw, float* pb, int64_t cols,
                              float* mg, float* mgx) {
  __m512 mv[R], sv[R], sg[R], sgx[R];
  for (int i = 0; i < R; ++i) {
    mv[i] = _mm512_set1_ps(m[i]);
    sv[i] = _mm512_set1_ps(s[i]);
    sg[i] = sgx[i] = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < cols; j += 16) {
    const __mmask16 k = detail::tail_mask16(cols - j);
    const __m512 wv = _mm512_maskz_loadu_ps(k, w + j);
    __m512 pwv = pw ? _mm512_maskz_loadu_ps(k, pw + j) : wv;
    __m512 pbv = pw ? _mm512_maskz_loadu_ps(k, pb + j) : wv;
    for (int i = 0; i < R; ++i) {
      const __m512 d = _mm512_maskz_loadu_ps(k, dy[i] + j);
      const __m512 xh =
          _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x[i] + j), mv[i]), sv[i]);
      if (pw) {
        pwv = _mm512_fmadd_ps(d, xh, pwv);
        pbv = _mm512_add_ps(d, pbv);
      }
      const __m512 g = _mm512_mul_ps(d, wv);  // 0 outside k
      sg[i] = _mm512_add_ps(sg[i], g);
      sgx[i] = _mm512_fmadd_ps(g, xh, sgx[i]);
    }
    if (pw) {
      _mm512_mask_storeu_ps(pw + j, k, pwv);
      _mm512_mask_storeu_ps(pb + j, k, pbv);
    }
  }
  const float inv_c = 1.f / static_cast<float>(cols);
  for (int i = 0; i < R; ++i) {
    mg[i] = _mm512_reduce_add_ps(sg[i]) * inv_c;
    mgx[i] = _mm512_reduce_add_ps(sgx[i]) * inv_c;
  }
}

inline void backward_gx_f32(const float* x, const float* dy, const float* w, float m, float s,
                            float mg_s, float mgx_s, const float* ge, float* gx, int64_t cols,
                            const float* next_x, const float* next_dy, bool stream) {
  const __m512 mv = _mm512_set1_ps(m), sv = _mm512_set1_ps(s);
  const __m512 mg = _mm512_set1_ps(mg_s), mgx = _mm512_set1_ps(mgx_s);
  detail::store_row(gx, cols, stream, [&](int64_t j, __mmask16 k) {
    if (next_x) {
      _mm_prefetch(reinterpret_cast<const char*>(next_x + j), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(next_dy + j), _MM_HINT_T0);
    }
    const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), mv), sv);
    __m512 t =
        _mm512_fmsub_ps(_mm512_maskz_loadu_ps(k, dy + j), _mm512_maskz_loadu_ps(k, w + j), mg);
    t = _mm512_mul_ps(sv, _mm512_fnmadd_ps(xh, mgx, t));
    return ge ? _mm512_add_ps(t, _mm512_maskz_loadu_ps(k, ge + j)) : t;
  });
}
#endif

template <typename T>
void forward_impl(const char* op, const T* x, const T* residual, T* residual_out, const T* weight,
                  const T* bias, T* y, compute_t<T>* mean, compute_t<T>* rstd, int64_t rows,
                  int64_t cols, float eps) {
  using A = compute_t<T>;
  // Preconditions
  check_sizes(op, rows, cols);
  TESSERA_CHECK(rows == 0 || (x && y), op, ": x and y must be non-null");
  TESSERA_CHECK(!residual || residual_out, op, ": residual_out must be non-null with a residual");
  TESSERA_CHECK(eps >= 0.f, op, ": expected eps >= 0, got ", eps);
  if (rows == 0) return;
  std::vector<A> w_store, b_store;
  const A* w = widen_params(weight, cols, A(1), w_store);
  const A* b = widen_params(bias, cols, A(0), b_store);
  const int64_t grain = std::max<int64_t>(1, kRowGrainElems / std::max<int64_t>(cols, 1));
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    std::vector<A> buf;
    if (residual || !std::is_same_v<T, A>) buf.resize(cols);
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * cols;  // (C)
#if defined(__AVX512F__)
      if constexpr (std::is_same_v<T, float>) {
        if (cols >= kWelfordLanes) {  // NOTE [layer_norm AVX-512 path]
          const T* rr = residual ? residual + r * cols : nullptr;
          T* ro = residual ? residual_out + r * cols : nullptr;
          float m, m2;
          row_moments_f32(xr, rr, ro, cols, m, m2);
          const float var = std::max(0.f, m2 / static_cast<float>(cols));
          const float s = 1.f / std::sqrt(var + eps);
          const bool more = r + 1 < rows;
          const bool stream = rows * cols * int64_t{sizeof(float)} >= detail::kStreamBytes;
          normalize_f32(ro ? ro : xr, w, b, y + r * cols, cols, m, s, more ? xr + cols : nullptr,
                        more && rr ? rr + cols : nullptr, stream);
          if (mean) mean[r] = m;
          if (rstd) rstd[r] = s;
          continue;
        }
      }
#endif
      const A* xa;
      if (residual) {
        const T* rr = residual + r * cols;
        T* ro = residual_out + r * cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          // LayerNorm sees the stored (rounded) sum, so backward from residual_out is exact.
          const T s = static_cast<T>(static_cast<A>(xr[j]) + static_cast<A>(rr[j]));
          ro[j] = s;
          buf[j] = static_cast<A>(s);
        }
        xa = buf.data();
      } else if constexpr (std::is_same_v<T, A>) {
        xa = xr;
      } else {
        for (int64_t j = 0; j < cols; ++j) buf[j] = static_cast<A>(xr[j]);
        xa = buf.data();
      }
      A m, s;
      normalize_row(xa, w, b, y + r * cols, cols, eps, m, s);
      if (mean) mean[r] = m;
      if (rstd) rstd[r] = s;
    }
#if defined(__AVX512F__)
    _mm_sfence();  // NOTE [streaming stores]
#endif
  });
}

}  // namespace

template <typename T>
void layer_norm_forward(const T* x, const T* weight, const T* bias, T* y, compute_t<T>* mean,
                        compute_t<T>* rstd, int64_t rows, int64_t cols, float eps) {
  forward_impl<T>("layer_norm_forward", x, nullptr, nullptr, weight, bias, y, mean, rstd, rows,
                  cols, eps);
}

template <typename T>
void add_layer_norm_forward(const T* x, const T* residual, T* residual_out, const T* weight,
                            const T* bias, T* y, compute_t<T>* mean, compute_t<T>* rstd,
                            int64_t rows, int64_t cols, float eps) {
  TESSERA_CHECK(rows == 0 || residual, "add_layer_norm_forward: residual must be non-null");
  forward_impl<T>("add_layer_norm_forward", x, residual, residual_out, weight, bias, y, mean, rstd,
                  rows, cols, eps);
}

template <typename T>
void layer_norm_backward(const T* grad_y, const T* x, const T* weight, const compute_t<T>* mean,
                         const compute_t<T>* rstd, const T* grad_extra, T* grad_x, T* grad_weight,
                         T* grad_bias, int64_t rows, int64_t cols) {
  using A = compute_t<T>;
  // Preconditions
  check_sizes("layer_norm_backward", rows, cols);
  TESSERA_CHECK(rows == 0 || (grad_y && x && mean && rstd),
                "layer_norm_backward: grad_y, x, mean and rstd must be non-null");
  if (rows == 0 || cols == 0) return;
  std::vector<A> w_store;
  const A* w = widen_params(weight, cols, A(1), w_store);
  const bool want_params = grad_weight || grad_bias;
  const int64_t nchunks = std::min(rows, kMaxGradChunks);
  const int64_t rows_per_chunk = (rows + nchunks - 1) / nchunks;
  // (nchunks, C) partials of grad_weight and grad_bias.
  std::vector<A> part_w(want_params ? nchunks * cols : 0), part_b(want_params ? nchunks * cols : 0);
  const bool widen = !std::is_same_v<T, A>;

#if defined(__AVX512F__)
  const bool stream = grad_x && rows * cols * int64_t{sizeof(T)} >= detail::kStreamBytes;
#endif
  parallel_for(nchunks, 1, [&](int64_t c0, int64_t c1) {
    // A local copy: read through the closure inside `omp simd`, GCC re-loads the pointer per lane
    // and turns w[j] into a gather (measured: backward 16 -> 12 ms at 16384 x 768).
    const A* const wl = w;
    std::vector<A> xbuf(widen ? cols : 0), gbuf(widen ? cols : 0);
    for (int64_t c = c0; c < c1; ++c) {
      A* pw = want_params ? part_w.data() + c * cols : nullptr;
      A* pb = want_params ? part_b.data() + c * cols : nullptr;
      const int64_t r_end = std::min(rows, (c + 1) * rows_per_chunk);
      for (int64_t r = c * rows_per_chunk; r < r_end; ++r) {
#if defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float>) {
          if (!grad_x && !pw) continue;
          const int nr = r + 1 < r_end ? 2 : 1;  // rows in this step (pairs within the chunk)
          const float* xs[2] = {x + r * cols, x + (r + nr - 1) * cols};
          const float* dys[2] = {grad_y + r * cols, grad_y + (r + nr - 1) * cols};
          float mg[2], mgx[2];
          if (nr == 2)
            backward_sums_f32<2>(xs, dys, wl, mean + r, rstd + r, pw, pb, cols, mg, mgx);
          else
            backward_sums_f32<1>(xs, dys, wl, mean + r, rstd + r, pw, pb, cols, mg, mgx);
          if (grad_x) {
            for (int i = 0; i < nr; ++i) {
              const int64_t ri = r + i, rn = r + nr + i;  // rn: a row of the next step
              const bool more = rn < rows;
              backward_gx_f32(xs[i], dys[i], wl, mean[ri], rstd[ri], mg[i], mgx[i],
                              grad_extra ? grad_extra + ri * cols : nullptr, grad_x + ri * cols,
                              cols, more ? x + rn * cols : nullptr,
                              more ? grad_y + rn * cols : nullptr, stream);
            }
          }
          r += nr - 1;
          continue;
        }
#endif
        const A* xr;   // (C)
        const A* dyr;  // (C)
        if constexpr (std::is_same_v<T, A>) {
          xr = x + r * cols;
          dyr = grad_y + r * cols;
        } else {
          for (int64_t j = 0; j < cols; ++j) {
            xbuf[j] = static_cast<A>(x[r * cols + j]);
            gbuf[j] = static_cast<A>(grad_y[r * cols + j]);
          }
          xr = xbuf.data();
          dyr = gbuf.data();
        }
        const A m = mean[r], s = rstd[r];
        if (pw) {
#pragma omp simd
          for (int64_t j = 0; j < cols; ++j) {
            pw[j] += dyr[j] * ((xr[j] - m) * s);
            pb[j] += dyr[j];
          }
        }
        if (!grad_x) continue;
        A sum_g = 0, sum_gx = 0;
#pragma omp simd reduction(+ : sum_g, sum_gx)
        for (int64_t j = 0; j < cols; ++j) {
          const A g = dyr[j] * wl[j];
          sum_g += g;
          sum_gx += g * ((xr[j] - m) * s);
        }
        const A inv_c = A(1) / static_cast<A>(cols);
        const A mg = sum_g * inv_c, mgx = sum_gx * inv_c;
        T* gx = grad_x + r * cols;
        const T* ge = grad_extra ? grad_extra + r * cols : nullptr;
        if (ge) {
#pragma omp simd
          for (int64_t j = 0; j < cols; ++j)
            gx[j] = static_cast<T>(s * (dyr[j] * wl[j] - mg - (xr[j] - m) * s * mgx) +
                                   static_cast<A>(ge[j]));
        } else {
#pragma omp simd
          for (int64_t j = 0; j < cols; ++j)
            gx[j] = static_cast<T>(s * (dyr[j] * wl[j] - mg - (xr[j] - m) * s * mgx));
        }
      }
    }
#if defined(__AVX512F__)
    if (stream) _mm_sfence();  // NOTE [streaming stores]
#endif
  });

  if (!want_params) return;
  // Combine the partials in chunk order (c outer so the loads are contiguous); columns in parallel.
  parallel_for(cols, 4096, [&](int64_t j0, int64_t j1) {
    std::vector<A> sw(j1 - j0, A(0)), sb(j1 - j0, A(0));
    for (int64_t c = 0; c < nchunks; ++c) {
      const A* pw = part_w.data() + c * cols + j0;
      const A* pb = part_b.data() + c * cols + j0;
#pragma omp simd
      for (int64_t j = 0; j < j1 - j0; ++j) {
        sw[j] += pw[j];
        sb[j] += pb[j];
      }
    }
    for (int64_t j = j0; j < j1; ++j) {
      if (grad_weight) grad_weight[j] = static_cast<T>(static_cast<A>(grad_weight[j]) + sw[j - j0]);
      if (grad_bias) grad_bias[j] = static_cast<T>(static_cast<A>(grad_bias[j]) + sb[j - j0]);
    }
  });
}

#define TESSERA_INSTANTIATE_LAYER_NORM(T)                                                         \
  template void layer_norm_forward<T>(const T*, const T*, const T*, T*, compute_t<T>*,            \
                                      compute_t<T>*, int64_t, int64_t, float);                    \
  template void add_layer_norm_forward<T>(const T*, const T*, T*, const T*, const T*, T*,         \
                                          compute_t<T>*, compute_t<T>*, int64_t, int64_t, float); \
  template void layer_norm_backward<T>(const T*, const T*, const T*, const compute_t<T>*,         \
                                       const compute_t<T>*, const T*, T*, T*, T*, int64_t,        \
                                       int64_t);
TESSERA_INSTANTIATE_LAYER_NORM(float)
TESSERA_INSTANTIATE_LAYER_NORM(double)
TESSERA_INSTANTIATE_LAYER_NORM(BFloat16)
TESSERA_INSTANTIATE_LAYER_NORM(Float16)
#undef TESSERA_INSTANTIATE_LAYER_NORM

}  // namespace tessera::kernels::cpu
