// SPDX-License-Identifier: Apache-2.0
/// @brief ParallelGPT: models::GPT split over a tensor-parallel group (Megatron-LM layout), with
/// the same parameter names, so checkpoints move between layouts.
///
/// Per block: c_attn column-parallel with [q; k; v] blocks (rank r holds heads
/// [r H/tp, (r+1) H/tp) of each of q, k, v), attention over the local heads, c_proj row-parallel;
/// mlp.c_fc column-parallel, GELU, mlp.c_proj row-parallel. wte is vocabulary-parallel and, tied,
/// is also the LM head: forward returns this rank's logit columns and loss() uses the
/// vocabulary-parallel cross-entropy (full logits never exist). wpe, LayerNorms and the
/// row-parallel biases are replicated (their gradients are equal on every tp rank by construction).
/// With tp = 1 this is models::GPT computed by the same modules.
///
/// Dropout follows Megatron-LM's rule (dropout_rng.h): the embedding and residual-branch dropouts
/// act on replicated activations and draw one mask per data-parallel replica (the same on its tp
/// ranks); the attention-probability and MLP-hidden dropouts act on tp-sharded activations and
/// draw one mask per (replica, tp rank). The run's dropout generator keeps the counter.
#pragma once

#include <memory>
#include <string>

#include <tessera/models/gpt.h>
#include <tessera/nn/dropout.h>
#include <tessera/nn/embedding.h>
#include <tessera/nn/layer_norm.h>
#include <tessera/parallel/dropout_rng.h>
#include <tessera/parallel/tensor_parallel.h>

namespace tessera::parallel {

class ParallelBlock : public nn::Module {
 public:
  /// `streams` (not owned) outlives the block.
  ParallelBlock(const models::GPTConfig& cfg, std::shared_ptr<Communicator> tp,
                DropoutStreams* streams);
  std::string name() const override { return "ParallelBlock"; }
  Tensor forward(const Tensor& x) override;

  struct Attention : nn::Module {
    std::shared_ptr<ColumnParallelLinear> c_attn;
    std::shared_ptr<RowParallelLinear> c_proj;
  };
  struct Mlp : nn::Module {
    std::shared_ptr<ColumnParallelLinear> c_fc;
    std::shared_ptr<nn::Dropout> drop;
    std::shared_ptr<RowParallelLinear> c_proj;
  };
  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<Attention> attn;
  std::shared_ptr<Mlp> mlp;
  std::shared_ptr<nn::Dropout> drop;

 private:
  int64_t local_heads_;
  double attn_dropout_;
  bool gelu_tanh_;
  DropoutStreams* streams_;
};

class ParallelGPT : public nn::Module {
 public:
  /// Parameters are zero until loaded (load_full_state_dict / parallel::load_checkpoint).
  /// dropout_gen: the run's dropout generator (not owned; nullptr = the default generator);
  /// dp_rank / dp_size: this rank's data-parallel replica (Mesh::dp_rank(), Layout::dp), which
  /// selects its dropout masks (dropout_rng.h).
  ParallelGPT(const models::GPTConfig& cfg, std::shared_ptr<Communicator> tp,
              Generator* dropout_gen = nullptr, int dp_rank = 0, int dp_size = 1);
  std::string name() const override { return "ParallelGPT"; }

  /// idx (B, T) -> this rank's logit columns (B, T, V / tp).
  Tensor forward(const Tensor& idx) override;
  /// Mean cross-entropy over all B * T tokens (vocabulary-parallel; equal on every tp rank).
  Tensor loss(const Tensor& idx, const Tensor& targets);

  /// How the full parameter `name` (a models::GPT name) is split.
  static ShardSpec spec_of(const std::string& name);
  /// Loads this rank's shards from a full models::GPT state dict (no communication).
  void load_full_state_dict(const nn::StateDict& full);
  /// The full (models::GPT) state dict, gathered over tp (collective over tp).
  nn::StateDict full_state_dict() const;
  /// AdamW groups in models::GPT::param_groups order (decayed: dim >= 2).
  std::vector<nn::ParamGroup> param_groups(double lr, double weight_decay) const;

  const models::GPTConfig& config() const { return cfg_; }
  Communicator& tp() const { return *tp_; }
  DropoutStreams& dropout_streams() const { return *streams_; }

  std::shared_ptr<VocabParallelEmbedding> wte;
  std::shared_ptr<nn::Embedding> wpe;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::ModuleList<ParallelBlock>> h;
  std::shared_ptr<nn::LayerNorm> ln_f;

 private:
  models::GPTConfig cfg_;
  std::shared_ptr<Communicator> tp_;
  std::unique_ptr<DropoutStreams> streams_;  // stable address: the dropout modules point into it
};

}  // namespace tessera::parallel
