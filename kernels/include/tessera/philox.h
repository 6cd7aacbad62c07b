// SPDX-License-Identifier: Apache-2.0
/// @brief Philox4x32-10 counter-based random numbers (Salmon et al., SC'11; Random123), host and
/// device.
///
/// What it computes: a keyed bijection of a 128-bit counter; 10 rounds of two 32x32->64 multiplies
/// and xors, the 64-bit key bumped by the Weyl constants between rounds. Output equals Random123's
/// philox4x32_10 bit for bit (tests/kernels/test_philox.cpp checks its known-answer vectors).
/// Cost: 20 integer multiplies per 4 words; no state, so any thread can compute any element.
///
/// Stream layout (the contract every tessera RNG consumer follows, CPU and CUDA alike):
///   key     = seed (64 bits: low word = key[0], high word = key[1])
///   counter = (offset + i / 4) in the low 64 bits (ctr[0] low, ctr[1] high), `subsequence` in the
///             high 64 bits (ctr[2], ctr[3]); subsequence is 0 unless a caller needs parallel
///             streams.
///   element i of a draw that starts at `offset` is word i % 4 of that block.
/// Draws that need more than one word per element pair them inside one block, so element i still
/// depends on one counter only:
///   float uniform:   element i = uniform_float(word i % 4 of block offset + i / 4)
///   float normal:    elements (2j, 2j+1) = normal_pair(words 2j % 4, 2j % 4 + 1 of block offset +
///   j / 2)
///                    i.e. element i uses block offset + i / 4, as for uniforms
///   double uniform:  element i = uniform_double(words 2(i % 2), 2(i % 2) + 1 of block offset + i /
///   2) double normal:   elements (2j, 2j+1) = normal_pair_double(block offset + j)
/// Counters consumed by a draw of n elements: ceil(n / 4) for float draws, ceil(n / 2) for double
/// ones.
///
/// Conversions: uniform_float uses the top 24 bits (exact multiples of 2^-24 in [0, 1));
/// uniform_double uses 53 bits from two words; normal_pair is Box-Muller on two uniforms, with the
/// first uniform taken in (0, 1] so log() never sees 0. Device results of the normal transform may
/// differ from the host's by a few ulps (different libm); the uniform ones are bit-identical.
#pragma once

#include <cmath>
#include <cstdint>

#ifndef TESSERA_HOST_DEVICE
#if defined(__CUDACC__) || defined(TESSERA_CUDASIM)
#define TESSERA_HOST_DEVICE __host__ __device__
#else
#define TESSERA_HOST_DEVICE
#endif
#endif

namespace tessera {

/// Four 32-bit words (a plain aggregate so it is usable in device code and constant expressions).
struct U32x4 {
  uint32_t v[4];
  TESSERA_HOST_DEVICE constexpr uint32_t operator[](int i) const { return v[i]; }
  TESSERA_HOST_DEVICE constexpr uint32_t& operator[](int i) { return v[i]; }
  TESSERA_HOST_DEVICE friend constexpr bool operator==(const U32x4& a, const U32x4& b) {
    return a.v[0] == b.v[0] && a.v[1] == b.v[1] && a.v[2] == b.v[2] && a.v[3] == b.v[3];
  }
};

struct Philox4x32 {
  static constexpr uint32_t kMul0 = 0xD2511F53u;
  static constexpr uint32_t kMul1 = 0xCD9E8D57u;
  static constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
  static constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1
  static constexpr int kRounds = 10;

  /// Random123's philox4x32_10(ctr, key) on raw words.
  TESSERA_HOST_DEVICE static constexpr U32x4 rounds(U32x4 ctr, uint32_t key0, uint32_t key1) {
    for (int r = 0; r < kRounds; ++r) {
      if (r > 0) {
        key0 += kWeyl0;
        key1 += kWeyl1;
      }
      const uint64_t p0 = static_cast<uint64_t>(kMul0) * ctr.v[0];
      const uint64_t p1 = static_cast<uint64_t>(kMul1) * ctr.v[2];
      ctr = U32x4{{static_cast<uint32_t>(p1 >> 32) ^ ctr.v[1] ^ key0, static_cast<uint32_t>(p1),
                   static_cast<uint32_t>(p0 >> 32) ^ ctr.v[3] ^ key1, static_cast<uint32_t>(p0)}};
    }
    return ctr;
  }

  /// The block at `counter` of stream (seed, subsequence); see the stream layout above.
  TESSERA_HOST_DEVICE static constexpr U32x4 generate(uint64_t seed, uint64_t counter,
                                                      uint64_t subsequence = 0) {
    return rounds(
        U32x4{{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
               static_cast<uint32_t>(subsequence), static_cast<uint32_t>(subsequence >> 32)}},
        static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  }

  /// Word i of the stream that starts at `offset`: word i % 4 of block offset + i / 4.
  TESSERA_HOST_DEVICE static constexpr uint32_t word(uint64_t seed, uint64_t offset, uint64_t i,
                                                     uint64_t subsequence = 0) {
    return generate(seed, offset + i / 4, subsequence)[static_cast<int>(i % 4)];
  }
};

/// Uniform float in [0, 1): the top 24 bits of x times 2^-24 (every result exact, none rounds to
/// 1).
TESSERA_HOST_DEVICE constexpr float uniform_float(uint32_t x) {
  return static_cast<float>(x >> 8) * 0x1p-24f;
}

/// Uniform float in (0, 1]: for logarithms.
TESSERA_HOST_DEVICE constexpr float uniform_float_open0(uint32_t x) {
  return static_cast<float>((x >> 8) + 1u) * 0x1p-24f;
}

/// Uniform double in [0, 1) from 53 bits: the top 26 bits of `hi`, then the top 27 bits of `lo`.
TESSERA_HOST_DEVICE constexpr double uniform_double(uint32_t lo, uint32_t hi) {
  const uint64_t bits = (static_cast<uint64_t>(hi >> 6) << 27) | (lo >> 5);
  return static_cast<double>(bits) * 0x1p-53;
}

/// Uniform double in (0, 1].
TESSERA_HOST_DEVICE constexpr double uniform_double_open0(uint32_t lo, uint32_t hi) {
  const uint64_t bits = (static_cast<uint64_t>(hi >> 6) << 27) | (lo >> 5);
  return static_cast<double>(bits + 1u) * 0x1p-53;
}

struct FloatPair {
  float first;
  float second;
};
struct DoublePair {
  double first;
  double second;
};

/// Two independent standard normals (Box-Muller) from two words: r = sqrt(-2 ln u1), u1 in (0, 1],
/// theta = 2 pi u2, u2 in [0, 1); returns (r cos theta, r sin theta). |z| <= sqrt(-2 ln 2^-24)
/// ~ 5.77.
TESSERA_HOST_DEVICE inline FloatPair normal_pair(uint32_t a, uint32_t b) {
  const float u1 = uniform_float_open0(a);
  const float u2 = uniform_float(b);
  const float r = sqrtf(-2.0f * logf(u1));
  const float theta = 6.2831853071795864769f * u2;
  return {r * cosf(theta), r * sinf(theta)};
}

/// Double-precision Box-Muller from a whole block: u1 from words (0, 1), u2 from words (2, 3).
TESSERA_HOST_DEVICE inline DoublePair normal_pair_double(const U32x4& w) {
  const double u1 = uniform_double_open0(w[0], w[1]);
  const double u2 = uniform_double(w[2], w[3]);
  const double r = sqrt(-2.0 * log(u1));
  const double theta = 6.2831853071795864769 * u2;
  return {r * cos(theta), r * sin(theta)};
}

}  // namespace tessera
