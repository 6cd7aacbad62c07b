// SPDX-License-Identifier: Apache-2.0
/// @brief ZeroAdamW: AdamW with its state sharded over the data-parallel ranks (ZeRO stage 1,
/// Rajbhandari et al. 2020).
///
/// The parameters (all groups, in order) are laid end to end in one flat index space of P
/// elements, padded to dp * S (S = ceil(P / dp)); rank r owns [r S, (r + 1) S). step():
///   1. reduce-scatter(avg) the flat local gradients: rank r receives the average of its S slice
///      (this replaces DataParallel's all-reduce: the .grad() tensors are local, unaveraged);
///   2. optionally clip by the global norm (squares summed over the shards, replicated tp
///      parameters counted once, all-reduced over dp and tp);
///   3. AdamW (nn::Adam's exact elementwise sequence) on the owned slice: m, v hold S elements;
///   4. all-gather the updated slices into every replica's parameters.
/// Optimizer memory per rank: 2 S instead of 2 P. Communication: reduce-scatter + all-gather move
/// the same bytes as one all-reduce.
#pragma once

#include <memory>
#include <vector>

#include <tessera/nn/optim.h>
#include <tessera/parallel/communicator.h>

namespace tessera::parallel {

class ZeroAdamW : public nn::Optimizer {
 public:
  /// All parameters must share one floating dtype and be contiguous.
  ZeroAdamW(std::vector<nn::ParamGroup> groups, nn::AdamOptions opts,
            std::shared_ptr<Communicator> dp);
  /// Every parameter must have a gradient (the same layout on every rank).
  void step() override;

  /// Clip the averaged gradient to `max_norm` (0 = off) before the update. `replicated[i]` marks
  /// parameter i as identical on every rank of `tp` (counted once in the norm); tp may be null.
  void set_grad_clip(double max_norm, std::vector<bool> replicated = {},
                     std::shared_ptr<Communicator> tp = nullptr);
  double last_grad_norm() const { return last_norm_; }

  /// nn::AdamW's state_dict for these parameters, gathered over dp (collective over dp). The
  /// inherited state_dict() holds no buffers (they live in the shards): use this instead.
  TensorDict full_state_dict() const;
  /// Validates like nn::AdamW::load_state_dict, then keeps this rank's slice.
  void load_full_state_dict(const TensorDict& dict);
  int64_t shard_numel() const { return shard_; }
  int64_t total_numel() const { return total_; }

 private:
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  struct Segment {
    size_t param, group;
    int64_t param_offset, length, shard_offset;
  };
  std::vector<Tensor> flat_params() const;

  nn::AdamOptions opts_;
  std::shared_ptr<Communicator> dp_, tp_;
  DType dtype_ = kFloat32;
  std::vector<int64_t> offsets_;  // per parameter, in the flat space
  int64_t total_ = 0, shard_ = 0;
  std::vector<Segment> segments_;  // the owned slice
  Tensor m_, v_;                   // (S)
  int64_t step_ = 0;
  double max_norm_ = 0, last_norm_ = 0;
  std::vector<bool> replicated_;
};

/// clip_grad_norm_ for tensor-parallel parameters whose gradients are already averaged over dp:
/// squares of parameters marked `replicated` count once (on tp rank 0), the rest are summed over
/// tp. Returns the global norm before clipping.
double clip_grad_norm_tp(const std::vector<Tensor>& params, const std::vector<bool>& replicated,
                         double max_norm, Communicator& tp);

}  // namespace tessera::parallel
