// SPDX-License-Identifier: Apache-2.0
/// @brief The backward engine: accumulation, retain_graph, no_grad, detach, errors (non-scalar
/// backward, saved tensor modified in place, in-place on leaves, second backward), autograd::grad,
/// custom functions, integer inputs, memory release.
#include <catch2/catch.hpp>

#include <tessera/allocator.h>
#include <tessera/ops.h>

using namespace tessera;
using Ts = std::vector<Tensor>;

namespace {
Tensor param(std::vector<double> v, const Shape& shape) {
  Tensor t = from_vector<double>(v, shape);
  t.requires_grad_(true);
  return t;
}
std::vector<double> vals(const Tensor& t) { return to_vector<double>(native::to(t, kFloat64)); }

bool throws_with(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
  } catch (const Error& e) {
    const std::string what = e.what();
    INFO(what);
    return what.find(needle) != std::string::npos;
  }
  return false;
}
}  // namespace

TEST_CASE("backward computes a hand-derived gradient and accumulates across calls",
          "[autograd][engine]") {
  Tensor x = param({1.0, 2.0, 3.0}, {3});
  Tensor w = param({0.5, -1.0, 2.0}, {3});
  // L = sum(x * w + x^2) -> dL/dx = w + 2x, dL/dw = x.
  auto loss = [&] { return sum(x * w + square(x)); };
  backward(loss());
  CHECK(vals(x.grad()) == std::vector<double>{2.5, 3.0, 8.0});
  CHECK(vals(w.grad()) == std::vector<double>{1.0, 2.0, 3.0});
  backward(loss());
  CHECK(vals(x.grad()) == std::vector<double>{5.0, 6.0, 16.0});
  zero_grad({x, w});
  CHECK_FALSE(x.grad().defined());
  backward(loss());
  CHECK(vals(w.grad()) == std::vector<double>{1.0, 2.0, 3.0});
  zero_grad({w}, /*set_to_none=*/false);
  CHECK(vals(w.grad()) == std::vector<double>{0.0, 0.0, 0.0});
}

TEST_CASE("a tensor used by several ops gets the sum of its gradients (diamond)",
          "[autograd][engine]") {
  Tensor x = param({2.0}, {});
  Tensor a = x * 3.0;
  Tensor b = exp(a) + a * a;  // d/dx = 3 exp(3x) + 18x
  backward(b);
  CHECK(x.grad().item<double>() == Approx(3 * std::exp(6.0) + 36.0).epsilon(1e-12));
}

TEST_CASE("second backward without retain_graph is a clear error; retain_graph allows it",
          "[autograd][engine]") {
  Tensor x = param({1.0, 2.0}, {2});
  Tensor y = sum(exp(x));
  backward(y, {}, /*retain_graph=*/true);
  backward(y);
  CHECK(vals(x.grad())[0] == Approx(2 * std::exp(1.0)));
  CHECK(throws_with([&] { backward(y); }, "backward through the graph a second time"));
}

TEST_CASE("non-scalar backward needs an explicit grad_output", "[autograd][engine]") {
  Tensor x = param({1.0, 2.0}, {2});
  Tensor y = x * 2.0;
  CHECK(throws_with([&] { backward(y); }, "only for outputs with one element"));
  backward(y, from_vector<double>({1.0, 10.0}, {2}));
  CHECK(vals(x.grad()) == std::vector<double>{2.0, 20.0});
  CHECK(throws_with([&] { backward(x * 2.0, ones({3}, {.dtype = kFloat64})); }, "does not match"));
}

TEST_CASE("NoGradGuard and detach stop recording", "[autograd][engine]") {
  Tensor x = param({1.0, 2.0}, {2});
  {
    NoGradGuard guard;
    CHECK_FALSE(GradMode::is_enabled());
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
    {
      EnableGradGuard enable;
      CHECK((x * 2.0).requires_grad());
    }
    CHECK_FALSE(GradMode::is_enabled());
  }
  CHECK(GradMode::is_enabled());
  Tensor d = detach(x * 3.0);
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  Tensor z = sum(d * x);  // gradient flows only through x
  backward(z);
  CHECK(vals(x.grad()) == std::vector<double>{3.0, 6.0});
  CHECK(throws_with([&] { backward(sum(d)); }, "does not require grad"));
}

