// SPDX-License-Identifier: Apache-2.0
/// @brief Layers and losses: gradcheck of every layer (float64), forward vs float64 loop
/// references (LayerNorm, cross_entropy with ignore_index and label smoothing), Dropout
/// semantics, initializer statistics.
#include <catch2/catch.hpp>

#include <cmath>

#include <tessera/autograd/gradcheck.h>
#include <tessera/nn.h>

using namespace tessera;
using namespace tessera::nn;
using Ts = std::vector<Tensor>;

namespace {

Tensor leaf(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  Tensor x = randn(shape, {.dtype = kFloat64}, &g);
  x.requires_grad_(true);
  return x;
}

void check(const std::function<Tensor(const Ts&)>& fn, const Ts& inputs) {
  auto r = gradcheck(fn, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

}  // namespace

TEST_CASE("functional layers pass gradcheck", "[nn][gradcheck]") {
  const Tensor x = leaf({2, 3, 4}, 1), w = leaf({5, 4}, 2), b = leaf({5}, 3);
  check([](const Ts& v) { return F::linear(v[0], v[1], v[2]); }, {x, w, b});
  check([](const Ts& v) { return F::linear(v[0], v[1]); }, {leaf({3, 4}, 4), w});
  const Tensor g = leaf({4}, 5), beta = leaf({4}, 6);
  check([](const Ts& v) { return F::layer_norm(v[0], 1, v[1], v[2], 1e-5); }, {x, g, beta});
  check([](const Ts& v) { return F::layer_norm(v[0], 2, Tensor(), Tensor(), 1e-5); }, {x});
  const Tensor tok = from_vector<int64_t>({0, 3, 3, 1}, {2, 2});
  check([tok](const Ts& v) { return embedding(v[0], tok); }, {leaf({4, 3}, 7)});
  check([](const Ts& v) { return F::gelu(v[0]); }, {x});
  check([](const Ts& v) { return F::gelu(v[0], true); }, {x});
  // Dropout with a freshly seeded generator per evaluation: the same mask every time.
  check(
      [](const Ts& v) {
        Generator gen(9);
        return F::dropout(v[0], 0.3, true, &gen);
      },
      {x});
  // Attention with causal and explicit masks.
  const Tensor q = leaf({2, 3, 4}, 11), k = leaf({2, 5, 4}, 12), vv = leaf({2, 5, 3}, 13);
  check([](const Ts& v) { return F::scaled_dot_product_attention(v[0], v[1], v[2]); }, {q, k, vv});
  check(
      [](const Ts& v) {
        F::AttentionOptions o;
        o.causal = true;
        return F::scaled_dot_product_attention(v[0], v[1], v[2], o);
      },
      {q, k, vv});
  const Tensor mask =
      from_vector<bool>({true, false, true, true, false, true, true, true, true, false}, {2, 1, 5});
  check(
      [mask](const Ts& v) {
        F::AttentionOptions o;
        o.attn_mask = mask;
        o.scale = 0.7;
        return F::scaled_dot_product_attention(v[0], v[1], v[2], o);
      },
      {q, k, vv});
}

TEST_CASE("layer modules pass gradcheck through their parameters", "[nn][gradcheck]") {
  Generator g(21);
  // Differentiate w.r.t. the module's own float64 parameters with autograd::grad and compare with
  // central differences on the same parameters (perturbed in place, then restored).
  auto fd_check = [](Module& m, const std::function<Tensor()>& loss_fn) {
    m.to(kFloat64);
    Tensor loss = loss_fn();
    auto params = m.parameters();
    auto grads = autograd::grad({loss}, params);
    double worst = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      double* p = params[i].data<double>();
      auto an = to_vector<double>(grads[i]);
      for (int64_t e = 0; e < params[i].numel(); ++e) {
        const double orig = p[e];
        NoGradGuard ng;
        p[e] = orig + 1e-6;
        const double lp = loss_fn().item<double>();
        p[e] = orig - 1e-6;
        const double lm = loss_fn().item<double>();
        p[e] = orig;
        const double num = (lp - lm) / 2e-6;
        worst = std::max(worst, std::abs(num - an[e]) / (1e-5 + 1e-3 * std::abs(num)));
      }
    }
    return worst;  // <= 1 means every element within atol + rtol * |numeric|
  };
  Generator rg(22);
  const Tensor x = randn({2, 3, 4}, {.dtype = kFloat64}, &rg);
  const Tensor proj = randn({2, 3, 4}, {.dtype = kFloat64}, &rg);
  {
    Linear lin(4, 4, true, kFloat32, &g);
    CHECK(fd_check(lin, [&] { return sum(mul(lin.forward(x), proj)); }) <= 1.0);
  }
  {
    LayerNorm ln(4);
    {
      NoGradGuard ng;
      tessera::normal_(ln.weight, 1.0, 0.3, &g);
      tessera::normal_(ln.bias, 0.0, 0.3, &g);
    }
    CHECK(fd_check(ln, [&] { return sum(mul(ln.forward(x), proj)); }) <= 1.0);
  }
  {
    Embedding emb(5, 4, kFloat32, &g);
    const Tensor tok = from_vector<int64_t>({4, 0, 4, 2, 1, 1}, {2, 3});
    CHECK(fd_check(emb, [&] { return sum(mul(emb.forward(tok), proj)); }) <= 1.0);
  }
  {
    FeedForward ff(4, 6, 0.0, false, kFloat32, &g);
    CHECK(fd_check(ff, [&] { return sum(mul(ff.forward(x), proj)); }) <= 1.0);
  }
  {
    MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2, .causal = true, .gen = &g});
    CHECK(fd_check(mha, [&] { return sum(mul(mha.forward(x), proj)); }) <= 1.0);
  }
  {
    MultiHeadAttention cross({.embed_dim = 4, .num_heads = 2, .fused_qkv = false, .gen = &g});
    const Tensor mem = randn({2, 5, 4}, {.dtype = kFloat64}, &rg);
    const Tensor kpm = from_vector<bool>(
        {false, false, true, false, true, false, false, false, false, true}, {2, 5});
    CHECK(fd_check(cross, [&] { return sum(mul(cross.forward(x, mem, mem, false, kpm), proj)); }) <=
          1.0);
  }
  for (bool pre : {true, false}) {
    // Decoder layer: causal self-attention, cross-attention with memory padding, FFN, three norms.
    nn::TransformerDecoderLayer dec(
        {.d_model = 4, .num_heads = 2, .dim_feedforward = 6, .norm_first = pre, .gen = &g});
    const Tensor mem = randn({2, 5, 4}, {.dtype = kFloat64}, &rg);
    const Tensor mkpm = from_vector<bool>(
        {false, false, false, true, true, false, false, false, false, false}, {2, 5});
    INFO("decoder norm_first " << pre);
    CHECK(fd_check(dec, [&] { return sum(mul(dec.forward(x, mem, mkpm), proj)); }) <= 1.0);
  }
}

