// SPDX-License-Identifier: Apache-2.0
/// @brief LayerNorm over the last dimension on CUDA: forward, fused residual-add forward, backward.
///
// layer_norm.cu: y = (x - mean) * rstd * w + b per row; residual_out = x + r first (fused);
//          backward grad_x per row and grad_weight/grad_bias without atomics.
// Shapes:  x, y, residual, residual_out, grad_y, grad_x (N, C) row-major contiguous; weight, bias,
//          grad_weight, grad_bias (C); mean, rstd (N) float (double for double storage).
// Mapping: NOTE [row groups] in row_common.cuh: one warp per row for C <= 1024 (4 rows per
//          128-thread block), one 256-thread block per row otherwise; 16-byte vector accesses when
//          every pointer is 16-byte aligned and C % (16 / sizeof(T)) == 0, scalar otherwise. Each
//          thread keeps its first 32 values of the row in registers (16 of x-hat and 16 of
//          grad_y * w in backward), so rows up to 1024 (warp) / 8192 (block) elements are read
//          from DRAM once; the rest is re-read from L2 in the later passes.
// Statistics: exact two-pass from registers: mean = sum x / C (butterfly), then
//          var = sum (x - mean)^2 / C: stable when |mean| >> std (no sum/sumsq cancellation),
//          without a second DRAM read.
// Backward: grad_x = rstd * (g w - mean(g w) - x_hat * mean(g w x_hat)), one row per group, as
//          the forward. grad_weight/grad_bias: NOTE [deterministic parameter gradients] below.
// Cost:    forward ~8NC FLOP; bytes 2NC*sizeof(T) + 2C*sizeof(T) + 8N (residual: 4NC*sizeof(T))
//          => < 1 FLOP/byte, memory-bound: floor = bytes / copy bandwidth. Backward: dx reads x,
//          grad_y and writes grad_x (3NC*sizeof(T)); the parameter pass reads x, grad_y again
//          (2NC*sizeof(T)) plus 2 * chunks * C * sizeof(acc) of partials: 5NC*sizeof(T) in all.
// Target:  >= 80% of copy bandwidth. GPU numbers: not yet measured (no GPU lent).
// Tests:   tests/cuda/test_cuda_fused_norm.cpp
#include <tessera/kernels/cuda/compat.h>
#include <tessera/kernels/cuda/check.h>
#include <tessera/kernels/cuda/layer_norm.h>

#include <climits>
#include <cstdint>
#include <type_traits>

#include "row_common.cuh"

