// SPDX-License-Identifier: Apache-2.0
/// @brief Module: recursive dotted names, state_dict round trip, strict load errors naming keys,
/// no partial load, dtype moves keeping handles valid, train/eval, containers.
#include <catch2/catch.hpp>

#include <tessera/nn.h>

using namespace tessera;
using namespace tessera::nn;

namespace {

struct Block : Module {
  std::shared_ptr<MultiHeadAttention> attn;
  std::shared_ptr<LayerNorm> ln;
  Block(int64_t c, Generator* g) {
    ln = register_module("ln_1", std::make_shared<LayerNorm>(c));
    attn = register_module("attn", std::make_shared<MultiHeadAttention>(MultiHeadAttentionOptions{
                                       .embed_dim = c, .num_heads = 2, .gen = g}));
  }
};

struct Net : Module {
  std::shared_ptr<Embedding> wte;
  std::shared_ptr<ModuleList<Block>> h;
  Tensor counter;
  Net(Generator* g) {
    wte = register_module("wte", std::make_shared<Embedding>(7, 4, kFloat32, g));
    h = register_module("h", std::make_shared<ModuleList<Block>>());
    h->push_back(std::make_shared<Block>(4, g));
    h->push_back(std::make_shared<Block>(4, g));
    counter = register_buffer("counter", zeros({2}, {.dtype = kInt64}));
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("named_parameters gives stable recursive dotted names", "[nn][module]") {
  Generator g(1);
  Net net(&g);
  std::vector<std::string> names;
  for (auto& [n, t] : net.named_parameters()) names.push_back(n);
  const std::vector<std::string> expected = {"wte.weight",           "h.0.ln_1.weight",
                                             "h.0.ln_1.bias",        "h.0.attn.c_attn.weight",
                                             "h.0.attn.c_attn.bias", "h.0.attn.c_proj.weight",
                                             "h.0.attn.c_proj.bias", "h.1.ln_1.weight",
                                             "h.1.ln_1.bias",        "h.1.attn.c_attn.weight",
                                             "h.1.attn.c_attn.bias", "h.1.attn.c_proj.weight",
                                             "h.1.attn.c_proj.bias"};
  CHECK(names == expected);
  CHECK(net.parameters().size() == expected.size());
  CHECK(net.num_parameters() == 7 * 4 + 2 * (4 + 4 + 12 * 4 + 12 + 16 + 4));
  for (const Tensor& p : net.parameters()) CHECK(p.requires_grad());
  CHECK(net.named_buffers().size() == 1);
  CHECK(net.named_buffers()[0].first == "counter");
  auto mods = net.named_modules();
  CHECK(mods.size() == 1 + 1 + 1 + 2 * (1 + 1 + 1 + 2));
  CHECK(mods[3].first == "h.0");
  CHECK(mods[4].first == "h.0.ln_1");
  CHECK_THROWS(net.register_parameter("wte", zeros({1})));
  CHECK_THROWS(net.register_parameter("a.b", zeros({1})));
}

TEST_CASE("state_dict round trip copies values into the existing tensors", "[nn][module]") {
  Generator g1(1), g2(2);
  Net a(&g1), b(&g2);
  Tensor bw = b.wte->weight;  // handle held by the module
  CHECK_FALSE(native::equal(a.wte->weight, bw));
  b.load_state_dict(a.state_dict());
  for (auto& [n, t] : a.state_dict()) {
    INFO(n);
    CHECK(native::equal(t, b.state_dict().at(n)));
  }
  CHECK(native::equal(bw, a.wte->weight));        // same handle updated in place
  CHECK_FALSE(bw.shares_storage(a.wte->weight));  // a copy, not an alias
}

TEST_CASE(
    "strict load_state_dict names missing, unexpected and mis-shaped keys and changes nothing",
    "[nn][module]") {
  Generator g1(1), g2(2);
  Net a(&g1), b(&g2);
  const Tensor before = native::clone(b.h->operator[](0)->ln->weight);
  StateDict d = a.state_dict();
  d.erase("h.1.attn.c_proj.bias");
  d["h.9.extra"] = zeros({1});
  d["wte.weight"] = zeros({7, 5});
  native::fill_(d["h.0.ln_1.weight"] = native::clone(d["h.0.ln_1.weight"]), Scalar(3.0));
  const std::string err = error_of([&] { b.load_state_dict(d); });
  INFO(err);
  CHECK(err.find("missing keys: [h.1.attn.c_proj.bias]") != std::string::npos);
  CHECK(err.find("unexpected keys: [h.9.extra]") != std::string::npos);
  CHECK(err.find("wte.weight") != std::string::npos);
  CHECK(err.find("[7, 5]") != std::string::npos);
  CHECK(native::equal(b.h->operator[](0)->ln->weight, before));  // no partial load
  // Non-strict: missing/unexpected tolerated, shape mismatch still an error.
  CHECK_THROWS(b.load_state_dict(d, false));
  d["wte.weight"] = a.wte->weight;
  b.load_state_dict(d, /*strict=*/false);
  CHECK(native::equal(b.h->operator[](0)->ln->weight, full({4}, 3.0)));
}

TEST_CASE("to(dtype) converts in place, train/eval propagate, zero_grad clears", "[nn][module]") {
  Generator g(3);
  Net net(&g);
  Tensor w = net.wte->weight;
  net.to(kFloat64);
  CHECK(w.dtype() == kFloat64);
  CHECK(net.wte->weight.dtype() == kFloat64);
  CHECK(net.counter.dtype() == kInt64);  // integer buffers untouched
  CHECK(w.requires_grad());
  CHECK(net.is_training());
  net.eval();
  CHECK_FALSE(net.h->operator[](1)->attn->c_proj->is_training());
  net.train();
  CHECK(net.h->operator[](1)->attn->c_proj->is_training());
  Tensor loss = sum(net.wte->forward(tensor({1, 2})));
  backward(loss);
  CHECK(w.grad().defined());
  net.zero_grad();
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("Sequential chains forward(x); a module without forward(x) says so", "[nn][module]") {
  Generator g(4);
  auto seq = std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
      std::make_shared<Linear>(3, 5, true, kFloat32, &g), std::make_shared<GELU>(),
      std::make_shared<Linear>(5, 2, true, kFloat32, &g)});
  Tensor y = seq->forward(randn({4, 3}, {}, &g));
  CHECK(y.shape() == Shape{4, 2});
  CHECK(seq->named_parameters()[2].first == "2.weight");
  Module plain;
  CHECK(error_of([&] { plain.forward(y); }).find("no single-tensor forward") != std::string::npos);
}
