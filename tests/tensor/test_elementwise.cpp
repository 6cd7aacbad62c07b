// SPDX-License-Identifier: Apache-2.0
/// @brief Elementwise ops (tessera::native) against float64 references: broadcasting of every
/// pattern, NumPy/PyTorch type promotion with weak scalars, comparisons and logic, unary math (GELU
/// and its backward vs finite differences), selection, in-place ops on views, conversions, and
/// bit-for-bit determinism across thread counts.
///
/// Tolerances: the per-dtype table of test_util.h (one rounding to the result dtype; 16-bit ops
/// compute in float32 and round once). Integer and bool results are compared exactly.
#include <catch2/catch.hpp>

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

const Layout kLayouts[] = {Layout::Contiguous, Layout::Transposed, Layout::Strided,
                           Layout::Broadcast};
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

/// The input element that broadcasting maps output index `out` to.
Shape broadcast_index(const Shape& in_shape, const Shape& out) {
  const size_t lead = out.size() - in_shape.size();
  Shape idx(in_shape.size());
  for (size_t d = 0; d < in_shape.size(); ++d) idx[d] = in_shape[d] == 1 ? 0 : out[d + lead];
  return idx;
}

/// Reference for a broadcast binary op computed in double and stored in `out_dtype`.
Ref binary_ref(const Tensor& a, const Tensor& b, DType out_dtype,
               const std::function<double(double, double)>& f) {
  Shape shape(std::max(a.dim(), b.dim()));
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t la = static_cast<int64_t>(i) - (static_cast<int64_t>(shape.size()) - a.dim());
    const int64_t lb = static_cast<int64_t>(i) - (static_cast<int64_t>(shape.size()) - b.dim());
    const int64_t da = la < 0 ? 1 : a.shape()[la], db = lb < 0 ? 1 : b.shape()[lb];
    shape[i] = da == 1 ? db : da;
  }
  Ref r(shape);
  for_each_index(shape, [&](const Shape& i) {
    r.at(i) = round_to(
        out_dtype, f(get(a, broadcast_index(a.shape(), i)), get(b, broadcast_index(b.shape(), i))));
  });
  return r;
}

Ref unary_ref(const Tensor& x, DType out_dtype, const std::function<double(double)>& f) {
  Ref r(x.shape());
  for_each_index(x.shape(), [&](const Shape& i) { r.at(i) = round_to(out_dtype, f(get(x, i))); });
  return r;
}

double ipow(double base, double e) {
  double r = 1;
  for (int k = 0; k < static_cast<int>(e); ++k) r *= base;
  return r;
}

struct BinaryCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<double(double, double)> ref;
  bool true_div = false;  ///< integer inputs give float32
};

const std::vector<BinaryCase>& binary_cases() {
  static const std::vector<BinaryCase> cases = {
      {"add", [](auto& a, auto& b) { return nt::add(a, b); },
       [](double x, double y) { return x + y; }},
      {"sub", [](auto& a, auto& b) { return nt::sub(a, b); },
       [](double x, double y) { return x - y; }},
      {"mul", [](auto& a, auto& b) { return nt::mul(a, b); },
       [](double x, double y) { return x * y; }},
      {"div", [](auto& a, auto& b) { return nt::div(a, b); },
       [](double x, double y) { return x / y; }, true},
      {"maximum", [](auto& a, auto& b) { return nt::maximum(a, b); },
       [](double x, double y) { return std::max(x, y); }},
      {"minimum", [](auto& a, auto& b) { return nt::minimum(a, b); },
       [](double x, double y) { return std::min(x, y); }},
  };
  return cases;
}

struct ShapePair {
  Shape a, b;
};

}  // namespace

TEST_CASE("binary arithmetic broadcasts every pattern and matches float64",
          "[tensor][elementwise]") {
  std::mt19937 rng(11);
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16, kInt32, kInt64);
  const ShapePair sp = GENERATE(values<ShapePair>({
      {{1}, {1}},
      {{3}, {3}},
      {{7, 17}, {7, 17}},
      {{7, 17}, {17}},
      {{7, 17}, {7, 1}},
      {{3, 1}, {1, 5}},
      {{2, 3, 5}, {3, 1}},
      {{5, 1, 7}, {1, 6, 1}},
      {{}, {3, 4}},
      {{3, 4}, {}},
      {{}, {}},
      {{0, 3}, {3}},
      {{2, 0}, {1}},
      {TESSERA_TEST_BIG(Shape({33, 129}), Shape({5, 129})), {129}},
      {TESSERA_TEST_BIG(Shape({2, 129, 257}), Shape({2, 9, 17})), {1, 1, 1}},  // crosses the grain
      {{129, 1}, {1, 300}},
  }));
  const Layout la =
      GENERATE(Layout::Contiguous, Layout::Transposed, Layout::Strided, Layout::Broadcast);
#ifdef NDEBUG
  const Layout lb = GENERATE(Layout::Contiguous, Layout::Strided);
#else  // sanitizer builds: one right-hand layout keeps this case within seconds
  const Layout lb = GENERATE(Layout::Strided);
