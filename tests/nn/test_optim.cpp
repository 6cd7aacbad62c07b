// SPDX-License-Identifier: Apache-2.0
/// @brief Optimizers against hand-computed three-step trajectories (plain double arithmetic),
/// parameter groups, state_dict round trip, gradient clipping, schedules, gradient accumulation,
/// an MLP learning XOR, and flat memory over a training loop.
#include <catch2/catch.hpp>

#include <cmath>

#include <tessera/allocator.h>
#include <tessera/nn.h>

using namespace tessera;
using namespace tessera::nn;

namespace {

// Loss L(w) = sum(0.5 * a * w^2 + b * w): gradient a * w + b, elementwise.
const std::vector<double> kA = {1.0, 2.0, 0.5}, kB = {0.3, -1.0, 2.0}, kW0 = {1.0, -0.5, 2.0};

Tensor quad_loss(const Tensor& w) {
  const Tensor a = from_vector<double>(kA, {3}), b = from_vector<double>(kB, {3});
  return sum(add(mul(mul(square(w), a), Scalar(0.5)), mul(w, b)));
}

Tensor fresh_param() { return from_vector<double>(kW0, {3}).requires_grad_(true); }

template <typename Opt>
std::vector<double> run3(Tensor w, Opt& opt) {
  for (int s = 0; s < 3; ++s) {
    opt.zero_grad();
    backward(quad_loss(w));
    opt.step();
  }
  return to_vector<double>(w);
}

void check_close(const std::vector<double>& got, const std::vector<double>& want,
                 double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    CHECK(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])));
  }
}

}  // namespace

TEST_CASE("SGD with momentum (and Nesterov, weight decay) matches a hand-computed trajectory",
          "[nn][optim]") {
  for (bool nesterov : {false, true}) {
    const double lr = 0.1, mom = 0.9, wd = 0.01;
    std::vector<double> w = kW0, buf(3, 0.0);
    for (int s = 0; s < 3; ++s)
      for (int i = 0; i < 3; ++i) {
        double g = kA[i] * w[i] + kB[i] + wd * w[i];
        buf[i] = s == 0 ? g : mom * buf[i] + g;
        w[i] -= lr * (nesterov ? g + mom * buf[i] : buf[i]);
      }
    Tensor p = fresh_param();
    SGD opt({p}, {.lr = lr, .momentum = mom, .nesterov = nesterov, .weight_decay = wd});
    INFO("nesterov " << nesterov);
    check_close(run3(p, opt), w);
  }
}

TEST_CASE("AdamW and Adam match hand-computed trajectories", "[nn][optim]") {
  for (bool decoupled : {true, false}) {
    const double lr = 0.05, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
    std::vector<double> w = kW0, m(3, 0.0), v(3, 0.0);
    for (int t = 1; t <= 3; ++t)
      for (int i = 0; i < 3; ++i) {
        double g = kA[i] * w[i] + kB[i];
        if (decoupled)
          w[i] *= 1 - lr * wd;
        else
          g += wd * w[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        const double mhat = m[i] / (1 - std::pow(b1, t)), vhat = v[i] / (1 - std::pow(b2, t));
        w[i] -= lr * mhat / (std::sqrt(vhat) + eps);
      }
    Tensor p = fresh_param();
    Adam opt({p}, {.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd}, decoupled);
    INFO("decoupled " << decoupled);
    check_close(run3(p, opt), w, 1e-12);
  }
}

TEST_CASE("parameter groups: per-group lr and weight decay; decay_groups splits by rank",
          "[nn][optim]") {
  Tensor w = from_vector<double>({1.0, 1.0, 1.0, 1.0}, {2, 2}).requires_grad_(true);
  Tensor b = from_vector<double>({1.0, 1.0}, {2}).requires_grad_(true);
  auto groups = decay_groups({{"w", w}, {"b", b}}, 0.1, 0.5);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].params.size() == 1);
  CHECK(groups[0].params[0].is_same(w));
  CHECK(groups[1].weight_decay == 0.0);
  groups[1].lr = 0.2;
  SGD opt(groups, {});
  backward(add(sum(w), sum(b)));  // all grads 1
  opt.step();
  CHECK(to_vector<double>(w)[0] == Approx(1.0 - 0.1 * (1.0 + 0.5)));
  CHECK(to_vector<double>(b)[0] == Approx(1.0 - 0.2 * 1.0));
  // A parameter without a gradient is skipped.
  Tensor unused = from_vector<double>({5.0}, {1}).requires_grad_(true);
  SGD opt2({unused}, {.lr = 1.0});
  opt2.step();
  CHECK(to_vector<double>(unused)[0] == 5.0);
  // Non-leaves and integer tensors cannot be optimized.
  CHECK_THROWS_WITH(SGD({mul(w, Scalar(2.0))}, {}), Catch::Contains("floating-point leaf"));
  CHECK_THROWS_WITH(SGD({tensor({1, 2})}, {}), Catch::Contains("floating-point leaf"));
}

