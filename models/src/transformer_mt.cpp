// SPDX-License-Identifier: Apache-2.0
/// @brief TransformerMT (see transformer_mt.h): config, construction, teacher-forced forward and
/// incremental decoding with cached cross-attention keys/values.
#include <tessera/models/transformer_mt.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include <tessera/creation.h>
#include <tessera/nn/functional.h>
#include <tessera/nn/init.h>
#include <tessera/nn/loss.h>
#include <tessera/ops.h>

namespace tessera::models {

// ---------------------------------------------------------------------------------------------
// Config

TransformerMTConfig TransformerMTConfig::small() { return TransformerMTConfig{}; }

TransformerMTConfig TransformerMTConfig::base() {
  TransformerMTConfig c;
  c.d_model = 512;
  c.encoder_layers = 6;
  c.decoder_layers = 6;
  c.num_heads = 8;
  c.dim_feedforward = 2048;
  return c;
}

TransformerMTConfig TransformerMTConfig::preset(const std::string& name) {
  if (name == "small") return small();
  if (name == "base") return base();
  TESSERA_FAIL("TransformerMT config: unknown preset '", name, "' (expected small or base)");
}

void TransformerMTConfig::validate() const {
  const char* w = "TransformerMT config: ";
  TESSERA_CHECK(vocab_size > 4, w, "vocab_size must exceed the 4 special tokens, got ", vocab_size);
  TESSERA_CHECK(d_model > 0 && num_heads > 0, w, "d_model and num_heads must be positive, got ",
                d_model, " and ", num_heads);
  TESSERA_CHECK(d_model % num_heads == 0, w, "num_heads (", num_heads, ") must divide d_model (",
                d_model, ")");
  TESSERA_CHECK(d_model % 2 == 0 || positions != "sinusoidal", w,
                "sinusoidal positions need an even d_model, got ", d_model);
  TESSERA_CHECK(d_model >= 4 || positions != "sinusoidal", w,
                "sinusoidal positions need d_model >= 4, got ", d_model);
  TESSERA_CHECK(encoder_layers > 0 && decoder_layers > 0, w, "layer counts must be positive, got ",
                encoder_layers, " encoder and ", decoder_layers, " decoder layers");
  TESSERA_CHECK(dim_feedforward > 0, w, "dim_feedforward must be positive, got ", dim_feedforward);
  TESSERA_CHECK(dropout >= 0 && dropout < 1, w, "dropout must be in [0, 1), got ", dropout);
  TESSERA_CHECK(positions == "sinusoidal" || positions == "learned", w,
                "positions must be 'sinusoidal' or 'learned', got '", positions, "'");
  TESSERA_CHECK(max_positions >= 2, w, "max_positions must be >= 2, got ", max_positions);
}

std::string TransformerMTConfig::to_json() const {
  const nlohmann::json j = {{"vocab_size", vocab_size},
                            {"d_model", d_model},
                            {"encoder_layers", encoder_layers},
                            {"decoder_layers", decoder_layers},
                            {"num_heads", num_heads},
                            {"dim_feedforward", dim_feedforward},
                            {"dropout", dropout},
                            {"pre_ln", pre_ln},
                            {"positions", positions},
                            {"max_positions", max_positions},
                            {"share_embeddings", share_embeddings}};
  return j.dump();
}

TransformerMTConfig TransformerMTConfig::from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  TESSERA_CHECK(!j.is_discarded() && j.is_object(), "TransformerMT config: not a JSON object");
  TransformerMTConfig c;
  auto get_int = [&](const char* key, int64_t& out) {
    TESSERA_CHECK(j.contains(key) && j[key].is_number_integer(), "TransformerMT config: '", key,
                  "' missing or not an integer");
    out = j[key].get<int64_t>();
  };
  auto get_bool = [&](const char* key, bool& out) {
    TESSERA_CHECK(j.contains(key) && j[key].is_boolean(), "TransformerMT config: '", key,
                  "' missing or not a boolean");
    out = j[key].get<bool>();
  };
  get_int("vocab_size", c.vocab_size);
  get_int("d_model", c.d_model);
  get_int("encoder_layers", c.encoder_layers);
  get_int("decoder_layers", c.decoder_layers);
  get_int("num_heads", c.num_heads);
  get_int("dim_feedforward", c.dim_feedforward);
  get_int("max_positions", c.max_positions);
  TESSERA_CHECK(j.contains("dropout") && j["dropout"].is_number(),
                "TransformerMT config: 'dropout' missing or not a number");
  c.dropout = j["dropout"].get<double>();
  get_bool("pre_ln", c.pre_ln);
  get_bool("share_embeddings", c.share_embeddings);
  TESSERA_CHECK(j.contains("positions") && j["positions"].is_string(),
                "TransformerMT config: 'positions' missing or not a string");
  c.positions = j["positions"].get<std::string>();
  c.validate();
  return c;
}