#endif
  CAPTURE(dt, shape_str(sp.a), shape_str(sp.b), layout_name(la), layout_name(lb));
  const Tensor a = random_tensor(sp.a, dt, rng, la, -5, 5);
  Tensor b = random_tensor(sp.b, dt, rng, lb, -5, 5);
  // Keep divisors away from zero (integer 0 would make a legitimate inf/nan either side).
  b = nt::where(nt::eq(b, 0), full_like(b, 3), b);
  for (const BinaryCase& c : binary_cases()) {
    CAPTURE(c.name);
    const DType out_dt = c.true_div && !is_floating(dt) ? kFloat32 : dt;
    const Tensor out = c.op(a, b);
    CHECK(out.dtype() == out_dt);
    CHECK(out.is_contiguous());
    check_close(c.name, out, binary_ref(a, b, out_dt, c.ref));
  }
}

TEST_CASE("pow for floating and integer dtypes", "[tensor][elementwise]") {
  std::mt19937 rng(12);
  SECTION("floating") {
    const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16);
    CAPTURE(dt);
    const Tensor base = random_tensor({7, 33}, dt, rng, Layout::Transposed, 0.1, 3);
    const Tensor e = random_tensor({33}, dt, rng, Layout::Contiguous, -2, 2);
    const Ref ref = binary_ref(base, e, dt, [](double x, double y) { return std::pow(x, y); });
    Tol tol = tol_for(dt);
    tol.rtol *= 2;  // std::pow(float) is within ~1 ulp of the correctly rounded result
    check_close("pow", nt::pow(base, e), ref, tol);
    check_close("pow scalar", nt::pow(base, 2.5),
                unary_ref(base, dt, [](double x) { return std::pow(x, 2.5); }), tol);
    CHECK(nt::pow(base, 2.5).dtype() == dt);
  }
  SECTION("integer: exact, by squaring") {
    const DType dt = GENERATE(kInt32, kInt64);
    const Tensor base = random_tensor({17, 3}, dt, rng, Layout::Strided, -6, 6);
    const Tensor e = random_tensor({17, 3}, dt, rng, Layout::Contiguous, 0, 9);
    const Tensor out = nt::pow(base, e);
    CHECK(out.dtype() == dt);
    check_equal("int pow", out, binary_ref(base, e, dt, ipow));
    // Negative exponents: 1 and -1 have exact results, everything else truncates to 0.
    const Tensor nb = from_vector(std::vector<int64_t>{1, -1, -1, 2, -3}, {5});
    const Tensor ne = from_vector(std::vector<int64_t>{-3, -2, -3, -1, -2}, {5});
    check_equal("int pow negative exponent", nt::pow(nb, ne), Ref({5}, {1, 1, -1, 0, 0}));
    // Large bases wrap (two's complement) instead of overflowing into UB.
    const Tensor big = from_vector(std::vector<int64_t>{3, 1 << 20}, {2});
    const Tensor wrapped = nt::pow(big, int64_t{40});
    CHECK(get_i64(wrapped, {0}) == static_cast<int64_t>(12157665459056928801ull));
    CHECK(get_i64(wrapped, {1}) == 0);
  }
}

