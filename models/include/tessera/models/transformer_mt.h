// SPDX-License-Identifier: Apache-2.0
/// @brief TransformerMT: the encoder-decoder Transformer of Vaswani et al. (2017) for translation.
///
///   src (B, S) int64, pad = 0           tgt_in (B, T) = <bos> y_1 .. y_{T-1}
///   e = drop(E[src] * sqrt(d) + P[0..S))            encoder: N x (self-attn with src key padding
///   memory = ln_enc(enc_N(...enc_1(e)))              mask, FFN); pre-LN adds a final LayerNorm
///   h = drop(E'[tgt_in] * sqrt(d) + P[0..T))         decoder: N x (causal self-attn, cross-attn
///   logits = ln_dec(dec_N(...dec_1(h, memory))) @ W_out^T       over memory, FFN)  (B, T, V)
///
/// Layers are nn::TransformerEncoderLayer / nn::TransformerDecoderLayer (pre-LN by default,
/// post-LN on request; FFN uses GELU rather than the paper's ReLU). Positions are sinusoidal (a
/// fixed table, not a parameter) or learned. By default one embedding table E is shared by the
/// source, the target and the output projection (W_out = E' = E; one BPE vocabulary), as in
/// fairseq's --share-all-embeddings. Initialisation follows fairseq: embeddings N(0, d^-1/2) with a
/// zero <pad> row, projection matrices Xavier-uniform, biases zero, LayerNorm (1, 0).
///
/// Incremental decoding (NOTE [cross-attention cache]): begin_decoding() encodes the keys and
/// values of every decoder layer's cross-attention once per source; decode_step() then feeds only
/// the newest target positions, using each layer's self-attention KV cache. Its logits equal those
/// of decode() on the whole prefix (tested).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tessera/nn/attention.h>
#include <tessera/nn/dropout.h>
#include <tessera/nn/embedding.h>
#include <tessera/nn/layer_norm.h>
#include <tessera/nn/linear.h>
#include <tessera/nn/module.h>
#include <tessera/nn/optim.h>
#include <tessera/nn/transformer.h>
#include <tessera/random.h>

namespace tessera::models {

struct TransformerMTConfig {
  int64_t vocab_size = 8000;  ///< shared source/target vocabulary (ids 0..3 are special)
  int64_t d_model = 256;
  int64_t encoder_layers = 3;
  int64_t decoder_layers = 3;
  int64_t num_heads = 4;
  int64_t dim_feedforward = 1024;
  double dropout = 0.1;
  bool pre_ln = true;                    ///< false = post-LN (the paper's original placement)
  std::string positions = "sinusoidal";  ///< "sinusoidal" or "learned"
  int64_t max_positions = 512;   ///< longest source or target sequence (tokens incl. <bos>/<eos>)
  bool share_embeddings = true;  ///< one table for source, target and output projection

  /// d=256, 3+3 layers, 4 heads, FFN 1024 (trains on a CPU).
  static TransformerMTConfig small();
  /// d=512, 6+6 layers, 8 heads, FFN 2048 (Vaswani et al.'s base model).
  static TransformerMTConfig base();
  /// "small" or "base"; anything else throws.
  static TransformerMTConfig preset(const std::string& name);

  /// Throws tessera::Error naming the first inconsistent field.
  void validate() const;
  std::string to_json() const;
  /// Parses and validates; every field is required and type-checked.
  static TransformerMTConfig from_json(const std::string& json);
  friend bool operator==(const TransformerMTConfig&, const TransformerMTConfig&) = default;
};

/// Per-sentence decoding state for incremental decoding: self-attention caches, the cross-attention
/// keys/values computed once from the encoder output, and the source padding mask.
struct DecoderState {
  std::vector<nn::KVCache> self;         ///< one per decoder layer
  std::vector<Tensor> cross_k, cross_v;  ///< one per decoder layer, (B, H, S, D)
  Tensor attn_mask;                      ///< bool (B, 1, 1, S), true = may attend
  int64_t length = 0;                    ///< target positions decoded so far
  int64_t batch() const { return attn_mask.defined() ? attn_mask.size(0) : 0; }
};

class TransformerMT : public nn::Module {
 public:
  /// Builds and initialises the model from `gen` (nullptr = default generator); dropout draws from
  /// `dropout_gen` (nullptr = default generator), which must outlive the model.
  explicit TransformerMT(const TransformerMTConfig& cfg, Generator* gen = nullptr,
                         Generator* dropout_gen = nullptr);
  std::string name() const override { return "TransformerMT"; }

