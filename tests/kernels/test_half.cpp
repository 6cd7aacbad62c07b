// SPDX-License-Identifier: Apache-2.0
/// @brief Exhaustive tests of the bf16/f16 conversions in <tessera/half.h> against float64
/// references.
///
/// The references below are written from the IEEE-754 definitions, independently of half.h:
///   decode:  (-1)^s * 2^(e - bias) * (1 + m / 2^p) for normals, (-1)^s * 2^(1 - bias) * m / 2^p
///   for
///            subnormals, inf/NaN for the all-ones exponent;
///   round:   the two representable neighbours of |x| are found by binary search in the sorted
///   table
///            of all finite non-negative 16-bit values (plus the first value past the largest
///            finite, 2^(emax+1), standing for overflow); the nearer wins, a tie goes to the even
///            bit pattern.
/// Every difference computed below is exact in double (both operands are floats within 2^24 ulps).
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <tessera/half.h>

namespace {

using tessera::BFloat16;
using tessera::Float16;

// A 16-bit binary floating-point format: 1 sign bit, `exp_bits` exponent bits, `man_bits` mantissa
// bits.
struct Format {
  int exp_bits;
  int man_bits;
  int bias() const { return (1 << (exp_bits - 1)) - 1; }
  uint16_t exp_mask() const { return static_cast<uint16_t>(((1u << exp_bits) - 1u) << man_bits); }
  uint16_t inf_bits() const { return exp_mask(); }
  uint16_t max_finite_bits() const { return static_cast<uint16_t>(exp_mask() - 1u); }
};
constexpr Format kBF16{8, 7};
constexpr Format kF16{5, 10};

// Reference decoding of a 16-bit pattern, in double.
double ref_decode(const Format& f, uint16_t h) {
  const int sign = h >> 15;
  const int e = (h >> f.man_bits) & ((1 << f.exp_bits) - 1);
  const int m = h & ((1 << f.man_bits) - 1);
  double v;
  if (e == (1 << f.exp_bits) - 1) {
    v = m == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  } else if (e == 0) {
    v = std::ldexp(static_cast<double>(m), 1 - f.bias() - f.man_bits);
  } else {
    v = std::ldexp(1.0 + std::ldexp(static_cast<double>(m), -f.man_bits), e - f.bias());
  }
  return sign ? -v : v;
}

// Sorted table of all finite non-negative values, plus the overflow sentinel 2^(emax+1) at the end
// (whose bit pattern, max_finite + 1, is the infinity pattern: rounding to it means overflow).
std::vector<double> positive_table(const Format& f) {
  std::vector<double> t;
  for (uint32_t b = 0; b <= f.max_finite_bits(); ++b)
    t.push_back(ref_decode(f, static_cast<uint16_t>(b)));
  t.push_back(std::ldexp(1.0, (1 << f.exp_bits) - 1 - f.bias()));
  for (size_t i = 1; i < t.size(); ++i) REQUIRE(t[i] > t[i - 1]);
  return t;
}

// Reference round-to-nearest-even of a float to the 16-bit format. NaN: returns the canonical NaN
// pattern with the input's sign (callers compare NaN-ness and sign only).
uint16_t ref_round(const Format& f, const std::vector<double>& table, float x) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (std::isnan(x)) return static_cast<uint16_t>(sign | f.inf_bits() | 1u);
  const double a = std::fabs(static_cast<double>(x));
  if (a >= table.back()) return static_cast<uint16_t>(sign | f.inf_bits());  // includes inf
  // Largest index i with table[i] <= a.
  size_t lo = 0, hi = table.size() - 1;  // invariant: table[lo] <= a < table[hi]
  while (hi - lo > 1) {
    const size_t mid = (lo + hi) / 2;
    if (table[mid] <= a)
      lo = mid;
    else
      hi = mid;
  }
  const double below = a - table[lo];
  const double above = table[hi] - a;
  size_t pick;
  if (below < above)
    pick = lo;
  else if (above < below)
    pick = hi;
  else
    pick = (lo % 2 == 0) ? lo : hi;           // tie: even bit pattern
  return static_cast<uint16_t>(sign | pick);  // pick == table.size()-1 is the inf pattern
}