TEST_CASE("type promotion table and weak scalars", "[tensor][elementwise][promotion]") {
  struct P {
    DType a, b, expect;
  };
  for (const P p :
       {P{kInt32, kFloat16, kFloat16}, P{kBFloat16, kFloat16, kFloat32}, P{kBool, kInt32, kInt32},
        P{kBool, kInt64, kInt64}, P{kInt32, kInt64, kInt64}, P{kFloat32, kFloat64, kFloat64},
        P{kInt64, kBFloat16, kBFloat16}, P{kBool, kBool, kBool}, P{kFloat16, kFloat32, kFloat32},
        P{kInt64, kFloat32, kFloat32}, P{kBool, kFloat16, kFloat16}}) {
    CAPTURE(p.a, p.b);
    CHECK(promote_types(p.a, p.b) == p.expect);
    CHECK(promote_types(p.b, p.a) == p.expect);
    const Tensor x = ones({2}, {.dtype = p.a}), y = ones({2}, {.dtype = p.b});
    CHECK(nt::add(x, y).dtype() == p.expect);
    CHECK(nt::mul(y, x).dtype() == p.expect);
    CHECK(nt::eq(x, y).dtype() == kBool);
  }
  // True division of integers gives float32.
  const Tensor i3 = from_vector(std::vector<int32_t>{7, -7, 1}, {3});
  const Tensor i2 = from_vector(std::vector<int32_t>{2, 2, 3}, {3});
  const Tensor q = nt::div(i3, i2);
  CHECK(q.dtype() == kFloat32);
  check_close("int/int", q, Ref({3}, {3.5, -3.5, round_to(kFloat32, 1.0 / 3)}));
  CHECK(nt::div(i3, 2).dtype() == kFloat32);
  CHECK(nt::rdiv(i3, 1).dtype() == kFloat32);

  SECTION("weak scalars keep the tensor's category") {
    const Tensor f32 = ones({2}), f16 = ones({2}, {.dtype = kFloat16}),
                 bf = ones({2}, {.dtype = kBFloat16});
    const Tensor i32 = ones({2}, {.dtype = kInt32}), i64 = ones({2}, {.dtype = kInt64});
    const Tensor b = ones({2}, {.dtype = kBool}), f64 = ones({2}, {.dtype = kFloat64});
    CHECK(nt::add(f32, 2.5).dtype() == kFloat32);
    CHECK(nt::add(f16, 2.5).dtype() == kFloat16);
    CHECK(nt::add(bf, 2).dtype() == kBFloat16);
    CHECK(nt::add(f64, 2.5f).dtype() == kFloat64);
    CHECK(nt::add(i32, 2.5).dtype() == kFloat32);
    CHECK(nt::add(i64, 2.5).dtype() == kFloat32);
    CHECK(nt::add(i32, 2).dtype() == kInt32);
    CHECK(nt::add(i32, int64_t{2}).dtype() == kInt32);
    CHECK(nt::add(b, 2).dtype() == kInt64);
    CHECK(nt::add(b, true).dtype() == kBool);
    CHECK(nt::select(nt::mul(i32, 2.5), 0, 1).item<float>() == 2.5f);
    check_close("i32 + 2.5", nt::add(i32, 2.5), Ref({2}, {3.5, 3.5}));
    check_equal("i32 + 2", nt::add(i32, 2), Ref({2}, {3, 3}));
    check_equal("rsub", nt::rsub(i32, 5), Ref({2}, {4, 4}));
    check_close("rdiv", nt::rdiv(f32, 3.0), Ref({2}, {3, 3}));
    check_close("sub scalar", nt::sub(f16, 0.5), Ref({2}, {0.5, 0.5}));
    // A 16-bit tensor with a floating scalar computes with the scalar in float32 and rounds once:
    // 1 + (2^-11 + 2^-22) is 1 + 2^-10 in float16, but 1 if the addend were rounded to float16
    // first (a tie, to 2^-11, then another tie, to 1).
    const double s = 1 + std::ldexp(1.0, -11) + std::ldexp(1.0, -22);
    check_equal("f16 * scalar rounds once", nt::mul(f16, s),
                Ref({2}, {1 + std::ldexp(1.0, -10), 1 + std::ldexp(1.0, -10)}));
    check_equal("f16 + scalar rounds once", nt::add(f16, s - 1),
                Ref({2}, {1 + std::ldexp(1.0, -10), 1 + std::ldexp(1.0, -10)}));
    CHECK(nt::mul(f16, s).dtype() == kFloat16);
    CHECK(nt::rsub(bf, 2.5).dtype() == kBFloat16);
    check_equal("bf16 rsub", nt::rsub(bf, 2.5), Ref({2}, {1.5, 1.5}));
    check_equal("bf16 rdiv", nt::rdiv(bf, 3), Ref({2}, {3, 3}));
    check_equal("bf16 div", nt::div(bf, 4), Ref({2}, {0.25, 0.25}));
    CHECK(nt::gt(i32, 0.5).dtype() == kBool);
    check_equal("i32 > 0.5 compares in float", nt::gt(i32, 0.5), Ref({2}, {1, 1}));
    check_equal("i32 < 1.5", nt::lt(i32, 1.5), Ref({2}, {1, 1}));
  }
  SECTION("errors name the op and both shapes") {
    REQUIRE_THROWS_WITH(nt::add(ones({2, 3}), ones({4})),
                        Contains("add") && Contains("[2, 3]") && Contains("[4]"));
    REQUIRE_THROWS_WITH(nt::mul(ones({2, 3}), ones({3, 2})),
                        Contains("mul") && Contains("[2, 3]") && Contains("[3, 2]"));
    REQUIRE_THROWS_WITH(nt::lt(ones({5}), ones({4})), Contains("lt") && Contains("[5]"));
    REQUIRE_THROWS_WITH(nt::sub(ones({2}, {.dtype = kBool}), ones({2}, {.dtype = kBool})),
                        Contains("sub") && Contains("bool"));
    REQUIRE_THROWS_WITH(nt::neg(ones({2}, {.dtype = kBool})), Contains("neg") && Contains("bool"));
    REQUIRE_THROWS_AS(nt::add(Tensor(), ones({1})), Error);
  }
}

TEST_CASE("comparisons and logical ops", "[tensor][elementwise][compare]") {
  std::mt19937 rng(13);
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16, kInt32, kInt64, kBool);
  const Layout la = GENERATE(Layout::Contiguous, Layout::Transposed, Layout::Strided);
  CAPTURE(dt, layout_name(la));
  // Small integer range so equality happens often.
  const Tensor a =
      nt::round(random_tensor({7, 33}, dt == kBool ? kBool : kFloat64, rng, la, -2, 2));
  const Tensor b0 =
      nt::round(random_tensor({33}, dt == kBool ? kBool : kFloat64, rng, Layout::Strided, -2, 2));
  const Tensor x = nt::to(a, dt), y = nt::to(b0, dt);
  struct C {
    const char* name;
    Tensor (*op)(const Tensor&, const Tensor&);
    bool (*ref)(double, double);
  };
  const C cases[] = {
      {"eq", nt::eq, [](double p, double q) { return p == q; }},
      {"ne", nt::ne, [](double p, double q) { return p != q; }},
      {"lt", nt::lt, [](double p, double q) { return p < q; }},
      {"le", nt::le, [](double p, double q) { return p <= q; }},
      {"gt", nt::gt, [](double p, double q) { return p > q; }},
      {"ge", nt::ge, [](double p, double q) { return p >= q; }},
      {"logical_and", nt::logical_and, [](double p, double q) { return p != 0 && q != 0; }},
      {"logical_or", nt::logical_or, [](double p, double q) { return p != 0 || q != 0; }},
      {"logical_xor", nt::logical_xor, [](double p, double q) { return (p != 0) != (q != 0); }},
  };
  for (const C& c : cases) {
    CAPTURE(c.name);
    const Tensor out = c.op(x, y);
    CHECK(out.dtype() == kBool);
    check_equal(c.name, out, binary_ref(x, y, kBool, [&](double p, double q) {
                  return c.ref(p, q) ? 1.0 : 0.0;
                }));
  }
  const Tensor n = nt::logical_not(x);
  CHECK(n.dtype() == kBool);
  check_equal("logical_not", n, unary_ref(x, kBool, [](double v) { return v == 0 ? 1.0 : 0.0; }));
  if (dt != kBool) {
    check_equal("ge scalar", nt::ge(x, 1),
                unary_ref(x, kBool, [](double v) { return v >= 1 ? 1.0 : 0.0; }));
    check_equal("ne scalar", nt::ne(x, 0),
                unary_ref(x, kBool, [](double v) { return v != 0 ? 1.0 : 0.0; }));
  }
}

