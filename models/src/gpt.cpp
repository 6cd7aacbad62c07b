// SPDX-License-Identifier: Apache-2.0
/// @brief GPT model (see gpt.h): construction with GPT-2's initialisation, forward, loss.
#include <tessera/models/gpt.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include <tessera/creation.h>
#include <tessera/nn/init.h>
#include <tessera/nn/loss.h>
#include <tessera/ops.h>

namespace tessera::models {

void GPTConfig::validate() const {
  TESSERA_CHECK(vocab_size > 0, "GPT config: vocab_size must be positive, got ", vocab_size);
  TESSERA_CHECK(context > 0, "GPT config: context must be positive, got ", context);
  TESSERA_CHECK(n_layer > 0, "GPT config: layers must be positive, got ", n_layer);
  TESSERA_CHECK(n_head > 0 && n_embd > 0, "GPT config: heads and width must be positive, got ",
                n_head, " heads, width ", n_embd);
  TESSERA_CHECK(n_embd % n_head == 0, "GPT config: heads (", n_head, ") must divide width (",
                n_embd, ")");
  TESSERA_CHECK(dropout >= 0 && dropout < 1, "GPT config: dropout must be in [0, 1), got ",
                dropout);
}

std::string GPTConfig::to_json() const {
  nlohmann::json j = {{"vocab_size", vocab_size},
                      {"context", context},
                      {"n_layer", n_layer},
                      {"n_head", n_head},
                      {"n_embd", n_embd},
                      {"dropout", dropout},
                      {"bias", bias},
                      {"activation", gelu_tanh ? "gelu_tanh" : "gelu"}};
  return j.dump();
}

GPTConfig GPTConfig::from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  TESSERA_CHECK(!j.is_discarded() && j.is_object(), "GPT config: not a JSON object: ", text);
  GPTConfig c;
  auto get_int = [&](const char* key, int64_t& out) {
    TESSERA_CHECK(j.contains(key) && j[key].is_number_integer(), "GPT config: '", key,
                  "' missing or not an integer");
    out = j[key].get<int64_t>();
  };
  get_int("vocab_size", c.vocab_size);
  get_int("context", c.context);
  get_int("n_layer", c.n_layer);
  get_int("n_head", c.n_head);
  get_int("n_embd", c.n_embd);
  TESSERA_CHECK(j.contains("dropout") && j["dropout"].is_number(), "GPT config: 'dropout' missing");
  c.dropout = j["dropout"].get<double>();
  TESSERA_CHECK(j.contains("bias") && j["bias"].is_boolean(), "GPT config: 'bias' missing");
  c.bias = j["bias"].get<bool>();
  // Optional (configs written before it existed mean GPT-2's tanh GELU).
  if (j.contains("activation")) {
    const nlohmann::json& a = j["activation"];
    TESSERA_CHECK(a.is_string() && (a == "gelu_tanh" || a == "gelu"),
                  "GPT config: 'activation' must be \"gelu_tanh\" or \"gelu\", got ", a.dump());
    c.gelu_tanh = a == "gelu_tanh";
  }
  c.validate();
  return c;
}

GPTBlock::GPTBlock(const GPTConfig& cfg, Generator* gen) {
  ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(cfg.n_embd, 1e-5, true, cfg.bias));
  nn::MultiHeadAttentionOptions ao;
  ao.embed_dim = cfg.n_embd;
  ao.num_heads = cfg.n_head;
  ao.bias = cfg.bias;
  ao.dropout = cfg.dropout;
  ao.fused_qkv = true;
  ao.causal = true;
  ao.gen = gen;
  attn = register_module("attn", std::make_shared<nn::MultiHeadAttention>(ao));
  ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(cfg.n_embd, 1e-5, true, cfg.bias));
  mlp = register_module("mlp",
                        std::make_shared<nn::FeedForward>(cfg.n_embd, 4 * cfg.n_embd, cfg.dropout,
                                                          cfg.gelu_tanh, kFloat32, gen, cfg.bias));
  drop = register_module("drop", std::make_shared<nn::Dropout>(cfg.dropout, gen));
}

