// SPDX-License-Identifier: Apache-2.0
/// @brief Reductions (tessera::native) against float64 references: every subset of dims of a 4-d
/// tensor with keepdim true/false and negative dims, non-contiguous inputs, empty and 0-d tensors,
/// NaN propagation, argmax ties, stable logsumexp, var corrections, softmax, and bit-identical
/// results on 1, 2 and 3 threads for inputs beyond 1M elements.
///
/// Tolerances: reductions accumulate in float64 (integers in int64) and round once to the output
/// dtype, so the per-dtype table of test_util.h applies; prod/var/std/logsumexp get 2x rtol for the
/// extra libm/roundings in 16-bit and float32 outputs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>

#include <tessera/creation.h>
#include <tessera/native.h>

#include "test_util.h"

using namespace tessera;
using namespace tessera::test;
namespace nt = tessera::native;
using Catch::Contains;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

using Fold = std::function<double(const std::vector<double>&)>;

/// Reference reduction: collects the values of each output element (in row-major order of the
/// reduced dims) and folds them. `dims` are as given to the op (may be negative; empty = all).
Ref reduce_ref(const Tensor& x, const Shape& dims_in, bool keepdim, DType out_dtype,
               const Fold& fold) {
  const int64_t nd = x.dim();
  std::vector<bool> red(static_cast<size_t>(nd), dims_in.empty());
  for (int64_t d : dims_in)
    red[static_cast<size_t>(d < 0 ? d + std::max<int64_t>(nd, 1) : d)] = true;
  Shape out_shape, kept;
  for (int64_t d = 0; d < nd; ++d) {
    if (!red[d]) {
      out_shape.push_back(x.shape()[d]);
      kept.push_back(d);
    } else if (keepdim) {
      out_shape.push_back(1);
    }
  }
  const int64_t nout = numel_of(out_shape);
  std::vector<std::vector<double>> groups(static_cast<size_t>(nout));
  for_each_index(x.shape(), [&](const Shape& i) {
    Shape o;
    for (int64_t d = 0; d < nd; ++d) {
      if (!red[d])
        o.push_back(i[d]);
      else if (keepdim)
        o.push_back(0);
    }
    groups[static_cast<size_t>(flat_index(out_shape, o))].push_back(get(x, i));
  });
  Ref r(out_shape);
  for (int64_t k = 0; k < nout; ++k) r.v[k] = round_to(out_dtype, fold(groups[k]));
  return r;
}

double f_sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }
double f_mean(const std::vector<double>& v) { return f_sum(v) / static_cast<double>(v.size()); }
double f_prod(const std::vector<double>& v) {
  double p = 1;
  for (double e : v) p *= e;
  return p;
}
double f_max(const std::vector<double>& v) {
  double m = -kInf;
  for (double e : v) {
    if (std::isnan(e)) return e;
    m = std::max(m, e);
  }
  return m;
}
double f_min(const std::vector<double>& v) {
  double m = kInf;
  for (double e : v) {
    if (std::isnan(e)) return e;
    m = std::min(m, e);
  }
  return m;
}
Fold f_var(int64_t correction) {
  return [correction](const std::vector<double>& v) {
    const double m = f_mean(v);
    double ss = 0;
    for (double e : v) ss += (e - m) * (e - m);
    return ss / static_cast<double>(static_cast<int64_t>(v.size()) - correction);
  };
}
double f_lse(const std::vector<double>& v) {
  const double m = f_max(v);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (double e : v) s += std::exp(e - m);
  return m + std::log(s);
}

/// All subsets of {0, .., n-1}; each also tried with negative spelling when `negative`.
std::vector<Shape> subsets(int64_t n, bool negative) {
  std::vector<Shape> out;
  for (int mask = 0; mask < (1 << n); ++mask) {
    Shape s;
    for (int64_t d = 0; d < n; ++d)
      if (mask & (1 << d)) s.push_back(negative ? d - n : d);
    out.push_back(s);
  }
  return out;
}

Tol widened(DType dt, double factor) {
  Tol t = tol_for(dt);
  t.rtol *= factor;
  t.atol *= factor;
  return t;
}

}  // namespace