TEST_CASE("modifying a saved tensor in place makes backward fail clearly", "[autograd][engine]") {
  Tensor x = param({1.0, 2.0}, {2});
  Tensor y = exp(x);  // saves its output
  Tensor z = sum(y * 1.0);
  {
    NoGradGuard guard;
    native::mul_(y, Scalar(2.0));  // bumps y's version
  }
  CHECK(throws_with([&] { backward(z); }, "modified by an inplace operation"));
  // A view shares the version counter: writing through it is caught too.
  Tensor a = param({1.0, 2.0, 3.0}, {3});
  Tensor b = a * 1.0;
  Tensor c = sum(b * b);
  Tensor v = native::narrow(b, 0, 1, 1);
  native::fill_(v, Scalar(0.0));
  CHECK(throws_with([&] { backward(c); }, "modified by an inplace operation"));
}

TEST_CASE("in-place ops on tensors that require grad are refused while recording",
          "[autograd][engine]") {
  Tensor x = param({1.0, 2.0}, {2});
  Tensor one = ones({2}, {.dtype = kFloat64});
  CHECK(throws_with([&] { add_(x, one); }, "leaf tensor that requires grad"));
  Tensor y = x * 2.0;
  CHECK(throws_with([&] { mul_(y, Scalar(3.0)); }, "not supported"));
  {
    NoGradGuard guard;
    add_(x, one);  // optimizer-style update
  }
  CHECK(vals(x) == std::vector<double>{2.0, 3.0});
  Tensor plain = ones({2});
  add_(plain, Scalar(1.0));  // no grad involved: fine
  CHECK(vals(plain) == std::vector<double>{2.0, 2.0});
}

TEST_CASE("autograd::grad returns gradients of leaves and intermediates without touching .grad",
          "[autograd][engine]") {
  Tensor x = param({1.0, 2.0, 3.0}, {3});
  Tensor h = x * x;         // dh/dx = 2x
  Tensor y = sum(h * 3.0);  // dy/dh = 3
  auto g = autograd::grad({y}, {x, h}, {}, /*retain_graph=*/true);
  CHECK(vals(g[0]) == std::vector<double>{6.0, 12.0, 18.0});
  CHECK(vals(g[1]) == std::vector<double>{3.0, 3.0, 3.0});
  CHECK_FALSE(x.grad().defined());
  Tensor unused = param({1.0}, {1});
  CHECK(throws_with([&] { autograd::grad({y}, {unused}, {}, true); }, "not used"));
  auto g2 = autograd::grad({y}, {unused}, {}, true, /*allow_unused=*/true);
  CHECK_FALSE(g2[0].defined());
}

TEST_CASE("maximum splits the gradient at ties; relu and abs have zero gradient at 0",
          "[autograd][engine]") {
  Tensor a = param({1.0, 2.0, 3.0}, {3});
  Tensor b = param({1.0, 5.0, 0.0}, {3});
  backward(sum(maximum(a, b)));
  CHECK(vals(a.grad()) == std::vector<double>{0.5, 0.0, 1.0});
  CHECK(vals(b.grad()) == std::vector<double>{0.5, 1.0, 0.0});
  Tensor z = param({0.0, -1.0, 2.0}, {3});
  backward(sum(relu(z) + abs(z)));
  CHECK(vals(z.grad()) == std::vector<double>{0.0, -1.0, 2.0});
  Tensor m = param({1.0, 3.0, 3.0}, {3});
  backward(amax(m));
  CHECK(vals(m.grad()) == std::vector<double>{0.0, 0.5, 0.5});
}

