// SPDX-License-Identifier: Apache-2.0
/// @brief Fused ops (forward + backward pieces) dispatched to the hand-written kernels:
/// layer_norm, softmax/log_softmax backward, cross-entropy, scaled-dot-product attention, AdamW.
///
/// Each forward returns what its backward needs (mean/rstd, logsumexp), as the autograd functions
/// in tessera::autograd save them. The CPU kernels are kernels/cpu/*.cpp; on CUDA tensors the ops
/// dispatch to kernels/cuda/{layer_norm,softmax,cross_entropy,adamw,attention}.cu (docs/kernels.md
/// says which variants each device has). Inputs of any layout are made contiguous first; float32,
/// float64, bfloat16 and float16 are supported (16-bit types compute in float32). The unfused
/// compositions in tessera::nn::functional stay available as references (docs/kernels.md).
#pragma once

#include <cstdint>
#include <vector>

#include <tessera/tensor.h>

namespace tessera::native {

struct LayerNormResult {
  Tensor y;     ///< x's shape and dtype
  Tensor mean;  ///< (rows) float32 (float64 for float64 input)
  Tensor rstd;  ///< (rows) 1 / sqrt(var + eps)
};
/// LayerNorm over the last dim of x (..., C); weight and bias (C) or undefined (1 and 0).
LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);

struct LayerNormGrads {
  Tensor grad_x, grad_weight, grad_bias;  ///< undefined where not wanted
};
LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, bool want_x,
                                   bool want_weight, bool want_bias);

/// Gradient of y = softmax(x, dim) (resp. log_softmax) given y and grad_y.
Tensor softmax_backward(const Tensor& y, const Tensor& grad_y, int64_t dim);
Tensor log_softmax_backward(const Tensor& y, const Tensor& grad_y, int64_t dim);

struct CrossEntropyResult {
  Tensor loss;        ///< 0-d, mean over rows whose target is not ignore_index (NaN when none)
  Tensor lse;         ///< (rows) logsumexp of each logits row, for the backward
  int64_t count = 0;  ///< rows that count
};
/// logits (N, V), targets (N) int64/int32; PyTorch's label-smoothing formula.
CrossEntropyResult cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                                 double label_smoothing);
/// d loss / d logits for the mean loss, scaled by grad_loss (0-d).
Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& logits, const Tensor& targets,
                              const Tensor& lse, int64_t ignore_index, double label_smoothing);

struct AttentionParams {
  /// Causal, bottom-right aligned: query i sees keys j <= i + (Tk - Tq) (FlashAttention's and
  /// KV-cache decoding's convention; the usual lower triangle when Tq == Tk). CPU: any Tq, Tk
  /// (for Tq > Tk the first Tq - Tk queries see no key). Other devices: Tq == Tk only.
  bool causal = false;
  double scale = 0;      ///< 0 = 1 / sqrt(D)
  double dropout_p = 0;  ///< on the probabilities, Philox stream (seed, offset)
  uint64_t seed = 0, offset = 0;
  // Key padding (CPU only for now; other devices reject them). Masks combine: a key is visible
  // when no mask hides it. A query that sees no key gets out = 0, lse = -inf, zero gradients.
  Tensor key_lengths;  ///< optional (B) int64/int32 in [0, Tk]: keys j >= key_lengths[b] masked
  Tensor key_padding_mask;  ///< optional bool (B, Tk): true = padding (masked), as nn's
};
struct AttentionResult {
  Tensor out;  ///< (B, H, Tq, D)
  Tensor lse;  ///< (B, H, Tq) float32 (float64 for float64 input)
};
/// q (B, H, Tq, D), k and v (B, H, Tk, D): softmax(scale q k^T + masks) v without materialising
/// the (Tq, Tk) matrix (FlashAttention-2 tiling). Philox counters used by dropout:
/// ceil(B*H*Tq*Tk / 4).
AttentionResult scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const AttentionParams& p);
struct AttentionGrads {
  Tensor grad_q, grad_k, grad_v;
};
AttentionGrads scaled_dot_product_attention_backward(const Tensor& grad_out, const Tensor& q,
                                                     const Tensor& k, const Tensor& v,
                                                     const Tensor& out, const Tensor& lse,
                                                     const AttentionParams& p);
/// Whether the fused kernel covers tensors of `dtype` with `head_dim` on `device` (CPU: every
/// floating dtype; CUDA: float32/float64/bfloat16/float16 with head_dim 32, 64 or 128).
bool scaled_dot_product_attention_fusable(Device device, DType dtype, int64_t head_dim);

struct AdamWParams {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  int64_t step = 1;  ///< after incrementing: 1 for the first update
};
/// In-place multi-tensor AdamW (PyTorch's formula) over contiguous float32/float64 tensors.
void adamw_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                 const AdamWParams& p);

}  // namespace tessera::native
