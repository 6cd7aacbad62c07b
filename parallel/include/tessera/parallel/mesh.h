// SPDX-License-Identifier: Apache-2.0
/// @brief Mesh: the 2-D (dp x tp) layout of the world's ranks and its two sub-communicators.
///
/// World rank w = dp_rank * tp + tp_rank: the tp ranks of one replica are adjacent, so with ranks
/// placed in order on nodes (mpirun --map-by slot / core) tensor parallelism (two all-reduces per
/// block in forward and backward) stays inside a node, and data parallelism (one gradient
/// all-reduce per step) crosses nodes. dp_comm joins the ranks with the same tp_rank; tp_comm the
/// ranks with the same dp_rank.
#pragma once

#include <memory>
#include <string>

#include <tessera/models/gpt.h>
#include <tessera/parallel/communicator.h>

namespace tessera::parallel {

struct Layout {
  int dp = 1;
  int tp = 1;
};

/// Why `layout` cannot run `cfg` (nullptr: only the world size is checked) on `world_size` ranks,
/// or "" when it can. Pure: every rank computes the same answer, so every rank refuses together
/// before any communication.
std::string check_layout(int world_size, const Layout& layout,
                         const models::GPTConfig* cfg = nullptr);

class Mesh {
 public:
  /// Throws tessera::Error with check_layout's message (on every rank) if the layout does not fit.
  Mesh(std::shared_ptr<Communicator> world, const Layout& layout,
       const models::GPTConfig* cfg = nullptr);

  const Layout& layout() const { return layout_; }
  int dp_rank() const { return dp_rank_; }
  int tp_rank() const { return tp_rank_; }
  int world_rank() const { return world_->rank(); }
  bool is_root() const { return world_->rank() == 0; }
  Communicator& world() const { return *world_; }
  Communicator& dp() const { return *dp_; }
  Communicator& tp() const { return *tp_; }
  const std::shared_ptr<Communicator>& world_ptr() const { return world_; }
  const std::shared_ptr<Communicator>& dp_ptr() const { return dp_; }
  const std::shared_ptr<Communicator>& tp_ptr() const { return tp_; }

 private:
  Layout layout_;
  int dp_rank_ = 0, tp_rank_ = 0;
  std::shared_ptr<Communicator> world_, dp_, tp_;
};

}  // namespace tessera::parallel