// ---------------------------------------------------------------------------------------------
// Model

Tensor sinusoidal_positions(int64_t num_positions, int64_t dim) {
  TESSERA_CHECK(num_positions > 0 && dim >= 4 && dim % 2 == 0,
                "sinusoidal_positions: need positions > 0 and an even dim >= 4, got ",
                num_positions, " and ", dim);
  const int64_t half = dim / 2;
  const double step = std::log(10000.0) / static_cast<double>(half - 1);
  std::vector<float> table(static_cast<size_t>(num_positions * dim));
  for (int64_t p = 0; p < num_positions; ++p) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(p) * std::exp(-step * static_cast<double>(i));
      table[static_cast<size_t>(p * dim + i)] = static_cast<float>(std::sin(angle));
      table[static_cast<size_t>(p * dim + half + i)] = static_cast<float>(std::cos(angle));
    }
  }
  return from_vector(table, {num_positions, dim});
}

TransformerMT::TransformerMT(const TransformerMTConfig& cfg, Generator* gen, Generator* dropout_gen)
    : cfg_(cfg) {
  cfg_.validate();
  const int64_t d = cfg.d_model;
  embed = register_module("embed", std::make_shared<nn::Embedding>(cfg.vocab_size, d));
  if (cfg.share_embeddings) {
    tgt_embed = embed;
  } else {
    tgt_embed = register_module("tgt_embed", std::make_shared<nn::Embedding>(cfg.vocab_size, d));
    out_proj = register_module("out_proj", std::make_shared<nn::Linear>(d, cfg.vocab_size, false));
  }
  if (cfg.positions == "learned") {
    pos_embed = register_module("pos_embed", std::make_shared<nn::Embedding>(cfg.max_positions, d));
  } else {
    sinusoid_ = sinusoidal_positions(cfg.max_positions, d);
  }
  nn::TransformerLayerOptions lo;
  lo.d_model = d;
  lo.num_heads = cfg.num_heads;
  lo.dim_feedforward = cfg.dim_feedforward;
  lo.dropout = cfg.dropout;
  lo.norm_first = cfg.pre_ln;
  lo.gen = dropout_gen;
  encoder =
      register_module("encoder", std::make_shared<nn::ModuleList<nn::TransformerEncoderLayer>>());
  for (int64_t i = 0; i < cfg.encoder_layers; ++i)
    encoder->push_back(std::make_shared<nn::TransformerEncoderLayer>(lo));
  decoder =
      register_module("decoder", std::make_shared<nn::ModuleList<nn::TransformerDecoderLayer>>());
  for (int64_t i = 0; i < cfg.decoder_layers; ++i)
    decoder->push_back(std::make_shared<nn::TransformerDecoderLayer>(lo));
  if (cfg.pre_ln) {
    encoder_ln = register_module("encoder_ln", std::make_shared<nn::LayerNorm>(d));
    decoder_ln = register_module("decoder_ln", std::make_shared<nn::LayerNorm>(d));
  }
  drop = register_module("drop", std::make_shared<nn::Dropout>(cfg.dropout, dropout_gen));

  // fairseq's initialisation, in parameter-name order so that a seed fixes every value.
  const double embed_std = 1.0 / std::sqrt(static_cast<double>(d));
  for (auto& [name, p] : named_parameters()) {
    Tensor param = p;
    const bool is_norm = name.find("ln_") != std::string::npos || name.starts_with("encoder_ln") ||
                         name.starts_with("decoder_ln");
    if (is_norm) {
      if (name.ends_with(".weight"))
        nn::init::ones_(param);
      else
        nn::init::zeros_(param);
    } else if (name.ends_with(".bias")) {
      nn::init::zeros_(param);
    } else if (name == "embed.weight" || name == "tgt_embed.weight") {
      nn::init::normal_(param, 0.0, embed_std, gen);
      autograd::NoGradGuard no_grad;
      Tensor pad_row = native::select(param, 0, 0);
      native::fill_(pad_row, Scalar(0.0));  // <pad> row
    } else if (name == "pos_embed.weight" || name == "out_proj.weight") {
      nn::init::normal_(param, 0.0, embed_std, gen);
    } else {
      nn::init::xavier_uniform_(param, 1.0, gen);
    }
  }
}

Tensor TransformerMT::padding_mask(const Tensor& ids) {
  return native::eq(ids, Scalar(int64_t{0}));
}

