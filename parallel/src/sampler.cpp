// SPDX-License-Identifier: Apache-2.0
/// @brief DistributedSampler (see sampler.h).
#include <tessera/parallel/sampler.h>

#include <numeric>
#include <utility>

#include <tessera/error.h>

namespace tessera::parallel {
namespace {
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
/// Uniform in [0, bound) by rejection (no modulo bias).
uint64_t uniform_below(uint64_t& state, uint64_t bound) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do x = splitmix64(state);
  while (x >= limit);
  return x % bound;
}
}  // namespace

DistributedSampler::DistributedSampler(int64_t n, int replicas, int rank, uint64_t seed,
                                       bool shuffle, bool drop_last)
    : n_(n),
      replicas_(replicas),
      rank_(rank),
      seed_(seed),
      shuffle_(shuffle),
      drop_last_(drop_last) {
  TESSERA_CHECK(n >= 0 && replicas >= 1 && rank >= 0 && rank < replicas,
                "DistributedSampler: need "
                "dataset size >= 0 and 0 <= rank < replicas, got size ",
                n, ", rank ", rank, ", replicas ", replicas);
  num_samples_ = drop_last ? n / replicas : (n + replicas - 1) / replicas;
}

std::vector<int64_t> DistributedSampler::indices(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(n_));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (shuffle_) {
    uint64_t state = seed_ ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(epoch + 1));
    for (int64_t i = n_ - 1; i > 0; --i)
      std::swap(order[static_cast<size_t>(i)],
                order[uniform_below(state, static_cast<uint64_t>(i + 1))]);
  }
  const int64_t total = num_samples_ * replicas_;
  for (int64_t i = n_; i < total; ++i)
    order.push_back(order[static_cast<size_t>(i % std::max<int64_t>(n_, 1))]);
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(num_samples_));
  for (int64_t i = rank_; i < total; i += replicas_) mine.push_back(order[static_cast<size_t>(i)]);
  return mine;
}

}  // namespace tessera::parallel
