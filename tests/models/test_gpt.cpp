// SPDX-License-Identifier: Apache-2.0
/// @brief GPT: shapes, names and init, KV-cache decoding == full forward, learning a fixed string,
/// sampling rules, config validation.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <string>

#include <tessera/autograd/grad_mode.h>
#include <tessera/creation.h>
#include <tessera/models/gpt.h>
#include <tessera/models/sampling.h>
#include <tessera/native.h>
#include <tessera/nn/optim.h>
#include <tessera/ops.h>

using namespace tessera;
using tessera::models::GPT;
using tessera::models::GPTConfig;

namespace {
GPTConfig tiny(int64_t vocab = 11) {
  GPTConfig c;
  c.vocab_size = vocab;
  c.context = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 16;
  return c;
}
}  // namespace

TEST_CASE("GPT has GPT-2's parameter names, shapes and initialisation", "[models][gpt]") {
  Generator gen(3);
  GPT model(tiny(), &gen);
  std::map<std::string, Tensor> p;
  for (auto& [n, t] : model.named_parameters()) p[n] = t;
  REQUIRE(p.count("wte.weight"));
  REQUIRE(p.count("wpe.weight"));
  REQUIRE(p.count("h.0.ln_1.weight"));
  REQUIRE(p.count("h.1.attn.c_attn.weight"));
  REQUIRE(p.count("h.1.mlp.c_proj.bias"));
  REQUIRE(p.count("ln_f.bias"));
  CHECK_FALSE(p.count("lm_head.weight"));  // tied to wte
  CHECK(p["h.0.attn.c_attn.weight"].shape() == Shape{48, 16});
  CHECK(p["h.0.mlp.c_fc.weight"].shape() == Shape{64, 16});
  // Residual projections use std 0.02 / sqrt(2 * n_layer) = 0.01; others 0.02.
  auto std_of = [](const Tensor& t) { return native::std(t).item<double>(); };
  const Tensor big_proj = native::cat(
      {native::flatten(p["h.0.attn.c_proj.weight"]), native::flatten(p["h.1.attn.c_proj.weight"]),
       native::flatten(p["h.0.mlp.c_proj.weight"]), native::flatten(p["h.1.mlp.c_proj.weight"])});
  CHECK(std_of(big_proj) == Approx(0.01).epsilon(0.15));
  CHECK(std_of(p["wte.weight"]) == Approx(0.02).epsilon(0.2));
  CHECK(native::equal(p["h.0.ln_1.weight"], ones({16})));
  CHECK(native::equal(p["h.0.attn.c_attn.bias"], zeros({48})));
  // Same seed, same model.
  Generator gen2(3);
  GPT again(tiny(), &gen2);
  for (auto& [n, t] : again.named_parameters()) CHECK(native::equal(t, p[n]));
}

TEST_CASE("GPT KV-cache decoding gives the same logits as a full forward", "[models][gpt]") {
  Generator gen(5);
  GPT model(tiny(), &gen);
  model.eval();
  autograd::NoGradGuard ng;
  const Tensor idx = randint(0, 11, {2, 9}, {.dtype = kInt64}, &gen);
  const Tensor full = model.forward(idx);  // (2, 9, V)
  std::vector<nn::KVCache> caches(2);
  // Prompt of 4 tokens, then one token at a time.
  std::vector<Tensor> parts = {model.forward(native::narrow(idx, 1, 0, 4), caches)};
  for (int64_t t = 4; t < 9; ++t)
    parts.push_back(model.forward(native::narrow(idx, 1, t, 1), caches));
  const Tensor inc = native::cat(parts, 1);
  REQUIRE(inc.shape() == full.shape());
  CHECK(native::allclose(inc, full, 1e-5, 1e-5));
  CHECK(caches[0].length() == 9);
}

TEST_CASE("a tiny GPT learns a fixed string", "[models][gpt]") {
  // "abcabd..." repeated: predictable after two characters. Loss must fall from ~log(V) to < 0.3.
  const std::string text = "hello tessera, hello world. ";
  std::vector<int64_t> ids;
  for (int rep = 0; rep < 3; ++rep)
    for (char ch : text) ids.push_back(static_cast<unsigned char>(ch) % 32);
  GPTConfig cfg = tiny(32);
  cfg.context = 32;
  Generator gen(11);
  GPT model(cfg, &gen);
  nn::AdamOptions ao;
  ao.lr = 3e-3;
  nn::AdamW opt(model.param_groups(3e-3, 0.0), ao);
  const int64_t t = 31;
  const Tensor all = from_vector(ids, {1, static_cast<int64_t>(ids.size())});
  const Tensor x = native::narrow(all, 1, 0, t), y = native::narrow(all, 1, 1, t);
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    const Tensor loss = model.loss(x, y);
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    backward(loss);
    opt.step();
    opt.zero_grad();
  }
  INFO("first loss " << first << ", last loss " << last);
  CHECK(first > 2.5);  // about log(32) = 3.47 at init
  CHECK(last < 0.3);
}

