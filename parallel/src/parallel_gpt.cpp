// SPDX-License-Identifier: Apache-2.0
/// @brief ParallelGPT (see parallel_gpt.h): blocks, forward, vocabulary-parallel loss, sharding.
#include <tessera/parallel/parallel_gpt.h>

#include <tessera/nn/functional.h>
#include <tessera/ops.h>

namespace tessera::parallel {
namespace {
/// (B, T, C') -> (B, H', T, C'/H')
Tensor split_heads(const Tensor& x, int64_t h) {
  const int64_t b = x.size(0), t = x.size(1), c = x.size(2);
  return transpose(reshape(x, {b, t, h, c / h}), 1, 2);
}
Tensor merge_heads(const Tensor& x) {
  const int64_t b = x.size(0), h = x.size(1), t = x.size(2), d = x.size(3);
  return reshape(transpose(x, 1, 2), {b, t, h * d});
}
}  // namespace

ParallelBlock::ParallelBlock(const models::GPTConfig& cfg, std::shared_ptr<Communicator> tp,
                             DropoutStreams* streams)
    : local_heads_(cfg.n_head / tp->size()),
      attn_dropout_(cfg.dropout),
      gelu_tanh_(cfg.gelu_tanh),
      streams_(streams) {
  const int64_t c = cfg.n_embd;
  ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(c, 1e-5, true, cfg.bias));
  attn = register_module("attn", std::make_shared<Attention>());
  attn->c_attn = attn->register_module(
      "c_attn", std::make_shared<ColumnParallelLinear>(c, 3 * c, tp, cfg.bias, 3));
  attn->c_proj =
      attn->register_module("c_proj", std::make_shared<RowParallelLinear>(c, c, tp, cfg.bias));
  ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(c, 1e-5, true, cfg.bias));
  mlp = register_module("mlp", std::make_shared<Mlp>());
  mlp->c_fc =
      mlp->register_module("c_fc", std::make_shared<ColumnParallelLinear>(c, 4 * c, tp, cfg.bias));
  // The hidden units are sharded over tp: one mask per tp rank.
  mlp->drop = mlp->register_module(
      "drop",
      std::make_shared<nn::Dropout>(cfg.dropout, streams->generator(DropoutRegion::Sharded)));
  mlp->c_proj =
      mlp->register_module("c_proj", std::make_shared<RowParallelLinear>(4 * c, c, tp, cfg.bias));
  // After c_proj's all-reduce the residual branch is replicated: one mask per replica.
  drop = register_module("drop", std::make_shared<nn::Dropout>(
                                     cfg.dropout, streams->generator(DropoutRegion::Replicated)));
}

Tensor ParallelBlock::forward(const Tensor& x) {
  using Draw = DropoutStreams::Draw;
  const Tensor a = ln_1->forward(x);
  const int64_t cl = attn->c_attn->weight.size(0) / 3;
  auto qkv = split(attn->c_attn->forward(a), cl, 2);
  nn::F::AttentionOptions ao;
  ao.causal = true;
  ao.dropout_p = is_training() ? attn_dropout_ : 0.0;
  ao.gen = streams_->generator(DropoutRegion::Sharded);  // probabilities of the local heads
  Tensor y;
  {
    Draw draw(*streams_, DropoutRegion::Sharded);
    y = nn::F::scaled_dot_product_attention(split_heads(qkv[0], local_heads_),
                                            split_heads(qkv[1], local_heads_),
                                            split_heads(qkv[2], local_heads_), ao);
  }
  const Tensor branch = attn->c_proj->forward(merge_heads(y));
  Tensor h;
  {
    Draw draw(*streams_, DropoutRegion::Replicated);
    h = add(x, drop->forward(branch));
  }
  Tensor hidden = nn::F::gelu(mlp->c_fc->forward(ln_2->forward(h)), gelu_tanh_);
  {
    Draw draw(*streams_, DropoutRegion::Sharded);
    hidden = mlp->drop->forward(hidden);
  }
  return add(h, mlp->c_proj->forward(hidden));
}

