// SPDX-License-Identifier: Apache-2.0
/// @brief Fused softmax cross-entropy (ignore_index, label smoothing) forward + backward on CUDA.
//
// cross_entropy.cu: the classifier head's mean loss and its logits gradient, the semantics of
//          kernels/cpu/cross_entropy.cpp (read its header for the formulas).
// Shapes:  logits, grad_logits (N, V) row-major; targets (N) int64/int32; row_loss, lse (N) A;
//          loss (1) T. T = float, double, __nv_bfloat16, __half; A = double for double, else float.
// Mapping: forward: one block per row (32..256 threads, the next power of two >= V). Thread k
//          walks x[r, k], x[r, k + T], ... keeping an online (max m, s = sum exp(x - m)) pair,
//          rescaled when m grows (Milakov & Gimelshein 2018), and sum x for the smoothing term:
//          ONE pass over the row, V needs no tile multiple. The T partial triples are combined by
//          a fixed xor butterfly in each warp, then across warps by warp 0 (shared memory).
//          Thread 0 writes lse = m + log s and the row loss. A second kernel (one block) sums
//          the N row losses in float64 in a fixed order and divides by count: no float atomics,
//          bit-identical results run to run.
//          backward: one block per row writes (exp(x - lse) - eps/V - (1-eps)[j == t]) * scale,
//          scale = grad_loss / count: probabilities are recomputed from lse, never stored.
// Cost:    forward ~(4 + exp) NV FLOP, reads NV sizeof(T) (+ 16N bytes); backward reads NV and
//          writes NV sizeof(T). Floor: NV sizeof(T) / copy bandwidth (forward) and
//          2NV sizeof(T) / copy bandwidth (backward). Loads are scalar and coalesced (rows of odd
//          V are not 16-byte aligned); GPU numbers: not yet measured.
// Tests: tests/cuda/test_cuda_fused_ce_adamw.cpp
#include <tessera/kernels/cuda/compat.h>
#include <tessera/kernels/cuda/check.h>
#include <tessera/kernels/cuda/cross_entropy.h>