TEST_CASE("comparisons with NaN follow IEEE", "[tensor][elementwise][compare]") {
  const Tensor a = tensor({1.0f, NAN, NAN, -INFINITY});
  const Tensor b = tensor({NAN, 1.0f, NAN, -INFINITY});
  check_equal("eq", nt::eq(a, b), Ref({4}, {0, 0, 0, 1}));
  check_equal("ne", nt::ne(a, b), Ref({4}, {1, 1, 1, 0}));
  check_equal("lt", nt::lt(a, b), Ref({4}, {0, 0, 0, 0}));
  check_equal("isnan", nt::isnan(a), Ref({4}, {0, 1, 1, 0}));
  check_equal("isfinite", nt::isfinite(a), Ref({4}, {1, 0, 0, 0}));
  check_equal("isnan int", nt::isnan(arange(0, 3)), Ref({3}, {0, 0, 0}));
  check_equal("isfinite int", nt::isfinite(arange(0, 3)), Ref({3}, {1, 1, 1}));
  check_equal("maximum NaN", nt::maximum(a, b), Ref({4}, {kNaN, kNaN, kNaN, -kInf}));
  check_equal("minimum NaN", nt::minimum(b, a), Ref({4}, {kNaN, kNaN, kNaN, -kInf}));
}

namespace {

struct UnaryCase {
  const char* name;
  Tensor (*op)(const Tensor&);
  double (*ref)(double);
  double lo, hi;
};

double gelu_ref(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh_ref(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

}  // namespace

TEST_CASE("unary math matches float64 libm", "[tensor][elementwise][unary]") {
  std::mt19937 rng(14);
  const UnaryCase cases[] = {
      {"neg", nt::neg, [](double v) { return -v; }, -3, 3},
      {"abs", nt::abs, [](double v) { return std::abs(v); }, -3, 3},
      {"sign", nt::sign, [](double v) { return double((v > 0) - (v < 0)); }, -3, 3},
      {"square", nt::square, [](double v) { return v * v; }, -3, 3},
      {"sqrt", nt::sqrt, [](double v) { return std::sqrt(v); }, 0.01, 9},
      {"rsqrt", nt::rsqrt, [](double v) { return 1 / std::sqrt(v); }, 0.01, 9},
      {"reciprocal", nt::reciprocal, [](double v) { return 1 / v; }, 0.1, 9},
      {"exp", nt::exp, [](double v) { return std::exp(v); }, -5, 5},
      {"log", nt::log, [](double v) { return std::log(v); }, 0.01, 9},
      {"log1p", nt::log1p, [](double v) { return std::log1p(v); }, -0.9, 3},
      {"expm1", nt::expm1, [](double v) { return std::expm1(v); }, -3, 3},
      {"sin", nt::sin, [](double v) { return std::sin(v); }, -3, 3},
      {"cos", nt::cos, [](double v) { return std::cos(v); }, -3, 3},
      {"tanh", nt::tanh, [](double v) { return std::tanh(v); }, -4, 4},
      {"erf", nt::erf, [](double v) { return std::erf(v); }, -3, 3},
      {"sigmoid", nt::sigmoid, [](double v) { return 1 / (1 + std::exp(-v)); }, -8, 8},
      {"relu", nt::relu, [](double v) { return v > 0 ? v : 0.0; }, -3, 3},
      {"floor", nt::floor, [](double v) { return std::floor(v); }, -5, 5},
      {"ceil", nt::ceil, [](double v) { return std::ceil(v); }, -5, 5},
      {"round", nt::round, [](double v) { return std::nearbyint(v); }, -5, 5},
      {"trunc", nt::trunc, [](double v) { return std::trunc(v); }, -5, 5},
      {"gelu", [](const Tensor& x) { return nt::gelu(x); }, gelu_ref, -5, 5},
      {"gelu_tanh", [](const Tensor& x) { return nt::gelu(x, true); }, gelu_tanh_ref, -5, 5},
  };
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16);
  const Layout layout = GENERATE(from_range(std::begin(kLayouts), std::end(kLayouts)));
  const Shape shape = GENERATE(Shape{}, Shape{1}, Shape{3, 7}, Shape{17, 129}, Shape{0, 5});
  CAPTURE(dt, layout_name(layout), shape_str(shape));
  for (const UnaryCase& c : cases) {
    CAPTURE(c.name);
    const Tensor x = random_tensor(shape, dt, rng, layout, c.lo, c.hi);
    const Tensor out = c.op(x);
    CHECK(out.dtype() == dt);
    CHECK(out.shape() == shape);
    // libm's float functions are within ~1-2 ulp; tanh/erf/expm1 near 0 need the atol.
    Tol tol = tol_for(dt);
    if (dt == kFloat32) tol = {2e-6, 4e-6};
    check_close(c.name, out, unary_ref(x, dt, c.ref), tol);
  }
}

TEST_CASE("unary ops on integer inputs", "[tensor][elementwise][unary]") {
  const Tensor i = from_vector(std::vector<int32_t>{-3, 0, 4}, {3});
  CHECK(nt::neg(i).dtype() == kInt32);
  check_equal("neg", nt::neg(i), Ref({3}, {3, 0, -4}));
  check_equal("abs", nt::abs(i), Ref({3}, {3, 0, 4}));
  check_equal("sign", nt::sign(i), Ref({3}, {-1, 0, 1}));
  check_equal("square", nt::square(i), Ref({3}, {9, 0, 16}));
  CHECK(nt::square(i).dtype() == kInt32);
  CHECK(nt::square(tensor({true, false})).dtype() == kInt64);
  CHECK(nt::relu(i).dtype() == kInt32);
  check_equal("relu", nt::relu(i), Ref({3}, {0, 0, 4}));
  const Tensor e = nt::exp(i);
  CHECK(e.dtype() == kFloat32);
  check_close("exp(int)", e, unary_ref(i, kFloat32, [](double v) { return std::exp(v); }));
  CHECK(nt::sqrt(tensor({true})).dtype() == kFloat32);
}

TEST_CASE("special values: NaN, inf, signed zero, half-to-even rounding",
          "[tensor][elementwise][unary]") {
  const Tensor r = tensor({-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49999999999999994, -0.0, 1e300});
  check_equal("round half to even", nt::round(r),
              Ref({10}, {-2, -2, -0.0, 0, 2, 2, 4, 0, 0, 1e300}));
  CHECK(std::signbit(get(nt::round(r), {2})));
  const Tensor rf = tensor({2.5f, 3.5f, -0.5f}, {.dtype = kFloat16});
  check_equal("round f16", nt::round(rf), Ref({3}, {2, 4, 0}));
  const Tensor s = tensor({-1.0, 0.0, INFINITY, NAN, -INFINITY});
  check_equal("sqrt", nt::sqrt(s), Ref({5}, {kNaN, 0, kInf, kNaN, kNaN}));
  check_equal("log", nt::log(s), Ref({5}, {kNaN, -kInf, kInf, kNaN, kNaN}));
  check_equal("exp", nt::exp(s), Ref({5}, {std::exp(-1.0), 1, kInf, kNaN, 0}));
  check_equal("sigmoid", nt::sigmoid(s), Ref({5}, {1 / (1 + std::exp(1.0)), 0.5, 1, kNaN, 0}));
  check_equal("tanh", nt::tanh(s), Ref({5}, {std::tanh(-1.0), 0, 1, kNaN, -1}));
  check_equal("relu propagates NaN (torch.relu)", nt::relu(s), Ref({5}, {0, 0, kInf, kNaN, 0}));
  check_equal("abs", nt::abs(s), Ref({5}, {1, 0, kInf, kNaN, kInf}));
  check_equal("sign", nt::sign(tensor({-2.0, 0.0, 3.0})), Ref({3}, {-1, 0, 1}));
  // torch.sign(nan) is 0 (pytorch/pytorch#41245, NumPy gives nan); tessera follows PyTorch.
  check_equal("sign NaN", nt::sign(tensor({NAN})), Ref({1}, {0}));
  check_close("gelu", nt::gelu(nt::narrow(s, 0, 0, 4)), Ref({4}, {gelu_ref(-1), 0, kInf, kNaN}));
  check_equal("reciprocal", nt::reciprocal(tensor({0.0, -0.0})), Ref({2}, {kInf, -kInf}));
  const Tensor big = tensor({-100.0f, 100.0f});
  check_close("sigmoid saturates without NaN", nt::sigmoid(big),
              Ref({2}, {round_to(kFloat32, std::exp(-100.0)), 1}));
}

TEST_CASE("gelu_backward matches central finite differences of gelu in float64",
          "[tensor][elementwise][gelu]") {
  std::mt19937 rng(15);
  const bool approx = GENERATE(false, true);
  CAPTURE(approx);
  const Tensor x = random_tensor({3, 129}, kFloat64, rng, Layout::Transposed, -6, 6);
  const Tensor g = random_tensor({129}, kFloat64, rng, Layout::Contiguous, -2, 2);
  const double h = 1e-5;
  const Tensor fp = nt::gelu(nt::add(x, h), approx), fm = nt::gelu(nt::sub(x, h), approx);
  const Tensor fd = nt::mul(nt::div(nt::sub(fp, fm), 2 * h), g);
  // Central differences: truncation ~h^2 f''' ~ 1e-10, rounding ~eps/h ~ 1e-11.
  check_close("gelu_backward vs FD", nt::gelu_backward(g, x, approx), Ref::of(fd), Tol{1e-8, 1e-7});
  // And the float32/bf16 versions against the float64 one.
  for (DType dt : {kFloat32, kBFloat16, kFloat16}) {
    CAPTURE(dt);
    const Tensor xd = nt::to(x, dt), gd = nt::to(g, dt);
    const Tensor ref64 = nt::gelu_backward(nt::to(gd, kFloat64), nt::to(xd, kFloat64), approx);
    Tol tol = tol_for(dt);
    if (dt == kFloat32) tol = {1e-5, 1e-5};
    check_close("gelu_backward low precision", nt::gelu_backward(gd, xd, approx),
                unary_ref(ref64, dt, [](double v) { return v; }), tol);
  }
}

TEST_CASE("where, masked_fill, clamp", "[tensor][elementwise][select]") {
  std::mt19937 rng(16);
  SECTION("where broadcasts cond, a and b, and promotes a with b") {
    const Tensor cond = random_tensor({5, 1, 7}, kBool, rng, Layout::Strided);
    const Tensor a = random_tensor({6, 1}, kFloat32, rng, Layout::Transposed);
    const Tensor b = random_tensor({7}, kFloat64, rng);
    const Tensor out = nt::where(cond, a, b);
    REQUIRE(out.shape() == Shape{5, 6, 7});
    CHECK(out.dtype() == kFloat64);
    Ref ref(out.shape());
    for_each_index(out.shape(), [&](const Shape& i) {
      ref.at(i) = get(cond, {i[0], 0, i[2]}) != 0 ? get(a, {i[1], 0}) : get(b, {i[2]});
    });
    check_equal("where", out, ref);
    const Tensor ws = nt::where(cond, a, 2.5);
    CHECK(ws.dtype() == kFloat32);
    REQUIRE_THROWS_WITH(nt::where(nt::to(cond, kInt32), a, b),
                        Contains("where") && Contains("bool"));
    REQUIRE_THROWS_WITH(nt::where(cond, ones({4}), b), Contains("where"));
  }
  SECTION("masked_fill") {
    const DType dt = GENERATE(kFloat32, kBFloat16, kInt64);
    const Tensor x = random_tensor({4, 9}, dt, rng, Layout::Transposed, -5, 5);
    const Tensor mask = random_tensor({9}, kBool, rng);
    const Tensor out = nt::masked_fill(x, mask, -7);
    CHECK(out.dtype() == dt);
    Ref ref(x.shape());
    for_each_index(x.shape(),
                   [&](const Shape& i) { ref.at(i) = get(mask, {i[1]}) != 0 ? -7.0 : get(x, i); });
    check_equal("masked_fill", out, ref);
    REQUIRE_THROWS_WITH(nt::masked_fill(x, nt::to(mask, kInt32), 0),
                        Contains("masked_fill") && Contains("bool"));
    REQUIRE_THROWS_WITH(nt::masked_fill(x, random_tensor({3, 4, 9}, kBool, rng), 0),
                        Contains("masked_fill"));
    // -inf fill (attention masks).
    const Tensor f = nt::masked_fill(ones({2}), tensor({true, false}), -INFINITY);
    check_equal("masked_fill -inf", f, Ref({2}, {-kInf, 1}));
  }
  SECTION("clamp") {
    const DType dt = GENERATE(kFloat32, kFloat64, kFloat16, kInt32);
    const Tensor x = random_tensor({7, 17}, dt, rng, Layout::Strided, -5, 5);
    check_close("clamp both", nt::clamp(x, -1, 2),
                unary_ref(x, dt, [](double v) { return std::clamp(v, -1.0, 2.0); }));
    check_close("clamp lo", nt::clamp(x, 0, std::nullopt),
                unary_ref(x, dt, [](double v) { return std::max(v, 0.0); }));
    check_close(
        "clamp hi", nt::clamp(x, std::nullopt, -0.5),
        unary_ref(x, is_floating(dt) ? dt : kFloat32, [](double v) { return std::min(v, -0.5); }));
    // lo > hi: every element becomes hi (torch.clamp's documented behaviour).
    check_close("clamp lo > hi", nt::clamp(x, 3, 1), unary_ref(x, dt, [](double) { return 1.0; }));
  }
  SECTION("clamp propagates NaN inputs") {
    const Tensor x = tensor({NAN, -3.0f, 0.5f, INFINITY});
    check_equal("clamp NaN", nt::clamp(x, -1, 1), Ref({4}, {kNaN, -1, 0.5, 1}));
    Tensor y = nt::clone(x);
    nt::clamp_(y, -1, 1);
    check_equal("clamp_ NaN", y, Ref({4}, {kNaN, -1, 0.5, 1}));
    CHECK(nt::clamp(tensor({1, 5}, {.dtype = kInt32}), 0.5, std::nullopt).dtype() == kFloat32);
  }
}

TEST_CASE("in-place ops write through views", "[tensor][elementwise][inplace]") {
  std::mt19937 rng(17);
  SECTION("add_ on a stepped slice updates the base and bumps the shared version") {
    Tensor base = random_tensor({6, 10}, kFloat32, rng);
    const Ref before = Ref::of(base);
    Tensor view = nt::slice(nt::narrow(base, 0, 1, 4), 1, 1, 10, 3);  // (4, 3)
    const Tensor other = random_tensor({3}, kFloat32, rng);
    const uint64_t v0 = base.version();
    nt::add_(view, other);
    CHECK(base.version() > v0);
    CHECK(view.version() == base.version());
    Ref expect = before;
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 3; ++j)
        expect.at({i + 1, 1 + 3 * j}) =
            round_to(kFloat32, before.at({i + 1, 1 + 3 * j}) + get(other, {j}));
    check_close("add_ through a view", base, expect);
  }
  SECTION("each in-place op against its reference") {
    const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16);
    CAPTURE(dt);
    const Tensor x0 = random_tensor({5, 7}, dt, rng, Layout::Contiguous, 0.5, 2);
    const Tensor o = random_tensor({7}, dt, rng, Layout::Strided, 0.5, 2);
    struct C {
      const char* name;
      std::function<void(Tensor&)> op;
      std::function<double(double, double)> ref;
    };
    const C cases[] = {
        {"add_", [&](Tensor& t) { nt::add_(t, o); }, [](double a, double b) { return a + b; }},
        {"sub_", [&](Tensor& t) { nt::sub_(t, o); }, [](double a, double b) { return a - b; }},
        {"mul_", [&](Tensor& t) { nt::mul_(t, o); }, [](double a, double b) { return a * b; }},
        {"div_", [&](Tensor& t) { nt::div_(t, o); }, [](double a, double b) { return a / b; }},
        {"add_scaled_", [&](Tensor& t) { nt::add_scaled_(t, o, -0.25); },
         [](double a, double b) { return a - 0.25 * b; }},
    };
    for (const C& c : cases) {
      CAPTURE(c.name);
      Tensor big = nt::clone(nt::transpose(nt::cat({x0, x0}, 0), 0, 1));  // (7, 10)
      Tensor t = nt::transpose(nt::narrow(big, 1, 5, 5), 0, 1);           // (5, 7) view
      REQUIRE(t.shares_storage(big));
      c.op(t);
      check_close(c.name, t, binary_ref(x0, o, dt, c.ref));
      // The untouched half is unchanged.
      check_equal("other half", nt::transpose(nt::narrow(big, 1, 0, 5), 0, 1), Ref::of(x0));
    }
    Tensor t = nt::clone(x0);
    nt::add_(t, 1.5);
    check_close("add_ scalar", t, unary_ref(x0, dt, [](double v) { return v + 1.5; }));
    nt::mul_(t, 2);
    check_close("mul_ scalar", t,
                unary_ref(x0, dt, [dt](double v) { return round_to(dt, v + 1.5) * 2; }));
  }
  SECTION("fill_, zero_, masked_fill_, clamp_ on strided views") {
    Tensor base = zeros({4, 6}, {.dtype = kInt64});
    Tensor v = nt::slice(base, 1, 0, 6, 2);
    nt::fill_(v, 7);
    Tensor col = nt::select(base, 1, 1);
    nt::fill_(col, -1);
    Ref ref({4, 6});
    for_each_index(ref.shape, [&](const Shape& i) {
      ref.at(i) = i[1] % 2 == 0 ? 7 : i[1] == 1 ? -1 : 0;
    });
    check_equal("fill_", base, ref);
    nt::zero_(v);
    for_each_index(ref.shape, [&](const Shape& i) {
      if (i[1] % 2 == 0) ref.at(i) = 0;
    });
    check_equal("zero_", base, ref);
    Tensor fm = nt::clone(nt::reshape(arange(0.0, 6.0), {2, 3}));
    Tensor ft = nt::transpose(fm, 0, 1);  // (3, 2) view
    const uint64_t v0 = fm.version();
    nt::masked_fill_(ft, tensor({true, false}), -1);
    check_equal("masked_fill_ through transpose", fm, Ref({2, 3}, {-1, -1, -1, 3, 4, 5}));
    CHECK(fm.version() > v0);
    nt::clamp_(ft, 0, 4);
    check_equal("clamp_", fm, Ref({2, 3}, {0, 0, 0, 3, 4, 4}));
  }
  SECTION("errors: expanded targets, shape changes, lossy casts") {
    Tensor e = nt::expand(ones({1, 3}), {4, 3});
    REQUIRE_THROWS_WITH(nt::add_(e, ones({4, 3})), Contains("add_") && Contains("expanded"));
    REQUIRE_THROWS_WITH(nt::fill_(e, 1), Contains("expanded"));
    REQUIRE_THROWS_WITH(nt::mul_(e, 2.0), Contains("expanded"));
    Tensor s = ones({3});
    REQUIRE_THROWS_WITH(nt::add_(s, ones({2, 3})),
                        Contains("add_") && Contains("[2, 3]") && Contains("[3]"));
    Tensor i = ones({3}, {.dtype = kInt64});
    REQUIRE_THROWS_WITH(nt::add_(i, ones({3})),
                        Contains("add_") && Contains("int64") && Contains("float32"));
    REQUIRE_THROWS_WITH(nt::add_(i, 2.5), Contains("add_"));
    REQUIRE_THROWS_WITH(nt::add_scaled_(i, i, 0.5), Contains("add_scaled_"));
    REQUIRE_THROWS_WITH(nt::div_(i, i), Contains("div_"));
    REQUIRE_THROWS_WITH(nt::clamp_(i, 0.5, std::nullopt), Contains("clamp_") && Contains("int64"));
    nt::clamp_(i, 0, 0);
    check_equal("clamp_ int", i, Ref({3}, {0, 0, 0}));
    nt::fill_(i, 1);
    Tensor b = ones({3}, {.dtype = kBool});
    REQUIRE_THROWS_WITH(nt::mul_(b, ones({3}, {.dtype = kInt32})), Contains("mul_"));
    // Allowed: int64 += int32, float32 += bool, float16 += float32 (computed in float32).
    nt::add_(i, ones({3}, {.dtype = kInt32}));
    check_equal("int64 += int32", i, Ref({3}, {2, 2, 2}));
    Tensor h = full({2}, 1.0, {.dtype = kFloat16});
    nt::add_(h, tensor({1e-4f, std::ldexp(1.0f, -11) + std::ldexp(1.0f, -22)}));
    // 1 + (2^-11 + 2^-22) rounds up to 1 + 2^-10 when added in float32 and rounded once; rounding
    // the addend to float16 first (a tie, to 2^-11) would give 1.
    check_equal("float16 += float32 rounds once", h, Ref({2}, {1, 1 + std::ldexp(1.0, -10)}));
  }
}