  /// (B, S) token ids -> bool (B, S), true where the token is <pad> (0).
  static Tensor padding_mask(const Tensor& ids);

  /// src (B, S) int64 -> memory (B, S, d). Padding positions are masked as keys.
  Tensor encode(const Tensor& src);
  /// Teacher-forced decoder: tgt_in (B, T), memory (B, S, d), src_pad (B, S) -> logits (B, T, V).
  Tensor decode(const Tensor& tgt_in, const Tensor& memory, const Tensor& src_pad);
  /// Full forward: logits (B, T, V).
  Tensor forward(const Tensor& src, const Tensor& tgt_in);
  /// Label-smoothed cross-entropy of forward(src, tgt_in) against tgt_out (B, T); <pad> targets
  /// are ignored. Mean over non-pad target tokens.
  Tensor loss(const Tensor& src, const Tensor& tgt_in, const Tensor& tgt_out,
              double label_smoothing = 0.0);

  /// Computes the cross-attention keys/values of every decoder layer from `memory` once.
  DecoderState begin_decoding(const Tensor& memory, const Tensor& src_pad);
  /// tokens (B, T_new) continuing the state's prefix -> logits (B, T_new, V); updates the state.
  Tensor decode_step(const Tensor& tokens, DecoderState& state);
  /// Keeps rows `index` (int64 (B')) of every cached tensor, e.g. to follow beam search's
  /// surviving hypotheses or drop finished sentences.
  static void select_rows(DecoderState& state, const Tensor& index);

  const TransformerMTConfig& config() const { return cfg_; }
  /// AdamW groups: decay on matrices and embeddings, none on biases and LayerNorms.
  std::vector<nn::ParamGroup> param_groups(double lr, double weight_decay) const;

  std::shared_ptr<nn::Embedding> embed;      ///< source (and target/output when shared)
  std::shared_ptr<nn::Embedding> tgt_embed;  ///< == embed when shared
  std::shared_ptr<nn::Linear> out_proj;      ///< null when shared (tied to the embedding)
  std::shared_ptr<nn::Embedding> pos_embed;  ///< learned positions only
  std::shared_ptr<nn::ModuleList<nn::TransformerEncoderLayer>> encoder;
  std::shared_ptr<nn::ModuleList<nn::TransformerDecoderLayer>> decoder;
  std::shared_ptr<nn::LayerNorm> encoder_ln, decoder_ln;  ///< pre-LN only
  std::shared_ptr<nn::Dropout> drop;

 private:
  Tensor embed_tokens(const std::shared_ptr<nn::Embedding>& table, const Tensor& ids,
                      int64_t start);
  Tensor project(const Tensor& h);
  Tensor decoder_layer_cached(nn::TransformerDecoderLayer& layer, const Tensor& x, DecoderState& s,
                              size_t i);

  TransformerMTConfig cfg_;
  Tensor sinusoid_;  ///< (max_positions, d) fixed table; not a parameter or buffer
};

/// The fixed sinusoidal position table of Vaswani et al.: row p = [sin(p w_0), .., sin(p
/// w_{d/2-1}), cos(p w_0), ..] with w_i = 10000^(-i / (d/2 - 1)) (fairseq's / tensor2tensor's
/// layout).
Tensor sinusoidal_positions(int64_t num_positions, int64_t dim);

}  // namespace tessera::models
