// SPDX-License-Identifier: Apache-2.0
/// @brief Warp-wide emulation of mma.sync.m16n8k16 and ldmatrix (used by kernels/cuda/ptx.h).
///
/// Both are warp rendezvous that need all 32 lanes; the lane that arrives last assembles the whole
/// tile from every lane's fragment using the PTX ISA layouts (docs/cudasim.md), computes, and hands
/// each lane its own fragment back. A kernel that builds fragments in a different layout therefore
/// gets a wrong product here, as it would on the GPU.
#pragma once

#include <cstdint>
#include <cstring>
#include <source_location>

#include <tessera/cudasim/core.h>

namespace tessera::cudasim {

struct MmaIn {
  uint32_t a[4];
  uint32_t b[2];
  float c[4];
};

inline void mma_m16n8k16(WarpOp op, float* d, const uint32_t* a, const uint32_t* b, const float* c,
                         std::source_location loc) {
  MmaIn in;
  std::memcpy(in.a, a, sizeof(in.a));
  std::memcpy(in.b, b, sizeof(in.b));
  std::memcpy(in.c, c, sizeof(in.c));
  warp_collective(op, 0, 0xffffffffu, &in, sizeof(in), d, 4 * sizeof(float), loc);
}

/// count = 1, 2 or 4 matrices; lanes 8j..8j+7 give the row addresses of matrix j.
inline void ldmatrix(int count, bool trans, uint32_t* r, const void* row_address,
                     std::source_location loc) {
  const uint32_t param = static_cast<uint32_t>(count) | (trans ? 0x10u : 0u);
  warp_collective(WarpOp::kLdMatrix, param, 0xffffffffu, &row_address, sizeof(row_address), r,
                  static_cast<size_t>(count) * sizeof(uint32_t), loc);
}

}  // namespace tessera::cudasim