TEST_CASE("conversions: to(dtype), copy_ with broadcast", "[tensor][elementwise][convert]") {
  std::mt19937 rng(18);
  const DType from = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16, kInt32, kInt64, kBool);
  const DType to_dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16, kInt32, kInt64, kBool);
  const Layout layout = GENERATE(Layout::Contiguous, Layout::Transposed, Layout::Strided);
  CAPTURE(from, to_dt, layout_name(layout));
  const Tensor x = random_tensor({33, 17}, from, rng, layout, -300, 300);
  const Tensor y = nt::to(x, to_dt);
  CHECK(y.dtype() == to_dt);
  CHECK(y.shares_storage(x) == (from == to_dt));
  check_equal("to", y, unary_ref(x, to_dt, [&](double v) {
                if (to_dt == kBool) return v != 0 ? 1.0 : 0.0;
                if (is_integral(to_dt)) return std::trunc(v);
                return v;
              }));
  Tensor dst = empty({4, 33, 17}, {.dtype = to_dt});
  Tensor dview = nt::slice(dst, 0, 1, 4, 2);  // (2, 33, 17)
  nt::copy_(dview, nt::select(nt::unsqueeze(x, 0), 0, 0));
  for (int64_t k : {1, 3}) check_equal("copy_ broadcast", nt::select(dst, 0, k), Ref::of(y));
  Tensor small = empty({2}, {.dtype = to_dt});
  REQUIRE_THROWS_WITH(nt::copy_(small, x), Contains("expand") || Contains("copy_"));
}

