// SPDX-License-Identifier: Apache-2.0
/// @brief Dropout keys and streams under dp x tp (see dropout_rng.h).
#include <tessera/parallel/dropout_rng.h>

namespace tessera::parallel {
namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t dropout_key(uint64_t seed, const Layout& layout, int dp_rank, int tp_rank,
                     DropoutRegion region) {
  TESSERA_CHECK(layout.dp >= 1 && layout.tp >= 1 && dp_rank >= 0 && dp_rank < layout.dp &&
                    tp_rank >= 0 && tp_rank < layout.tp,
                "dropout_key: rank (dp ", dp_rank, ", tp ", tp_rank, ") outside the layout dp ",
                layout.dp, " x tp ", layout.tp);
  // 0: replicated (or sharded at tp 1, where nothing is sharded); 1 + tp rank: a tp shard.
  const uint64_t part =
      region == DropoutRegion::Sharded && layout.tp > 1 ? 1 + static_cast<uint64_t>(tp_rank) : 0;
  if (layout.dp == 1 && part == 0) return seed;           // one replica: the generator's own stream
  uint64_t h = splitmix64(seed ^ 0x7465737365726170ull);  // "tessera p"
  for (const uint64_t v : {static_cast<uint64_t>(layout.dp), static_cast<uint64_t>(layout.tp),
                           static_cast<uint64_t>(dp_rank), part})
    h = splitmix64(h ^ v);
  return h;
}

DropoutStreams::DropoutStreams(Generator* base, const Layout& layout, int dp_rank, int tp_rank)
    : base_(base != nullptr ? base : &default_generator()),
      layout_(layout),
      dp_rank_(dp_rank),
      tp_rank_(tp_rank) {
  (void)dropout_key(0, layout_, dp_rank_, tp_rank_, DropoutRegion::Replicated);  // checks ranks
}

uint64_t DropoutStreams::key(DropoutRegion r) const {
  return dropout_key(base_->seed(), layout_, dp_rank_, tp_rank_, r);
}

DropoutStreams::Draw::Draw(DropoutStreams& s, DropoutRegion r) : s_(s), g_(*s.generator(r)) {
  g_.set_state(s_.key(r), s_.base_->offset());
}

DropoutStreams::Draw::~Draw() { s_.base_->set_state(s_.base_->seed(), g_.offset()); }

}  // namespace tessera::parallel
