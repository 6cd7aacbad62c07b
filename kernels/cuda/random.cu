// SPDX-License-Identifier: Apache-2.0
/// @brief Philox4x32-10 draws on CUDA with the CPU's exact element-to-counter layout.
///
// random.cu: out[i] = f(Philox(seed, offset + i / per_counter)[word(i)])   (tessera/philox.h)
// Mapping: one thread per element, grid-stride. Each thread recomputes its block (10 rounds,
//          ~40 integer ops); sharing one block between the 4 (or 2) elements that use it would save
//          3/4 of that, but the kernel is bandwidth-bound on H100 either way (4 bytes per ~50 ops).
// Exactness: the same constexpr functions as the CPU (uniform_float, normal_pair use logf/sinf/cosf
//          /sqrtf, whose CUDA versions are within 1-2 ulp of glibc's: uniform draws and randint are
//          bit-identical on a GPU; normal draws are bit-identical under cudasim (glibc on both
//          sides) and within a few ulp on a GPU).
// Tests:   tests/cuda/test_cuda_random.cpp
#include <tessera/kernels/cuda/compat.h>
#include <tessera/kernels/cuda/check.h>
#include <tessera/kernels/cuda/random.h>
#include <tessera/philox.h>

namespace tessera::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    philox_kernel(RandomKind kind, uint64_t seed, uint64_t offset, int64_t n, void* out,
                  int64_t low, uint64_t range) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    switch (kind) {
      case RandomKind::kUniformF32: {
        const U32x4 w = Philox4x32::generate(seed, offset + static_cast<uint64_t>(i / 4));
        static_cast<float*>(out)[i] = uniform_float(w[static_cast<int>(i % 4)]);
        break;
      }
      case RandomKind::kUniformF64: {
        const U32x4 w = Philox4x32::generate(seed, offset + static_cast<uint64_t>(i / 2));
        const int k = static_cast<int>(i % 2) * 2;
        static_cast<double*>(out)[i] = uniform_double(w[k], w[k + 1]);
        break;
      }
      case RandomKind::kNormalF32: {
        const U32x4 w = Philox4x32::generate(seed, offset + static_cast<uint64_t>(i / 4));
        const int k = static_cast<int>(i % 4) & ~1;
        const FloatPair z = normal_pair(w[k], w[k + 1]);
        static_cast<float*>(out)[i] = i % 2 == 0 ? z.first : z.second;
        break;
      }
      case RandomKind::kNormalF64: {
        const U32x4 w = Philox4x32::generate(seed, offset + static_cast<uint64_t>(i / 2));
        const DoublePair z = normal_pair_double(w);
        static_cast<double*>(out)[i] = i % 2 == 0 ? z.first : z.second;
        break;
      }
      case RandomKind::kRandInt64: {
        const U32x4 w = Philox4x32::generate(seed, offset + static_cast<uint64_t>(i / 2));
        const int k = static_cast<int>(i % 2) * 2;
        const uint64_t bits = (static_cast<uint64_t>(w[k + 1]) << 32) | w[k];
        static_cast<int64_t*>(out)[i] =
            static_cast<int64_t>(static_cast<uint64_t>(low) + bits % range);
        break;
      }
    }
  }
}

}  // namespace

void philox_fill(RandomKind kind, uint64_t seed, uint64_t offset, int64_t n, void* out, int64_t low,
                 uint64_t range, cudaStream_t stream) {
  TESSERA_CHECK(n >= 0, "cuda philox_fill: negative count ", n);
  TESSERA_CHECK(kind != RandomKind::kRandInt64 || range > 0, "cuda philox_fill: empty range");
  if (n == 0) return;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(blocks < 4096 ? blocks : 4096);
  TESSERA_LAUNCH(philox_kernel, grid, kThreads, 0, stream)(kind, seed, offset, n, out, low, range);
}

}  // namespace tessera::kernels::cuda