TEST_CASE("reductions over every subset of dims of a 4-d tensor", "[tensor][reduce]") {
  std::mt19937 rng(21);
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16);
  const Layout layout =
      GENERATE(Layout::Contiguous, Layout::Transposed, Layout::Strided, Layout::Broadcast);
  const bool keepdim = GENERATE(false, true);
  const bool negative = GENERATE(false, true);
  CAPTURE(dt, layout_name(layout), keepdim, negative);
  const Tensor x = random_tensor({3, 4, 1, 5}, dt, rng, layout, 0.5, 1.5);
  for (const Shape& dims : subsets(4, negative)) {
    CAPTURE(shape_str(dims));
    check_close("sum", nt::sum(x, dims, keepdim), reduce_ref(x, dims, keepdim, dt, f_sum));
    check_close("mean", nt::mean(x, dims, keepdim), reduce_ref(x, dims, keepdim, dt, f_mean));
    check_close("prod", nt::prod(x, dims, keepdim), reduce_ref(x, dims, keepdim, dt, f_prod),
                widened(dt, 2));
    check_equal("amax", nt::amax(x, dims, keepdim), reduce_ref(x, dims, keepdim, dt, f_max));
    check_equal("amin", nt::amin(x, dims, keepdim), reduce_ref(x, dims, keepdim, dt, f_min));
    check_close("logsumexp", nt::logsumexp(x, dims, keepdim),
                reduce_ref(x, dims, keepdim, dt, f_lse), widened(dt, 2));
    for (int64_t corr : {0, 1}) {
      CAPTURE(corr);
      const Ref vr = reduce_ref(x, dims, keepdim, dt, f_var(corr));
      check_close("var", nt::var(x, dims, corr, keepdim), vr, widened(dt, 2));
      Ref sr = vr;
      for (auto& v : sr.v) v = round_to(dt, std::sqrt(v));
      check_close("std", nt::std(x, dims, corr, keepdim), sr, widened(dt, 2));
    }
    CHECK(nt::sum(x, dims, keepdim).dtype() == dt);
  }
}

TEST_CASE("integer and bool reductions accumulate exactly in int64", "[tensor][reduce]") {
  std::mt19937 rng(22);
  const DType dt = GENERATE(kInt32, kInt64, kBool);
  const Layout layout = GENERATE(Layout::Contiguous, Layout::Transposed, Layout::Strided);
  const bool keepdim = GENERATE(false, true);
  CAPTURE(dt, layout_name(layout), keepdim);
  const Tensor x = random_tensor({3, 7, 5}, dt, rng, layout, -3, 3);  // prod of 105 stays < 2^63
  for (const Shape& dims : subsets(3, false)) {
    CAPTURE(shape_str(dims));
    const Tensor s = nt::sum(x, dims, keepdim);
    CHECK(s.dtype() == kInt64);
    check_equal("sum", s, reduce_ref(x, dims, keepdim, kInt64, f_sum));
    CHECK(nt::prod(x, dims, keepdim).dtype() == kInt64);
    check_equal("prod", nt::prod(x, dims, keepdim), reduce_ref(x, dims, keepdim, kInt64, f_prod));
    check_equal("amax", nt::amax(x, dims, keepdim), reduce_ref(x, dims, keepdim, dt, f_max));
    check_equal("amin", nt::amin(x, dims, keepdim), reduce_ref(x, dims, keepdim, dt, f_min));
    const Tensor m = nt::mean(x, dims, keepdim);
    CHECK(m.dtype() == kFloat32);
    check_close("mean", m, reduce_ref(x, dims, keepdim, kFloat32, f_mean));
  }
  // int64 extremes beyond 2^53 must not go through double.
  const int64_t big = (int64_t{1} << 60) + 1;
  const Tensor b = from_vector(std::vector<int64_t>{big - 1, big, big - 2}, {3});
  CHECK(nt::amax(b).item<int64_t>() == big);
  CHECK(nt::amin(b).item<int64_t>() == big - 2);
  CHECK(nt::max(b, 0).first.item<int64_t>() == big);
  CHECK(nt::argmax(b, 0).item<int64_t>() == 1);
  CHECK(nt::sum(b).item<int64_t>() == 3 * big - 3);
}

