// SPDX-License-Identifier: Apache-2.0
/// @brief Multi-tensor AdamW update (decoupled weight decay), matching PyTorch's torch.optim.AdamW.
///
/// One call updates a list of tensors; per element, with step t >= 1 (already incremented) and the
/// scalars computed in double then rounded to T, exactly as PyTorch's single-tensor AdamW does:
///   p   = p * (1 - lr * weight_decay)
///   m   = lerp(m, g, 1 - beta1)            (m + w (g - m), w = 1 - beta1 < 0.5)
///   v   = v * beta2 + (1 - beta2) * g * g
///   p   = p + (-lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// (amsgrad = false, maximize = false). T is float or double. Shapes: each of param, grad, exp_avg,
/// exp_avg_sq is (numel) contiguous; tensors may have any sizes (0 included). The update is
/// elementwise, so results are identical for any thread count.
#pragma once

#include <cstdint>

namespace tessera::kernels::cpu {

template <typename T>
struct AdamWTensor {
  T* param = nullptr;
  const T* grad = nullptr;
  T* exp_avg = nullptr;
  T* exp_avg_sq = nullptr;
  int64_t numel = 0;
};

struct AdamWHyper {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
  int64_t step = 1;  ///< the step number after incrementing (1 for the first update)
};

template <typename T>
void adamw_step(const AdamWTensor<T>* tensors, int64_t count, const AdamWHyper& hyper);

}  // namespace tessera::kernels::cpu
