// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA elementwise ops vs the CPU ops: every op, dtypes, layouts, broadcasting, scalars,
/// in-place forms.
#include <catch2/catch.hpp>

#include <functional>

#include <tessera/kernels/cuda/elementwise.h>

#include "cuda/cuda_test_util.h"

using namespace tessera;
using namespace tessera::test;

namespace {

const std::vector<Layout> kLayouts = {Layout::Contiguous, Layout::Transposed, Layout::Strided,
                                      Layout::Broadcast};

using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;
using Unary = std::function<Tensor(const Tensor&)>;

void check_binary(const std::string& name, const Binary& f, DType ta, DType tb, const Shape& sa,
                  const Shape& sb, Layout la, Layout lb, std::mt19937& rng, double lo = -2,
                  double hi = 2) {
  const Tensor a = random_tensor(sa, ta, rng, la, lo, hi);
  const Tensor b = random_tensor(sb, tb, rng, lb, lo, hi);
  const Tensor cpu = f(a, b);
  const Tensor cuda = f(to_cuda_view(a), to_cuda_view(b));
  INFO(name << " " << dtype_name(ta) << "/" << dtype_name(tb) << " " << layout_name(la) << "/"
            << layout_name(lb));
  CHECK(check_cuda(name, cuda, cpu));
}

}  // namespace

TEST_CASE("cuda binary ops match the CPU for every dtype and layout", "[cuda][elementwise]") {
  std::mt19937 rng(1);
  const std::vector<std::pair<std::string, Binary>> ops = {
      {"add", [](auto& a, auto& b) { return native::add(a, b); }},
      {"sub", [](auto& a, auto& b) { return native::sub(a, b); }},
      {"mul", [](auto& a, auto& b) { return native::mul(a, b); }},
      {"div", [](auto& a, auto& b) { return native::div(a, b); }},
      {"maximum", [](auto& a, auto& b) { return native::maximum(a, b); }},
      {"minimum", [](auto& a, auto& b) { return native::minimum(a, b); }},
      {"eq", [](auto& a, auto& b) { return native::eq(a, b); }},
      {"ne", [](auto& a, auto& b) { return native::ne(a, b); }},
      {"lt", [](auto& a, auto& b) { return native::lt(a, b); }},
      {"le", [](auto& a, auto& b) { return native::le(a, b); }},
      {"gt", [](auto& a, auto& b) { return native::gt(a, b); }},
      {"ge", [](auto& a, auto& b) { return native::ge(a, b); }},
      {"logical_and", [](auto& a, auto& b) { return native::logical_and(a, b); }},
      {"logical_or", [](auto& a, auto& b) { return native::logical_or(a, b); }},
      {"logical_xor", [](auto& a, auto& b) { return native::logical_xor(a, b); }},
      {"gelu_backward", [](auto& a, auto& b) { return native::gelu_backward(a, b); }},
      {"gelu_backward_tanh", [](auto& a, auto& b) { return native::gelu_backward(a, b, true); }},
  };
  for (const auto& [name, f] : ops) {
    for (DType t : {kFloat32, kBFloat16, kFloat16, kFloat64, kInt32, kInt64, kBool}) {
      if (t == kBool && (name == "sub" || name.rfind("gelu", 0) == 0)) continue;
      if (is_integral(t) && name.rfind("gelu", 0) == 0) continue;
      for (Layout l : kLayouts)
        check_binary(name, f, t, t, {5, 7, 3}, {5, 7, 3}, l, Layout::Strided, rng);
      // Broadcasting between different shapes, odd sizes.
      check_binary(name, f, t, t, {5, 1, 3}, {7, 1}, Layout::Contiguous, Layout::Transposed, rng);
      check_binary(name, f, t, t, {}, {3, 4}, Layout::Contiguous, Layout::Contiguous, rng);
    }
  }
}