uint16_t to_bits(float x, const Format& f) {
  return &f == &kBF16 ? BFloat16(x).bits : Float16(x).bits;
}
float from_bits(uint16_t b, const Format& f) {
  return &f == &kBF16 ? static_cast<float>(BFloat16::from_bits(b))
                      : static_cast<float>(Float16::from_bits(b));
}

bool is_nan_bits(const Format& f, uint16_t b) {
  return (b & f.exp_mask()) == f.exp_mask() && (b & ((1u << f.man_bits) - 1u)) != 0;
}

// Checks one float -> 16-bit conversion; returns false (after reporting) on mismatch.
bool check_round(const Format& f, const std::vector<double>& table, float x) {
  const uint16_t got = to_bits(x, f);
  const uint16_t want = ref_round(f, table, x);
  if (std::isnan(x)) {
    if (is_nan_bits(f, got) && (got >> 15) == (want >> 15)) return true;
  } else if (got == want) {
    return true;
  }
  UNSCOPED_INFO("x = " << x << " (0x" << std::hex << std::bit_cast<uint32_t>(x) << "), got 0x"
                       << got << ", want 0x" << want << std::dec);
  return false;
}

const char* name_of(const Format& f) { return &f == &kBF16 ? "bf16" : "f16"; }

}  // namespace

TEST_CASE("16-bit -> float is exact for all 65,536 bit patterns", "[kernels][half]") {
  for (const Format* f : {&kBF16, &kF16}) {
    INFO(name_of(*f));
    int64_t failures = 0;
    for (uint32_t b = 0; b < 65536; ++b) {
      const uint16_t h = static_cast<uint16_t>(b);
      const float got = from_bits(h, *f);
      const double want = ref_decode(*f, h);
      bool ok;
      if (std::isnan(want)) {
        ok = std::isnan(got) && std::signbit(got) == ((h >> 15) != 0);
        // The payload survives: the low mantissa bits land at the top of float's mantissa.
        const uint32_t payload = std::bit_cast<uint32_t>(got) & 0x7FFFFFu;
        ok = ok && payload == (static_cast<uint32_t>(h & ((1u << f->man_bits) - 1u))
                               << (23 - f->man_bits));
      } else {
        ok = static_cast<double>(got) == want && std::signbit(got) == std::signbit(want);
      }
      if (!ok) {
        ++failures;
        UNSCOPED_INFO("bits 0x" << std::hex << b << std::dec << ": got " << got << ", want "
                                << want);
      }
    }
    CHECK(failures == 0);
  }
}

TEST_CASE("float -> 16-bit round trip is the identity on every non-NaN pattern",
          "[kernels][half]") {
  for (const Format* f : {&kBF16, &kF16}) {
    INFO(name_of(*f));
    int64_t failures = 0;
    for (uint32_t b = 0; b < 65536; ++b) {
      const uint16_t h = static_cast<uint16_t>(b);
      const float x = from_bits(h, *f);
      const uint16_t back = to_bits(x, *f);
      const bool ok =
          is_nan_bits(*f, h) ? (is_nan_bits(*f, back) && (back >> 15) == (h >> 15)) : back == h;
      if (!ok) ++failures;
    }
    CHECK(failures == 0);
  }
}

