// SPDX-License-Identifier: Apache-2.0
/// @brief Multi-tensor AdamW on CUDA: one launch updates param, exp_avg, exp_avg_sq of a list.
//
// adamw.cu: torch.optim.AdamW's update (amsgrad off) fused into one pass, for a whole list of
//          tensors in ONE launch (apex / PyTorch multi_tensor_apply).
// Shapes:  per tensor: param, grad, exp_avg, exp_avg_sq (numel) contiguous, T = float or double.
// Mapping: every tensor is cut into kAdamWChunkElems-element chunks; the host builds a table of
//          chunks {param, grad, exp_avg, exp_avg_sq pointers at the chunk start, length} and
//          block b updates chunk b. A table of <= kAdamWInlineChunks entries (2.5 KiB) goes in
//          the kernel arguments (__grid_constant__, no copy); a longer one is copied to a device
//          workspace with one cudaMemcpyAsync per step (40 bytes per 64 Ki elements: 76 KB for a
//          124M-parameter model). Threads use 16-byte accesses (float4 / double2 worth) when the
//          four pointers of a chunk are 16-byte aligned, then a scalar tail.
// Exactness: the scalars (1 - lr wd, 1 - beta1, beta2, 1 - beta2, -lr / bc1, sqrt(bc2), eps) are
//          computed on the host in double and rounded to T once, and each element sees the CPU
//          kernel's sequence of T operations (kernels/cpu/adamw.cpp) = PyTorch's mul_, lerp_,
//          mul_/addcmul_, sqrt/div/add_, addcdiv_. sqrt and division are IEEE (nvcc's default
//          -prec-sqrt/-prec-div); FMA contraction may differ from the CPU build: agreement to
//          rounding (the tests allow 1e-6 relative for float32).
// Cost:    ~12 FLOP per element; reads 4 and writes 3 arrays: 28 bytes/element (float) =>
//          memory-bound; floor = 28 numel / copy bandwidth. GPU numbers: not yet measured.
// Tests: tests/cuda/test_cuda_fused_ce_adamw.cpp
#include <tessera/kernels/cuda/compat.h>
#include <tessera/kernels/cuda/adamw.h>
#include <tessera/kernels/cuda/check.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace tessera::kernels::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
struct Chunk {
  T* param;  // (numel) from the chunk start
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  int64_t numel;  // <= kAdamWChunkElems
};

template <typename T>
struct InlineTable {
  Chunk<T> chunk[kAdamWInlineChunks];
};

/// The per-step scalars, rounded to T once (host, double).
template <typename T>
struct Scalars {
  T decay, w1, b2, w2, neg_step, bc2_sqrt, eps;
};

/// 16 bytes of T: one vector load / store.
template <typename T>
struct __align__(16) Pack {
  T v[16 / sizeof(T)];
};

template <typename T>
__device__ __forceinline__ T sqrt_t(T x) {
  if constexpr (sizeof(T) == 4)
    return sqrtf(x);
  else
    return sqrt(x);
}

/// One element: the CPU kernel's exact sequence.
template <typename T>
__device__ __forceinline__ void update(T& p, T g, T& m, T& v, const Scalars<T>& s) {
  const T pi = p * s.decay;
  const T mi = m + s.w1 * (g - m);  // ATen's lerp for weight < 0.5
  const T vi = v * s.b2 + s.w2 * g * g;
  const T denom = sqrt_t(vi) / s.bc2_sqrt + s.eps;
  p = pi + s.neg_step * mi / denom;
  m = mi;
  v = vi;
}

