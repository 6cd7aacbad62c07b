// SPDX-License-Identifier: Apache-2.0
/// @brief Stateless layer functions (tessera::nn::functional, alias F), composed from the
/// differentiable primitives of tessera::autograd.
#pragma once

#include <optional>

#include <tessera/random.h>
#include <tessera/tensor.h>

namespace tessera::nn::functional {

/// x (..., in) @ weight^T (out, in) + bias (out).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
/// Normalises over the trailing `normalized_ndim` dims: (x - mean) / sqrt(var + eps) * w + b
/// (population variance, as PyTorch). weight/bias optional. normalized_ndim == 1 runs the fused
/// kernel as one autograd node; layer_norm_reference is the composition of primitives.
Tensor layer_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight,
                  const Tensor& bias, double eps = 1e-5);
Tensor layer_norm_reference(const Tensor& x, int64_t normalized_ndim, const Tensor& weight,
                            const Tensor& bias, double eps = 1e-5);
/// Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p) when training.
/// The mask comes from `gen` (Philox; nullptr = default generator).
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);
Tensor gelu(const Tensor& x, bool tanh_approx = false);
Tensor relu(const Tensor& x);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

struct AttentionOptions {
  /// Bool, broadcastable to (..., Tq, Tk): true = may attend (PyTorch SDPA convention).
  Tensor attn_mask;
  /// Causal: query i may attend key j when j <= i + (Tk - Tq) (so a query block at the end of a
  /// cached sequence sees every past key).
  bool causal = false;
  double dropout_p = 0.0;
  /// Defaults to 1 / sqrt(head_dim).
  std::optional<double> scale;
  Generator* gen = nullptr;
  /// Bool (B, Tk), B = q.size(0): true = padding, never attended (nn's key_padding_mask).
  Tensor key_padding_mask;
  /// Int64/int32 (B): keys j >= key_lengths[b] are padding (variable sequence lengths).
  Tensor key_lengths;
};

/// softmax(q k^T * scale + mask) v for q (..., Tq, D), k (..., Tk, D), v (..., Tk, Dv).
/// All masks combine (a key is attended when none hides it). On CPU, (B, H, T, D) inputs run the
/// fused FlashAttention-style kernel (one node, no T x T matrix) with causal for any Tq, Tk
/// (KV-cache decoding), key_padding_mask, key_lengths, and an attn_mask that masks keys only
/// (shape (B or 1, 1, 1, Tk) or (Tk)); a fully masked row gives 0 and zero gradients there. Other
/// cases (other devices, general attn_mask, Dv != D) use the composition,
/// scaled_dot_product_attention_reference (fully masked rows give NaN, as PyTorch).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& opts = {});
Tensor scaled_dot_product_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                              const AttentionOptions& opts = {});

/// The (Tq, Tk) bool causal mask described in AttentionOptions::causal.
Tensor causal_mask(int64_t tq, int64_t tk, Device device = kCPU);

}  // namespace tessera::nn::functional

namespace tessera::nn {
namespace F = functional;
}
