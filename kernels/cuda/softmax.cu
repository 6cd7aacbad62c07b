// SPDX-License-Identifier: Apache-2.0
/// @brief Softmax / log-softmax over the last dimension on CUDA: scale, causal and boolean masks,
/// single pass with an online max/sum; backward of both.
///
// softmax.cu: y = softmax(scale * x + mask) or its log, per row; grad_x from y and grad_y.
// Shapes:  x, y, grad_y, grad_x (N, C) row-major contiguous; mask (mask_rows, C) bool.
// Mapping: NOTE [row groups] in row_common.cuh: one warp per row for C <= 1024, a 256-thread block
//          per row otherwise; 16-byte vectors when aligned and C % (16 / sizeof(T)) == 0. Each
//          thread keeps 32 values of z (16 of y and 16 of grad_y in backward) in registers.
// Algorithm: one read of x: each thread keeps a running (max m, sum s of exp(z - m)) over its
//          elements, rescaling s when m grows (online softmax, Milakov & Gimelshein 2018); the
//          group merges the pairs with a fixed butterfly. The write pass takes z from registers
//          (re-reads only what overflowed them). Causal rows skip loading their masked tail.
//          Fully masked rows (m = -inf) write 0 (softmax) / -inf (log_softmax): no 0/0.
// Cost:    forward ~5NC FLOP + 2 exp per element; reads NC*sizeof(T) (+ NC mask bytes), writes
//          NC*sizeof(T): memory-bound, floor = 2NC*sizeof(T) / copy bandwidth. Backward reads y,
//          grad_y and writes grad_x: 3NC*sizeof(T), 4NC FLOP (+ one exp per element for log).
// Target:  >= 80% of copy bandwidth. GPU numbers: not yet measured (no GPU lent).
// Tests:   tests/cuda/test_cuda_fused_norm.cpp
#include <tessera/kernels/cuda/compat.h>
#include <tessera/kernels/cuda/check.h>
#include <tessera/kernels/cuda/softmax.h>

#include <climits>
#include <cstdint>

#include "row_common.cuh"

namespace tessera::kernels::cuda {
namespace {

using rows::acc_t;
using rows::exp_acc;
using rows::group_sum;
using rows::kBlockThreads;
using rows::load_vec;
using rows::MaxSum;
using rows::store_vec;

template <typename T, typename A, int V, int kWarps, bool kLog>
__global__ void __launch_bounds__(kBlockThreads<kWarps>)
    softmax_fwd_kernel(const T* x, T* y, int64_t n_rows, int cols, A scale,
                       const bool* __restrict__ mask, int64_t mask_rows, int64_t causal_rows,
                       int64_t causal_offset) {
  constexpr int nt = 32 * kWarps, kGroups = kBlockThreads<kWarps> / nt;
  constexpr int kSlots = 32 / V;
  __shared__ A sh_m[kWarps];
  __shared__ A sh_s[kWarps];
  const int tid = threadIdx.x % nt, group = threadIdx.x / nt;
  const int nvec = cols / V;
  const A neg_inf = -INFINITY;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kGroups + group; r < n_rows;
       r += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* xr = x + r * cols;                                       // (C)
    T* yr = y + r * cols;                                             // (C)
    const bool* mr = mask ? mask + (r % mask_rows) * cols : nullptr;  // (C)
    int visible = cols;  // columns [visible, C) are masked by causality
    if (causal_rows > 0) {
      const int64_t last = r % causal_rows + causal_offset;
      visible = last < 0 ? 0 : (last + 1 < cols ? static_cast<int>(last + 1) : cols);
    }
    // z of vector vi: scale * x, or -inf where masked (a vector past `visible` is not loaded)
    auto load_z = [&](int vi, A* z) {
      const int j0 = vi * V;
      if (j0 >= visible) {
        TESSERA_UNROLL
        for (int e = 0; e < V; ++e) z[e] = neg_inf;
        return;
      }
      load_vec<T, A, V>(xr + j0, z);
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) {
        const bool keep = j0 + e < visible && (!mr || mr[j0 + e]);
        z[e] = keep ? scale * z[e] : neg_inf;
      }
    };
    // folds V values into the running (m, s)
    auto accumulate = [&](MaxSum<A>& acc, const A* z) {
      A vm = neg_inf;
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) vm = z[e] > vm ? z[e] : vm;
      if (vm == neg_inf) return;  // all masked: adds nothing
      if (vm > acc.m) {
        acc.s *= exp_acc(acc.m - vm);  // exp(-inf) = 0 when acc is empty
        acc.m = vm;
      }
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) acc.s += exp_acc(z[e] - acc.m);
    };
    A c[kSlots * V] = {};
    MaxSum<A> acc{neg_inf, A(0)};
    TESSERA_UNROLL
    for (int k = 0; k < kSlots; ++k) {
      const int vi = k * nt + tid;
      if (vi < nvec) {
        load_z(vi, &c[k * V]);
        accumulate(acc, &c[k * V]);
      }
    }
    for (int vi = kSlots * nt + tid; vi < nvec; vi += nt) {  // overflow of long rows
      A z[V];
      load_z(vi, z);
      accumulate(acc, z);
    }
    acc = rows::group_max_sum<kWarps>(acc, sh_m, sh_s);
    const bool empty = acc.m == neg_inf;  // fully masked row
    const A lse = empty ? neg_inf : acc.m + rows::log_acc(acc.s);
    const A inv_s = empty ? A(0) : A(1) / acc.s;
    auto emit = [&](int vi, const A* z) {
      A o[V];
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) {
        if constexpr (kLog)
          o[e] = empty ? neg_inf : z[e] - lse;  // -inf - lse = -inf where masked
        else
          o[e] = empty ? A(0) : exp_acc(z[e] - acc.m) * inv_s;  // exp(-inf) = 0 where masked
      }
      store_vec<T, A, V>(yr + vi * V, o);
    };
    TESSERA_UNROLL
    for (int k = 0; k < kSlots; ++k) {
      const int vi = k * nt + tid;
      if (vi < nvec) emit(vi, &c[k * V]);
    }
    for (int vi = kSlots * nt + tid; vi < nvec; vi += nt) {
      A z[V];
      load_z(vi, z);
      emit(vi, z);
    }
  }
}