TEST_CASE("float -> 16-bit rounds to nearest even at every value, midpoint and neighbour",
          "[kernels][half]") {
  for (const Format* f : {&kBF16, &kF16}) {
    INFO(name_of(*f));
    const std::vector<double> table = positive_table(*f);
    int64_t failures = 0;
    int64_t checked = 0;
    auto check = [&](float x) {
      for (float s : {x, -x}) {
        ++checked;
        if (!check_round(*f, table, s)) ++failures;
      }
    };
    // For every adjacent pair of non-negative values (including max finite -> 2^(emax+1)): the
    // values, the exact midpoint (a tie, representable in float), and the floats just around each.
    const float kInf = std::numeric_limits<float>::infinity();
    for (size_t i = 0; i + 1 < table.size(); ++i) {
      const float lo = static_cast<float>(table[i]);
      const float hi = static_cast<float>(table[i + 1]);  // 2^128 overflows float: becomes inf
      const double mid_d = (table[i] + table[i + 1]) / 2;
      const float mid = static_cast<float>(mid_d);
      REQUIRE(static_cast<double>(mid) == mid_d);
      check(lo);
      check(std::nextafter(lo, kInf));
      if (lo > 0) check(std::nextafter(lo, 0.0f));
      check(mid);
      check(std::nextafter(mid, kInf));
      check(std::nextafter(mid, 0.0f));
      if (std::isfinite(hi)) check(std::nextafter(hi, 0.0f));
    }
    // Specials: zeros, infinities, the largest float, the float subnormal range, NaNs of all kinds.
    for (float x :
         {0.0f, kInf, std::numeric_limits<float>::max(), std::numeric_limits<float>::min(),
          std::numeric_limits<float>::denorm_min(), 1e-40f, 3.0e-39f})
      check(x);
    for (uint32_t nan : {0x7FC00000u, 0x7F800001u, 0x7FBFFFFFu, 0x7FFFFFFFu, 0x7F802000u,
                         0x7F810000u, 0x7FA00000u})
      check(std::bit_cast<float>(nan));
    CHECK(failures == 0);
    CHECK(checked > 65536 * 6);
  }
}

TEST_CASE("float -> 16-bit overflow threshold and signed zeros", "[kernels][half]") {
  // f16: largest finite 65504; the midpoint to 65536 (65520) ties to even = inf.
  CHECK(Float16(65504.0f).bits == 0x7BFF);
  CHECK(Float16(65519.996f).bits == 0x7BFF);
  CHECK(Float16(65520.0f).bits == 0x7C00);
  CHECK(Float16(-65520.0f).bits == 0xFC00);
  CHECK(Float16(std::numeric_limits<float>::infinity()).bits == 0x7C00);
  // f16 subnormals: 2^-24 is the smallest; half of it ties to even (zero); just above rounds up.
  CHECK(Float16(0x1p-24f).bits == 0x0001);
  CHECK(Float16(0x1p-25f).bits == 0x0000);
  CHECK(Float16(std::nextafter(0x1p-25f, 1.0f)).bits == 0x0001);
  CHECK(Float16(-0x1p-25f).bits == 0x8000);
  CHECK(Float16(0x1.8p-24f).bits == 0x0002);  // 1.5 ulp ties to even 2
  CHECK(Float16(-0.0f).bits == 0x8000);
  // bf16: largest finite 0x7F7F; the midpoint to 2^128 rounds to inf.
  const float bf_max = std::bit_cast<float>(0x7F7F0000u);
  CHECK(BFloat16(bf_max).bits == 0x7F7F);
  CHECK(BFloat16(std::bit_cast<float>(0x7F7F7FFFu)).bits == 0x7F7F);
  CHECK(BFloat16(std::bit_cast<float>(0x7F7F8000u)).bits == 0x7F80);
  CHECK(BFloat16(std::numeric_limits<float>::max()).bits == 0x7F80);
  CHECK(BFloat16(-0.0f).bits == 0x8000);
  // 1 + 2^-8 is the tie between 1 and 1 + 2^-7: even is 1.
  CHECK(BFloat16(1.0f + 0x1p-8f).bits == 0x3F80);
  CHECK(BFloat16(1.0f + 3 * 0x1p-8f).bits == 0x3F82);
  // NaN keeps its sign and stays NaN even when only low payload bits are set.
  CHECK(BFloat16(std::bit_cast<float>(0xFF800001u)).bits >> 15 == 1);
  CHECK(is_nan_bits(kBF16, BFloat16(std::bit_cast<float>(0x7F800001u)).bits));
  CHECK(is_nan_bits(kF16, Float16(std::bit_cast<float>(0x7F800001u)).bits));
  CHECK(Float16(std::bit_cast<float>(0xFFC00000u)).bits >> 15 == 1);
}

