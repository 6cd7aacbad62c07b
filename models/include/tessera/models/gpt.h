// SPDX-License-Identifier: Apache-2.0
/// @brief GPT: a GPT-2-architecture causal language model.
///
///   x = wte[idx] + wpe[0..T)                       (B, T, C)
///   x = drop(x); for each block: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))   (pre-LN)
///   logits = ln_f(x) @ wte^T                       (B, T, V)   (LM head tied to the embedding)
/// Attention is causal self-attention with one fused (3C, C) QKV projection; the MLP is
/// C -> 4C -> C with GELU (tanh approximation, as GPT-2). Initialisation as GPT-2: weights
/// N(0, 0.02), biases 0, LayerNorm (1, 0), and the residual projections (attn.c_proj, mlp.c_proj)
/// N(0, 0.02 / sqrt(2 * n_layer)). Parameter names follow GPT-2's checkpoints
/// (wte.weight, wpe.weight, h.0.ln_1.weight, h.0.attn.c_attn.weight, ..., ln_f.bias).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <tessera/nn/attention.h>
#include <tessera/nn/embedding.h>
#include <tessera/nn/layer_norm.h>
#include <tessera/nn/module.h>
#include <tessera/nn/optim.h>
#include <tessera/nn/transformer.h>
#include <tessera/random.h>

namespace tessera::models {

struct GPTConfig {
  int64_t vocab_size = 256;
  int64_t context = 128;  ///< maximum sequence length (block size)
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_embd = 128;
  double dropout = 0.0;
  bool bias = true;       ///< biases in Linear and LayerNorm layers (nanoGPT: false)
  bool gelu_tanh = true;  ///< GELU's tanh approximation (GPT-2); false = exact erf GELU

  /// Throws tessera::Error naming the first inconsistent field (e.g. heads not dividing width).
  void validate() const;
  std::string to_json() const;
  static GPTConfig from_json(const std::string& json);
  friend bool operator==(const GPTConfig&, const GPTConfig&) = default;
};

/// One pre-LN Transformer block with an optional KV cache for incremental decoding.
class GPTBlock : public nn::Module {
 public:
  GPTBlock(const GPTConfig& cfg, Generator* gen);
  std::string name() const override { return "GPTBlock"; }
  Tensor forward(const Tensor& x) override { return forward(x, nullptr); }
  Tensor forward(const Tensor& x, nn::KVCache* cache);

  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<nn::MultiHeadAttention> attn;
  std::shared_ptr<nn::FeedForward> mlp;
  std::shared_ptr<nn::Dropout> drop;
};

class GPT : public nn::Module {
 public:
  /// Builds and initialises the model from `gen` (nullptr = the default generator). Dropout draws
  /// from `dropout_gen` (nullptr = the default generator); it must outlive the model.
  explicit GPT(const GPTConfig& cfg, Generator* gen = nullptr, Generator* dropout_gen = nullptr);
  std::string name() const override { return "GPT"; }

  /// idx int64 (B, T) with T <= context -> logits (B, T, V).
  Tensor forward(const Tensor& idx) override;
  /// With KV caches (one per layer): idx holds only the new positions, which continue the cached
  /// ones (positions cache_len .. cache_len + T).
  Tensor forward(const Tensor& idx, std::vector<nn::KVCache>& caches);
  /// Mean cross-entropy of forward(idx) against targets (B, T).
  Tensor loss(const Tensor& idx, const Tensor& targets);

  const GPTConfig& config() const { return cfg_; }
  /// Parameter groups for AdamW: weight decay on matrices (dim >= 2), none on biases and norms.
  std::vector<nn::ParamGroup> param_groups(double lr, double weight_decay) const;

  std::shared_ptr<nn::Embedding> wte, wpe;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::ModuleList<GPTBlock>> h;
  std::shared_ptr<nn::LayerNorm> ln_f;

 private:
  GPTConfig cfg_;
};

}  // namespace tessera::models