#include "row_common.cuh"

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace tessera::kernels::cuda {
namespace {

constexpr int kMaxThreads = 256;
constexpr int kWarps = kMaxThreads / 32;
using rows::exp_acc;
using rows::from_acc;
using rows::kFullMask;
using rows::log_acc;
using rows::to_acc;

/// Online softmax statistics of a set of logits: max m, s = sum exp(x - m), and sum x.
template <typename A>
struct Stats {
  A m, s, sx;
};

/// Adds one logit. NaN propagates into s (as on the CPU); -inf contributes nothing; a +inf makes
/// s NaN (exp(inf - inf)), as the CPU's exp(x - max) does.
template <typename A>
__device__ __forceinline__ void add(Stats<A>& st, A x) {
  st.sx += x;
  if (x > st.m) {
    st.s = st.s * exp_acc(st.m - x) + exp_acc(x - x);  // exp(x - x) = 1, NaN for x = +inf
    st.m = x;
  } else if (x != -INFINITY) {
    st.s += exp_acc(x - st.m);
  }
}

/// Combines two partial statistics; symmetric in (a, b) bit for bit (IEEE + and * commute), so
/// every lane of a butterfly gets the same bits.
template <typename A>
__device__ __forceinline__ Stats<A> combine(const Stats<A>& a, const Stats<A>& b) {
  const A m = a.m > b.m ? a.m : b.m;
  if (m == -INFINITY) return {m, A(0), a.sx + b.sx};
  return {m, a.s * exp_acc(a.m - m) + b.s * exp_acc(b.m - m), a.sx + b.sx};
}

template <typename A>
__device__ __forceinline__ Stats<A> warp_combine(Stats<A> st) {
  for (int o = 16; o > 0; o >>= 1) {
    Stats<A> other;
    other.m = __shfl_xor_sync(kFullMask, st.m, o);
    other.s = __shfl_xor_sync(kFullMask, st.s, o);
    other.sx = __shfl_xor_sync(kFullMask, st.sx, o);
    st = combine(st, other);
  }
  return st;
}

/// Forward statistics and row loss of each row (grid-stride over rows, one block per row).
template <typename T, typename A, typename I>
__global__ void __launch_bounds__(kMaxThreads)
    ce_forward_rows(const T* __restrict__ logits, const I* __restrict__ targets, int64_t rows,
                    int vocab, int64_t ignore_index, A eps, A* __restrict__ row_loss,
                    A* __restrict__ lse) {
  __shared__ __align__(16) A sh_m[kWarps];
  __shared__ __align__(16) A sh_s[kWarps];
  __shared__ __align__(16) A sh_sx[kWarps];
  const int t = threadIdx.x, nt = blockDim.x, lane = t % 32, warp = t / 32;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = logits + r * vocab;  // (V)
    Stats<A> st{-INFINITY, A(0), A(0)};
    for (int j = t; j < vocab; j += nt) add(st, to_acc<A>(xr[j]));
    st = warp_combine(st);
    if (lane == 0) {
      sh_m[warp] = st.m;
      sh_s[warp] = st.s;
      sh_sx[warp] = st.sx;
    }
    __syncthreads();
    if (warp == 0) {
      const int warps = nt / 32;
      Stats<A> w{-INFINITY, A(0), A(0)};
      if (lane < warps) w = {sh_m[lane], sh_s[lane], sh_sx[lane]};
      w = warp_combine(w);
      if (lane == 0) {
        const A l = w.m + log_acc(w.s);  // -inf when every logit is -inf
        lse[r] = l;
        const int64_t tr = static_cast<int64_t>(targets[r]);
        A loss = 0;
        if (tr != ignore_index) {
          if (tr >= 0 && tr < vocab) {
            const A xt = to_acc<A>(xr[tr]);
            // eps * mean x is skipped when eps = 0 so a -inf logit cannot make 0 * inf (the CPU's
            // rule).
            loss = l - (A(1) - eps) * xt - (eps > 0 ? eps * w.sx / static_cast<A>(vocab) : A(0));
          } else {
            loss = NAN;  // unreachable after host validation; never an out-of-bounds read
          }
        }
        row_loss[r] = loss;
      }
    }
    __syncthreads();  // sh_* are rewritten for the next row
  }
}

/// loss[0] = (sum_r row_loss[r]) / count in float64, fixed order: thread k sums rows k, k + T, ...
/// in order, then a fixed shared-memory tree. NaN when count == 0 (PyTorch's 0/0).
template <typename T, typename A>
__global__ void __launch_bounds__(kMaxThreads)
    ce_mean_loss(const A* __restrict__ row_loss, int64_t rows, int64_t count,
                 T* __restrict__ loss) {
  __shared__ __align__(16) double sh[kMaxThreads];
  const int t = threadIdx.x;
  double a = 0;
  for (int64_t r = t; r < rows; r += blockDim.x) a += static_cast<double>(row_loss[r]);
  sh[t] = a;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] = sh[t] + sh[t + s];
    __syncthreads();
  }
  if (t == 0) loss[0] = from_acc<T>(count > 0 ? sh[0] / static_cast<double>(count) : NAN);
}

/// grad_logits row r = (exp(x - lse) - eps/V - (1-eps)[j == t]) * grad_loss / count; 0 for
/// ignored rows.
template <typename T, typename A, typename I>
__global__ void __launch_bounds__(kMaxThreads)
    ce_backward_rows(const T* __restrict__ logits, const I* __restrict__ targets,
                     const A* __restrict__ lse, int64_t rows, int vocab, int64_t ignore_index,
                     A eps, int64_t count, const float* __restrict__ grad_loss,
                     T* __restrict__ grad_logits) {
  const A scale = static_cast<A>(grad_loss[0]) / static_cast<A>(count);
  const A off = eps / static_cast<A>(vocab);
  const A hit = A(1) - eps;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = logits + r * vocab;  // (V)
    T* gr = grad_logits + r * vocab;   // (V)
    const int64_t tr = static_cast<int64_t>(targets[r]);
    if (tr == ignore_index) {
      for (int j = threadIdx.x; j < vocab; j += blockDim.x) gr[j] = from_acc<T>(A(0));
      continue;
    }
    const bool valid = tr >= 0 && tr < vocab;  // false only without host validation: NaN row
    A l = lse[r];
    if (l == -INFINITY) l = 0;  // all -inf logits: p = 0 (the CPU's rule; NaN stays)
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) {
      A p = exp_acc(to_acc<A>(xr[j]) - l) - off;
      if (j == tr) p -= hit;
      gr[j] = from_acc<T>(valid ? p * scale : A(NAN));
    }
  }
}