template <typename T, typename A, int V, int kWarps, bool kLog>
__global__ void __launch_bounds__(kBlockThreads<kWarps>)
    softmax_bwd_kernel(const T* y, const T* grad_y, T* grad_x, int64_t n_rows, int cols, A scale) {
  constexpr int nt = 32 * kWarps, kGroups = kBlockThreads<kWarps> / nt;
  constexpr int kSlots = (16 / V) > 0 ? 16 / V : 1;
  __shared__ A sh[kWarps];
  const int tid = threadIdx.x % nt, group = threadIdx.x / nt;
  const int nvec = cols / V;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kGroups + group; r < n_rows;
       r += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* yr = y + r * cols;       // (C)
    const T* gr = grad_y + r * cols;  // (C)
    T* gxr = grad_x + r * cols;       // (C), may alias gr
    auto dot_of = [&](const A* yv, const A* gv) {
      A d = 0;
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) d += kLog ? gv[e] : gv[e] * yv[e];
      return d;
    };
    A cy[kSlots * V] = {}, cg[kSlots * V] = {};
    A dot = 0;
    TESSERA_UNROLL
    for (int k = 0; k < kSlots; ++k) {
      const int vi = k * nt + tid;
      if (vi < nvec) {
        load_vec<T, A, V>(yr + vi * V, &cy[k * V]);
        load_vec<T, A, V>(gr + vi * V, &cg[k * V]);
        dot += dot_of(&cy[k * V], &cg[k * V]);
      }
    }
    for (int vi = kSlots * nt + tid; vi < nvec; vi += nt) {
      A yv[V], gv[V];
      load_vec<T, A, V>(yr + vi * V, yv);
      load_vec<T, A, V>(gr + vi * V, gv);
      dot += dot_of(yv, gv);
    }
    dot = group_sum<kWarps>(dot, sh);
    auto emit = [&](int vi, const A* yv, const A* gv) {
      A o[V];
      TESSERA_UNROLL
      for (int e = 0; e < V; ++e) {
        if constexpr (kLog)  // a masked position (y = -inf) has no gradient
          o[e] = yv[e] == -INFINITY ? A(0) : scale * (gv[e] - exp_acc(yv[e]) * dot);
        else
          o[e] = scale * yv[e] * (gv[e] - dot);
      }
      store_vec<T, A, V>(gxr + vi * V, o);
    };
    // every thread has read its whole share of the row (the group sum is a barrier for the warp),
    // so writing grad_x in place of grad_y is safe
    TESSERA_UNROLL
    for (int k = 0; k < kSlots; ++k) {
      const int vi = k * nt + tid;
      if (vi < nvec) emit(vi, &cy[k * V], &cg[k * V]);
    }
    for (int vi = kSlots * nt + tid; vi < nvec; vi += nt) {
      A yv[V], gv[V];
      load_vec<T, A, V>(yr + vi * V, yv);
      load_vec<T, A, V>(gr + vi * V, gv);
      emit(vi, yv, gv);
    }
  }
}

