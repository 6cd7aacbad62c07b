// SPDX-License-Identifier: Apache-2.0
/// @brief Megatron-LM tensor parallelism: the conjugate functions f / g, column- and row-parallel
/// linear layers, a vocabulary-parallel embedding and a vocabulary-parallel cross-entropy.
///
///   f = copy_to_tp(x):      forward identity,        backward all-reduce(sum) over tp
///   g = reduce_from_tp(x):  forward all-reduce(sum), backward identity
/// A column-parallel linear (weight rows split: Y_r = f(X) W_r^T + b_r) feeding a row-parallel one
/// (weight columns split: Z = g(Y_r V_r^T) + c) computes the unsharded Z = (X W^T + b) V^T + c with
/// one all-reduce in forward and one in backward (Megatron-LM, Shoeybi et al. 2019, section 3).
/// The vocabulary-parallel embedding holds rows [r V/tp, (r+1) V/tp), zeroes lookups outside them
/// and sums with g. The vocabulary-parallel cross-entropy works on the local logit columns only:
/// all-reduces of the row max, the row sum of exponentials and the target logit (3 N numbers)
/// replace gathering the (N, V) logits; its backward (softmax - onehot) / N is local.
///
/// Parameters are created zero-filled: load them from a full model (shard_parameter / ParallelGPT).
#pragma once

#include <memory>

#include <tessera/nn/module.h>
#include <tessera/parallel/communicator.h>

namespace tessera::parallel {

Tensor copy_to_tp(const Tensor& x, Communicator& tp);
Tensor reduce_from_tp(const Tensor& x, Communicator& tp);

/// How a full parameter is split over tp ranks: along `dim`, which is viewed as `groups` equal
/// blocks that are each split in tp parts (groups = 3 for the fused [q; k; v] projection, so rank r
/// holds [q_r; k_r; v_r]). dim = -1: replicated.
struct ShardSpec {
  int64_t dim = -1;
  int64_t groups = 1;
  bool replicated() const { return dim < 0; }
};
/// Rank r's shard of `full` (a contiguous copy).
Tensor shard_parameter(const Tensor& full, const ShardSpec& spec, int rank, int tp);
/// The full parameter from the stacked shards (tp, *shard shape) of all_gather.
Tensor unshard_parameter(const Tensor& stacked, const ShardSpec& spec);

class ColumnParallelLinear : public nn::Module {
 public:
  /// weight (out / tp, in), bias (out / tp); out (and out / groups) divisible by tp.
  ColumnParallelLinear(int64_t in, int64_t out, std::shared_ptr<Communicator> tp, bool bias = true,
                       int64_t groups = 1, DType dtype = kFloat32);
  std::string name() const override { return "ColumnParallelLinear"; }
  /// x (..., in) replicated -> (..., out / tp), this rank's columns of the output.
  Tensor forward(const Tensor& x) override;
  ShardSpec spec() const { return {0, groups_}; }
  Tensor weight, bias;

 private:
  std::shared_ptr<Communicator> tp_;
  int64_t groups_;
};

class RowParallelLinear : public nn::Module {
 public:
  /// weight (out, in / tp), bias (out) replicated.
  RowParallelLinear(int64_t in, int64_t out, std::shared_ptr<Communicator> tp, bool bias = true,
                    DType dtype = kFloat32);
  std::string name() const override { return "RowParallelLinear"; }
  /// x (..., in / tp) split by columns -> (..., out) replicated.
  Tensor forward(const Tensor& x) override;
  ShardSpec spec() const { return {1, 1}; }
  Tensor weight, bias;

 private:
  std::shared_ptr<Communicator> tp_;
};

class VocabParallelEmbedding : public nn::Module {
 public:
  /// weight (num / tp, dim): rows [vocab_start(), vocab_start() + num / tp).
  VocabParallelEmbedding(int64_t num, int64_t dim, std::shared_ptr<Communicator> tp,
                         DType dtype = kFloat32);
  std::string name() const override { return "VocabParallelEmbedding"; }
  /// indices (any shape, int) -> (*indices.shape, dim), replicated.
  Tensor forward(const Tensor& indices) override;
  int64_t vocab_start() const { return start_; }
  ShardSpec spec() const { return {0, 1}; }
  Tensor weight;

 private:
  std::shared_ptr<Communicator> tp_;
  int64_t start_;
};

/// Mean over rows of -log softmax(logits)[target] where `local_logits` (N, V / tp) are this rank's
/// columns [vocab_start, vocab_start + V / tp) of the full (N, V) logits; targets (N) int in
/// [0, V). Equals nn::F::cross_entropy(full_logits, targets) (no ignore_index, no smoothing).
Tensor vocab_parallel_cross_entropy(const Tensor& local_logits, const Tensor& targets,
                                    Communicator& tp, int64_t vocab_start);

}  // namespace tessera::parallel
