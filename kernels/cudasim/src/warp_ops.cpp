// SPDX-License-Identifier: Apache-2.0
/// @brief What each warp collective computes once all its lanes have arrived (PTX ISA semantics).
///
/// Shuffles follow shfl.sync exactly: c = ((32 - width) << 8) | clamp, segment mask c[12:8],
///   maxLane = (lane & seg) | (c[4:0] & ~seg), minLane = lane & seg;
///   up: j = lane - b (valid j >= maxLane); down: j = lane + b (valid j <= maxLane);
///   bfly: j = lane ^ b (valid j <= maxLane); idx: j = minLane | (b[4:0] & ~seg) (valid j <=
///   maxLane); an invalid j reads the lane's own value. A source lane outside the mask is
///   undefined: poisoned.
/// mma.m16n8k16 and ldmatrix use the fragment layouts of the PTX ISA (docs/cudasim.md, "Tensor
/// cores"); the tile is reassembled from all 32 lanes, so a kernel's layout mistake shows.
#include <cstdio>
#include <cstring>
#include <string>

#include <tessera/cudasim/intrinsics.h>
#include <tessera/cudasim/tensor_core.h>

#include "block.h"

namespace tessera::cudasim::detail {
namespace {

std::string hex(uintptr_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

void shuffle(WarpOp op, size_t bytes, unsigned mask, WarpSlot* s) {
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (((mask >> lane) & 1u) == 0) continue;
    ShflIn in;
    std::memcpy(&in, s[lane].in, sizeof(in));
    const int b = in.b & 0x1f;
    const int c = in.c;
    const int seg = (c >> 8) & 0x1f;
    const int l = static_cast<int>(lane);
    const int max_lane = (l & seg) | ((c & 0x1f) & ~seg);
    const int min_lane = l & seg;
    int j = l;
    bool valid = false;
    switch (op) {
      case WarpOp::kShflUp:
        j = l - b;
        valid = j >= max_lane;
        break;
      case WarpOp::kShflDown:
        j = l + b;
        valid = j <= max_lane;
        break;
      case WarpOp::kShflXor:
        j = l ^ b;
        valid = j <= max_lane;
        break;
      default:
        j = min_lane | (b & ~seg);
        valid = j <= max_lane;
        break;
    }
    if (!valid) j = l;
    if (((mask >> j) & 1u) == 0) {
      std::memset(s[lane].out, 0xFF, bytes);  // undefined on the GPU: NaN / -1
    } else {
      std::memcpy(s[lane].out, s[j].in, bytes);
    }
  }
}

float bf16_to_float(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
float f16_to_float(uint16_t bits) {
  __half_raw raw;
  raw.x = bits;
  return __half2float(__half(raw));
}

void mma(bool bf16, WarpSlot* s) {
  auto cvt = [bf16](uint32_t reg, int half) {
    const auto bits = static_cast<uint16_t>(half ? reg >> 16 : reg & 0xFFFFu);
    return bf16 ? bf16_to_float(bits) : f16_to_float(bits);
  };
  float a[16][16], b[16][8], c[16][8];
  for (unsigned lane = 0; lane < 32; ++lane) {
    MmaIn in;
    std::memcpy(&in, s[lane].in, sizeof(in));
    const unsigned g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 8; ++i) {
      const unsigned row = (i == 0 || i == 1 || i == 4 || i == 5) ? g : g + 8;
      const unsigned col = 2 * t + (i & 1) + (i >= 4 ? 8 : 0);
      a[row][col] = cvt(in.a[i / 2], i & 1);
    }
    for (int i = 0; i < 4; ++i) {
      const unsigned k = 2 * t + (i & 1) + (i >= 2 ? 8 : 0);
      b[k][g] = cvt(in.b[i / 2], i & 1);
    }
    for (int i = 0; i < 4; ++i) c[i < 2 ? g : g + 8][2 * t + (i & 1)] = in.c[i];
  }
  float d[16][8];
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 8; ++n) {
      float acc = c[m][n];
      for (int k = 0; k < 16; ++k) acc = fmaf(a[m][k], b[k][n], acc);  // products are exact
      d[m][n] = acc;
    }
  }
  for (unsigned lane = 0; lane < 32; ++lane) {
    const unsigned g = lane >> 2, t = lane & 3;
    float out[4];
    for (int i = 0; i < 4; ++i) out[i] = d[i < 2 ? g : g + 8][2 * t + (i & 1)];
    std::memcpy(s[lane].out, out, sizeof(out));
  }
}