void check_shape(const char* op, int64_t n_rows, int64_t cols) {
  TESSERA_CHECK(n_rows >= 0 && cols >= 0, op, ": expected non-negative sizes, got rows=", n_rows,
                " cols=", cols);
  TESSERA_CHECK(cols <= INT_MAX / 2, op, ": cols=", cols, " exceeds the kernel's 32-bit index");
}

}  // namespace

void softmax_forward(ScalarType t, const void* x, void* y, int64_t n_rows, int64_t cols,
                     const SoftmaxParams& p, cudaStream_t stream) {
  const char* op = p.log ? "cuda log_softmax_forward" : "cuda softmax_forward";
  // Preconditions
  check_shape(op, n_rows, cols);
  TESSERA_CHECK(!p.mask || p.mask_rows > 0, op, ": a mask needs mask_rows > 0, got ", p.mask_rows);
  TESSERA_CHECK(p.causal_rows >= 0, op, ": causal_rows must be >= 0, got ", p.causal_rows);
  if (n_rows == 0 || cols == 0) return;
  TESSERA_CHECK(x && y, op, ": x and y must be non-null");
  const bool aligned = rows::aligned16({x, y});
  rows::visit_float(op, t, [&]<typename T>() {
    using A = acc_t<T>;
    rows::visit_mapping<T>(cols, aligned, [&]<int V, int kWarps>() {
      const unsigned grid = rows::row_grid(n_rows, kBlockThreads<kWarps> / (32 * kWarps));
      auto launch = [&](auto kernel) {
        TESSERA_LAUNCH(kernel, grid, kBlockThreads<kWarps>, 0, stream)
        (static_cast<const T*>(x), static_cast<T*>(y), n_rows, static_cast<int>(cols),
         static_cast<A>(p.scale), p.mask, p.mask_rows, p.causal_rows, p.causal_offset);
      };
      if (p.log)
        launch(softmax_fwd_kernel<T, A, V, kWarps, true>);
      else
        launch(softmax_fwd_kernel<T, A, V, kWarps, false>);
    });
  });
}

void softmax_backward(ScalarType t, const void* y, const void* grad_y, void* grad_x, int64_t n_rows,
                      int64_t cols, bool log, double scale, cudaStream_t stream) {
  const char* op = log ? "cuda log_softmax_backward" : "cuda softmax_backward";
  // Preconditions
  check_shape(op, n_rows, cols);
  if (n_rows == 0 || cols == 0) return;
  TESSERA_CHECK(y && grad_y && grad_x, op, ": y, grad_y and grad_x must be non-null");
  const bool aligned = rows::aligned16({y, grad_y, grad_x});
  rows::visit_float(op, t, [&]<typename T>() {
    using A = acc_t<T>;
    rows::visit_mapping<T>(cols, aligned, [&]<int V, int kWarps>() {
      const unsigned grid = rows::row_grid(n_rows, kBlockThreads<kWarps> / (32 * kWarps));
      auto launch = [&](auto kernel) {
        TESSERA_LAUNCH(kernel, grid, kBlockThreads<kWarps>, 0, stream)
        (static_cast<const T*>(y), static_cast<const T*>(grad_y), static_cast<T*>(grad_x), n_rows,
         static_cast<int>(cols), static_cast<A>(scale));
      };
      if (log)
        launch(softmax_bwd_kernel<T, A, V, kWarps, true>);
      else
        launch(softmax_bwd_kernel<T, A, V, kWarps, false>);
    });
  });
}

}  // namespace tessera::kernels::cuda
