// SPDX-License-Identifier: Apache-2.0
/// @brief Random tensors: the documented Philox stream layout, reproducibility (same seed, any
/// thread count), generator offsets, and distribution checks with explicit 6-sigma bounds.
///
/// Statistical bounds (N draws, all at 6 standard errors, so a correct generator fails with
/// probability ~2e-9 per check):
///   uniform mean:     |m - 1/2|  <= 6 sqrt(1/12 / N)
///   uniform variance: |v - 1/12| <= 6 sqrt((1/80 - 1/144) / N)
///   normal mean:      |m|        <= 6 / sqrt(N)
///   normal variance:  |v - 1|    <= 6 sqrt(2 / N)
///   normal kurtosis:  |k - 3|    <= 6 sqrt(24 / N)
///   bernoulli(p):     |f - p|    <= 6 sqrt(p (1 - p) / N)
///   randint, K bins:  chi^2 <= (K - 1) + 6 sqrt(2 (K - 1))
#include <catch2/catch.hpp>

#include <cmath>

#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/philox.h>
#include <tessera/random.h>

#include "test_util.h"

using namespace tessera;
using namespace tessera::test;
namespace nt = tessera::native;
using Catch::Contains;

namespace {

const int64_t kN = TESSERA_TEST_BIG(int64_t{1} << 20, int64_t{1} << 16);

struct Moments {
  double mean, var, kurt;
};
Moments moments(const Tensor& t) {
  const std::vector<double> v = values(t);
  const double n = static_cast<double>(v.size());
  double m = 0;
  for (double x : v) m += x;
  m /= n;
  double m2 = 0, m4 = 0;
  for (double x : v) {
    const double d = (x - m) * (x - m);
    m2 += d;
    m4 += d * d;
  }
  m2 /= n;
  m4 /= n;
  return {m, m2, m4 / (m2 * m2)};
}

}  // namespace

TEST_CASE("rand/randn/randint follow the documented Philox stream layout", "[tensor][random]") {
  Generator g(1234);
  g.set_state(1234, 7);
  const Tensor u = rand({3, 5}, {}, &g);  // 15 floats: 4 counters
  CHECK(g.offset() == 7 + 4);
  for (int64_t i = 0; i < 15; ++i) {
    const float expect =
        uniform_float(Philox4x32::generate(1234, 7 + i / 4)[static_cast<int>(i % 4)]);
    CHECK(get(u, {i / 5, i % 5}) == expect);
  }
  const Tensor ud = rand({5}, {.dtype = kFloat64}, &g);  // 5 doubles: 3 counters
  CHECK(g.offset() == 11 + 3);
  for (int64_t i = 0; i < 5; ++i) {
    const U32x4 w = Philox4x32::generate(1234, 11 + i / 2);
    const int k = static_cast<int>(i % 2) * 2;
    CHECK(get(ud, {i}) == uniform_double(w[k], w[k + 1]));
  }
  const Tensor z = randn({6}, {}, &g);
  CHECK(g.offset() == 14 + 2);
  for (int64_t i = 0; i < 6; ++i) {
    const U32x4 w = Philox4x32::generate(1234, 14 + i / 4);
    const int k = static_cast<int>(i % 4) & ~1;
    const FloatPair p = normal_pair(w[k], w[k + 1]);
    CHECK(get(z, {i}) == (i % 2 == 0 ? p.first : p.second));
  }
}

TEST_CASE("same seed gives the same numbers; offsets advance; manual_seed resets",
          "[tensor][random]") {
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16);
  CAPTURE(dt);
  Generator a(42), b(42), c(43);
  const Tensor x1 = rand({7, 33}, {.dtype = dt}, &a), y1 = rand({7, 33}, {.dtype = dt}, &b);
  CHECK(bitwise_equal(x1, y1));
  CHECK(x1.dtype() == dt);
  CHECK_FALSE(bitwise_equal(x1, rand({7, 33}, {.dtype = dt}, &c)));
  const Tensor x2 = rand({7, 33}, {.dtype = dt}, &a);
  CHECK_FALSE(bitwise_equal(x1, x2));  // the offset moved on
  a.manual_seed(42);
  CHECK(a.offset() == 0);
  CHECK(bitwise_equal(rand({7, 33}, {.dtype = dt}, &a), x1));
  // The default generator.
  manual_seed(5);
  const Tensor d1 = randn({129}, {.dtype = dt});
  const Tensor d2 = randn({129}, {.dtype = dt});
  CHECK_FALSE(bitwise_equal(d1, d2));
  manual_seed(5);
  CHECK(bitwise_equal(randn({129}, {.dtype = dt}), d1));
  CHECK(default_generator().seed() == 5);
}

