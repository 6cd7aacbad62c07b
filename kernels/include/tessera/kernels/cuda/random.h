// SPDX-License-Identifier: Apache-2.0
/// @brief Philox draws on CUDA, element for element the CPU's stream (kernels/cuda/random.cu).
#pragma once

#include <tessera/kernels/cuda/types.h>

namespace tessera::kernels::cuda {

enum class RandomKind : uint8_t {
  kUniformF32,  ///< float32 [0,1): element i = uniform_float(word i % 4 of block offset + i / 4)
  kUniformF64,  ///< float64 [0,1): words (2(i%2), 2(i%2)+1) of block offset + i / 2
  kNormalF32,   ///< float32 N(0,1): Box-Muller pair (k, k+1), k = (i % 4) & ~1, of block i / 4
  kNormalF64,   ///< float64 N(0,1): normal_pair_double(block i / 2), first or second
  kRandInt64,   ///< int64 low + (64 random bits of words 2(i%2), 2(i%2)+1) % range
};

/// Fills n contiguous elements of `out` (float32, float64 or int64 per kind) from the stream
/// (seed, offset); the layout is tensor/src/random.cpp's, so CPU and CUDA draws are identical.
void philox_fill(RandomKind kind, uint64_t seed, uint64_t offset, int64_t n, void* out, int64_t low,
                 uint64_t range, cudaStream_t stream);

}  // namespace tessera::kernels::cuda