Tensor GPTBlock::forward(const Tensor& x, nn::KVCache* cache) {
  const Tensor a = ln_1->forward(x);
  Tensor y = add(x, drop->forward(attn->forward(a, a, a, /*causal=*/true, {}, cache)));
  return add(y, mlp->forward(ln_2->forward(y)));
}

GPT::GPT(const GPTConfig& cfg, Generator* gen, Generator* dropout_gen) : cfg_(cfg) {
  cfg_.validate();
  wte = register_module("wte", std::make_shared<nn::Embedding>(cfg.vocab_size, cfg.n_embd));
  wpe = register_module("wpe", std::make_shared<nn::Embedding>(cfg.context, cfg.n_embd));
  drop = register_module("drop", std::make_shared<nn::Dropout>(cfg.dropout, dropout_gen));
  h = register_module("h", std::make_shared<nn::ModuleList<GPTBlock>>());
  for (int64_t i = 0; i < cfg.n_layer; ++i)
    h->push_back(std::make_shared<GPTBlock>(cfg, dropout_gen));
  ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(cfg.n_embd, 1e-5, true, cfg.bias));

  // GPT-2 initialisation, in parameter-name order so that a seed fixes every value.
  const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(cfg.n_layer));
  for (auto& [name, p] : named_parameters()) {
    Tensor param = p;
    const bool is_residual_proj =
        name.ends_with("attn.c_proj.weight") || name.ends_with("mlp.c_proj.weight");
    if (name.find("ln_") != std::string::npos) {
      if (name.ends_with(".weight"))
        nn::init::ones_(param);
      else
        nn::init::zeros_(param);
    } else if (name.ends_with(".bias")) {
      nn::init::zeros_(param);
    } else {
      nn::init::normal_(param, 0.0, is_residual_proj ? residual_std : 0.02, gen);
    }
  }
}

Tensor GPT::forward(const Tensor& idx) {
  std::vector<nn::KVCache> none;
  return forward(idx, none);
}

Tensor GPT::forward(const Tensor& idx, std::vector<nn::KVCache>& caches) {
  TESSERA_CHECK(idx.dim() == 2 && (idx.dtype() == kInt64 || idx.dtype() == kInt32),
                "GPT: expected token ids int64 (B, T), got ", describe(idx));
  const bool cached = !caches.empty();
  TESSERA_CHECK(!cached || static_cast<int64_t>(caches.size()) == cfg_.n_layer, "GPT: expected ",
                cfg_.n_layer, " KV caches (one per layer), got ", caches.size());
  const int64_t len = idx.size(1);
  const int64_t past = cached ? caches[0].length() : 0;
  TESSERA_CHECK(past + len <= cfg_.context, "GPT: sequence of ", past + len,
                " positions exceeds the context length ", cfg_.context);
  const Tensor pos = arange(Scalar(past), Scalar(past + len), Scalar(int64_t{1}),
                            {.dtype = kInt64, .device = idx.device()});
  Tensor x = add(wte->forward(idx), wpe->forward(pos));  // (B, T, C) + (T, C)
  x = drop->forward(x);
  for (int64_t i = 0; i < cfg_.n_layer; ++i) x = (*h)[i]->forward(x, cached ? &caches[i] : nullptr);
  x = ln_f->forward(x);
  return matmul(x, tessera::t(wte->weight));  // tied LM head: (B, T, C) @ (C, V)
}

Tensor GPT::loss(const Tensor& idx, const Tensor& targets) {
  const Tensor logits = forward(idx);
  const int64_t v = cfg_.vocab_size;
  return nn::functional::cross_entropy(reshape(logits, {-1, v}), reshape(targets, {-1}));
}

std::vector<nn::ParamGroup> GPT::param_groups(double lr, double weight_decay) const {
  return nn::decay_groups(named_parameters(), lr, weight_decay);
}

}  // namespace tessera::models