TEST_CASE("cuda pow, mixed dtypes and scalar operands match the CPU", "[cuda][elementwise]") {
  std::mt19937 rng(2);
  const Binary pow = [](auto& a, auto& b) { return native::pow(a, b); };
  for (DType t : {kFloat32, kBFloat16, kFloat64})
    check_binary("pow", pow, t, t, {4, 9}, {4, 9}, Layout::Strided, Layout::Contiguous, rng, 0.1,
                 2);
  for (DType t : {kInt32, kInt64})
    check_binary("pow", pow, t, t, {4, 9}, {4, 9}, Layout::Contiguous, Layout::Contiguous, rng, -3,
                 5);
  // Type promotion: bf16 + f16 -> f32, int32 + bf16 -> bf16, int64 / int32 -> f32, bool * f32.
  const Binary add = [](auto& a, auto& b) { return native::add(a, b); };
  const Binary div = [](auto& a, auto& b) { return native::div(a, b); };
  check_binary("add", add, kBFloat16, kFloat16, {6, 5}, {5}, Layout::Contiguous, Layout::Contiguous,
               rng);
  check_binary("add", add, kInt32, kBFloat16, {6, 5}, {6, 5}, Layout::Transposed,
               Layout::Contiguous, rng, -40, 40);
  check_binary("add", add, kBool, kFloat32, {6, 5}, {6, 5}, Layout::Contiguous, Layout::Strided,
               rng);
  check_binary("div", div, kInt64, kInt32, {6, 5}, {6, 5}, Layout::Contiguous, Layout::Contiguous,
               rng, 1, 9);
  // Scalars: weak promotion and the 16-bit float32-scalar path.
  for (DType t : {kFloat32, kBFloat16, kFloat16, kInt32, kInt64}) {
    const Tensor x = random_tensor({7, 3}, t, rng, Layout::Transposed, 1, 5);
    const Tensor d = to_cuda_view(x);
    INFO(dtype_name(t));
    CHECK(check_cuda("add 0.1", native::add(d, 0.1), native::add(x, 0.1)));
    CHECK(check_cuda("sub 3", native::sub(d, 3), native::sub(x, 3)));
    CHECK(check_cuda("rsub 0.7", native::rsub(d, 0.7), native::rsub(x, 0.7)));
    CHECK(check_cuda("mul 0.1", native::mul(d, 0.1), native::mul(x, 0.1)));
    CHECK(check_cuda("div 3", native::div(d, 3), native::div(x, 3)));
    CHECK(check_cuda("rdiv 1.5", native::rdiv(d, 1.5), native::rdiv(x, 1.5)));
    CHECK(check_cuda("pow 2", native::pow(d, 2), native::pow(x, 2)));
    CHECK(check_cuda("gt 2", native::gt(d, 2), native::gt(x, 2)));
  }
}