TEST_CASE("allclose and equal", "[tensor][elementwise]") {
  const Tensor a = tensor({1.0, 2.0, INFINITY});
  CHECK(nt::allclose(a, tensor({1.0 + 1e-9, 2.0, INFINITY})));
  CHECK_FALSE(nt::allclose(a, tensor({1.001, 2.0, INFINITY})));
  CHECK(nt::allclose(a, tensor({1.001, 2.0, INFINITY}), 1e-2));
  CHECK(nt::allclose(a, tensor({1.1, 2.0, INFINITY}), 0, 0.11));
  CHECK_FALSE(nt::allclose(a, tensor({1.0, 2.0, -INFINITY})));
  CHECK_FALSE(nt::allclose(tensor({NAN}), tensor({NAN})));
  CHECK(nt::allclose(ones({2, 3}), ones({3})));  // broadcasts, like torch.allclose
  CHECK(nt::allclose(zeros({0}), zeros({0})));
  CHECK(nt::equal(arange(0, 5), arange(0, 5)));
  CHECK(nt::equal(arange(0, 5), nt::to(arange(0, 5), kFloat32)));
  CHECK_FALSE(nt::equal(arange(0, 5), arange(0, 6)));
  CHECK_FALSE(nt::equal(ones({1, 5}), ones({5})));
  CHECK_FALSE(nt::equal(tensor({NAN}), tensor({NAN})));
  CHECK(nt::equal(zeros({0, 2}), zeros({0, 2})));
}

