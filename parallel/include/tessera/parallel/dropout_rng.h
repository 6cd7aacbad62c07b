// SPDX-License-Identifier: Apache-2.0
/// @brief Dropout random streams under a dp x tp layout (Megatron-LM's rule).
///
/// One Generator per run (the "dropout" generator that checkpoints save) owns the Philox counter:
/// every rank advances it by the same amount, because every rank draws masks of the same local
/// shapes (dp ranks hold B / dp rows, tp ranks H / tp heads and 4C / tp hidden units). What differs
/// between ranks is the Philox key a mask is drawn with (dropout_key):
///   - Replicated activations (the embedding sum, the residual branches after a row-parallel
///     all-reduce): one key per data-parallel replica, identical on the tp ranks of that replica,
///     so every tp rank applies the same mask to its copy and the copies stay equal.
///   - Sharded activations (attention probabilities of the local heads, the MLP hidden units after
///     the column-parallel c_fc): one key per (replica, tp rank), so the shards of one activation
///     get independent masks, as in one process (the same key would repeat one mask per shard).
///   - Different replicas get different keys: dp with dropout is statistically a bigger batch.
/// The key also depends on the layout, so a run resumed at another layout never reuses the
/// (key, counter) pairs of the part before. dp = 1 keeps the generator's own seed for replicated
/// activations, and dp = tp = 1 uses it for everything: a one-rank run draws exactly the masks of
/// models::GPT with the same generator.
///
/// A rank's state is (generator seed, offset, layout, dp rank, tp rank): the checkpointed generator
/// plus the layout restores every rank's masks bit for bit on resume.
#pragma once

#include <cstdint>

#include <tessera/parallel/mesh.h>
#include <tessera/random.h>

namespace tessera::parallel {

enum class DropoutRegion : uint8_t { Replicated, Sharded };

/// The Philox key of `region` dropout masks on rank (dp_rank, tp_rank) of `layout`, for a run whose
/// dropout generator has seed `seed`.
uint64_t dropout_key(uint64_t seed, const Layout& layout, int dp_rank, int tp_rank,
                     DropoutRegion region);

/// The dropout streams of one rank. Dropout modules hold generator(region); each draw must run
/// inside a Draw scope of that region, which keys the generator and takes its counters from (and
/// gives them back to) the run's generator.
class DropoutStreams {
 public:
  /// base: the run's dropout generator (not owned; nullptr = the default generator).
  DropoutStreams(Generator* base, const Layout& layout, int dp_rank, int tp_rank);
  Generator* generator(DropoutRegion r) { return r == DropoutRegion::Replicated ? &rep_ : &shard_; }
  Generator& base() const { return *base_; }
  uint64_t key(DropoutRegion r) const;

  class Draw {
   public:
    Draw(DropoutStreams& s, DropoutRegion r);
    ~Draw();
    Draw(const Draw&) = delete;
    Draw& operator=(const Draw&) = delete;

   private:
    DropoutStreams& s_;
    Generator& g_;
  };

 private:
  Generator* base_;
  Layout layout_;
  int dp_rank_, tp_rank_;
  Generator rep_, shard_;
};

}  // namespace tessera::parallel