TEST_CASE("cuda unary ops match the CPU, special values included", "[cuda][elementwise]") {
  std::mt19937 rng(3);
  const std::vector<std::pair<std::string, Unary>> ops = {
      {"neg", [](auto& x) { return native::neg(x); }},
      {"abs", [](auto& x) { return native::abs(x); }},
      {"sign", [](auto& x) { return native::sign(x); }},
      {"square", [](auto& x) { return native::square(x); }},
      {"sqrt", [](auto& x) { return native::sqrt(native::abs(x)); }},
      {"rsqrt", [](auto& x) { return native::rsqrt(native::abs(x)); }},
      {"reciprocal", [](auto& x) { return native::reciprocal(x); }},
      {"exp", [](auto& x) { return native::exp(x); }},
      {"log", [](auto& x) { return native::log(native::abs(x)); }},
      {"log1p", [](auto& x) { return native::log1p(native::abs(x)); }},
      {"expm1", [](auto& x) { return native::expm1(x); }},
      {"sin", [](auto& x) { return native::sin(x); }},
      {"cos", [](auto& x) { return native::cos(x); }},
      {"tanh", [](auto& x) { return native::tanh(x); }},
      {"erf", [](auto& x) { return native::erf(x); }},
      {"sigmoid", [](auto& x) { return native::sigmoid(x); }},
      {"relu", [](auto& x) { return native::relu(x); }},
      {"gelu", [](auto& x) { return native::gelu(x); }},
      {"gelu_tanh", [](auto& x) { return native::gelu(x, true); }},
      {"floor", [](auto& x) { return native::floor(x); }},
      {"ceil", [](auto& x) { return native::ceil(x); }},
      {"round", [](auto& x) { return native::round(x); }},
      {"trunc", [](auto& x) { return native::trunc(x); }},
      {"isnan", [](auto& x) { return native::isnan(x); }},
      {"isfinite", [](auto& x) { return native::isfinite(x); }},
      {"logical_not", [](auto& x) { return native::logical_not(x); }},
  };
  for (const auto& [name, f] : ops) {
    for (DType t : {kFloat32, kBFloat16, kFloat16, kFloat64, kInt32, kInt64}) {
      for (Layout l : kLayouts) {
        const Tensor x = random_tensor({3, 11, 2}, t, rng, l, -3, 3);
        INFO(name << " " << dtype_name(t) << " " << layout_name(l));
        CHECK(check_cuda(name, f(to_cuda_view(x)), f(x)));
      }
    }
  }
  // NaN, infinities, signed zeros and half-way rounding cases.
  const Tensor special =
      tensor({NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 0.5f, 1.5f, 2.5f, -2.5f, 1e-30f});
  for (const auto& [name, f] : ops) {
    INFO(name);
    CHECK(check_cuda(name, f(native::to(special, kCuda)), f(special)));
  }
}

TEST_CASE("cuda where, clamp, masked_fill and in-place ops match the CPU", "[cuda][elementwise]") {
  std::mt19937 rng(4);
  for (DType t : {kFloat32, kBFloat16, kInt64}) {
    const Tensor c = random_tensor({5, 6}, kBool, rng, Layout::Transposed);
    const Tensor a = random_tensor({5, 6}, t, rng, Layout::Strided);
    const Tensor b = random_tensor({6}, kFloat32, rng);
    INFO(dtype_name(t));
    CHECK(check_cuda("where", native::where(to_cuda_view(c), to_cuda_view(a), to_cuda_view(b)),
                     native::where(c, a, b)));
    CHECK(check_cuda("where scalar", native::where(to_cuda_view(c), to_cuda_view(a), 2.5),
                     native::where(c, a, 2.5)));
    CHECK(check_cuda("masked_fill", native::masked_fill(to_cuda_view(a), to_cuda_view(c), -1),
                     native::masked_fill(a, c, -1)));
    CHECK(check_cuda("clamp", native::clamp(to_cuda_view(a), -0.5, 1), native::clamp(a, -0.5, 1)));
    CHECK(check_cuda("clamp lo", native::clamp(to_cuda_view(a), 0, std::nullopt),
                     native::clamp(a, 0, std::nullopt)));
    CHECK(check_cuda("clamp lo>hi", native::clamp(to_cuda_view(a), 2, 1), native::clamp(a, 2, 1)));
  }
  // In place on non-contiguous views; the other operand broadcasts; results stay in self's dtype.
  for (DType t : {kFloat32, kBFloat16, kFloat16, kInt32}) {
    const Tensor base = random_tensor({6, 4}, t, rng, Layout::Transposed, -3, 3);
    const Tensor other = random_tensor({4}, kFloat32, rng, Layout::Contiguous, 0.5, 2);
    const Tensor other_t = native::to(other, t);
    const std::vector<std::pair<std::string, std::function<void(Tensor&, const Tensor&)>>> ops = {
        {"add_", [](Tensor& s, const Tensor& o) { native::add_(s, o); }},
        {"sub_", [](Tensor& s, const Tensor& o) { native::sub_(s, o); }},
        {"mul_", [](Tensor& s, const Tensor& o) { native::mul_(s, o); }},
        {"add_scaled_", [](Tensor& s, const Tensor& o) { native::add_scaled_(s, o, 3); }},
        {"clamp_", [](Tensor& s, const Tensor&) { native::clamp_(s, -1, 1); }},
        {"fill_", [](Tensor& s, const Tensor&) { native::fill_(s, 7); }},
        {"zero_", [](Tensor& s, const Tensor&) { native::zero_(s); }},
        {"mul_ scalar", [](Tensor& s, const Tensor&) { native::mul_(s, 2); }},
    };
    for (const auto& [name, f] : ops) {
      Tensor cpu = native::t(native::clone(base));  // a transposed view
      Tensor cuda = native::t(native::to(native::clone(base), kCuda));
      const Tensor o = is_floating(t) ? other : other_t;
      const Tensor ob = native::reshape(o, {4, 1});
      f(cpu, ob);
      f(cuda, native::to(ob, kCuda));
      INFO(name << " " << dtype_name(t));
      CHECK(check_cuda(name, cuda, cpu));
    }
    if (is_floating(t)) {
      Tensor cpu = native::clone(base), cuda = native::to(base, kCuda, true);
      native::div_(cpu, other);
      native::div_(cuda, native::to(other, kCuda));
      CHECK(check_cuda("div_", cuda, cpu));
    }
  }
  // Errors are the CPU's: a floating result can't go into an integer tensor.
  Tensor ints = zeros({3}, {.dtype = kInt32, .device = kCuda});
  CHECK_THROWS_WITH(native::add_(ints, ones({3}, {.device = kCuda})),
                    Catch::Contains("can't be cast"));
  Tensor expanded = native::expand(ones({1}, {.device = kCuda}), {4});
  CHECK_THROWS_WITH(native::fill_(expanded, 1), Catch::Contains("expanded"));
}

