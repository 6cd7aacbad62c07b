// SPDX-License-Identifier: Apache-2.0
/// @brief Multi-tensor AdamW on CPU: one fused pass over param, grad, exp_avg, exp_avg_sq.
//
// adamw.cpp: torch.optim.AdamW's update (single-tensor path, amsgrad off) fused into one loop.
// Shapes:  per tensor: param, grad, exp_avg, exp_avg_sq (numel) contiguous.
// Mapping: every tensor is cut into fixed chunks of kGrain elements; the (tensor, chunk) list is
//          spread over OpenMP threads; each chunk is one `omp simd` loop (sqrt and divide
//          vectorise).
// Exactness: the scalars (1 - lr wd, 1 - beta1, beta2, 1 - beta2, -lr / bc1, sqrt(bc2), eps) are
//          computed in double and rounded to T once, and each element sees the same sequence of
//          T operations as PyTorch's mul_, lerp_, mul_/addcmul_, sqrt/div/add_, addcdiv_.
// Cost:    ~12 FLOP per element; reads 4 and writes 3 arrays: 28 bytes/element (float) =>
//          memory-bound; floor = 28 numel / copy bandwidth. The unfused (foreach-like) sequence
//          makes 5 passes: ~64 bytes/element.
// Tests: tests/kernels/test_adamw.cpp   Bench: benches/kernels/bench_adamw.cpp
#include <tessera/kernels/cpu/adamw.h>

#include <cmath>
#include <vector>

#include <tessera/error.h>
#include <tessera/kernels/cpu/strided_loop.h>

namespace tessera::kernels::cpu {

template <typename T>
void adamw_step(const AdamWTensor<T>* tensors, int64_t count, const AdamWHyper& h) {
  // Preconditions
  TESSERA_CHECK(count >= 0 && (count == 0 || tensors), "adamw_step: expected count >= 0, got ",
                count);
  TESSERA_CHECK(h.step >= 1, "adamw_step: expected step >= 1 (incremented before the update), got ",
                h.step);
  TESSERA_CHECK(
      h.lr >= 0 && h.eps >= 0 && h.weight_decay >= 0 && h.beta1 >= 0 && h.beta1 < 1 &&
          h.beta2 >= 0 && h.beta2 < 1,
      "adamw_step: expected lr, eps, weight_decay >= 0 and betas in [0, 1), got lr=", h.lr,
      " betas=(", h.beta1, ", ", h.beta2, ") eps=", h.eps, " weight_decay=", h.weight_decay);
  struct Chunk {
    int64_t tensor, begin, end;
  };
  std::vector<Chunk> chunks;
  for (int64_t t = 0; t < count; ++t) {
    const AdamWTensor<T>& a = tensors[t];
    TESSERA_CHECK(a.numel >= 0, "adamw_step: tensor ", t, " has numel ", a.numel);
    TESSERA_CHECK(a.numel == 0 || (a.param && a.grad && a.exp_avg && a.exp_avg_sq),
                  "adamw_step: tensor ", t, " has a null pointer");
    for (int64_t b = 0; b < a.numel; b += kGrain)
      chunks.push_back({t, b, std::min(a.numel, b + kGrain)});
  }
  const double bc1 = 1.0 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2 = 1.0 - std::pow(h.beta2, static_cast<double>(h.step));
  const T decay = static_cast<T>(1.0 - h.lr * h.weight_decay);
  const T w1 = static_cast<T>(1.0 - h.beta1);
  const T b2 = static_cast<T>(h.beta2);
  const T w2 = static_cast<T>(1.0 - h.beta2);
  const T neg_step = static_cast<T>(-(h.lr / bc1));
  const T bc2_sqrt = static_cast<T>(std::sqrt(bc2));
  const T eps = static_cast<T>(h.eps);
  parallel_for(static_cast<int64_t>(chunks.size()), 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const AdamWTensor<T>& a = tensors[chunks[c].tensor];
      T* p = a.param;
      const T* g = a.grad;
      T* m = a.exp_avg;
      T* v = a.exp_avg_sq;
#pragma omp simd
      for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) {
        const T gi = g[i];
        const T pi = p[i] * decay;
        const T mi = m[i] + w1 * (gi - m[i]);  // ATen's lerp for weight < 0.5
        const T vi = v[i] * b2 + w2 * gi * gi;
        const T denom = std::sqrt(vi) / bc2_sqrt + eps;
        p[i] = pi + neg_step * mi / denom;
        m[i] = mi;
        v[i] = vi;
      }
    }
  });
}

template void adamw_step<float>(const AdamWTensor<float>*, int64_t, const AdamWHyper&);
template void adamw_step<double>(const AdamWTensor<double>*, int64_t, const AdamWHyper&);

}  // namespace tessera::kernels::cpu