namespace tessera::kernels::cuda {
namespace {

using rows::acc_t;
using rows::aligned16;
using rows::group_sum;
using rows::kBlockThreads;
using rows::load_vec;
using rows::row_grid;
using rows::store_vec;
using rows::to_acc;
using rows::visit_float;
using rows::visit_mapping;

/// Loads vector vi of the row's input: x, or for the fused variant x + residual rounded to T (and
/// stored to residual_out, which later passes read).
template <typename T, typename A, int V>
__device__ __forceinline__ void load_input(const T* xr, const T* rr, T* ror, int vi, A* v) {
  load_vec<T, A, V>(xr + vi * V, v);
  if (rr) {
    A r[V];
    load_vec<T, A, V>(rr + vi * V, r);
    TESSERA_UNROLL
    for (int e = 0; e < V; ++e) v[e] += r[e];
    store_vec<T, A, V>(ror + vi * V, v);  // rounds to T ...
    TESSERA_UNROLL
    for (int e = 0; e < V; ++e) v[e] = to_acc<A>(rows::from_acc<T>(v[e]));  // ... LN sees that
  }
}

template <typename T, typename A, int V, int kWarps>
__global__ void __launch_bounds__(kBlockThreads<kWarps>)
    layer_norm_fwd_kernel(const T* x, const T* residual, T* residual_out,
                          const T* __restrict__ weight, const T* __restrict__ bias, T* y,
                          A* __restrict__ mean, A* __restrict__ rstd, int64_t n_rows, int cols,
                          A eps) {
  constexpr int nt = 32 * kWarps, kGroups = kBlockThreads<kWarps> / nt;
  constexpr int kSlots = 32 / V;  // vectors cached per thread (32 values)
  __shared__ A sh[kWarps];
  const int tid = threadIdx.x % nt, group = threadIdx.x / nt;
  const int nvec = cols / V;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kGroups + group; r < n_rows;
       r += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* xr = x + r * cols;                                 // (C)
    const T* rr = residual ? residual + r * cols : nullptr;     // (C)
    T* ror = residual ? residual_out + r * cols : nullptr;      // (C)
    const T* src = residual ? static_cast<const T*>(ror) : xr;  // what later passes re-read
    T* yr = y + r * cols;                                       // (C)
    A c[kSlots * V] = {};
    A sum = 0;
    TESSERA_UNROLL
    for (int k = 0; k < kSlots; ++k) {
      const int vi = k * nt + tid;
      if (vi < nvec) {
        load_input<T, A, V>(xr, rr, ror, vi, &c[k * V]);
        TESSERA_UNROLL
        for (int e = 0; e < V; ++e) sum += c[k * V + e];
      }
    }
    for (int vi = kSlots * nt + tid; vi < nvec; vi += nt) {  // overflow of long rows
      A v[V];
      load_input<T, A, V>(xr, rr, ror, vi, v);
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) sum += v[e];
    }
    const A mu = group_sum<kWarps>(sum, sh) / static_cast<A>(cols);
    A sq = 0;
    TESSERA_UNROLL
    for (int k = 0; k < kSlots; ++k) {
      if (k * nt + tid < nvec) {
        TESSERA_UNROLL
        for (int e = 0; e < V; ++e) {
          const A d = c[k * V + e] - mu;
          sq += d * d;
        }
      }
    }
    for (int vi = kSlots * nt + tid; vi < nvec; vi += nt) {
      A v[V];
      load_vec<T, A, V>(src + vi * V, v);
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) {
        const A d = v[e] - mu;
        sq += d * d;
      }
    }
    const A var = group_sum<kWarps>(sq, sh) / static_cast<A>(cols);
    const A rs = rows::rsqrt_acc(var + eps);
    if (tid == 0) {
      if (mean) mean[r] = mu;
      if (rstd) rstd[r] = rs;
    }
    // y = (v - mean) * rstd * w + b, from the registers, then the overflow from memory.
    auto emit = [&](int vi, const A* v) {
      A w[V], b[V], o[V];
      if (weight) {
        load_vec<T, A, V>(weight + vi * V, w);
      } else {
        TESSERA_UNROLL
        for (int e = 0; e < V; ++e) w[e] = 1;
      }
      if (bias) {
        load_vec<T, A, V>(bias + vi * V, b);
      } else {
        TESSERA_UNROLL
        for (int e = 0; e < V; ++e) b[e] = 0;
      }
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) o[e] = (v[e] - mu) * rs * w[e] + b[e];
      store_vec<T, A, V>(yr + vi * V, o);
    };
    TESSERA_UNROLL
    for (int k = 0; k < kSlots; ++k) {
      const int vi = k * nt + tid;
      if (vi < nvec) emit(vi, &c[k * V]);
    }
    for (int vi = kSlots * nt + tid; vi < nvec; vi += nt) {
      A v[V];
      load_vec<T, A, V>(src + vi * V, v);
      emit(vi, v);
    }
  }
}