TEST_CASE("float -> 16-bit matches the reference on millions of random floats", "[kernels][half]") {
#ifdef NDEBUG
  const int64_t kDraws = 4'000'000;
#else
  const int64_t kDraws = 300'000;  // Debug/sanitizer builds: same code paths, fewer draws
#endif
  std::mt19937_64 rng(0x5eed);
  for (const Format* f : {&kBF16, &kF16}) {
    INFO(name_of(*f));
    const std::vector<double> table = positive_table(*f);
    // Exponent range that matters for this format (subnormals through overflow), plus a margin.
    const int e_lo = 1 - f->bias() - f->man_bits - 3;
    const int e_hi = (1 << f->exp_bits) - 1 - f->bias() + 2;
    std::uniform_int_distribution<int> exp_dist(std::max(e_lo, -149), std::min(e_hi, 127));
    int64_t failures = 0;
    for (int64_t i = 0; i < kDraws; ++i) {
      const uint64_t r = rng();
      float x;
      if (i % 2 == 0) {
        x = std::bit_cast<float>(static_cast<uint32_t>(r));  // uniform over all bit patterns
      } else {
        // Uniform mantissa and sign, exponent in the format's interesting range.
        const float m = std::bit_cast<float>(0x3F800000u | static_cast<uint32_t>(r & 0x7FFFFFu));
        x = std::ldexp(m, exp_dist(rng));
        if (r >> 63) x = -x;
      }
      if (!check_round(*f, table, x) && ++failures > 20) break;
    }
    CHECK(failures == 0);
  }
}

namespace {

// A second, arithmetic reference for the full sweep (the table search above is too slow for 2^32
// inputs): scale |x| so the format's last mantissa bit has weight 1, round with nearbyint (the
// default rounding mode is to nearest even), and rebuild the bits. Exact in double throughout.
uint16_t ref_round_arith(const Format& f, float x) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (std::isnan(x)) return static_cast<uint16_t>(sign | f.inf_bits() | 1u);
  const double a = std::fabs(static_cast<double>(x));
  const int emin = 1 - f.bias();                      // exponent of the smallest normal
  const int emax = (1 << f.exp_bits) - 2 - f.bias();  // exponent of the largest finite
  int e = a == 0 ? emin : std::max(std::ilogb(a), emin);
  double r = std::nearbyint(std::ldexp(a, f.man_bits - e));  // integer significand
  if (r == std::ldexp(1.0, f.man_bits + 1)) {                // rounded up into the next binade
    r /= 2;
    e += 1;
  }
  if (e > emax) return static_cast<uint16_t>(sign | f.inf_bits());
  const bool normal = r >= std::ldexp(1.0, f.man_bits);
  const uint32_t biased = normal ? static_cast<uint32_t>(e + f.bias()) : 0u;
  const uint32_t man = static_cast<uint32_t>(r) & ((1u << f.man_bits) - 1u);
  return static_cast<uint16_t>(sign | (biased << f.man_bits) | man);
}

}  // namespace

// Hidden (run with `test_half "[.exhaustive]"`): every one of the 2^32 float inputs, both formats.
// About 2 CPU-minutes in Release (measured 2026-11-29: all 2^32 inputs pass for bf16 and f16).
TEST_CASE("float -> 16-bit matches the reference for all 2^32 floats", "[.exhaustive][half]") {
  for (const Format* f : {&kBF16, &kF16}) {
    INFO(name_of(*f));
    // The two references agree (checked on every value, midpoint and neighbour of the table test).
    const std::vector<double> table = positive_table(*f);
    for (uint32_t b = 0; b <= f->max_finite_bits(); ++b) {
      const float x = static_cast<float>(table[b]);
      REQUIRE(ref_round_arith(*f, x) == ref_round(*f, table, x));
      const float mid = static_cast<float>((table[b] + table[b + 1]) / 2);
      REQUIRE(ref_round_arith(*f, mid) == ref_round(*f, table, mid));
      REQUIRE(ref_round_arith(*f, std::nextafter(mid, 0.0f)) ==
              ref_round(*f, table, std::nextafter(mid, 0.0f)));
    }
    int64_t failures = 0;
#pragma omp parallel for reduction(+ : failures) schedule(static)
    for (int64_t i = 0; i < (int64_t{1} << 32); ++i) {
      const float x = std::bit_cast<float>(static_cast<uint32_t>(i));
      const uint16_t got = to_bits(x, *f);
      const uint16_t want = ref_round_arith(*f, x);
      const bool ok =
          std::isnan(x) ? (is_nan_bits(*f, got) && (got >> 15) == (want >> 15)) : got == want;
      if (!ok) ++failures;
    }
    CHECK(failures == 0);
  }
}
