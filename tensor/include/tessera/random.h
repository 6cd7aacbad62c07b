// SPDX-License-Identifier: Apache-2.0
/// @brief Random tensors from a counter-based Philox4x32-10 generator.
///
/// Element i of a draw uses Philox(key = seed, counter = (offset + i / 4)) word i % 4 (normal draws
/// use pairs for Box-Muller), so the numbers depend only on (seed, offset, shape): the same on any
/// number of threads and, with the CUDA backend, on the GPU. Each draw advances the generator's
/// offset by the counters it consumed.
#pragma once

#include <cstdint>

#include <tessera/options.h>
#include <tessera/tensor.h>

namespace tessera {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  /// Number of 128-bit Philox counters consumed so far.
  uint64_t offset() const { return offset_; }
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  /// Reserves `n` counters and returns the first.
  uint64_t advance(uint64_t n) {
    const uint64_t first = offset_;
    offset_ += n;
    return first;
  }

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

/// The process default generator (part of the device registry; seeded with 0 until manual_seed).
Generator& default_generator();
void manual_seed(uint64_t seed);

/// Uniform [0, 1).
Tensor rand(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);
/// Standard normal.
Tensor randn(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);
/// Uniform integers in [low, high); dtype int64 unless opts says otherwise.
Tensor randint(int64_t low, int64_t high, const Shape& shape,
               TensorOptions opts = {.dtype = kInt64}, Generator* gen = nullptr);
/// Normal(mean, std).
Tensor normal(double mean, double std, const Shape& shape, TensorOptions opts = {},
              Generator* gen = nullptr);
/// 1 with probability p (per element of `p`), else 0; result has p's dtype.
Tensor bernoulli(const Tensor& p, Generator* gen = nullptr);
Tensor bernoulli(double p, const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);

/// In-place fills (for initializers).
Tensor& uniform_(Tensor& t, double low = 0.0, double high = 1.0, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);

}  // namespace tessera