template <typename T, typename A, int V, int kWarps>
__global__ void __launch_bounds__(kBlockThreads<kWarps>)
    layer_norm_bwd_dx_kernel(const T* __restrict__ grad_y, const T* __restrict__ x,
                             const T* __restrict__ weight, const A* __restrict__ mean,
                             const A* __restrict__ rstd, T* __restrict__ grad_x, int64_t n_rows,
                             int cols) {
  constexpr int nt = 32 * kWarps, kGroups = kBlockThreads<kWarps> / nt;
  constexpr int kSlots = (16 / V) > 0 ? 16 / V : 1;  // 16 values of x_hat and of g * w
  __shared__ A sh[kWarps];
  const int tid = threadIdx.x % nt, group = threadIdx.x / nt;
  const int nvec = cols / V;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kGroups + group; r < n_rows;
       r += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* xr = x + r * cols;       // (C)
    const T* gr = grad_y + r * cols;  // (C)
    T* gxr = grad_x + r * cols;       // (C)
    const A mu = mean[r], rs = rstd[r];
    // x_hat and g * w of vector vi
    auto load = [&](int vi, A* xh, A* gw) {
      A w[V];
      load_vec<T, A, V>(xr + vi * V, xh);
      load_vec<T, A, V>(gr + vi * V, gw);
      if (weight) {
        load_vec<T, A, V>(weight + vi * V, w);
      } else {
        TESSERA_UNROLL
        for (int e = 0; e < V; ++e) w[e] = 1;
      }
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) {
        xh[e] = (xh[e] - mu) * rs;
        gw[e] *= w[e];
      }
    };
    A cx[kSlots * V] = {}, cg[kSlots * V] = {};
    A sum_g = 0, sum_gx = 0;
    TESSERA_UNROLL
    for (int k = 0; k < kSlots; ++k) {
      const int vi = k * nt + tid;
      if (vi < nvec) {
        load(vi, &cx[k * V], &cg[k * V]);
        TESSERA_UNROLL
        for (int e = 0; e < V; ++e) {
          sum_g += cg[k * V + e];
          sum_gx += cg[k * V + e] * cx[k * V + e];
        }
      }
    }
    for (int vi = kSlots * nt + tid; vi < nvec; vi += nt) {
      A xh[V], gw[V];
      load(vi, xh, gw);
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) {
        sum_g += gw[e];
        sum_gx += gw[e] * xh[e];
      }
    }
    const A inv_c = A(1) / static_cast<A>(cols);
    const A mg = group_sum<kWarps>(sum_g, sh) * inv_c;
    const A mgx = group_sum<kWarps>(sum_gx, sh) * inv_c;
    auto emit = [&](int vi, const A* xh, const A* gw) {
      A o[V];
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) o[e] = rs * (gw[e] - mg - xh[e] * mgx);
      store_vec<T, A, V>(gxr + vi * V, o);
    };
    TESSERA_UNROLL
    for (int k = 0; k < kSlots; ++k) {
      const int vi = k * nt + tid;
      if (vi < nvec) emit(vi, &cx[k * V], &cg[k * V]);
    }
    for (int vi = kSlots * nt + tid; vi < nvec; vi += nt) {
      A xh[V], gw[V];
      load(vi, xh, gw);
      emit(vi, xh, gw);
    }
  }
}

// NOTE [deterministic parameter gradients]: grad_weight[j] = sum_r g[r,j] x_hat[r,j] and
// grad_bias[j] = sum_r g[r,j] are column sums over all rows. Float atomics would make the bits
// depend on scheduling. Instead the rows are cut into chunks of a size that depends only on N
// (at least kMinChunkRows rows each, at most kMaxChunks chunks); block (column tile, chunk) sums
// its chunk with 32 x 8 threads (thread (tx, ty) takes rows ty, ty + 8, ... of column tile * 32 +
// tx: coalesced) and combines the 8 partials in ty order into partial[chunk][j]. A second kernel
// sums the partials of each column in chunk order. Same shape, same bits, every run.
constexpr int kParamCols = 32, kParamRowThreads = 8;
constexpr int64_t kMaxChunks = 128, kMinChunkRows = 32;

int64_t chunk_rows(int64_t n_rows) {
  const int64_t per = (n_rows + kMaxChunks - 1) / kMaxChunks;
  return per > kMinChunkRows ? per : kMinChunkRows;
}
int64_t chunk_count(int64_t n_rows) {
  const int64_t per = chunk_rows(n_rows);
  return (n_rows + per - 1) / per;
}

