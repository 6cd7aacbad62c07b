// SPDX-License-Identifier: Apache-2.0
/// @brief Random draws made on the GPU with the CPU's Philox stream (kernels/cuda/random.cu).
///
/// The generator advances by the same number of counters as a CPU draw of the same shape and
/// dtype (ceil(n / 4) for float32, ceil(n / 2) for float64 and int64), so interleaving CPU and
/// CUDA draws from one generator gives the numbers a CPU-only program would get.
#include <tessera/creation.h>
#include <tessera/kernels/cuda/random.h>
#include <tessera/random.h>

#include "cuda/common.h"
#include "cuda/ops.h"

namespace tessera::native::cuda_impl {

namespace kc = kernels::cuda;

Tensor random_draw(bool normal, const Shape& shape, DType draw, Generator& gen, Device device) {
  cuda::detail::DeviceGuard guard(device.index);
  Tensor t = empty(shape, {.dtype = draw, .device = device});
  const int64_t n = t.numel();
  const bool f64 = draw == kFloat64;
  const int per_counter = f64 ? 2 : 4;
  const uint64_t seed = gen.seed();
  const uint64_t offset = gen.advance(static_cast<uint64_t>((n + per_counter - 1) / per_counter));
  const kc::RandomKind kind =
      normal ? (f64 ? kc::RandomKind::kNormalF64 : kc::RandomKind::kNormalF32)
             : (f64 ? kc::RandomKind::kUniformF64 : kc::RandomKind::kUniformF32);
  kc::philox_fill(kind, seed, offset, n, t.data_ptr(), 0, 0, cuda::detail::stream_of(device.index));
  return t;
}

Tensor randint_draw(int64_t low, uint64_t range, const Shape& shape, Generator& gen,
                    Device device) {
  cuda::detail::DeviceGuard guard(device.index);
  Tensor t = empty(shape, {.dtype = kInt64, .device = device});
  const int64_t n = t.numel();
  const uint64_t seed = gen.seed();
  const uint64_t offset = gen.advance(static_cast<uint64_t>((n + 1) / 2));
  kc::philox_fill(kc::RandomKind::kRandInt64, seed, offset, n, t.data_ptr(), low, range,
                  cuda::detail::stream_of(device.index));
  return t;
}

}  // namespace tessera::native::cuda_impl