TEST_CASE("max/min/argmax/argmin along one dim", "[tensor][reduce][arg]") {
  std::mt19937 rng(23);
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16, kInt32, kInt64);
  const Layout layout = GENERATE(Layout::Contiguous, Layout::Transposed, Layout::Strided);
  const bool keepdim = GENERATE(false, true);
  CAPTURE(dt, layout_name(layout), keepdim);
  // Few distinct values: ties are frequent, so first-occurrence is exercised.
  const Tensor x = random_tensor({4, 7, 3, 5}, dt, rng, layout, -3, 3);
  const Tensor xr = is_floating(dt) ? nt::round(x) : x;
  for (int64_t dim : {0, 1, 2, 3, -1, -3}) {
    CAPTURE(dim);
    auto argfold = [](bool is_max) {
      return [is_max](const std::vector<double>& v) {
        size_t best = 0;
        for (size_t i = 1; i < v.size(); ++i)
          if (is_max ? v[i] > v[best] : v[i] < v[best]) best = i;
        return static_cast<double>(best);
      };
    };
    const auto [mx, imx] = nt::max(xr, dim, keepdim);
    const auto [mn, imn] = nt::min(xr, dim, keepdim);
    CHECK(imx.dtype() == kInt64);
    CHECK(mx.dtype() == xr.dtype());
    check_equal("max values", mx, reduce_ref(xr, {dim}, keepdim, xr.dtype(), f_max));
    check_equal("min values", mn, reduce_ref(xr, {dim}, keepdim, xr.dtype(), f_min));
    check_equal("max indices", imx, reduce_ref(xr, {dim}, keepdim, kInt64, argfold(true)));
    check_equal("min indices", imn, reduce_ref(xr, {dim}, keepdim, kInt64, argfold(false)));
    check_equal("argmax", nt::argmax(xr, dim, keepdim),
                reduce_ref(xr, {dim}, keepdim, kInt64, argfold(true)));
    check_equal("argmin", nt::argmin(xr, dim, keepdim),
                reduce_ref(xr, {dim}, keepdim, kInt64, argfold(false)));
  }
}

TEST_CASE("NaN propagation and special values", "[tensor][reduce][nan]") {
  const Tensor x = from_vector(std::vector<double>{1, kNaN, 3, kNaN, 2, 5, -kInf, 0, 7}, {3, 3});
  check_equal("sum", nt::sum(x, {1}), Ref({3}, {kNaN, kNaN, -kInf}));
  check_equal("amax", nt::amax(x, {1}), Ref({3}, {kNaN, kNaN, 7}));
  check_equal("amin", nt::amin(x, {0}), Ref({3}, {kNaN, kNaN, 3}));
  const auto [v, i] = nt::max(x, 1);
  check_equal("max NaN value", v, Ref({3}, {kNaN, kNaN, 7}));
  check_equal("max NaN index is the first NaN", i, Ref({3}, {1, 0, 2}));
  check_equal("argmin NaN", nt::argmin(x, 1), Ref({3}, {1, 0, 0}));
  check_equal("var NaN", nt::var(x, {1}), Ref({3}, {kNaN, kNaN, kNaN}));  // -inf row: inf - inf
  // Ties: the first occurrence wins.
  const Tensor t = from_vector(std::vector<float>{2, 5, 5, 1, 1, 5}, {6});
  CHECK(nt::argmax(t, 0).item<int64_t>() == 1);
  CHECK(nt::argmin(t, 0).item<int64_t>() == 3);
  CHECK(nt::argmax(from_vector(std::vector<double>{-kInf, -kInf}), 0).item<int64_t>() == 0);
}