TEST_CASE("LayerNorm forward matches a float64 loop reference", "[nn][layer_norm]") {
  Generator g(31);
  const int64_t n = 5, c = 7;
  const Tensor x = native::add(native::mul(randn({n, c}, {}, &g), Scalar(3.0)), Scalar(2.0));
  LayerNorm ln(c, 1e-5);
  {
    NoGradGuard ng;
    tessera::normal_(ln.weight, 1.0, 0.5, &g);
    tessera::normal_(ln.bias, 0.0, 0.5, &g);
  }
  const auto y = to_vector<float>(ln.forward(x));
  const auto xv = to_vector<float>(x), wv = to_vector<float>(ln.weight),
             bv = to_vector<float>(ln.bias);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double mu = 0, var = 0;
    for (int64_t j = 0; j < c; ++j) mu += xv[i * c + j];
    mu /= c;
    for (int64_t j = 0; j < c; ++j) var += (xv[i * c + j] - mu) * (xv[i * c + j] - mu);
    var /= c;
    for (int64_t j = 0; j < c; ++j) {
      const double ref = (xv[i * c + j] - mu) / std::sqrt(var + 1e-5) * wv[j] + bv[j];
      worst = std::max(worst, std::abs(ref - y[i * c + j]));
    }
  }
  CHECK(worst < 1e-5);  // float32: ~10 ulp of O(1) values
  CHECK_THROWS_WITH(ln.forward(zeros({2, 6})),
                    Catch::Contains("does not end with normalized shape"));
}

TEST_CASE("LayerNorm with bias = false has only a weight, and its gradient", "[nn][layer_norm]") {
  Generator g(32);
  const int64_t c = 9;
  LayerNorm ln(c, 1e-5, /*elementwise_affine=*/true, /*bias=*/false);
  CHECK_FALSE(ln.bias.defined());
  REQUIRE(ln.named_parameters().size() == 1);
  {
    NoGradGuard ng;
    tessera::normal_(ln.weight, 1.0, 0.5, &g);
  }
  // Equals the affine LayerNorm whose bias is zero, forward and weight gradient.
  LayerNorm with_bias(c, 1e-5);
  {
    NoGradGuard ng;
    native::copy_(with_bias.weight, ln.weight);
  }
  const Tensor x = randn({4, c}, {}, &g);
  const Tensor up = randn({4, c}, {}, &g);
  tessera::backward(tessera::sum(tessera::mul(ln.forward(x), up)));
  tessera::backward(tessera::sum(tessera::mul(with_bias.forward(x), up)));
  CHECK(native::allclose(ln.forward(x), with_bias.forward(x), 0, 0));
  CHECK(native::allclose(ln.weight.grad(), with_bias.weight.grad(), 1e-6, 1e-6));
}