TEST_CASE("random draws are identical on 1, 2 and 3 threads", "[tensor][random][determinism]") {
  auto draw = [] {
    Generator g(99);
    return std::vector<Tensor>{rand({kN}, {}, &g), randn({kN + 3}, {.dtype = kFloat64}, &g),
                               randint(-5, 17, {kN / 2 + 1}, {.dtype = kInt64}, &g),
                               bernoulli(0.3, {kN / 4}, {}, &g),
                               normal(2, 3, {1001}, {.dtype = kBFloat16}, &g)};
  };
  std::vector<Tensor> ref;
  {
    ThreadCount tc(1);
    ref = draw();
  }
  for (int threads : {2, 3}) {
    ThreadCount tc(threads);
    const auto got = draw();
    for (size_t k = 0; k < got.size(); ++k) {
      CAPTURE(threads, k);
      CHECK(bitwise_equal(got[k], ref[k]));
    }
  }
}

TEST_CASE("rand is uniform on [0, 1)", "[tensor][random][stats]") {
  const DType dt = GENERATE(kFloat32, kFloat64);
  CAPTURE(dt);
  Generator g(7);
  const Tensor u = rand({kN}, {.dtype = dt}, &g);
  const double n = static_cast<double>(kN);
  CHECK(nt::amin(u).item<double>() >= 0.0);
  CHECK(nt::amax(u).item<double>() < 1.0);
  const Moments m = moments(u);
  CHECK(std::abs(m.mean - 0.5) <= 6 * std::sqrt(1.0 / 12 / n));
  CHECK(std::abs(m.var - 1.0 / 12) <= 6 * std::sqrt((1.0 / 80 - 1.0 / 144) / n));
  // bfloat16 draws are rounded float32 draws: still in [0, 1] (1 may appear after rounding).
  const Tensor ub = rand({4096}, {.dtype = kBFloat16}, &g);
  CHECK(nt::amin(ub).item<float>() >= 0.0f);
  CHECK(nt::amax(ub).item<float>() <= 1.0f);
  // uniform_ fills a strided view in [low, high).
  Tensor base = zeros({64, 2 * 257}, {.dtype = dt});
  Tensor view = nt::slice(base, 1, 0, 2 * 257, 2);
  uniform_(view, -3, 5, &g);
  CHECK(nt::amin(view).item<double>() >= -3);
  CHECK(nt::amax(view).item<double>() < 5);
  CHECK(nt::amax(nt::abs(nt::slice(base, 1, 1, 2 * 257, 2))).item<double>() == 0);  // untouched
  const Moments mv = moments(view);
  CHECK(std::abs(mv.mean - 1) <= 6 * 8 * std::sqrt(1.0 / 12 / (64 * 257)));
}

TEST_CASE("randn and normal have the right moments", "[tensor][random][stats]") {
  const DType dt = GENERATE(kFloat32, kFloat64);
  CAPTURE(dt);
  Generator g(8);
  const double n = static_cast<double>(kN);
  const Moments m = moments(randn({kN}, {.dtype = dt}, &g));
  CHECK(std::abs(m.mean) <= 6 / std::sqrt(n));
  CHECK(std::abs(m.var - 1) <= 6 * std::sqrt(2 / n));
  CHECK(std::abs(m.kurt - 3) <= 6 * std::sqrt(24 / n));
  const Moments mn = moments(normal(-2.5, 0.5, {kN}, {.dtype = dt}, &g));
  CHECK(std::abs(mn.mean + 2.5) <= 6 * 0.5 / std::sqrt(n));
  CHECK(std::abs(mn.var - 0.25) <= 6 * 0.25 * std::sqrt(2 / n));
  Tensor t = empty({kN / 4, 4}, {.dtype = dt});
  Tensor tv = nt::transpose(t, 0, 1);
  normal_(tv, 1, 2, &g);
  const Moments mt = moments(t);
  CHECK(std::abs(mt.mean - 1) <= 6 * 2 / std::sqrt(n));
  REQUIRE_THROWS_WITH(normal(0, -1, {2}), Contains("normal") && Contains("-1"));
  REQUIRE_THROWS_WITH(randn({2}, {.dtype = kInt64}), Contains("randn") && Contains("int64"));
  REQUIRE_THROWS_WITH(rand({2}, {.dtype = kBool}), Contains("rand") && Contains("bool"));
}