TEST_CASE("integer and bool tensors never get gradients", "[autograd][engine]") {
  Tensor x = param({1.0, 2.0}, {2});
  Tensor i = tensor({3, 4});
  Tensor y = x * i;  // promotes to float64
  CHECK(y.requires_grad());
  backward(sum(y));
  CHECK(vals(x.grad()) == std::vector<double>{3.0, 4.0});
  CHECK_FALSE(i.grad().defined());
  auto [v, idx] = max(x * 1.0, 0);
  CHECK(v.requires_grad());
  CHECK_FALSE(idx.requires_grad());
  CHECK_THROWS(Tensor(tensor({1, 2})).requires_grad_(true));
}

TEST_CASE("float32 graphs produce float32 gradients", "[autograd][engine]") {
  Tensor x = ones({2, 3});
  x.requires_grad_(true);
  Tensor w = full({3}, 2.0);
  w.requires_grad_(true);
  backward(mean(x * w));
  CHECK(x.grad().dtype() == kFloat32);
  CHECK(to_vector<float>(x.grad())[0] == Approx(2.0f / 6.0f));
  CHECK(to_vector<float>(w.grad())[0] == Approx(2.0f / 6.0f));
}

namespace {
/// A custom function: y = x * s (s a non-tensor value), and a two-input function with a mask.
struct Scale {
  static Tensor forward(autograd::AutogradContext& ctx, const Tensor& x, double s) {
    ctx.set("s", s);
    return native::mul(x, s);
  }
  static Ts backward(autograd::AutogradContext& ctx, const Ts& g) {
    return {native::mul(g[0], ctx.get<double>("s"))};
  }
};
struct MulCounting {
  static const char* name() { return "MulCountingBackward"; }
  static inline int b_grads_computed = 0;
  static Tensor forward(autograd::AutogradContext& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return native::mul(a, b);
  }
  static Ts backward(autograd::AutogradContext& ctx, const Ts& g) {
    const auto s = ctx.saved();
    Tensor ga, gb;
    if (ctx.needs_input_grad(0)) ga = native::mul(g[0], s[1]);
    if (ctx.needs_input_grad(1)) {
      gb = native::mul(g[0], s[0]);
      ++b_grads_computed;
    }
    return {ga, gb};
  }
};
}  // namespace

TEST_CASE("custom functions: values in ctx, saved tensors, needs_input_grad mask",
          "[autograd][function]") {
  Tensor x = param({1.0, -2.0}, {2});
  Tensor y = autograd::Function<Scale>::apply(x, 4.0);
  CHECK(y.requires_grad());
  CHECK(y.grad_fn()->name().find("Scale") != std::string::npos);
  backward(sum(y));
  CHECK(vals(x.grad()) == std::vector<double>{4.0, 4.0});

  Tensor a = param({1.0, 2.0}, {2});
  Tensor b = from_vector<double>({3.0, 5.0}, {2});  // constant
  MulCounting::b_grads_computed = 0;
  Tensor ab = autograd::Function<MulCounting>::apply(a, b);
  CHECK(ab.grad_fn()->name() == "MulCountingBackward");
  backward(sum(ab));
  CHECK(vals(a.grad()) == std::vector<double>{3.0, 5.0});
  CHECK(MulCounting::b_grads_computed == 0);
  // No input requires grad: no node.
  Tensor c = autograd::Function<MulCounting>::apply(b, b);
  CHECK_FALSE(c.requires_grad());
}

TEST_CASE("backward frees the graph's saved tensors; a training loop does not grow memory",
          "[autograd][memory]") {
  Tensor w = randn({16, 16});
  w.requires_grad_(true);
  Tensor x = randn({8, 16});
  auto step = [&] {
    Tensor loss = mean(square(tanh(matmul(x, w))));
    backward(loss);
    NoGradGuard guard;
    Tensor g = w.grad();
    native::add_scaled_(w, g, Scalar(-0.1));
    zero_grad({w});
  };
  step();
  const int64_t base = memory_stats().allocated;
  for (int i = 0; i < 20; ++i) step();
  CHECK(memory_stats().allocated == base);
  // After backward (no retain_graph), the saved tensors are gone even while the loss lives.
  Tensor big = randn({256, 256});
  big.requires_grad_(true);
  Tensor loss = sum(exp(big));
  const int64_t with_graph = memory_stats().allocated;
  backward(loss);
  zero_grad({big});
  CHECK(memory_stats().allocated < with_graph);
}

