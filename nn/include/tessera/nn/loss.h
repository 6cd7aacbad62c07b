// SPDX-License-Identifier: Apache-2.0
/// @brief Losses with PyTorch semantics (reduction = mean).
#pragma once

#include <tessera/tensor.h>

namespace tessera::nn::functional {

/// logits (N, C) or (B, T, C), targets int64/int32 (N) or (B, T). Per token:
///   l = (1 - s) * (-log p[target]) + s * mean_c(-log p[c])   (s = label_smoothing)
/// averaged over tokens whose target != ignore_index (NaN when every token is ignored, as
/// PyTorch). A target outside [0, C) that is not ignore_index throws.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100,
                     double label_smoothing = 0.0);
/// mean((input - target)^2).
/// The same loss composed from differentiable primitives (log_softmax, gather, mean): the
/// reference the fused version is tested against.
Tensor cross_entropy_reference(const Tensor& logits, const Tensor& targets,
                               int64_t ignore_index = -100, double label_smoothing = 0.0);
Tensor mse_loss(const Tensor& input, const Tensor& target);

}  // namespace tessera::nn::functional