Tensor TransformerMT::embed_tokens(const std::shared_ptr<nn::Embedding>& table, const Tensor& ids,
                                   int64_t start) {
  TESSERA_CHECK(ids.dim() == 2 && (ids.dtype() == kInt64 || ids.dtype() == kInt32),
                "TransformerMT: expected token ids int64 (B, T), got ", describe(ids));
  const int64_t len = ids.size(1);
  TESSERA_CHECK(start + len <= cfg_.max_positions, "TransformerMT: sequence of ", start + len,
                " positions exceeds max_positions ", cfg_.max_positions);
  Tensor x = mul(table->forward(ids), Scalar(std::sqrt(static_cast<double>(cfg_.d_model))));
  if (pos_embed) {
    const Tensor pos = arange(Scalar(start), Scalar(start + len), Scalar(int64_t{1}),
                              {.dtype = kInt64, .device = ids.device()});
    x = add(x, pos_embed->forward(pos));
  } else {
    // The table is not a buffer (checkpoints do not hold it), so Module::to does not move it: it
    // follows the model's device here, once.
    if (sinusoid_.device() != ids.device()) sinusoid_ = native::to(sinusoid_, ids.device());
    x = add(x, narrow(sinusoid_, 0, start, len));  // (B, T, d) + (T, d)
  }
  return drop->forward(x);
}

Tensor TransformerMT::encode(const Tensor& src) {
  const Tensor pad = padding_mask(src);
  Tensor x = embed_tokens(embed, src, 0);
  for (size_t i = 0; i < encoder->size(); ++i) x = (*encoder)[i]->forward(x, pad, false);
  return encoder_ln ? encoder_ln->forward(x) : x;
}

Tensor TransformerMT::project(const Tensor& h) {
  if (out_proj) return out_proj->forward(h);
  return matmul(h, tessera::t(embed->weight));  // tied output: (B, T, d) @ (d, V)
}

Tensor TransformerMT::decode(const Tensor& tgt_in, const Tensor& memory, const Tensor& src_pad) {
  TESSERA_CHECK(
      memory.dim() == 3 && memory.size(0) == tgt_in.size(0) && memory.size(2) == cfg_.d_model,
      "TransformerMT decode: memory ", describe(memory), " does not match targets ",
      describe(tgt_in));
  Tensor x = embed_tokens(tgt_embed, tgt_in, 0);
  for (size_t i = 0; i < decoder->size(); ++i) x = (*decoder)[i]->forward(x, memory, src_pad);
  if (decoder_ln) x = decoder_ln->forward(x);
  return project(x);
}

Tensor TransformerMT::forward(const Tensor& src, const Tensor& tgt_in) {
  TESSERA_CHECK(src.dim() == 2 && tgt_in.dim() == 2 && src.size(0) == tgt_in.size(0),
                "TransformerMT: expected src (B, S) and tgt (B, T) with the same B, got ",
                describe(src), " and ", describe(tgt_in));
  const Tensor memory = encode(src);
  return decode(tgt_in, memory, padding_mask(src));
}

Tensor TransformerMT::loss(const Tensor& src, const Tensor& tgt_in, const Tensor& tgt_out,
                           double label_smoothing) {
  TESSERA_CHECK(
      tgt_out.dim() == 2 && tgt_out.size(0) == tgt_in.size(0) && tgt_out.size(1) == tgt_in.size(1),
      "TransformerMT loss: targets ", describe(tgt_out), " must match decoder inputs ",
      describe(tgt_in));
  const Tensor logits = forward(src, tgt_in);
  return nn::F::cross_entropy(reshape(logits, {-1, cfg_.vocab_size}), reshape(tgt_out, {-1}),
                              /*ignore_index=*/0, label_smoothing);
}

// ---------------------------------------------------------------------------------------------
// Incremental decoding
//
// NOTE [cross-attention cache]: nn::MultiHeadAttention projects key and value on every call, so the
// decoder layer's own forward would recompute k_proj(memory), v_proj(memory) at every step
// (O(S d^2) per step per layer). Here the decoder layer is re-expressed from its submodules: the
// self-attention goes through the layer's MultiHeadAttention with its KV cache, and the
// cross-attention uses the layer's q_proj / c_proj with keys and values projected once in
// begin_decoding(). The residual/LayerNorm arrangement mirrors nn::TransformerDecoderLayer::forward
// (pre- and post-LN); the test "decode_step equals decode" checks the two agree.

namespace {
Tensor split_heads(const Tensor& x, int64_t h) {  // (B, T, C) -> (B, H, T, C/H)
  const int64_t b = x.size(0), t = x.size(1), c = x.size(2);
  return transpose(reshape(x, {b, t, h, c / h}), 1, 2);
}
Tensor merge_heads(const Tensor& x) {  // (B, H, T, D) -> (B, T, H*D)
  const int64_t b = x.size(0), h = x.size(1), t = x.size(2), d = x.size(3);
  return reshape(transpose(x, 1, 2), {b, t, h * d});
}
}  // namespace