template <typename T, typename A>
__global__ void __launch_bounds__(kParamCols* kParamRowThreads)
    layer_norm_bwd_param_partials_kernel(const T* __restrict__ grad_y, const T* __restrict__ x,
                                         const A* __restrict__ mean, const A* __restrict__ rstd,
                                         A* __restrict__ part_w, A* __restrict__ part_b,
                                         int64_t n_rows, int cols, int64_t rows_per_chunk) {
  __shared__ A sw[kParamRowThreads][kParamCols + 1];
  __shared__ A sb[kParamRowThreads][kParamCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int j = blockIdx.x * kParamCols + tx;
  const int64_t chunk = blockIdx.y;
  const int64_t r0 = chunk * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < n_rows ? r0 + rows_per_chunk : n_rows;
  A dw = 0, db = 0;
  if (j < cols) {
    for (int64_t r = r0 + ty; r < r1; r += kParamRowThreads) {
      const A g = to_acc<A>(grad_y[r * cols + j]);
      dw += g * ((to_acc<A>(x[r * cols + j]) - mean[r]) * rstd[r]);
      db += g;
    }
  }
  sw[ty][tx] = dw;
  sb[ty][tx] = db;
  __syncthreads();
  if (ty == 0 && j < cols) {
    A w = 0, b = 0;
    TESSERA_UNROLL
    for (int k = 0; k < kParamRowThreads; ++k) {
      w += sw[k][tx];
      b += sb[k][tx];
    }
    if (part_w) part_w[chunk * cols + j] = w;
    if (part_b) part_b[chunk * cols + j] = b;
  }
}

template <typename T, typename A>
__global__ void __launch_bounds__(256)
    layer_norm_bwd_param_finish_kernel(const A* __restrict__ part_w, const A* __restrict__ part_b,
                                       T* __restrict__ grad_weight, T* __restrict__ grad_bias,
                                       int64_t chunks, int cols) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  A w = 0, b = 0;
  for (int64_t c = 0; c < chunks; ++c) {  // chunk order: deterministic
    if (grad_weight) w += part_w[c * cols + j];
    if (grad_bias) b += part_b[c * cols + j];
  }
  if (grad_weight) grad_weight[j] = rows::from_acc<T>(to_acc<A>(grad_weight[j]) + w);
  if (grad_bias) grad_bias[j] = rows::from_acc<T>(to_acc<A>(grad_bias[j]) + b);
}

void check_shape(const char* op, int64_t n_rows, int64_t cols) {
  TESSERA_CHECK(n_rows >= 0 && cols >= 0, op, ": expected non-negative sizes, got rows=", n_rows,
                " cols=", cols);
  TESSERA_CHECK(cols <= INT_MAX / 2, op, ": cols=", cols, " exceeds the kernel's 32-bit index");
}

void forward_impl(const char* op, ScalarType t, const void* x, const void* residual,
                  void* residual_out, const void* weight, const void* bias, void* y, void* mean,
                  void* rstd, int64_t n_rows, int64_t cols, double eps, cudaStream_t stream) {
  // Preconditions
  check_shape(op, n_rows, cols);
  TESSERA_CHECK(eps >= 0, op, ": expected eps >= 0, got ", eps);
  if (n_rows == 0) return;
  TESSERA_CHECK(x && y, op, ": x and y must be non-null");
  TESSERA_CHECK(!residual || residual_out, op, ": residual_out must be non-null with a residual");
  if (cols == 0) {
    TESSERA_CHECK(!mean && !rstd, op, ": cols == 0 has no statistics");
    return;
  }
  const bool aligned = aligned16({x, residual, residual_out, weight, bias, y});
  visit_float(op, t, [&]<typename T>() {
    using A = acc_t<T>;
    visit_mapping<T>(cols, aligned, [&]<int V, int kWarps>() {
      const int groups = kBlockThreads<kWarps> / (32 * kWarps);
      TESSERA_LAUNCH((layer_norm_fwd_kernel<T, A, V, kWarps>), row_grid(n_rows, groups),
                     kBlockThreads<kWarps>, 0, stream)
      (static_cast<const T*>(x), static_cast<const T*>(residual), static_cast<T*>(residual_out),
       static_cast<const T*>(weight), static_cast<const T*>(bias), static_cast<T*>(y),
       static_cast<A*>(mean), static_cast<A*>(rstd), n_rows, static_cast<int>(cols),
       static_cast<A>(eps));
    });
  });
}

}  // namespace