TEST_CASE("optimizer state_dict round trip continues the same trajectory; bad state is rejected",
          "[nn][optim]") {
  Tensor p1 = fresh_param();
  AdamW a({p1}, {.lr = 0.05, .weight_decay = 0.1});
  run3(p1, a);
  TensorDict st = a.state_dict();
  CHECK(st.at("state.0.step").item<int64_t>() == 3);
  CHECK(st.count("state.0.exp_avg") == 1);
  Tensor p2 = native::clone(p1).requires_grad_(true);
  AdamW b({p2}, {.lr = 0.05, .weight_decay = 0.1});
  b.load_state_dict(st);
  run3(p1, a);
  run3(p2, b);
  CHECK(native::equal(p1, p2));
  TensorDict bad = st;
  bad["state.0.exp_avg"] = zeros({4}, {.dtype = kFloat64});
  CHECK_THROWS_WITH(b.load_state_dict(bad), Catch::Contains("state.0.exp_avg"));
  bad = st;
  bad["state.7.step"] = scalar_tensor(int64_t{1}, {.dtype = kInt64});
  CHECK_THROWS_WITH(b.load_state_dict(bad), Catch::Contains("unexpected key 'state.7.step'"));
  bad = st;
  bad.erase("group.0.lr");
  CHECK_THROWS_WITH(b.load_state_dict(bad), Catch::Contains("missing key 'group.0.lr'"));
}

TEST_CASE("clip_grad_norm_ returns the global norm and rescales only above max_norm",
          "[nn][optim]") {
  Tensor a = from_vector<double>({0.0, 0.0}, {2}).requires_grad_(true);
  Tensor b = from_vector<double>({0.0}, {1}).requires_grad_(true);
  a.set_grad(from_vector<double>({3.0, 0.0}, {2}));
  b.set_grad(from_vector<double>({4.0}, {1}));
  CHECK(clip_grad_norm_({a, b}, 10.0) == Approx(5.0));
  CHECK(to_vector<double>(b.grad())[0] == 4.0);
  CHECK(clip_grad_norm_({a, b}, 1.0) == Approx(5.0));
  CHECK(to_vector<double>(a.grad())[0] == Approx(3.0 / 5.0).epsilon(1e-6));
  CHECK(to_vector<double>(b.grad())[0] == Approx(4.0 / 5.0).epsilon(1e-6));
}

TEST_CASE("schedules: warmup + cosine to min, inverse sqrt", "[nn][schedule]") {
  WarmupCosine s{.warmup_steps = 10, .total_steps = 110, .min_factor = 0.1};
  CHECK(s.factor(0) == Approx(0.1));
  CHECK(s.factor(9) == Approx(1.0));
  CHECK(s.factor(10) == Approx(1.0));
  CHECK(s.factor(60) == Approx(0.1 + 0.5 * 0.9));
  CHECK(s.factor(110) == Approx(0.1));
  CHECK(s.factor(1000) == Approx(0.1));
  InverseSqrt r{.warmup_steps = 4};
  CHECK(r.factor(1) == Approx(0.5));
  CHECK(r.factor(3) == Approx(1.0));
  CHECK(r.factor(15) == Approx(0.5));
  Tensor p = fresh_param();
  SGD opt({p}, {.lr = 2.0});
  s.apply(opt, 60);
  CHECK(opt.param_groups()[0].lr == Approx(2.0 * 0.55));
  CHECK_THROWS(WarmupCosine{.warmup_steps = 5, .total_steps = 5}.factor(0));
}

TEST_CASE("gradient accumulation over micro-batches equals the full-batch gradient",
          "[nn][optim]") {
  Generator g(3);
  Linear lin(4, 3, true, kFloat64, &g);
  const Tensor x = randn({6, 4}, {.dtype = kFloat64}, &g);
  const Tensor y = randint(0, 3, {6}, {.dtype = kInt64}, &g);
  backward(F::cross_entropy(lin.forward(x), y));
  const Tensor full_w = native::clone(lin.weight.grad());
  lin.zero_grad();
  for (int k = 0; k < 2; ++k) {
    const Tensor xb = native::narrow(x, 0, 3 * k, 3), yb = native::narrow(y, 0, 3 * k, 3);
    backward(div(F::cross_entropy(lin.forward(xb), yb), Scalar(2.0)));
  }
  CHECK(native::allclose(lin.weight.grad(), full_w, 1e-12, 1e-14));
}

TEST_CASE("an MLP learns XOR to 100% accuracy and training memory stays flat", "[nn][optim]") {
  Generator g(42);
  auto net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
      std::make_shared<Linear>(2, 16, true, kFloat32, &g), std::make_shared<ReLU>(),
      std::make_shared<Linear>(16, 2, true, kFloat32, &g)});
  const Tensor x = from_vector<float>({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});
  const Tensor y = tensor({0, 1, 1, 0});
  AdamW opt(decay_groups(net->named_parameters(), 0.05, 0.01), {.lr = 0.05});
  int64_t mem_after_first = -1;
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy(net->forward(x), y);
    backward(loss);
    clip_grad_norm_(net->parameters(), 1.0);
    opt.step();
    if (step == 1) mem_after_first = memory_stats().allocated;
    if (step > 1) REQUIRE(memory_stats().allocated == mem_after_first);
  }
  NoGradGuard ng;
  const auto pred = to_vector<int64_t>(argmax(net->forward(x), 1));
  CHECK(pred == std::vector<int64_t>{0, 1, 1, 0});
  CHECK(F::cross_entropy(net->forward(x), y).item<float>() < 0.05f);
}