TEST_CASE("empty and size-1 tensors flow through backward", "[autograd][engine][edge]") {
  Tensor e = zeros({0, 3}, {.dtype = kFloat64}).requires_grad_(true);
  Tensor w = ones({3, 2}, {.dtype = kFloat64}).requires_grad_(true);
  Tensor loss = sum(matmul(exp(e), w));
  CHECK(loss.item<double>() == 0.0);
  backward(loss);
  CHECK(e.grad().shape() == Shape{0, 3});
  REQUIRE(w.grad().defined());
  CHECK(native::sum(native::abs(w.grad())).item<double>() == 0.0);
  Tensor one = from_vector<double>({2.0}, {1, 1}).requires_grad_(true);
  backward(mean(softmax(one, 1) * log_softmax(one, 0)));  // softmax of one element is 1
  CHECK(to_vector<double>(one.grad())[0] == Approx(0.0).margin(1e-15));
  Tensor s = param({3.0}, {});
  backward(s * s);  // 0-d leaf
  CHECK(s.grad().item<double>() == 6.0);
  backward(s);  // the loss is the leaf itself
  CHECK(s.grad().item<double>() == 7.0);
}

TEST_CASE("non-contiguous operands (transposed, expanded, strided) give correct gradients",
          "[autograd][engine][edge]") {
  Tensor base = param({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor tt = transpose(base, 0, 1);               // (3, 2), non-contiguous view
  Tensor st = slice(base, 1, 0, 3, 2);             // (2, 2), stride 2
  Tensor ex = expand(select(base, 1, 0), {4, 2});  // stride 0
  backward(sum(tt * 2.0) + sum(st * 10.0) + sum(ex));
  // d/d base: 2 everywhere, +10 at columns 0 and 2, +4 at column 0.
  CHECK(vals(base.grad()) == std::vector<double>{16, 2, 12, 16, 2, 12});
}

namespace {
/// Two outputs from one node: (x + y, x * y).
struct SumProd {
  static const char* name() { return "SumProdBackward"; }
  static Ts forward(autograd::AutogradContext& ctx, const Tensor& x, const Tensor& y) {
    ctx.save_for_backward({x, y});
    return {native::add(x, y), native::mul(x, y)};
  }
  static Ts backward(autograd::AutogradContext& ctx, const Ts& g) {
    const auto s = ctx.saved();
    return {native::add(g[0], native::mul(g[1], s[1])), native::add(g[0], native::mul(g[1], s[0]))};
  }
};
}  // namespace

TEST_CASE("multi-output custom functions and multi-root backward", "[autograd][function]") {
  Tensor x = param({2.0}, {});
  Tensor y = param({5.0}, {});
  Ts out = autograd::Function<SumProd>::apply(x, y);
  REQUIRE(out.size() == 2);
  CHECK(out[0].grad_fn() == out[1].grad_fn());
  // d/dx (3 (x + y) + 2 xy) = 3 + 2y = 13; d/dy = 3 + 2x = 7
  autograd::backward({out[0], out[1]},
                     {full({}, 3.0, {.dtype = kFloat64}), full({}, 2.0, {.dtype = kFloat64})});
  CHECK(x.grad().item<double>() == 13.0);
  CHECK(y.grad().item<double>() == 7.0);
  // Only the second output used: the engine supplies zeros for the first.
  zero_grad({x, y});
  Ts out2 = autograd::Function<SumProd>::apply(x, y);
  backward(out2[1] * 1.0);
  CHECK(x.grad().item<double>() == 5.0);
  CHECK(y.grad().item<double>() == 2.0);
}