TEST_CASE("randint covers [low, high) uniformly", "[tensor][random][stats]") {
  Generator g(9);
  const int64_t low = -3, high = 7, K = high - low;
  const Tensor r = randint(low, high, {kN}, {.dtype = kInt64}, &g);
  CHECK(r.dtype() == kInt64);
  std::vector<double> counts(static_cast<size_t>(K), 0);
  int64_t out_of_range = 0;
  for (double v : values(r)) {
    if (v < low || v >= high) {
      ++out_of_range;
      continue;
    }
    counts[static_cast<size_t>(v - low)] += 1;
  }
  REQUIRE(out_of_range == 0);
  const double expect = static_cast<double>(kN) / static_cast<double>(K);
  double chi2 = 0;
  for (double c : counts) chi2 += (c - expect) * (c - expect) / expect;
  const double df = static_cast<double>(K - 1);
  CHECK(chi2 <= df + 6 * std::sqrt(2 * df));
  CHECK(randint(0, 3, {5}, {.dtype = kInt32}, &g).dtype() == kInt32);
  CHECK(nt::amax(randint(5, 6, {100}, {.dtype = kInt64}, &g)).item<int64_t>() == 5);
  // A huge range still lands in range.
  const Tensor big = randint(-(int64_t{1} << 62), int64_t{1} << 62, {1000}, {.dtype = kInt64}, &g);
  for (double v : values(big)) CHECK(std::abs(v) <= std::ldexp(1.0, 62));
  REQUIRE_THROWS_WITH(randint(3, 3, {2}), Contains("randint") && Contains("low"));
  REQUIRE_THROWS_WITH(randint(0, 2, {2}, {.dtype = kBool}),
                      Contains("randint") && Contains("bool"));
}

TEST_CASE("bernoulli frequencies", "[tensor][random][stats]") {
  Generator g(10);
  for (double p : {0.0, 0.05, 0.5, 0.9, 1.0}) {
    CAPTURE(p);
    const Tensor b = bernoulli(p, {kN}, {}, &g);
    CHECK(b.dtype() == kFloat32);
    const double f = nt::mean(b).item<double>();
    CHECK(std::abs(f - p) <= 6 * std::sqrt(p * (1 - p) / static_cast<double>(kN)) + 1e-12);
    CHECK(nt::equal(nt::logical_or(nt::eq(b, 0), nt::eq(b, 1)), ones({kN}, {.dtype = kBool})));
  }
  // Per-element probabilities, non-contiguous p.
  const Tensor pr =
      nt::transpose(from_vector(std::vector<double>{0, 1.0 / 3, 2.0 / 3, 1}, {2, 2}), 0, 1);
  const int reps = TESSERA_TEST_BIG(20000, 2000);
  Tensor pv = nt::expand(nt::unsqueeze(pr, 0), {reps, 2, 2});
  const Tensor draws = bernoulli(pv, &g);
  CHECK(draws.dtype() == kFloat64);
  const Tensor freq = nt::mean(draws, {0});
  for_each_index({2, 2}, [&](const Shape& i) {
    const double p = get(pr, i);
    CHECK(std::abs(get(freq, i) - p) <= 6 * std::sqrt(p * (1 - p) / reps) + 1e-12);
  });
  REQUIRE_THROWS_WITH(bernoulli(1.5, {2}), Contains("bernoulli") && Contains("1.5"));
  REQUIRE_THROWS_WITH(bernoulli(ones({2}, {.dtype = kInt64})), Contains("bernoulli"));
  REQUIRE_THROWS_WITH(bernoulli(tensor({0.5f, 2.0f})), Contains("bernoulli") && Contains("[0, 1]"));
}
