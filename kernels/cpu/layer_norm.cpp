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
//          is serial per lane.
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
