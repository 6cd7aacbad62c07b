// SPDX-License-Identifier: Apache-2.0
/// @brief Position-wise FeedForward and Transformer encoder/decoder layers (pre-LN or post-LN).
///
///   pre-LN  (norm_first):  x = x + drop(attn(ln_1(x)));  x = x + drop(ffn(ln_2(x)))
///   post-LN:               x = ln_1(x + drop(attn(x)));  x = ln_2(x + drop(ffn(x)))
/// The decoder layer adds cross-attention (ln_3 / between self-attention and the FFN).
#pragma once

#include <tessera/nn/attention.h>
#include <tessera/nn/dropout.h>
#include <tessera/nn/layer_norm.h>
#include <tessera/nn/linear.h>

namespace tessera::nn {

/// c_fc (C -> hidden) -> GELU -> dropout -> c_proj (hidden -> C); `bias = false` drops both
/// Linear biases.
class FeedForward : public Module {
 public:
  FeedForward(int64_t dim, int64_t hidden, double dropout = 0.0, bool gelu_tanh = false,
              DType dtype = kFloat32, Generator* gen = nullptr, bool bias = true);
  std::string name() const override { return "FeedForward"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Linear> c_fc, c_proj;
  std::shared_ptr<Dropout> drop;
  bool gelu_tanh;
};

struct TransformerLayerOptions {
  int64_t d_model = 0;
  int64_t num_heads = 1;
  int64_t dim_feedforward = 0;  ///< 0 = 4 * d_model
  double dropout = 0.0;
  bool norm_first = true;  ///< pre-LN
  double layer_norm_eps = 1e-5;
  bool gelu_tanh = false;
  DType dtype = kFloat32;
  Generator* gen = nullptr;
};

class TransformerEncoderLayer : public Module {
 public:
  explicit TransformerEncoderLayer(const TransformerLayerOptions& opts);
  std::string name() const override { return "TransformerEncoderLayer"; }
  Tensor forward(const Tensor& x) override { return forward(x, {}, false); }
  /// x (B, T, C); key_padding_mask bool (B, T), true = padding.
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask, bool causal);
  TransformerLayerOptions opts;
  std::shared_ptr<MultiHeadAttention> attn;
  std::shared_ptr<FeedForward> mlp;
  std::shared_ptr<LayerNorm> ln_1, ln_2;
  std::shared_ptr<Dropout> drop;
};

class TransformerDecoderLayer : public Module {
 public:
  explicit TransformerDecoderLayer(const TransformerLayerOptions& opts);
  std::string name() const override { return "TransformerDecoderLayer"; }
  /// x (B, T, C) targets so far, memory (B, S, C) encoder output. Self-attention is causal;
  /// `self_cache` enables incremental decoding (x then holds only the new positions).
  Tensor forward(const Tensor& x, const Tensor& memory, const Tensor& memory_key_padding_mask = {},
                 const Tensor& tgt_key_padding_mask = {}, KVCache* self_cache = nullptr);
  TransformerLayerOptions opts;
  std::shared_ptr<MultiHeadAttention> self_attn, cross_attn;
  std::shared_ptr<FeedForward> mlp;
  std::shared_ptr<LayerNorm> ln_1, ln_2, ln_3;
  std::shared_ptr<Dropout> drop;
};

}  // namespace tessera::nn
