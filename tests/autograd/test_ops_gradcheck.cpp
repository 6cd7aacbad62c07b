// SPDX-License-Identifier: Apache-2.0
/// @brief gradcheck (float64 central differences) for every differentiable op, with broadcasting,
/// views, keepdim reductions and batch-broadcast matmul.
#include <catch2/catch.hpp>

#include <tessera/autograd/gradcheck.h>
#include <tessera/ops.h>

using namespace tessera;
using Ts = std::vector<Tensor>;

namespace {

Tensor leaf(const Shape& shape, uint64_t seed, double scale = 1.0, double shift = 0.0) {
  Generator g(seed);
  Tensor x = randn(shape, {.dtype = kFloat64}, &g);
  x = native::add(native::mul(x, scale), shift);
  x.requires_grad_(true);
  return x;
}

/// Leaf uniform in [lo, hi) (positive bases for log/sqrt/pow).
Tensor pos_leaf(const Shape& shape, uint64_t seed, double lo = 0.5, double hi = 2.0) {
  Generator g(seed);
  Tensor x = rand(shape, {.dtype = kFloat64}, &g);
  x = native::add(native::mul(x, hi - lo), lo);
  x.requires_grad_(true);
  return x;
}

Tensor constant(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return randn(shape, {.dtype = kFloat64}, &g);
}

void check(const std::function<Tensor(const Ts&)>& fn, const Ts& inputs) {
  auto r = gradcheck(fn, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

void check_multi(const autograd::GradcheckFn& fn, const Ts& inputs) {
  auto r = gradcheck(fn, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

}  // namespace

TEST_CASE("gradcheck detects a wrong gradient", "[autograd][gradcheck]") {
  struct WrongSquare {
    static Tensor forward(autograd::AutogradContext& ctx, const Tensor& x) {
      ctx.save_for_backward({x});
      return native::square(x);
    }
    static Ts backward(autograd::AutogradContext& ctx, const Ts& g) {
      return {native::mul(g[0], ctx.saved()[0])};  // missing the factor 2
    }
  };
  auto r = gradcheck([](const Ts& x) { return autograd::Function<WrongSquare>::apply(x[0]); },
                     {leaf({4}, 1)});
  CHECK_FALSE(r.ok);
  CHECK(r.worst_input == 0);
  CHECK(r.message.find("FAILED") != std::string::npos);
}

TEST_CASE("binary ops with broadcasting pass gradcheck", "[autograd][gradcheck]") {
  const Tensor a = leaf({3, 1, 4}, 1), b = leaf({5, 1}, 2);
  check([](const Ts& x) { return add(x[0], x[1]); }, {a, b});
  check([](const Ts& x) { return sub(x[0], x[1]); }, {a, b});
  check([](const Ts& x) { return mul(x[0], x[1]); }, {a, b});
  check([](const Ts& x) { return div(x[0], x[1]); }, {a, pos_leaf({5, 1}, 3)});
  check([](const Ts& x) { return pow(x[0], x[1]); }, {pos_leaf({3, 1, 4}, 4), leaf({5, 1}, 5)});
  check([](const Ts& x) { return x[0] + x[1] * x[0] - x[1] / 3.0; }, {a, b});
  check([](const Ts& x) { return maximum(x[0], x[1]); }, {a, b});
  check([](const Ts& x) { return minimum(x[0], x[1]); }, {a, b});
  // A constant operand (no grad) mixed with a leaf; a 0-d operand.
  const Tensor c = constant({4}, 9);
  check([c](const Ts& x) { return mul(x[0], c); }, {a});
  check([](const Ts& x) { return mul(x[0], x[1]); }, {a, leaf({}, 10)});
}

TEST_CASE("scalar ops and operators pass gradcheck", "[autograd][gradcheck]") {
  const Tensor a = pos_leaf({2, 3}, 11);
  check([](const Ts& x) { return 2.5 - x[0]; }, {a});
  check([](const Ts& x) { return 3.0 / x[0]; }, {a});
  check([](const Ts& x) { return (x[0] + 1.0) * 2.0 / 4.0 - 0.5; }, {a});
  check([](const Ts& x) { return -x[0]; }, {a});
  check([](const Ts& x) { return pow(x[0], 3.0); }, {a});
  check([](const Ts& x) { return pow(x[0], -0.5); }, {a});
}

TEST_CASE("unary ops pass gradcheck", "[autograd][gradcheck]") {
  const Tensor x = leaf({3, 5}, 21);
  const Tensor p = pos_leaf({3, 5}, 22);
  check([](const Ts& v) { return exp(v[0]); }, {x});
  check([](const Ts& v) { return log(v[0]); }, {p});
  check([](const Ts& v) { return log1p(v[0]); }, {p});
  check([](const Ts& v) { return sqrt(v[0]); }, {p});
  check([](const Ts& v) { return rsqrt(v[0]); }, {p});
  check([](const Ts& v) { return reciprocal(v[0]); }, {p});
  check([](const Ts& v) { return tanh(v[0]); }, {x});
  check([](const Ts& v) { return sigmoid(v[0]); }, {x});
  check([](const Ts& v) { return sin(v[0]); }, {x});
  check([](const Ts& v) { return cos(v[0]); }, {x});
  check([](const Ts& v) { return square(v[0]); }, {x});
  check([](const Ts& v) { return abs(v[0]); }, {x});  // randn: no exact zeros
  check([](const Ts& v) { return relu(v[0]); }, {x});
  check([](const Ts& v) { return gelu(v[0]); }, {x});
  check([](const Ts& v) { return gelu(v[0], /*tanh_approx=*/true); }, {x});
  check([](const Ts& v) { return clamp(v[0], Scalar(-0.5), Scalar(0.7)); }, {x});
  check([](const Ts& v) { return clamp(v[0], std::nullopt, Scalar(0.1)); }, {x});
}

TEST_CASE("selection ops pass gradcheck", "[autograd][gradcheck]") {
  const Tensor a = leaf({3, 4}, 31), b = leaf({4}, 32);
  const Tensor cond = native::gt(constant({3, 4}, 33), Scalar(0.0));
  check([cond](const Ts& x) { return where(cond, x[0], x[1]); }, {a, b});
  check([cond](const Ts& x) { return where(cond, x[0], Scalar(2.0)); }, {a});
  const Tensor mask = native::gt(constant({1, 4}, 34), Scalar(0.0));
  check([mask](const Ts& x) { return masked_fill(x[0], mask, Scalar(-1.0)); }, {a});
}

TEST_CASE("reductions over dims with keepdim pass gradcheck", "[autograd][gradcheck]") {
  const Tensor x = leaf({2, 3, 4}, 41);
  for (bool keep : {false, true}) {
    check([keep](const Ts& v) { return sum(v[0], {1}, keep); }, {x});
    check([keep](const Ts& v) { return sum(v[0], {0, 2}, keep); }, {x});
    check([keep](const Ts& v) { return mean(v[0], {-1}, keep); }, {x});
    check([keep](const Ts& v) { return amax(v[0], {1}, keep); }, {x});
    check([keep](const Ts& v) { return amin(v[0], {0, 2}, keep); }, {x});
    check([keep](const Ts& v) { return max(v[0], 2, keep).first; }, {x});
    check([keep](const Ts& v) { return min(v[0], 0, keep).first; }, {x});
    check([keep](const Ts& v) { return var(v[0], {2}, 1, keep); }, {x});
    check([keep](const Ts& v) { return var(v[0], {0, 1}, 0, keep); }, {x});
    check([keep](const Ts& v) { return tessera::std(v[0], {1}, 1, keep); }, {x});
    check([keep](const Ts& v) { return logsumexp(v[0], {2}, keep); }, {x});
  }
  check([](const Ts& v) { return sum(v[0]); }, {x});
  check([](const Ts& v) { return mean(v[0]); }, {x});
  check([](const Ts& v) { return softmax(v[0], 1); }, {x});
  check([](const Ts& v) { return softmax(v[0], -1); }, {x});
  check([](const Ts& v) { return log_softmax(v[0], 0); }, {x});
  check([](const Ts& v) { return log_softmax(v[0], 2); }, {x});
}

TEST_CASE("views and joins pass gradcheck", "[autograd][gradcheck]") {
  const Tensor x = leaf({2, 3, 4}, 51);
  check([](const Ts& v) { return view(v[0], {6, 4}); }, {x});
  check([](const Ts& v) { return reshape(permute(v[0], {2, 0, 1}), {4, 6}); }, {x});
  check([](const Ts& v) { return flatten(v[0], 1); }, {x});
  check([](const Ts& v) { return transpose(v[0], 0, 2); }, {x});
  check([](const Ts& v) { return t(select(v[0], 0, 1)); }, {x});
  check([](const Ts& v) { return narrow(v[0], 2, 1, 2); }, {x});
  check([](const Ts& v) { return slice(v[0], 2, 0, 4, 3); }, {x});
  check([](const Ts& v) { return select(v[0], -1, 3); }, {x});
  check([](const Ts& v) { return expand(unsqueeze(v[0], 1), {2, 5, 3, 4}); }, {x});
  check([](const Ts& v) { return squeeze(unsqueeze(v[0], 0)); }, {x});
  check([](const Ts& v) { return squeeze(unsqueeze(v[0], 3), 3); }, {x});
  check([](const Ts& v) { return contiguous(transpose(v[0], 1, 2)); }, {x});
  check([](const Ts& v) { return clone(v[0]) * v[0]; }, {x});
  // Views feeding arithmetic: a non-contiguous operand and a view used twice.
  check(
      [](const Ts& v) {
        Tensor tt = transpose(v[0], 0, 1);
        return tt * tt + select(tt, 0, 2);
      },
      {x});
  const Tensor y = leaf({2, 1, 4}, 52);
  check([](const Ts& v) { return cat({v[0], v[1]}, 1); }, {x, y});
  check([](const Ts& v) { return stack({v[0], v[0] * 2.0}, 1); }, {x});
  check_multi([](const Ts& v) { return split(v[0], 2, 2); }, {x});
  check_multi([](const Ts& v) { return chunk(v[0], 2, 1); }, {x});
  check_multi([](const Ts& v) { return split_with_sizes(v[0], {1, 3}, 2); }, {x});
  // Only one piece of a split used: the others get zero gradients.
  check([](const Ts& v) { return split(v[0], 1, 0)[1]; }, {x});
}

TEST_CASE("matmul family passes gradcheck, including batch broadcast and 1-d operands",
          "[autograd][gradcheck]") {
  check([](const Ts& v) { return mm(v[0], v[1]); }, {leaf({3, 4}, 61), leaf({4, 5}, 62)});
  check([](const Ts& v) { return bmm(v[0], v[1]); }, {leaf({2, 3, 4}, 63), leaf({2, 4, 2}, 64)});
  check([](const Ts& v) { return matmul(v[0], v[1]); },
        {leaf({2, 1, 3, 4}, 65), leaf({3, 4, 2}, 66)});
  check([](const Ts& v) { return matmul(v[0], v[1]); }, {leaf({4}, 67), leaf({2, 4, 3}, 68)});
  check([](const Ts& v) { return matmul(v[0], v[1]); }, {leaf({2, 3, 4}, 69), leaf({4}, 70)});
  check([](const Ts& v) { return matmul(v[0], v[1]); }, {leaf({4}, 71), leaf({4}, 72)});
  check([](const Ts& v) { return matmul(transpose(v[0], 0, 1), v[1]); },
        {leaf({4, 3}, 73), leaf({4, 2}, 74)});
}

TEST_CASE("indexing ops pass gradcheck with repeated indices", "[autograd][gradcheck]") {
  const Tensor x = leaf({5, 3}, 81);
  const Tensor idx = tensor({4, 0, 4, 2});
  check([idx](const Ts& v) { return index_select(v[0], 0, idx); }, {x});
  check([idx](const Ts& v) { return index_select(v[0], 1, tensor({2, 2, 0})); }, {x});
  const Tensor gi = from_vector<int64_t>({0, 2, 1, 1, 0, 0}, {2, 3});
  check([gi](const Ts& v) { return gather(v[0], 0, gi); }, {x});
  check([gi](const Ts& v) { return gather(v[0], 1, gi); }, {x});
  const Tensor tok = from_vector<int64_t>({1, 4, 1, 0, 3, 1}, {2, 3});
  check([tok](const Ts& v) { return embedding(v[0], tok); }, {x});
}

TEST_CASE("to(dtype) passes gradients through a float32 segment", "[autograd][gradcheck]") {
  const Tensor x = leaf({4}, 91);
  Tensor y = to(x, kFloat32);
  CHECK(y.dtype() == kFloat32);
  Tensor z = sum(to(y * 3.0f, kFloat64));
  backward(z);
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == kFloat64);
  CHECK(native::allclose(x.grad(), full({4}, 3.0, {.dtype = kFloat64})));
}
