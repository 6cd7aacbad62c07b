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

/// Fused attention softmax(scale q k^T + masks) v: q (B, H, Tq, D), k and v (B, H, Tk, D).
/// `causal` is bottom-right aligned (query i sees keys j <= i + Tk - Tq; KV-cache decoding).
/// Key padding (CPU): key_lengths (B) int64/int32 (keys j >= len[b] masked) and/or
/// key_padding_mask bool (B, Tk) (true = padding); a query that sees no key gets 0 and zero
/// gradients. Dropout on the probabilities draws from `gen` (nullptr = the default generator) and
/// the backward regenerates the same mask. Details: native::AttentionParams.
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                       double scale = 0.0, double dropout_p = 0.0, Generator* gen = nullptr,
                       const Tensor& key_lengths = {}, const Tensor& key_padding_mask = {});

}  // namespace tessera