TEST_CASE("cuda allclose and equal", "[cuda][elementwise]") {
  const Tensor a = tensor({1.0f, 2.0f, 3.0f}, {.device = kCuda});
  const Tensor b = tensor({1.0f, 2.0f, 3.0000001f}, {.device = kCuda});
  CHECK(native::allclose(a, b));
  CHECK(native::equal(a, a));
  CHECK_FALSE(native::equal(a, native::add(a, 1)));
}

TEST_CASE("cuda elementwise: 64-bit index path, empty and 0-d tensors", "[cuda][elementwise]") {
  std::mt19937 rng(5);
  // The int64 index path normally runs only beyond 2^31 elements: force it on small inputs.
  const bool previous = kernels::cuda::force_64bit_indexing_for_testing(true);
  for (Layout l : kLayouts) {
    const Tensor a = random_tensor({4, 9, 5}, kFloat32, rng, l);
    const Tensor b = random_tensor({9, 1}, kBFloat16, rng);
    INFO(layout_name(l));
    CHECK(check_cuda("add int64 index", native::add(to_cuda_view(a), to_cuda_view(b)),
                     native::add(a, b)));
    CHECK(check_cuda("cast int64 index", native::to(to_cuda_view(a), kFloat16),
                     native::to(a, kFloat16)));
  }
  kernels::cuda::force_64bit_indexing_for_testing(previous);
  const Tensor e = zeros({0, 3}), s = scalar_tensor(1.5);
  CHECK(native::add(native::to(e, kCuda), 1).numel() == 0);
  CHECK(check_cuda("0-d", native::mul(native::to(s, kCuda), native::to(s, kCuda)),
                   native::mul(s, s)));
  CHECK(check_cuda("0-d with vector",
                   native::sub(native::to(s, kCuda), native::to(tensor({1.0f, 2.0f}), kCuda)),
                   native::sub(s, tensor({1.0f, 2.0f}))));
}
