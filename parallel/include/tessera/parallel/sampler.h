// SPDX-License-Identifier: Apache-2.0
/// @brief DistributedSampler: each data-parallel rank's disjoint share of a dataset's indices, a
/// deterministic function of (seed, epoch) (PyTorch's DistributedSampler).
///
/// Epoch e shuffles [0, n) with a Fisher-Yates pass driven by SplitMix64(seed, e) (same order on
/// every platform: no std distributions), pads to a multiple of the replica count by repeating the
/// first indices (or drops the tail with drop_last), then rank r takes positions r, r + R, r +
/// 2R... Without padding the ranks' shares are disjoint and their union is the whole dataset.
#pragma once

#include <cstdint>
#include <vector>

namespace tessera::parallel {

class DistributedSampler {
 public:
  DistributedSampler(int64_t dataset_size, int num_replicas, int rank, uint64_t seed,
                     bool shuffle = true, bool drop_last = false);
  /// This rank's indices for `epoch`, in the order to visit them.
  std::vector<int64_t> indices(int64_t epoch) const;
  /// How many indices each rank gets per epoch (the same on every rank).
  int64_t num_samples() const { return num_samples_; }

 private:
  int64_t n_;
  int replicas_, rank_;
  uint64_t seed_;
  bool shuffle_, drop_last_;
  int64_t num_samples_;
};

}  // namespace tessera::parallel