template <typename F>
void visit_types(const char* op, ScalarType t, ScalarType index_t, F&& f) {
  TESSERA_CHECK(index_t == ScalarType::kInt64 || index_t == ScalarType::kInt32, op,
                ": targets must be int64 or int32");
  const bool i64 = index_t == ScalarType::kInt64;
  switch (t) {
    case ScalarType::kFloat32:
      return i64 ? f.template operator()<float, float, int64_t>()
                 : f.template operator()<float, float, int32_t>();
    case ScalarType::kFloat64:
      return i64 ? f.template operator()<double, double, int64_t>()
                 : f.template operator()<double, double, int32_t>();
    case ScalarType::kBFloat16:
      return i64 ? f.template operator()<__nv_bfloat16, float, int64_t>()
                 : f.template operator()<__nv_bfloat16, float, int32_t>();
    case ScalarType::kFloat16:
      return i64 ? f.template operator()<__half, float, int64_t>()
                 : f.template operator()<__half, float, int32_t>();
    default:
      TESSERA_FAIL(op, ": logits must be float32, float64, bfloat16 or float16");
  }
}

int threads_for(int64_t vocab) {
  int threads = 32;
  while (threads < kMaxThreads && threads < vocab) threads *= 2;
  return threads;
}

unsigned grid_for(int64_t rows) { return static_cast<unsigned>(rows < 65535 ? rows : 65535); }

void check_common(const char* op, int64_t rows, int64_t vocab, double label_smoothing,
                  int64_t count) {
  // vocab + blockDim fits in int: the in-row index is a 32-bit int.
  TESSERA_CHECK(rows >= 0 && vocab > 0 && vocab <= INT32_MAX - kMaxThreads, op,
                ": expected rows >= 0 and 0 < vocab < 2^31 - ", kMaxThreads, ", got rows=", rows,
                " vocab=", vocab);
  TESSERA_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, op,
                ": expected label_smoothing in [0, 1], got ", label_smoothing);
  TESSERA_CHECK(count >= 0 && count <= rows, op, ": count ", count, " not in [0, rows=", rows, "]");
}

}  // namespace

void cross_entropy_forward(ScalarType t, ScalarType index_t, const void* logits,
                           const void* targets, int64_t rows, int64_t vocab, int64_t ignore_index,
                           double label_smoothing, int64_t count, void* row_loss, void* lse,
                           void* loss, cudaStream_t stream) {
  constexpr const char* kOp = "cuda cross_entropy_forward";
  // Preconditions
  check_common(kOp, rows, vocab, label_smoothing, count);
  TESSERA_CHECK(loss && (rows == 0 || (logits && targets && row_loss && lse)), kOp,
                ": null pointer");
  visit_types(kOp, t, index_t, [&]<typename T, typename A, typename I>() {
    if (rows > 0) {
      TESSERA_LAUNCH((ce_forward_rows<T, A, I>), grid_for(rows), threads_for(vocab), 0, stream)
      (static_cast<const T*>(logits), static_cast<const I*>(targets), rows, static_cast<int>(vocab),
       ignore_index, static_cast<A>(label_smoothing), static_cast<A*>(row_loss),
       static_cast<A*>(lse));
    }
    TESSERA_LAUNCH((ce_mean_loss<T, A>), 1, kMaxThreads, 0, stream)
    (static_cast<const A*>(row_loss), rows, count, static_cast<T*>(loss));
  });
}

void cross_entropy_backward(ScalarType t, ScalarType index_t, const void* logits,
                            const void* targets, const void* lse, int64_t rows, int64_t vocab,
                            int64_t ignore_index, double label_smoothing, int64_t count,
                            const float* grad_loss, void* grad_logits, cudaStream_t stream) {
  constexpr const char* kOp = "cuda cross_entropy_backward";
  // Preconditions
  check_common(kOp, rows, vocab, label_smoothing, count);
  if (rows == 0) return;
  TESSERA_CHECK(logits && targets && lse && grad_loss && grad_logits, kOp, ": null pointer");
  visit_types(kOp, t, index_t, [&]<typename T, typename A, typename I>() {
    TESSERA_LAUNCH((ce_backward_rows<T, A, I>), grid_for(rows), threads_for(vocab), 0, stream)
    (static_cast<const T*>(logits), static_cast<const I*>(targets), static_cast<const A*>(lse),
     rows, static_cast<int>(vocab), ignore_index, static_cast<A>(label_smoothing), count, grad_loss,
     static_cast<T*>(grad_logits));
  });
}

}  // namespace tessera::kernels::cuda