template <typename T>
__device__ __forceinline__ void run_chunk(const Chunk<T>& c, const Scalars<T>& s) {
  constexpr int kVec = 16 / sizeof(T);
  const uintptr_t addr =
      reinterpret_cast<uintptr_t>(c.param) | reinterpret_cast<uintptr_t>(c.grad) |
      reinterpret_cast<uintptr_t>(c.exp_avg) | reinterpret_cast<uintptr_t>(c.exp_avg_sq);
  const int64_t vec_end = addr % 16 == 0 ? c.numel / kVec * kVec : 0;
  const int64_t step = static_cast<int64_t>(blockDim.x) * kVec;
  for (int64_t i = static_cast<int64_t>(threadIdx.x) * kVec; i < vec_end; i += step) {
    Pack<T> p = *reinterpret_cast<const Pack<T>*>(c.param + i);
    const Pack<T> g = *reinterpret_cast<const Pack<T>*>(c.grad + i);
    Pack<T> m = *reinterpret_cast<const Pack<T>*>(c.exp_avg + i);
    Pack<T> v = *reinterpret_cast<const Pack<T>*>(c.exp_avg_sq + i);
    for (int k = 0; k < kVec; ++k) update(p.v[k], g.v[k], m.v[k], v.v[k], s);
    *reinterpret_cast<Pack<T>*>(c.param + i) = p;
    *reinterpret_cast<Pack<T>*>(c.exp_avg + i) = m;
    *reinterpret_cast<Pack<T>*>(c.exp_avg_sq + i) = v;
  }
  for (int64_t i = vec_end + threadIdx.x; i < c.numel; i += blockDim.x)
    update(c.param[i], c.grad[i], c.exp_avg[i], c.exp_avg_sq[i], s);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    adamw_inline_table(const __grid_constant__ InlineTable<T> table, const Scalars<T> s) {
  run_chunk(table.chunk[blockIdx.x], s);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    adamw_device_table(const Chunk<T>* __restrict__ table, const Scalars<T> s) {
  run_chunk(table[blockIdx.x], s);
}

template <typename T>
int64_t chunk_count(const AdamWTensor<T>* tensors, int64_t count) {
  int64_t n = 0;
  for (int64_t i = 0; i < count; ++i)
    n += (tensors[i].numel + kAdamWChunkElems - 1) / kAdamWChunkElems;
  return n;
}

}  // namespace

template <typename T>
size_t adamw_workspace_bytes(const AdamWTensor<T>* tensors, int64_t count) {
  const int64_t n = chunk_count(tensors, count);
  return n <= kAdamWInlineChunks ? 0 : static_cast<size_t>(n) * sizeof(Chunk<T>);
}

template <typename T>
void adamw_step(const AdamWTensor<T>* tensors, int64_t count, const AdamWHyper& h, void* workspace,
                cudaStream_t stream) {
  constexpr const char* kOp = "cuda adamw_step";
  // Preconditions (the CPU kernel's)
  TESSERA_CHECK(count >= 0 && (count == 0 || tensors), kOp, ": expected count >= 0, got ", count);
  TESSERA_CHECK(h.step >= 1, kOp, ": expected step >= 1 (incremented before the update), got ",
                h.step);
  TESSERA_CHECK(h.lr >= 0 && h.eps >= 0 && h.weight_decay >= 0 && h.beta1 >= 0 && h.beta1 < 1 &&
                    h.beta2 >= 0 && h.beta2 < 1,
                kOp, ": expected lr, eps, weight_decay >= 0 and betas in [0, 1), got lr=", h.lr,
                " betas=(", h.beta1, ", ", h.beta2, ") eps=", h.eps,
                " weight_decay=", h.weight_decay);
  std::vector<Chunk<T>> chunks;
  for (int64_t t = 0; t < count; ++t) {
    const AdamWTensor<T>& a = tensors[t];
    TESSERA_CHECK(a.numel >= 0, kOp, ": tensor ", t, " has numel ", a.numel);
    TESSERA_CHECK(a.numel == 0 || (a.param && a.grad && a.exp_avg && a.exp_avg_sq), kOp,
                  ": tensor ", t, " has a null pointer");
    for (int64_t b = 0; b < a.numel; b += kAdamWChunkElems) {
      const int64_t len = a.numel - b < kAdamWChunkElems ? a.numel - b : kAdamWChunkElems;
      chunks.push_back({a.param + b, a.grad + b, a.exp_avg + b, a.exp_avg_sq + b, len});
    }
  }
  if (chunks.empty()) return;
  TESSERA_CHECK(chunks.size() < (size_t{1} << 31), kOp, ": too many chunks (", chunks.size(), ")");
  const double bc1 = 1.0 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2 = 1.0 - std::pow(h.beta2, static_cast<double>(h.step));
  const Scalars<T> s{static_cast<T>(1.0 - h.lr * h.weight_decay),
                     static_cast<T>(1.0 - h.beta1),
                     static_cast<T>(h.beta2),
                     static_cast<T>(1.0 - h.beta2),
                     static_cast<T>(-(h.lr / bc1)),
                     static_cast<T>(std::sqrt(bc2)),
                     static_cast<T>(h.eps)};
  const unsigned grid = static_cast<unsigned>(chunks.size());
  if (chunks.size() <= static_cast<size_t>(kAdamWInlineChunks)) {
    InlineTable<T> table{};
    for (size_t i = 0; i < chunks.size(); ++i) table.chunk[i] = chunks[i];
    TESSERA_LAUNCH(adamw_inline_table<T>, grid, kThreads, 0, stream)(table, s);
    return;
  }
  TESSERA_CHECK(workspace != nullptr, kOp, ": ", chunks.size(),
                " chunks need a workspace of adamw_workspace_bytes() bytes");
  // A pageable source: cudaMemcpyAsync returns once the bytes are staged, so `chunks` may die.
  TESSERA_CUDA_CHECK(cudaMemcpyAsync(workspace, chunks.data(), chunks.size() * sizeof(Chunk<T>),
                                     cudaMemcpyHostToDevice, stream));
  TESSERA_LAUNCH(adamw_device_table<T>, grid, kThreads, 0, stream)
  (static_cast<const Chunk<T>*>(workspace), s);
}

#define TESSERA_INSTANTIATE_ADAMW(T)                                                    \
  template size_t adamw_workspace_bytes<T>(const AdamWTensor<T>*, int64_t);             \
  template void adamw_step<T>(const AdamWTensor<T>*, int64_t, const AdamWHyper&, void*, \
                              cudaStream_t);
TESSERA_INSTANTIATE_ADAMW(float)
TESSERA_INSTANTIATE_ADAMW(double)
#undef TESSERA_INSTANTIATE_ADAMW

}  // namespace tessera::kernels::cuda
