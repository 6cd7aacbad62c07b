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

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#if defined(__AVX512F__)
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() as the unused merge source and then warn
// "'__Y' may be used uninitialized" wherever they are inlined (GCC bug 105593, fixed in 13); the
// warning's location is inside the header, so it is silenced for the header only (also the
// -Wuninitialized form of it).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

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

#if defined(__AVX512F__)
/// NOTE [AVX-512 exp]: exp_fast over 16 lanes with intrinsics, for the kernels' hot loops. The
/// same range reduction and Cephes polynomial as exp_fast, but 2^n is applied with vscalefps and
/// the special cases cost one clamp and one compare-into-mask instead of six compare/blend pairs:
/// 14 vector operations instead of ~26, which roughly halves softmax forward's compute per
/// element on one core (docs/kernels.md). Same contract as exp_fast: x < -87.33 (and -inf) ->
/// exactly 0 (the mask zeroes those lanes, whatever the reduction computed for them), x >= 88.73
/// (and +inf, clamped to 89) -> +inf (scalef overflows; between 88.3 and 88.72 the result is
/// finite and correct, where exp_fast clamps), NaN -> NaN; max relative error ~2 ulp (tested).
/// kNonPositive: the caller guarantees x <= 0 or NaN (softmax's z - max z), so the upper clamp
/// is skipped (one operation fewer).
template <bool kNonPositive = false>
TESSERA_ALWAYS_INLINE __m512 exp512(__m512 x) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  // min returns its second operand when either is NaN, so a NaN x passes through.
  const __m512 xc = kNonPositive ? x : _mm512_min_ps(_mm512_set1_ps(89.f), x);
  const __m512 t =
      _mm512_fmadd_ps(xc, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(kMagic));
  const __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(kMagic));  // round(x / ln2)
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));  // p r^2 + r + 1 = (p r + 1) r + 1
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  // Lanes with x < -87.33 (or -inf) become 0; NaN compares unordered, so NLT keeps it.
  const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33f), _CMP_NLT_UQ);
  return _mm512_maskz_scalef_ps(keep, p, n);
}

/// Lane mask selecting the first `n` (0..16) lanes.
TESSERA_ALWAYS_INLINE __mmask16 tail_mask16(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

/// NOTE [streaming stores]: an output larger than the cache is better written with non-temporal
/// stores: a normal store first reads the line (read-for-ownership), so a kernel that reads n
/// bytes and writes n moves 3n over the memory bus, memcpy (glibc switches to non-temporal
/// stores for large copies) 2n. Measured on LayerNorm forward, 1 thread: 55-65% -> 78-106% of
/// memcpy (docs/kernels.md). Below kStreamBytes of output the result is left in cache for its
/// consumer. The caller must _mm_sfence() before its chunk ends (other threads read y after the
/// OpenMP barrier; non-temporal stores are weakly ordered).
constexpr int64_t kStreamBytes = int64_t{16} << 20;

/// Writes y[j] = f(j, k) for j in [0, n) in vectors of 16 (k: the lanes in range); with `stream`,
/// masked stores up to a 64-byte boundary of y, then non-temporal stores, then a masked tail.
template <typename F>
TESSERA_ALWAYS_INLINE void store_row(float* y, int64_t n, bool stream, F f) {
  int64_t j = 0;
  if (stream) {
    const int64_t peel =
        std::min<int64_t>(n, ((64 - (reinterpret_cast<uintptr_t>(y) & 63)) & 63) / sizeof(float));
    if (peel > 0) {
      const __mmask16 k = tail_mask16(peel);
      _mm512_mask_storeu_ps(y, k, f(int64_t{0}, k));
      j = peel;
    }
    if (reinterpret_cast<uintptr_t>(y + j) % 64 == 0) {  // else y is not 4-byte aligned: skip
      for (; j + 16 <= n; j += 16) _mm512_stream_ps(y + j, f(j, __mmask16(0xFFFF)));
    }
  }
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(y + j, f(j, __mmask16(0xFFFF)));
  if (j < n) {
    const __mmask16 k = tail_mask16(n - j);
    _mm512_mask_storeu_ps(y + j, k, f(j, k));
  }
}
#endif

}  // namespace tessera::kernels::cpu::detail
