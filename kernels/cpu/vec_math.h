// SPDX-License-Identifier: Apache-2.0
/// @brief Private math helpers for the CPU kernels: a vectorisable expf and deterministic
/// reductions.
///
/// NOTE [vectorisable exp]: glibc's expf is an opaque scalar call, so a loop that calls it never
/// vectorises. exp_fast(float) is Cephes' expf written with only adds, multiplies, an int
/// conversion and a shift: GCC vectorises loops over it at -O3 (8 lanes on AVX2, 16 on AVX-512).
/// Range reduction x = n ln2 + r, |r| <= ln2/2, with ln2 split in two so n ln2 is exact; a
/// degree-7 polynomial for e^r; 2^n built in the exponent bits. Max relative error ~2 ulp
/// (checked against std::exp in the softmax test). x < -87.33 returns exactly 0 (so -inf masks
/// give 0, never NaN); x > 88.3 returns +inf (the true overflow is at 88.72; clamping lower keeps
/// 2^n a normal float, and no caller needs the gap); NaN stays NaN. The double overload is
/// std::exp: float64 is the reference path and stays exact.
///
/// Two compiler facts this relies on (GCC 12, checked with -fopt-info-vec and timed):
///  - the selects only if-convert on AVX2 with -fno-trapping-math (set for the kernels library in
///    kernels/CMakeLists.txt); AVX-512 masks hide the problem, so check with -mavx2 -mfma;
///  - a max reduction vectorises as `m = x > m ? x : m` under `omp simd reduction(max : m)`, but
///    NOT as `m = std::max(m, x)` (reference-returning; stays a serial vmaxss chain, 15x slower).
///
/// NOTE [deterministic reductions]: a float sum is only vectorised by GCC when reassociation is
/// allowed; `#pragma omp simd reduction` grants it for one loop. The resulting order is fixed at
/// compile time (lane-wise partial sums, then a fixed tree), so it never depends on the thread
/// count.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace tessera::kernels::cpu::detail {

#if defined(__GNUC__)
#define TESSERA_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TESSERA_ALWAYS_INLINE inline
#endif

TESSERA_ALWAYS_INLINE float exp_fast(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  // Ternaries, not fmin/fmax (those block vectorisation); written so NaN maps to -87.33 and the
  // int conversion below never sees a NaN (UB); the NaN is restored at the end.
  float xc = x > -87.33f ? x : -87.33f;
  xc = xc < 88.3f ? xc : 88.3f;
  const float n = (xc * kLog2e + kMagic) - kMagic;  // round(x / ln2)
  float r = xc - n * kLn2Hi;
  r = r - n * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  float v = p * std::bit_cast<float>(e);
  v = x > 88.3f ? std::numeric_limits<float>::infinity() : v;
  v = x < -87.33f ? 0.0f : v;
  return x != x ? x : v;
}

TESSERA_ALWAYS_INLINE double exp_fast(double x) { return std::exp(x); }

}  // namespace tessera::kernels::cpu::detail
