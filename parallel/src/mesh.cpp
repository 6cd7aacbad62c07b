// SPDX-License-Identifier: Apache-2.0
/// @brief Layout validation and the dp / tp sub-communicators (see mesh.h).
#include <tessera/parallel/mesh.h>

#include <sstream>

namespace tessera::parallel {

std::string check_layout(int world_size, const Layout& l, const models::GPTConfig* cfg) {
  std::ostringstream os;
  if (l.dp < 1 || l.tp < 1) {
    os << "--dp and --tp must be >= 1, got dp " << l.dp << ", tp " << l.tp;
  } else if (static_cast<int64_t>(l.dp) * l.tp != world_size) {
    os << "layout dp " << l.dp << " x tp " << l.tp << " = " << static_cast<int64_t>(l.dp) * l.tp
       << " ranks does not match the " << world_size << " processes started (mpirun -np "
       << world_size << "); need dp * tp == world size";
  } else if (cfg != nullptr && cfg->n_head % l.tp != 0) {
    os << "tp " << l.tp << " does not divide the " << cfg->n_head
       << " attention heads (each tensor-parallel rank holds whole heads)";
  } else if (cfg != nullptr && cfg->vocab_size % l.tp != 0) {
    os << "tp " << l.tp << " does not divide the vocabulary of " << cfg->vocab_size
       << " tokens (the embedding and the LM head are split by vocabulary rows)";
  }
  return os.str();
}

Mesh::Mesh(std::shared_ptr<Communicator> world, const Layout& layout, const models::GPTConfig* cfg)
    : layout_(layout), world_(std::move(world)) {
  TESSERA_CHECK(world_ != nullptr, "Mesh: null world communicator");
  const std::string why = check_layout(world_->size(), layout, cfg);
  TESSERA_CHECK(why.empty(), "parallel layout refused: ", why);
  dp_rank_ = world_->rank() / layout.tp;
  tp_rank_ = world_->rank() % layout.tp;
  dp_ = world_->split(/*color=*/tp_rank_, /*key=*/dp_rank_);
  tp_ = world_->split(/*color=*/dp_rank_, /*key=*/tp_rank_);
  TESSERA_ASSERT(dp_->size() == layout.dp && tp_->size() == layout.tp);
}

}  // namespace tessera::parallel