TEST_CASE("elementwise results are bit-identical across thread counts",
          "[tensor][elementwise][determinism]") {
  std::mt19937 rng(19);
  const int64_t n =
      TESSERA_TEST_BIG((int64_t{1} << 20) + 64 * 3, int64_t{1} << 17);  // > 1M in Release
  const Tensor a = random_tensor({n / 64, 64}, kFloat32, rng, Layout::Transposed);
  const Tensor b = random_tensor({64}, kFloat32, rng);
  auto run = [&] {
    return std::vector<Tensor>{nt::add(a, b), nt::mul(nt::exp(a), b), nt::gelu(a, true),
                               nt::to(a, kBFloat16), nt::where(nt::gt(a, 0), a, b)};
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
  check_close("add large", ref[0],
              binary_ref(a, b, kFloat32, [](double x, double y) { return x + y; }));
}

TEST_CASE("the strided loop handles high-rank permuted layouts across chunk boundaries",
          "[tensor][elementwise][loop]") {
  std::mt19937 rng(20);
  // 12 dims, 69984 elements: the 32768-element chunks start in the middle of inner runs.
  const Shape shape = {3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 3};
  Shape perm(shape.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  Shape inv(shape.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = static_cast<int64_t>(i);
  Shape base_shape(shape.size());
  for (size_t i = 0; i < perm.size(); ++i) base_shape[i] = shape[perm[i]];
  // x has `shape` but a scrambled memory order.
  const Tensor x = nt::permute(random_tensor(base_shape, kFloat32, rng, Layout::Contiguous), inv);
  REQUIRE(x.shape() == shape);
  const Tensor y = random_tensor(shape, kFloat32, rng, Layout::Transposed);
  for (int threads : {1, 3}) {
    ThreadCount tc(threads);
    check_equal("clone of a scrambled layout", nt::clone(x), Ref::of(x));
    check_close("add of two scrambled layouts", nt::add(x, y),
                binary_ref(x, y, kFloat32, [](double a, double b) { return a + b; }));
    Tensor out = nt::permute(empty(base_shape), inv);  // write through a scrambled view
    nt::copy_(out, y);
    check_equal("copy_ into a scrambled view", out, Ref::of(y));
  }
  Shape too_many(17, 1);
  REQUIRE_THROWS_WITH(nt::add(zeros(too_many), zeros(too_many)),
                      Contains("add") && Contains("16 dims"));
}
