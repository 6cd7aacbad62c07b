// SPDX-License-Identifier: Apache-2.0
/// @brief Philox4x32-10 against Random123's known-answer vectors, the stream layout, and the
/// uniform/normal transforms' ranges and distributions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include <tessera/philox.h>

using tessera::Philox4x32;
using tessera::U32x4;

namespace {

// Random123 tests/kat_vectors, "philox4x32 10" lines: ctr[4] key[2] -> out[4].
struct Kat {
  U32x4 ctr;
  uint32_t key0, key1;
  U32x4 out;
};
constexpr Kat kKats[] = {
    {{{0x00000000, 0x00000000, 0x00000000, 0x00000000}},
     0x00000000,
     0x00000000,
     {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
    {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
     0xffffffff,
     0xffffffff,
     {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
    {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
     0xa4093822,
     0x299f31d0,
     {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
};

// Usable in constant expressions (and therefore free of UB: the compiler would reject it).
static_assert(Philox4x32::rounds(kKats[0].ctr, 0, 0) == kKats[0].out);
static_assert(Philox4x32::rounds(kKats[2].ctr, kKats[2].key0, kKats[2].key1) == kKats[2].out);

#ifdef NDEBUG
constexpr int64_t kSamples = 1'000'000;
#else
constexpr int64_t kSamples = 200'000;
#endif

// Standard normal CDF.
double phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Kolmogorov-Smirnov statistic of `xs` against `cdf` (sorts xs).
template <typename Cdf>
double ks_statistic(std::vector<double>& xs, Cdf cdf) {
  std::sort(xs.begin(), xs.end());
  const double n = static_cast<double>(xs.size());
  double d = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double f = cdf(xs[i]);
    d = std::max({d, f - i / n, (i + 1) / n - f});
  }
  return d;
}

}  // namespace

TEST_CASE("philox4x32_10 matches the Random123 known-answer vectors", "[kernels][philox]") {
  for (const Kat& k : kKats) {
    const U32x4 got = Philox4x32::rounds(k.ctr, k.key0, k.key1);
    for (int i = 0; i < 4; ++i) CHECK(got[i] == k.out[i]);
  }
}

TEST_CASE("philox generate() packs seed, counter and subsequence as documented",
          "[kernels][philox]") {
  // key = seed (low word first); ctr = (counter low, counter high, subsequence low, subsequence
  // high).
  CHECK(Philox4x32::generate(0, 0, 0) == kKats[0].out);
  CHECK(Philox4x32::generate(~0ull, ~0ull, ~0ull) == kKats[1].out);
  CHECK(Philox4x32::generate(0x299f31d0a4093822ull, 0x85a308d3243f6a88ull, 0x0370734413198a2eull) ==
        kKats[2].out);
  // The default subsequence is 0.
  CHECK(Philox4x32::generate(7, 11) == Philox4x32::generate(7, 11, 0));
  // word(i) = word i % 4 of block offset + i / 4.
  for (uint64_t offset : {0ull, 5ull, 0xFFFFFFFFull}) {
    for (uint64_t i = 0; i < 20; ++i) {
      CHECK(Philox4x32::word(42, offset, i) ==
            Philox4x32::generate(42, offset + i / 4)[static_cast<int>(i % 4)]);
    }
  }
  // The counter's high word matters (a 32-bit counter bug would alias these).
  CHECK(!(Philox4x32::generate(1, 0) == Philox4x32::generate(1, 1ull << 32)));
  CHECK(!(Philox4x32::generate(1, 0) == Philox4x32::generate(1ull << 32, 0)));
  CHECK(!(Philox4x32::generate(1, 0, 0) == Philox4x32::generate(1, 0, 1ull << 32)));
}

TEST_CASE("philox: distinct counters and seeds give distinct, well-mixed blocks",
          "[kernels][philox]") {
  std::set<std::pair<uint64_t, uint64_t>> seen;
  int64_t bit_flips = 0;
  const int kN = 20000;
  for (uint64_t c = 0; c < kN; ++c) {
    const U32x4 a = Philox4x32::generate(123, c);
    seen.insert({(uint64_t{a[0]} << 32) | a[1], (uint64_t{a[2]} << 32) | a[3]});
    // Flipping one seed bit flips about half of the 128 output bits.
    const U32x4 b = Philox4x32::generate(123 ^ (1ull << (c % 64)), c);
    for (int i = 0; i < 4; ++i) bit_flips += std::popcount(a[i] ^ b[i]);
  }
  CHECK(seen.size() == kN);
  const double mean_flips = static_cast<double>(bit_flips) / kN;
  // Binomial(128, 1/2): mean 64, sd of the mean over 20000 samples ~0.04.
  CHECK(std::fabs(mean_flips - 64.0) < 0.5);
}

TEST_CASE("uniform_float / uniform_double: exact ranges and resolution", "[kernels][philox]") {
  using tessera::uniform_double;
  using tessera::uniform_double_open0;
  using tessera::uniform_float;
  using tessera::uniform_float_open0;
  CHECK(uniform_float(0) == 0.0f);
  CHECK(uniform_float(0xFFu) == 0.0f);  // the low 8 bits are dropped
  CHECK(uniform_float(0x100u) == 0x1p-24f);
  CHECK(uniform_float(0xFFFFFFFFu) == 1.0f - 0x1p-24f);
  CHECK(uniform_float(0xFFFFFFFFu) < 1.0f);
  CHECK(uniform_float_open0(0) == 0x1p-24f);
  CHECK(uniform_float_open0(0xFFFFFFFFu) == 1.0f);
  CHECK(uniform_double(0, 0) == 0.0);
  CHECK(uniform_double(0xFFFFFFFFu, 0xFFFFFFFFu) == 1.0 - 0x1p-53);
  CHECK(uniform_double(1u << 5, 0) == 0x1p-53);      // lowest bit used comes from lo
  CHECK(uniform_double(0, 0x80000000u) == 0.5);      // top bit of hi is the 1/2 bit
  CHECK(uniform_double(0x80000000u, 0) == 0x1p-27);  // top bit of lo is the 2^-27 bit
  CHECK(uniform_double_open0(0, 0) == 0x1p-53);
  CHECK(uniform_double_open0(0xFFFFFFFFu, 0xFFFFFFFFu) == 1.0);
}

TEST_CASE("uniform_float over a Philox stream: mean, variance and chi-square",
          "[kernels][philox]") {
  const int kBins = 64;
  std::vector<int64_t> bins(kBins, 0);
  double sum = 0, sum_sq = 0;
  for (int64_t i = 0; i < kSamples; ++i) {
    const float u = tessera::uniform_float(Philox4x32::word(2024, 0, static_cast<uint64_t>(i)));
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    sum += u;
    sum_sq += static_cast<double>(u) * u;
    ++bins[static_cast<int>(u * kBins)];
  }
  const double n = static_cast<double>(kSamples);
  const double mean = sum / n;
  const double var = sum_sq / n - mean * mean;
  CHECK(std::fabs(mean - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
  CHECK(std::fabs(var - 1.0 / 12) <
        5 * std::sqrt(1.0 / 180 / n));  // sd of s^2: sqrt((mu4 - sigma^4) / n)
  double chi2 = 0;
  for (int64_t b : bins) {
    const double e = n / kBins;
    chi2 += (b - e) * (b - e) / e;
  }
  // 63 degrees of freedom: mean 63, sd 11.2; 140 is p ~ 1e-7.
  INFO("chi2 = " << chi2);
  CHECK(chi2 < 140);
}

TEST_CASE("normal_pair / normal_pair_double follow N(0, 1) (moments and Kolmogorov-Smirnov)",
          "[kernels][philox]") {
  const int64_t n = kSamples;
  for (bool dbl : {false, true}) {
    INFO((dbl ? "double" : "float"));
    std::vector<double> xs;
    xs.reserve(static_cast<size_t>(n));
    double cross = 0;
    for (int64_t j = 0; j < n / 2; ++j) {
      double a, b;
      if (dbl) {
        const auto p =
            tessera::normal_pair_double(Philox4x32::generate(99, static_cast<uint64_t>(j)));
        a = p.first;
        b = p.second;
      } else {
        const U32x4 w = Philox4x32::generate(99, static_cast<uint64_t>(j / 2));
        const int k = static_cast<int>(j % 2) * 2;
        const auto p = tessera::normal_pair(w[k], w[k + 1]);
        a = p.first;
        b = p.second;
      }
      REQUIRE(std::isfinite(a));
      REQUIRE(std::isfinite(b));
      xs.push_back(a);
      xs.push_back(b);
      cross += a * b;
    }
    double sum = 0, sum_sq = 0;
    for (double x : xs) {
      sum += x;
      sum_sq += x * x;
    }
    const double m = static_cast<double>(xs.size());
    CHECK(std::fabs(sum / m) < 5 / std::sqrt(m));
    CHECK(std::fabs(sum_sq / m - 1.0) < 5 * std::sqrt(2.0 / m));
    CHECK(std::fabs(cross / (m / 2)) < 5 / std::sqrt(m / 2));  // the two members are uncorrelated
    const double d = ks_statistic(xs, phi);
    INFO("KS D = " << d << " with n = " << m);
    CHECK(d < 1.95 / std::sqrt(m));  // p ~ 0.001
  }
}

TEST_CASE("normal_pair stays finite at the extreme words", "[kernels][philox]") {
  for (uint32_t a : {0u, 1u, 0xFFu, 0x100u, 0xFFFFFFFFu}) {
    for (uint32_t b : {0u, 0x40000000u, 0x80000000u, 0xFFFFFFFFu}) {
      const auto p = tessera::normal_pair(a, b);
      CHECK(std::isfinite(p.first));
      CHECK(std::isfinite(p.second));
      CHECK(std::hypot(p.first, p.second) <= 5.8f);
    }
  }
  const auto p = tessera::normal_pair_double(U32x4{{0, 0, 0, 0}});
  CHECK(std::isfinite(p.first));
  CHECK(std::fabs(p.first - std::sqrt(-2.0 * std::log(0x1p-53))) < 1e-12);
}