void layer_norm_forward(ScalarType t, const void* x, const void* weight, const void* bias, void* y,
                        void* mean, void* rstd, int64_t n_rows, int64_t cols, double eps,
                        cudaStream_t stream) {
  forward_impl("cuda layer_norm_forward", t, x, nullptr, nullptr, weight, bias, y, mean, rstd,
               n_rows, cols, eps, stream);
}

void add_layer_norm_forward(ScalarType t, const void* x, const void* residual, void* residual_out,
                            const void* weight, const void* bias, void* y, void* mean, void* rstd,
                            int64_t n_rows, int64_t cols, double eps, cudaStream_t stream) {
  TESSERA_CHECK(n_rows == 0 || cols == 0 || residual,
                "cuda add_layer_norm_forward: residual must be non-null");
  forward_impl("cuda add_layer_norm_forward", t, x, residual, residual_out, weight, bias, y, mean,
               rstd, n_rows, cols, eps, stream);
}

size_t layer_norm_backward_workspace(ScalarType t, int64_t n_rows, int64_t cols) {
  if (n_rows <= 0 || cols <= 0) return 0;
  const size_t acc = t == ScalarType::kFloat64 ? 8 : 4;
  return 2 * static_cast<size_t>(chunk_count(n_rows)) * static_cast<size_t>(cols) * acc;
}

void layer_norm_backward(ScalarType t, const void* grad_y, const void* x, const void* weight,
                         const void* mean, const void* rstd, void* grad_x, void* grad_weight,
                         void* grad_bias, int64_t n_rows, int64_t cols, void* workspace,
                         cudaStream_t stream) {
  const char* op = "cuda layer_norm_backward";
  // Preconditions
  check_shape(op, n_rows, cols);
  if (n_rows == 0 || cols == 0) return;
  TESSERA_CHECK(grad_y && x && mean && rstd, op, ": grad_y, x, mean and rstd must be non-null");
  const bool want_params = grad_weight || grad_bias;
  TESSERA_CHECK(!want_params || (workspace && aligned16({workspace})), op,
                ": grad_weight/grad_bias need a 16-byte aligned workspace of ",
                layer_norm_backward_workspace(t, n_rows, cols), " bytes");
  const bool aligned = aligned16({grad_y, x, weight, grad_x});
  const int c = static_cast<int>(cols);
  visit_float(op, t, [&]<typename T>() {
    using A = acc_t<T>;
    if (grad_x) {
      visit_mapping<T>(cols, aligned, [&]<int V, int kWarps>() {
        const int groups = kBlockThreads<kWarps> / (32 * kWarps);
        TESSERA_LAUNCH((layer_norm_bwd_dx_kernel<T, A, V, kWarps>), row_grid(n_rows, groups),
                       kBlockThreads<kWarps>, 0, stream)
        (static_cast<const T*>(grad_y), static_cast<const T*>(x), static_cast<const T*>(weight),
         static_cast<const A*>(mean), static_cast<const A*>(rstd), static_cast<T*>(grad_x), n_rows,
         c);
      });
    }
    if (!want_params) return;
    const int64_t per = chunk_rows(n_rows), chunks = chunk_count(n_rows);
    A* part_w = static_cast<A*>(workspace);  // (chunks, C)
    A* part_b = part_w + chunks * cols;      // (chunks, C)
    const dim3 grid(static_cast<unsigned>((cols + kParamCols - 1) / kParamCols),
                    static_cast<unsigned>(chunks));
    TESSERA_LAUNCH((layer_norm_bwd_param_partials_kernel<T, A>), grid,
                   dim3(kParamCols, kParamRowThreads), 0, stream)
    (static_cast<const T*>(grad_y), static_cast<const T*>(x), static_cast<const A*>(mean),
     static_cast<const A*>(rstd), part_w, part_b, n_rows, c, per);
    TESSERA_LAUNCH((layer_norm_bwd_param_finish_kernel<T, A>),
                   static_cast<unsigned>((cols + 255) / 256), 256, 0, stream)
    (static_cast<const A*>(part_w), static_cast<const A*>(part_b), static_cast<T*>(grad_weight),
     static_cast<T*>(grad_bias), chunks, c);
  });
}

}  // namespace tessera::kernels::cuda
