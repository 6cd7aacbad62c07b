// SPDX-License-Identifier: Apache-2.0
/// @brief MultiHeadAttention: self- or cross-attention over (B, T, C) inputs, causal and key
/// padding masks, optional fused QKV projection (self-attention), and a KV cache for
/// incremental decoding.
///
/// Parameter names: fused  -> c_attn (C, 3C) [q | k | v rows], c_proj;
///                  otherwise q_proj, k_proj, v_proj, c_proj.
/// Heads: q (B, T, C) -> (B, H, T, C/H); attention per head via F::scaled_dot_product_attention.
#pragma once

#include <tessera/nn/linear.h>
#include <tessera/nn/module.h>
#include <tessera/random.h>

namespace tessera::nn {

/// Keys and values seen so far, (B, H, S, D) each; empty before the first step.
struct KVCache {
  Tensor k, v;
  int64_t length() const { return k.defined() ? k.size(2) : 0; }
  void clear() {
    k = Tensor();
    v = Tensor();
  }
};

struct MultiHeadAttentionOptions {
  int64_t embed_dim = 0;
  int64_t num_heads = 1;
  bool bias = true;
  double dropout = 0.0;   ///< on attention probabilities (training only)
  bool fused_qkv = true;  ///< one (3C, C) projection; only valid for self-attention
  bool causal = false;    ///< default for forward(x)
  DType dtype = kFloat32;
  Generator* gen = nullptr;  ///< init and dropout (nullptr = default generator)
};

class MultiHeadAttention : public Module {
 public:
  explicit MultiHeadAttention(const MultiHeadAttentionOptions& opts);
  std::string name() const override { return "MultiHeadAttention"; }

  /// Self-attention with the configured causal flag.
  Tensor forward(const Tensor& x) override;
  /// query (B, Tq, C), key/value (B, Tk, C). key_padding_mask: bool (B, Tk), true = padding
  /// (ignored as a key, PyTorch's convention). With `cache` (self-attention only), the new keys
  /// and values are appended to it and the query attends to the whole cached sequence; causal
  /// masking then uses absolute positions, so feeding tokens one at a time equals the full causal
  /// forward.
  Tensor forward(const Tensor& query, const Tensor& key, const Tensor& value, bool causal,
                 const Tensor& key_padding_mask = {}, KVCache* cache = nullptr);

  MultiHeadAttentionOptions opts;
  std::shared_ptr<Linear> c_attn, q_proj, k_proj, v_proj, c_proj;
};

}  // namespace tessera::nn