ParallelGPT::ParallelGPT(const models::GPTConfig& cfg, std::shared_ptr<Communicator> tp,
                         Generator* gen, int dp_rank, int dp_size)
    : cfg_(cfg), tp_(std::move(tp)) {
  cfg_.validate();
  TESSERA_CHECK(tp_ != nullptr, "ParallelGPT: null tensor-parallel communicator");
  TESSERA_CHECK(cfg_.n_head % tp_->size() == 0 && cfg_.vocab_size % tp_->size() == 0,
                "ParallelGPT: tp ", tp_->size(), " must divide the heads (", cfg_.n_head,
                ") and the vocabulary (", cfg_.vocab_size, ")");
  streams_ =
      std::make_unique<DropoutStreams>(gen, Layout{dp_size, tp_->size()}, dp_rank, tp_->rank());
  wte = register_module(
      "wte", std::make_shared<VocabParallelEmbedding>(cfg_.vocab_size, cfg_.n_embd, tp_));
  wpe = register_module("wpe", std::make_shared<nn::Embedding>(cfg_.context, cfg_.n_embd));
  drop = register_module("drop", std::make_shared<nn::Dropout>(
                                     cfg_.dropout, streams_->generator(DropoutRegion::Replicated)));
  h = register_module("h", std::make_shared<nn::ModuleList<ParallelBlock>>());
  for (int64_t i = 0; i < cfg_.n_layer; ++i)
    h->push_back(std::make_shared<ParallelBlock>(cfg_, tp_, streams_.get()));
  ln_f =
      register_module("ln_f", std::make_shared<nn::LayerNorm>(cfg_.n_embd, 1e-5, true, cfg_.bias));
}

Tensor ParallelGPT::forward(const Tensor& idx) {
  TESSERA_CHECK(idx.dim() == 2 && (idx.dtype() == kInt64 || idx.dtype() == kInt32),
                "ParallelGPT: expected token ids int64 (B, T), got ", describe(idx));
  const int64_t len = idx.size(1);
  TESSERA_CHECK(len <= cfg_.context, "ParallelGPT: sequence of ", len,
                " positions exceeds the context ", cfg_.context);
  const Tensor pos = arange(Scalar(int64_t{0}), Scalar(len), Scalar(int64_t{1}), {.dtype = kInt64});
  Tensor x = add(wte->forward(idx), wpe->forward(pos));  // replicated (wte ends with g)
  {
    DropoutStreams::Draw draw(*streams_, DropoutRegion::Replicated);
    x = drop->forward(x);
  }
  for (int64_t i = 0; i < cfg_.n_layer; ++i) x = (*h)[i]->forward(x);
  x = ln_f->forward(x);
  return matmul(copy_to_tp(x, *tp_), tessera::t(wte->weight));  // (B, T, V / tp)
}

Tensor ParallelGPT::loss(const Tensor& idx, const Tensor& targets) {
  const Tensor logits = forward(idx);
  return vocab_parallel_cross_entropy(reshape(logits, {-1, logits.size(2)}), reshape(targets, {-1}),
                                      *tp_, wte->vocab_start());
}

ShardSpec ParallelGPT::spec_of(const std::string& n) {
  if (n == "wte.weight") return {0, 1};
  if (n.ends_with("attn.c_attn.weight") || n.ends_with("attn.c_attn.bias")) return {0, 3};
  if (n.ends_with("attn.c_proj.weight") || n.ends_with("mlp.c_proj.weight")) return {1, 1};
  if (n.ends_with("mlp.c_fc.weight") || n.ends_with("mlp.c_fc.bias")) return {0, 1};
  return {};
}

void ParallelGPT::load_full_state_dict(const nn::StateDict& full) {
  nn::StateDict local;
  for (const auto& [name, t] : full)
    local[name] = shard_parameter(t, spec_of(name), tp_->rank(), tp_->size());
  load_state_dict(local, /*strict=*/true);
}

nn::StateDict ParallelGPT::full_state_dict() const {
  nn::StateDict out;
  for (const auto& [name, t] : state_dict()) {
    const ShardSpec spec = spec_of(name);
    out[name] = spec.replicated() || tp_->size() == 1 ? native::clone(t)
                                                      : unshard_parameter(tp_->all_gather(t), spec);
  }
  return out;
}

std::vector<nn::ParamGroup> ParallelGPT::param_groups(double lr, double weight_decay) const {
  return nn::decay_groups(named_parameters(), lr, weight_decay);
}

}  // namespace tessera::parallel