TEST_CASE("logsumexp is stable", "[tensor][reduce][logsumexp]") {
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16);
  CAPTURE(dt);
  const Tensor x = nt::to(from_vector(std::vector<double>{1000, 1000, 999,      // large
                                                          -kInf, -kInf, -kInf,  // all -inf
                                                          -kInf, 0, -kInf,      // one finite
                                                          -1000, -1001, -1002,  // large negative
                                                          kInf, 1, 2},          // +inf
                                      {5, 3}),
                          dt);
  const Ref ref = reduce_ref(x, {1}, false, dt, f_lse);
  check_close("logsumexp rows", nt::logsumexp(x, {1}), ref, widened(dt, 2));
  CHECK(std::isfinite(get(nt::logsumexp(x, {1}), {0})));
  CHECK(get(nt::logsumexp(x, {1}), {1}) == -kInf);
  CHECK(get(nt::logsumexp(zeros({2, 0}), {1}), {0}) == -kInf);
  // log_softmax of the large rows: x - lse must be formed before rounding to 16 bits.
  const Tensor row = nt::narrow(x, 0, 0, 1);
  const std::vector<double> rv = values(row);
  const double l = f_lse(rv);
  check_close(
      "log_softmax", nt::log_softmax(row, 1),
      Ref({1, 3}, {round_to(dt, rv[0] - l), round_to(dt, rv[1] - l), round_to(dt, rv[2] - l)}),
      widened(dt, 2));
}

TEST_CASE("softmax and log_softmax against float64", "[tensor][reduce][softmax]") {
  std::mt19937 rng(24);
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16);
  const Layout layout = GENERATE(Layout::Contiguous, Layout::Transposed, Layout::Strided);
  CAPTURE(dt, layout_name(layout));
  const Tensor x = random_tensor({5, 17, 3}, dt, rng, layout, -8, 8);
  for (int64_t dim : {0, 1, -1}) {
    CAPTURE(dim);
    const int64_t w = dim < 0 ? dim + 3 : dim;
    Ref sm(x.shape()), lsm(x.shape());
    for_each_index(x.shape(), [&](const Shape& i) {
      std::vector<double> row;
      Shape j = i;
      for (int64_t k = 0; k < x.shape()[w]; ++k) {
        j[w] = k;
        row.push_back(get(x, j));
      }
      const double lse = f_lse(row);
      sm.at(i) = round_to(dt, std::exp(get(x, i) - lse));
      lsm.at(i) = round_to(dt, get(x, i) - lse);
    });
    check_close("softmax", nt::softmax(x, dim), sm, widened(dt, 4));
    check_close("log_softmax", nt::log_softmax(x, dim), lsm, widened(dt, 4));
  }
}

TEST_CASE("reductions of 0-d and empty tensors", "[tensor][reduce][empty]") {
  const Tensor s = scalar_tensor(2.5, {.dtype = kFloat64});
  CHECK(nt::sum(s).item<double>() == 2.5);
  CHECK(nt::sum(s, {0}).dim() == 0);
  CHECK(nt::sum(s, {-1}, true).dim() == 0);
  CHECK(nt::amax(s).item<double>() == 2.5);
  CHECK(nt::argmax(s, 0).item<int64_t>() == 0);
  CHECK(nt::mean(s).item<double>() == 2.5);
  REQUIRE_THROWS_WITH(nt::sum(s, {1}), Contains("sum") && Contains("out of range"));

  const Tensor e = zeros({3, 0, 2});
  check_equal("sum over empty dim", nt::sum(e, {1}), Ref({3, 2}, {0, 0, 0, 0, 0, 0}));
  check_equal("prod over empty dim", nt::prod(e, {1}), Ref({3, 2}, {1, 1, 1, 1, 1, 1}));
  CHECK(std::isnan(get(nt::mean(e, {1}), {0, 0})));
  check_equal("sum keeping the empty dim", nt::sum(e, {2}, true), Ref({3, 0, 1}, {}));
  CHECK(nt::sum(e).item<float>() == 0);
  CHECK(get(nt::logsumexp(e, {1}), {0, 0}) == -kInf);
  REQUIRE_THROWS_WITH(nt::amax(e, {1}), Contains("amax") && Contains("empty"));
  REQUIRE_THROWS_WITH(nt::argmax(e, 1), Contains("argmax") && Contains("[3, 0, 2]"));
  CHECK(nt::amax(e, {0}).shape() == Shape{0, 2});  // reducing a non-empty dim of an empty tensor
}