TEST_CASE("cross_entropy matches a float64 reference with ignore_index and label smoothing",
          "[nn][loss]") {
  Generator g(41);
  const int64_t b = 2, t = 3, c = 5;
  const Tensor logits = native::mul(randn({b, t, c}, {.dtype = kFloat64}, &g), Scalar(2.0));
  const Tensor targets = from_vector<int64_t>({1, -100, 4, 0, 2, -100}, {b, t});
  const auto lv = to_vector<double>(logits);
  const auto tv = to_vector<int64_t>(targets);
  for (double s : {0.0, 0.1, 0.3}) {
    double total = 0;
    int count = 0;
    for (int64_t i = 0; i < b * t; ++i) {
      if (tv[i] == -100) continue;
      double mx = -1e300, se = 0;
      for (int64_t j = 0; j < c; ++j) mx = std::max(mx, lv[i * c + j]);
      for (int64_t j = 0; j < c; ++j) se += std::exp(lv[i * c + j] - mx);
      const double lse = mx + std::log(se);
      double smooth = 0;
      for (int64_t j = 0; j < c; ++j) smooth += lse - lv[i * c + j];
      total += (1 - s) * (lse - lv[i * c + tv[i]]) + s * smooth / c;
      ++count;
    }
    const double ref = total / count;
    INFO("label_smoothing " << s);
    CHECK(F::cross_entropy(logits, targets, -100, s).item<double>() == Approx(ref).epsilon(1e-12));
    // gradient
    Tensor lg = native::clone(logits).requires_grad_(true);
    auto r = gradcheck([&](const Ts& v) { return F::cross_entropy(v[0], targets, -100, s); }, {lg});
    INFO(r.message);
    CHECK(r.ok);
  }
  // Ignored rows get exactly zero gradient.
  Tensor lg = native::clone(logits).requires_grad_(true);
  backward(F::cross_entropy(lg, targets, -100, 0.1));
  const auto gv = to_vector<double>(lg.grad());
  for (int64_t j = 0; j < c; ++j) CHECK(gv[1 * c + j] == 0.0);
  // (N, C) form and errors.
  CHECK(F::cross_entropy(native::reshape(logits, {6, 5}), native::reshape(targets, {6}))
            .item<double>() ==
        Approx(F::cross_entropy(logits, targets).item<double>()).epsilon(1e-14));
  CHECK_THROWS_WITH(F::cross_entropy(logits, from_vector<int64_t>({1, 5, 0, 0, 0, 0}, {b, t})),
                    Catch::Contains("outside [0, vocab=5)"));
  CHECK_THROWS_WITH(
      F::cross_entropy(logits, targets.defined() ? native::reshape(targets, {6}) : targets),
      Catch::Contains("cross_entropy: expected"));
  CHECK(std::isnan(
      F::cross_entropy(logits, full({b, t}, int64_t{-100}, {.dtype = kInt64})).item<double>()));
  CHECK(F::mse_loss(tensor({1.0, 2.0}), tensor({0.0, 4.0})).item<double>() == Approx(2.5));
}

TEST_CASE("Dropout: scaled Bernoulli mask in training, identity in eval, reproducible",
          "[nn][dropout]") {
  Generator g(51);
  Dropout d(0.25, &g);
  const Tensor x = ones({200, 100});
  const auto y = to_vector<float>(d.forward(x));
  int64_t zeros_count = 0, bad = 0;
  for (float v : y) {
    if (v == 0.0f)
      ++zeros_count;
    else if (v != static_cast<float>(1.0 / 0.75))
      ++bad;
  }
  CHECK(bad == 0);  // kept values are scaled by exactly 1 / (1 - p)
  const double frac = static_cast<double>(zeros_count) / y.size();
  CHECK(std::abs(frac - 0.25) < 0.015);  // ~5 sigma for n = 20000
  Generator g2(51);
  Dropout d2(0.25, &g2);
  CHECK(native::equal(d2.forward(x), from_vector<float>(y, {200, 100})));
  d.eval();
  CHECK(d.forward(x).is_same(x));
  CHECK_THROWS(Dropout(1.5));
}

TEST_CASE("initializers have the documented bounds and variances", "[nn][init]") {
  Generator g(61);
  Tensor w = empty({300, 200});
  init::xavier_uniform_(w, 1.0, &g);
  const double a = std::sqrt(6.0 / 500.0);
  CHECK(native::amax(w).item<double>() <= a);
  CHECK(native::amin(w).item<double>() >= -a);
  CHECK(native::std(w).item<double>() == Approx(a / std::sqrt(3.0)).epsilon(0.02));
  init::kaiming_normal_(w, 0.0, true, &g);
  CHECK(native::std(w).item<double>() == Approx(std::sqrt(2.0 / 200.0)).epsilon(0.02));
  init::kaiming_uniform_(w, std::sqrt(5.0), true, &g);  // PyTorch Linear default: bound 1/sqrt(in)
  CHECK(native::amax(w).item<double>() <= 1.0 / std::sqrt(200.0));
  init::xavier_normal_(w, 2.0, &g);
  CHECK(native::std(w).item<double>() == Approx(2.0 * std::sqrt(2.0 / 500.0)).epsilon(0.02));
  init::zeros_(w);
  CHECK(native::sum(native::abs(w)).item<double>() == 0.0);
  init::ones_(w);
  CHECK(native::mean(w).item<double>() == 1.0);
  Tensor v = empty({5});
  CHECK_THROWS_WITH(init::xavier_uniform_(v), Catch::Contains("at least 2 dims"));
}