void ldmatrix(uint32_t param, WarpSlot* s) {
  const unsigned count = param & 0xF;
  const bool trans = (param & 0x10) != 0;
  uint16_t m[4][8][8];
  for (unsigned j = 0; j < count; ++j) {
    for (unsigned r = 0; r < 8; ++r) {
      const void* addr;
      std::memcpy(&addr, s[8 * j + r].in, sizeof(addr));
      if (addr == nullptr || reinterpret_cast<uintptr_t>(addr) % 16 != 0) {
        fault("ldmatrix: lane " + std::to_string(8 * j + r) + " gives row address " +
              hex(reinterpret_cast<uintptr_t>(addr)) + ", which is not 16-byte aligned");
      }
      std::memcpy(m[j][r], addr, 16);
    }
  }
  for (unsigned lane = 0; lane < 32; ++lane) {
    uint32_t out[4] = {};
    const unsigned row = lane >> 2, col = 2 * (lane & 3);
    for (unsigned j = 0; j < count; ++j) {
      const uint16_t lo = trans ? m[j][col][row] : m[j][row][col];
      const uint16_t hi = trans ? m[j][col + 1][row] : m[j][row][col + 1];
      out[j] = lo | (static_cast<uint32_t>(hi) << 16);
    }
    std::memcpy(s[lane].out, out, sizeof(out));
  }
}

}  // namespace

void compute_warp_op(WarpOp op, uint32_t param, unsigned mask, WarpSlot* s) {
  switch (op) {
    case WarpOp::kSyncWarp:
      return;
    case WarpOp::kShflIdx:
    case WarpOp::kShflUp:
    case WarpOp::kShflDown:
    case WarpOp::kShflXor:
      shuffle(op, param, mask, s);
      return;
    case WarpOp::kBallot:
    case WarpOp::kAny:
    case WarpOp::kAll: {
      unsigned ballot = 0;
      for (unsigned l = 0; l < 32; ++l) {
        int32_t p;
        std::memcpy(&p, s[l].in, sizeof(p));
        if ((mask >> l) & 1u && p != 0) ballot |= 1u << l;
      }
      const unsigned r = op == WarpOp::kBallot ? ballot
                         : op == WarpOp::kAny  ? (ballot != 0 ? 1u : 0u)
                                               : (ballot == mask ? 1u : 0u);
      for (unsigned l = 0; l < 32; ++l) std::memcpy(s[l].out, &r, sizeof(r));
      return;
    }
    case WarpOp::kReduceAdd:
    case WarpOp::kReduceMin:
    case WarpOp::kReduceMax: {
      bool first = true;
      uint32_t acc = 0;
      for (unsigned l = 0; l < 32; ++l) {
        if (((mask >> l) & 1u) == 0) continue;
        uint32_t v;
        std::memcpy(&v, s[l].in, sizeof(v));
        if (first) {
          acc = v;
          first = false;
        } else if (op == WarpOp::kReduceAdd) {
          acc += v;
        } else {
          const bool less = param ? static_cast<int32_t>(v) < static_cast<int32_t>(acc) : v < acc;
          if ((op == WarpOp::kReduceMin) == less) acc = v;
        }
      }
      for (unsigned l = 0; l < 32; ++l) std::memcpy(s[l].out, &acc, sizeof(acc));
      return;
    }
    case WarpOp::kLdMatrix:
      ldmatrix(param, s);
      return;
    case WarpOp::kMmaBf16:
      mma(true, s);
      return;
    case WarpOp::kMmaF16:
      mma(false, s);
      return;
  }
}

const char* warp_op_name(WarpOp op, uint32_t param) {
  switch (op) {
    case WarpOp::kSyncWarp:
      return "__syncwarp";
    case WarpOp::kShflIdx:
      return "__shfl_sync";
    case WarpOp::kShflUp:
      return "__shfl_up_sync";
    case WarpOp::kShflDown:
      return "__shfl_down_sync";
    case WarpOp::kShflXor:
      return "__shfl_xor_sync";
    case WarpOp::kBallot:
      return "__ballot_sync";
    case WarpOp::kAny:
      return "__any_sync";
    case WarpOp::kAll:
      return "__all_sync";
    case WarpOp::kReduceAdd:
      return "__reduce_add_sync";
    case WarpOp::kReduceMin:
      return "__reduce_min_sync";
    case WarpOp::kReduceMax:
      return "__reduce_max_sync";
    case WarpOp::kLdMatrix: {
      static constexpr const char* kNames[] = {"ldmatrix.x?", "ldmatrix.x1", "ldmatrix.x2",
                                               "ldmatrix.x?", "ldmatrix.x4"};
      static constexpr const char* kTrans[] = {"ldmatrix.x?.trans", "ldmatrix.x1.trans",
                                               "ldmatrix.x2.trans", "ldmatrix.x?.trans",
                                               "ldmatrix.x4.trans"};
      const unsigned n = param & 0xF;
      return ((param & 0x10) ? kTrans : kNames)[n <= 4 ? n : 0];
    }
    case WarpOp::kMmaBf16:
      return "mma.sync.m16n8k16.bf16";
    case WarpOp::kMmaF16:
      return "mma.sync.m16n8k16.f16";
  }
  return "warp collective";
}

int shfl_control(int width, bool up, std::source_location loc) {
  if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
    fault("shuffle (" + std::string(loc.file_name()) + ":" + std::to_string(loc.line()) +
          "): width " + std::to_string(width) + " is not a power of two in [1, 32]");
  }
  return ((32 - width) << 8) | (up ? 0 : 0x1f);
}

}  // namespace tessera::cudasim::detail
