// SPDX-License-Identifier: Apache-2.0
/// @brief Differentiable fused ops: each is ONE autograd node around a fused kernel
/// (tessera/native/fused.h), saving what its backward needs (mean/rstd, logsumexp).
#pragma once

#include <tessera/random.h>
#include <tessera/tensor.h>

namespace tessera {

/// LayerNorm over the last dim: (x - mean) * rstd * weight + bias; weight and bias (C) or
/// undefined.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

/// Mean cross-entropy of logits (N, V) against int targets (N), ignoring `ignore_index` rows,
/// with PyTorch's label smoothing. The gradient is written by the same fused pass family.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100,
                     double label_smoothing = 0.0);

/// Fused attention softmax(scale q k^T) v: q (B, H, Tq, D), k and v (B, H, Tk, D). `causal` is
/// top-left aligned and needs Tq == Tk. Dropout on the probabilities draws from `gen` (nullptr =
/// the default generator) and the backward regenerates the same mask.
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                       double scale = 0.0, double dropout_p = 0.0, Generator* gen = nullptr);

}  // namespace tessera