TEST_CASE("sampling: greedy, top-k, top-p and determinism", "[models][sampling]") {
  using tessera::models::sample_token;
  using tessera::models::SamplingOptions;
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, -1.0f};
  Generator gen(1);
  SamplingOptions greedy;
  greedy.temperature = 0;
  CHECK(sample_token(logits, greedy, gen) == 1);
  SamplingOptions k1;
  k1.top_k = 1;
  for (int i = 0; i < 20; ++i) CHECK(sample_token(logits, k1, gen) == 1);
  SamplingOptions k2;
  k2.top_k = 2;
  std::map<int, int> seen;
  for (int i = 0; i < 400; ++i) seen[sample_token(logits, k2, gen)]++;
  CHECK(seen.size() == 2);
  CHECK(seen[1] > seen[2]);  // p = e^3 / (e^3 + e^2) = 0.73
  CHECK(std::abs(seen[1] / 400.0 - 0.731) < 0.08);
  SamplingOptions p_small;
  p_small.top_p = 0.5;  // the top token alone has 0.66 of the mass
  for (int i = 0; i < 20; ++i) CHECK(sample_token(logits, p_small, gen) == 1);
  // The same generator state gives the same draws.
  Generator a(9), b(9);
  SamplingOptions plain;
  for (int i = 0; i < 50; ++i)
    CHECK(sample_token(logits, plain, a) == sample_token(logits, plain, b));
  SamplingOptions bad;
  bad.top_p = 0;
  CHECK_THROWS_AS(sample_token(logits, bad, gen), Error);
}

TEST_CASE("generate: stops on the stop token and respects the length", "[models][sampling]") {
  Generator gen(2);
  GPT model(tiny(), &gen);
  tessera::models::SamplingOptions o;
  o.max_new_tokens = 40;  // beyond the context of 16: the cache is rebuilt on recent tokens
  o.gen = &gen;
  const auto out = tessera::models::generate(model, {1, 2, 3}, o);
  CHECK(out.size() == 40);
  for (int32_t t : out) CHECK((t >= 0 && t < 11));
  o.stop_token = out[5];
  Generator g1(2);
  GPT m1(tiny(), &g1);
  o.gen = &g1;
  const auto out2 = tessera::models::generate(m1, {1, 2, 3}, o);
  CHECK(out2.size() <= 6);
  CHECK(out2.back() == out[5]);
}

TEST_CASE("GPT config validation and JSON round trip", "[models][gpt]") {
  GPTConfig c = tiny();
  CHECK(GPTConfig::from_json(c.to_json()) == c);
  c.n_head = 3;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("must divide width"));
  CHECK_THROWS_AS(GPTConfig::from_json("{\"vocab_size\": 3}"), Error);
  CHECK_THROWS_AS(GPTConfig::from_json("not json"), Error);
  GPT model(tiny());
  CHECK_THROWS_WITH(model.forward(zeros({1, 17}, {.dtype = kInt64})),
                    Catch::Contains("exceeds the context"));
}

TEST_CASE("GPT without biases and with exact GELU (nanoGPT's blocks)", "[models][gpt]") {
  GPTConfig c = tiny();
  c.bias = false;
  c.gelu_tanh = false;
  Generator gen(7);
  GPT model(c, &gen);
  int64_t n = 0;
  for (auto& [name, t] : model.named_parameters()) {
    CHECK_FALSE(name.ends_with(".bias"));
    n += t.numel();
  }
  // wte + wpe + per layer (2 LayerNorm weights, QKV, proj, fc, proj) + ln_f weight.
  const int64_t C = 16, V = 11, T = 16;
  CHECK(n == V * C + T * C + 2 * (2 * C + 3 * C * C + C * C + 4 * C * C + 4 * C * C) + C);
  // The block's MLP is c_proj(gelu_exact(c_fc(x))): it differs from the tanh form and matches
  // the exact formula computed here in float64.
  model.eval();
  autograd::NoGradGuard ng;
  auto& mlp = *(*model.h)[0]->mlp;
  Generator g2(8);
  const Tensor x = randn({3, C}, {}, &g2);
  const Tensor hidden =
      native::to(native::matmul(x, native::transpose(mlp.c_fc->weight, 0, 1)), kFloat64);
  const Tensor gelu = native::mul(
      native::mul(hidden, Scalar(0.5)),
      native::add(native::erf(native::mul(hidden, Scalar(1.0 / std::sqrt(2.0)))), Scalar(1.0)));
  const Tensor want =
      native::matmul(gelu, native::transpose(native::to(mlp.c_proj->weight, kFloat64), 0, 1));
  CHECK(native::allclose(native::to(mlp.forward(x), kFloat64), want, 1e-5, 1e-6));
  // JSON: round trip, configs written before "activation" existed mean tanh, bad values throw.
  CHECK(GPTConfig::from_json(c.to_json()) == c);
  CHECK(GPTConfig::from_json(tiny().to_json()).gelu_tanh);
  CHECK(GPTConfig::from_json(R"({"vocab_size":11,"context":16,"n_layer":2,"n_head":2,)"
                             R"("n_embd":16,"dropout":0.0,"bias":true})")
            .gelu_tanh);
  CHECK_THROWS_WITH(
      GPTConfig::from_json(R"({"vocab_size":11,"context":16,"n_layer":2,"n_head":2,)"
                           R"("n_embd":16,"dropout":0.0,"bias":true,"activation":"relu"})"),
      Catch::Contains("activation"));
}