DecoderState TransformerMT::begin_decoding(const Tensor& memory, const Tensor& src_pad) {
  TESSERA_CHECK(memory.dim() == 3 && memory.size(2) == cfg_.d_model && src_pad.dim() == 2 &&
                    src_pad.dtype() == kBool && src_pad.size(0) == memory.size(0) &&
                    src_pad.size(1) == memory.size(1),
                "TransformerMT begin_decoding: expected memory (B, S, ", cfg_.d_model,
                ") and bool padding mask (B, S), got ", describe(memory), " and ",
                describe(src_pad));
  DecoderState s;
  s.self.resize(decoder->size());
  const int64_t b = memory.size(0), len = memory.size(1), h = cfg_.num_heads;
  for (size_t i = 0; i < decoder->size(); ++i) {
    auto& ca = *(*decoder)[i]->cross_attn;
    s.cross_k.push_back(detach(split_heads(ca.k_proj->forward(memory), h)));
    s.cross_v.push_back(detach(split_heads(ca.v_proj->forward(memory), h)));
  }
  s.attn_mask = native::reshape(native::logical_not(src_pad), {b, 1, 1, len});
  return s;
}

Tensor TransformerMT::decoder_layer_cached(nn::TransformerDecoderLayer& layer, const Tensor& x,
                                           DecoderState& s, size_t i) {
  auto sa = [&](const Tensor& h) {
    return layer.drop->forward(layer.self_attn->forward(h, h, h, true, {}, &s.self[i]));
  };
  auto ca = [&](const Tensor& h) {
    auto& attn = *layer.cross_attn;
    nn::F::AttentionOptions ao;
    ao.attn_mask = s.attn_mask;
    ao.dropout_p = attn.is_training() ? attn.opts.dropout : 0.0;
    ao.gen = attn.opts.gen;
    const Tensor q = split_heads(attn.q_proj->forward(h), cfg_.num_heads);
    const Tensor y = nn::F::scaled_dot_product_attention(q, s.cross_k[i], s.cross_v[i], ao);
    return layer.drop->forward(attn.c_proj->forward(merge_heads(y)));
  };
  auto ff = [&](const Tensor& h) { return layer.drop->forward(layer.mlp->forward(h)); };
  if (cfg_.pre_ln) {
    Tensor h = add(x, sa(layer.ln_1->forward(x)));
    h = add(h, ca(layer.ln_2->forward(h)));
    return add(h, ff(layer.ln_3->forward(h)));
  }
  Tensor h = layer.ln_1->forward(add(x, sa(x)));
  h = layer.ln_2->forward(add(h, ca(h)));
  return layer.ln_3->forward(add(h, ff(h)));
}

Tensor TransformerMT::decode_step(const Tensor& tokens, DecoderState& state) {
  TESSERA_CHECK(state.cross_k.size() == decoder->size() && state.self.size() == decoder->size(),
                "TransformerMT decode_step: state was not made by begin_decoding() of this model");
  TESSERA_CHECK(tokens.dim() == 2 && tokens.size(0) == state.batch(),
                "TransformerMT decode_step: expected tokens (", state.batch(), ", T), got ",
                describe(tokens));
  Tensor x = embed_tokens(tgt_embed, tokens, state.length);
  for (size_t i = 0; i < decoder->size(); ++i)
    x = decoder_layer_cached(*(*decoder)[i], x, state, i);
  if (decoder_ln) x = decoder_ln->forward(x);
  state.length += tokens.size(1);
  return project(x);
}

void TransformerMT::select_rows(DecoderState& s, const Tensor& given) {
  TESSERA_CHECK(given.dim() == 1 && given.dtype() == kInt64,
                "TransformerMT select_rows: expected an int64 (B') index, got ", describe(given));
  const Tensor index = native::to(given, s.attn_mask.device());  // the state's device
  for (auto& c : s.self) {
    if (c.length() == 0) continue;
    c.k = native::index_select(c.k, 0, index);
    c.v = native::index_select(c.v, 0, index);
  }
  for (auto& k : s.cross_k) k = native::index_select(k, 0, index);
  for (auto& v : s.cross_v) v = native::index_select(v, 0, index);
  s.attn_mask = native::index_select(s.attn_mask, 0, index);
}

std::vector<nn::ParamGroup> TransformerMT::param_groups(double lr, double weight_decay) const {
  return nn::decay_groups(named_parameters(), lr, weight_decay);
}

}  // namespace tessera::models