TEST_CASE("reduction errors name the op", "[tensor][reduce][errors]") {
  const Tensor x = ones({2, 3, 4});
  REQUIRE_THROWS_WITH(nt::sum(x, {1, -2}), Contains("sum") && Contains("more than once"));
  REQUIRE_THROWS_WITH(nt::mean(x, {0, 0}), Contains("mean") && Contains("more than once"));
  REQUIRE_THROWS_WITH(nt::amax(x, {3}), Contains("amax") && Contains("out of range"));
  REQUIRE_THROWS_WITH(nt::var(ones({3}, {.dtype = kInt64})), Contains("var") && Contains("int64"));
  REQUIRE_THROWS_WITH(nt::argmax(x, -4), Contains("argmax") && Contains("out of range"));
  REQUIRE_THROWS_WITH(nt::logsumexp(x, {5}), Contains("logsumexp"));
}

TEST_CASE("var with correction larger than the count", "[tensor][reduce][var]") {
  const Tensor x = tensor({1.0, 3.0});
  CHECK(nt::var(x, {}, 0).item<double>() == 1.0);
  CHECK(nt::var(x, {}, 1).item<double>() == 2.0);
  CHECK(std::isnan(nt::var(tensor({1.0}), {}, 1).item<double>()));
  // Large mean, small spread: the two-pass algorithm keeps full precision.
  const Tensor big = tensor({1e9 + 1, 1e9 + 2, 1e9 + 3}, {.dtype = kFloat64});
  CHECK(nt::var(big).item<double>() == 1.0);
  const Tensor bigf = tensor({1e4f + 1, 1e4f + 2, 1e4f + 3});
  CHECK(nt::var(bigf).item<float>() == 1.0f);
}

TEST_CASE("large reductions are accurate and bit-identical on 1, 2, 3 threads",
          "[tensor][reduce][determinism]") {
  std::mt19937 rng(25);
  const int64_t rows = TESSERA_TEST_BIG(1031, 131),
                cols = TESSERA_TEST_BIG(1029, 257);  // > 1M in Release
  const Tensor x = random_tensor({rows, cols}, kFloat32, rng, Layout::Contiguous, -1, 3);
  const Tensor xt = random_tensor({rows, cols}, kFloat32, rng, Layout::Transposed, -1, 3);
  auto run = [&] {
    return std::vector<Tensor>{nt::sum(x),        nt::sum(x, {0}),
                               nt::sum(x, {1}),   nt::mean(x),
                               nt::mean(xt, {0}), nt::var(x),
                               nt::var(x, {1}),   nt::var(xt, {0}, 0),
                               nt::std(x, {0}),   nt::logsumexp(x, {0}),
                               nt::amax(xt, {1}), nt::sum(nt::to(x, kBFloat16))};
  };
  std::vector<Tensor> ref;
  {
    ThreadCount tc(1);
    ref = run();
  }
  for (int threads : {2, 3}) {
    ThreadCount tc(threads);
    const auto got = run();
    for (size_t k = 0; k < got.size(); ++k) {
      CAPTURE(threads, k);
      CHECK(bitwise_equal(got[k], ref[k]));
    }
  }
  // Accuracy of the big sums against float64 (one rounding of a float64 accumulation).
  check_close("sum all", ref[0], reduce_ref(x, {}, false, kFloat32, f_sum));
  check_close("sum dim 0 (column path)", ref[1], reduce_ref(x, {0}, false, kFloat32, f_sum));
  check_close("sum dim 1", ref[2], reduce_ref(x, {1}, false, kFloat32, f_sum));
  check_close("mean transposed dim 0", ref[4], reduce_ref(xt, {0}, false, kFloat32, f_mean));
  check_close("var all", ref[5], reduce_ref(x, {}, false, kFloat32, f_var(1)));
  check_close("var transposed", ref[7], reduce_ref(xt, {0}, false, kFloat32, f_var(0)));
}
