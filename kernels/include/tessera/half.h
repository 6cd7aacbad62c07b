// SPDX-License-Identifier: Apache-2.0
/// @brief bfloat16 and float16 storage types with round-to-nearest-even conversion from float.
///
/// Both are 16-bit storage formats: arithmetic happens in float (the CPU kernels load, widen,
/// compute and narrow), exactly as CUDA's __nv_bfloat16/__half do on hardware without native 16-bit
/// ALUs. Conversions:
///   float -> bf16: keep the top 16 bits after adding 0x7FFF + lsb (round to nearest, ties to
///   even);
///                  NaN stays a quiet NaN with its sign.
///   float -> f16:  IEEE binary16 with subnormals, overflow to inf, round to nearest even.
///   16 -> float:   exact.
/// tests/kernels/test_half.cpp checks all 65,536 bit patterns of each against a float64 reference.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace tessera {

struct BFloat16 {
  uint16_t bits = 0;

  BFloat16() = default;
  explicit BFloat16(float f) : bits(round_from_float(f)) {}
  static constexpr BFloat16 from_bits(uint16_t b) {
    BFloat16 r;
    r.bits = b;
    return r;
  }
  operator float() const { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

  static uint16_t round_from_float(float f) {
    uint32_t u = std::bit_cast<uint32_t>(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // NaN
    u += 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
  }
};

struct Float16 {
  uint16_t bits = 0;

  Float16() = default;
  explicit Float16(float f) : bits(round_from_float(f)) {}
  static constexpr Float16 from_bits(uint16_t b) {
    Float16 r;
    r.bits = b;
    return r;
  }
  operator float() const { return to_float(bits); }

  static float to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    const uint32_t man = h & 0x3FFu;
    uint32_t u;
    if (exp == 0x1F) {
      u = sign | 0x7F800000u | (man << 13);  // inf / NaN (payload kept)
    } else if (exp != 0) {
      u = sign | ((exp + 112u) << 23) | (man << 13);  // normal: rebias 15 -> 127
    } else if (man == 0) {
      u = sign;  // signed zero
    } else {
      // subnormal: value = man * 2^-24; exact in float.
      const float v = static_cast<float>(man) * 0x1p-24f;
      u = sign | std::bit_cast<uint32_t>(v);
    }
    return std::bit_cast<float>(u);
  }

  static uint16_t round_from_float(float f) {
    const uint32_t u = std::bit_cast<uint32_t>(f);
    const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
    const uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return sign | 0x7E00u | static_cast<uint16_t>((a >> 13) & 0x1FFu);  // NaN
    if (a >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 rounds to inf (and inf itself)
    if (a < 0x38800000u) {
      // Result is subnormal or zero in f16: value / 2^-24, rounded to nearest even.
      // Adding 0.5f (2^-1) as a float aligns the bits so the FPU's own RNE does the rounding.
      const float v = std::bit_cast<float>(a) + 0.5f;
      return sign | static_cast<uint16_t>(std::bit_cast<uint32_t>(v) - 0x3F000000u);
    }
    // Normal: rebias exponent, round the 13 dropped mantissa bits to nearest even.
    uint32_t r = a - ((127u - 15u) << 23);
    r += 0xFFFu + ((r >> 13) & 1u);
    return sign | static_cast<uint16_t>(r >> 13);
  }
};

static_assert(sizeof(BFloat16) == 2 && sizeof(Float16) == 2);

}  // namespace tessera
