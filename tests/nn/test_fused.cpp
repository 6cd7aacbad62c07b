// SPDX-License-Identifier: Apache-2.0
/// @brief The fused ops wired into nn (LayerNorm, cross-entropy, attention, AdamW) equal their
/// unfused compositions, value and gradient, and pass float64 gradcheck.
#include <catch2/catch.hpp>

#include <cmath>

#include <tessera/autograd/gradcheck.h>
#include <tessera/nn.h>
#include <tessera/native/fused.h>
#include <tessera/ops.h>

using namespace tessera;

namespace {

Tensor rnd(const Shape& s, Generator& g, DType dt = kFloat64) {
  return randn(s, {.dtype = dt, .requires_grad = true}, &g);
}

/// Values and gradients (w.r.t. every input) of fn at inputs.
std::vector<Tensor> value_and_grads(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                    std::vector<Tensor> inputs, const Tensor& proj) {
  std::vector<Tensor> leaves;
  for (auto& t : inputs) {
    Tensor l = native::clone(t);
    if (is_floating(l.dtype())) l.requires_grad_(true);
    leaves.push_back(l);
  }
  const Tensor y = fn(leaves);
  backward(sum(mul(y, proj.defined() ? proj : ones_like(y))));
  std::vector<Tensor> out = {native::clone(y)};
  for (auto& l : leaves) out.push_back(l.requires_grad() ? l.grad() : Tensor());
  return out;
}

void check_same(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double tol) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].defined() || !b[i].defined()) continue;
    INFO("output/gradient " << i << ": fused " << a[i] << " vs reference " << b[i]);
    CHECK(native::allclose(a[i], b[i], tol, tol));
  }
}

}  // namespace

TEST_CASE("fused layer_norm == composition, value and gradients", "[nn][fused]") {
  Generator g(1);
  for (int64_t c : {1, 7, 33, 130}) {
    const Tensor x = rnd({3, 5, c}, g), w = rnd({c}, g), b = rnd({c}, g);
    const Tensor proj = randn({3, 5, c}, {.dtype = kFloat64}, &g);
    auto fused = [](const std::vector<Tensor>& in) {
      return nn::F::layer_norm(in[0], 1, in[1], in[2]);
    };
    auto ref = [](const std::vector<Tensor>& in) {
      return nn::F::layer_norm_reference(in[0], 1, in[1], in[2]);
    };
    check_same(value_and_grads(fused, {x, w, b}, proj), value_and_grads(ref, {x, w, b}, proj),
               1e-10);
    const auto gc = gradcheck(fused, {x, w, b});
    INFO(gc.message);
    CHECK(gc.ok);
  }
  // Non-contiguous input and no affine parameters.
  const Tensor x = native::transpose(rnd({9, 4}, g), 0, 1);
  auto fused = [](const std::vector<Tensor>& in) { return nn::F::layer_norm(in[0], 1, {}, {}); };
  auto ref = [](const std::vector<Tensor>& in) {
    return nn::F::layer_norm_reference(in[0], 1, {}, {});
  };
  check_same(value_and_grads(fused, {x}, {}), value_and_grads(ref, {x}, {}), 1e-10);
}

TEST_CASE("fused cross_entropy == composition with ignore_index and smoothing", "[nn][fused]") {
  Generator g(2);
  for (double smoothing : {0.0, 0.1}) {
    const Tensor logits = rnd({4, 6, 11}, g);
    std::vector<int64_t> t(24);
    for (int i = 0; i < 24; ++i) t[i] = (i * 7) % 11;
    t[3] = t[17] = -100;
    const Tensor targets = from_vector(t, {4, 6});
    auto fused = [&](const std::vector<Tensor>& in) {
      return nn::F::cross_entropy(in[0], targets, -100, smoothing);
    };
    auto ref = [&](const std::vector<Tensor>& in) {
      return nn::F::cross_entropy_reference(in[0], targets, -100, smoothing);
    };
    check_same(value_and_grads(fused, {logits}, {}), value_and_grads(ref, {logits}, {}), 1e-10);
    const auto gc = gradcheck(fused, {logits});
    INFO(gc.message);
    CHECK(gc.ok);
  }
  // Every target ignored: NaN loss, as PyTorch.
  const Tensor logits = rnd({2, 3}, g);
  CHECK(
      std::isnan(nn::F::cross_entropy(logits, full({2}, -100, {.dtype = kInt64})).item<double>()));
}

TEST_CASE("fused attention == composition (plain, causal), value and gradients", "[nn][fused]") {
  Generator g(3);
  for (bool causal : {false, true}) {
    for (int64_t t : {1, 5, 17}) {
      const Tensor q = rnd({2, 3, t, 8}, g), k = rnd({2, 3, t, 8}, g), v = rnd({2, 3, t, 8}, g);
      const Tensor proj = randn({2, 3, t, 8}, {.dtype = kFloat64}, &g);
      nn::F::AttentionOptions o;
      o.causal = causal;
      auto fused = [&](const std::vector<Tensor>& in) {
        return nn::F::scaled_dot_product_attention(in[0], in[1], in[2], o);
      };
      auto ref = [&](const std::vector<Tensor>& in) {
        return nn::F::scaled_dot_product_attention_reference(in[0], in[1], in[2], o);
      };
      INFO("causal " << causal << " T " << t);
      check_same(value_and_grads(fused, {q, k, v}, proj), value_and_grads(ref, {q, k, v}, proj),
                 1e-10);
    }
  }
  const Tensor q = rnd({1, 2, 6, 4}, g), k = rnd({1, 2, 6, 4}, g), v = rnd({1, 2, 6, 4}, g);
  nn::F::AttentionOptions o;
  o.causal = true;
  const auto gc = gradcheck(
      [&](const std::vector<Tensor>& in) {
        return nn::F::scaled_dot_product_attention(in[0], in[1], in[2], o);
      },
      {q, k, v});
  INFO(gc.message);
  CHECK(gc.ok);
}

TEST_CASE("fused attention == composition with masks (KV-cache causal, key padding)",
          "[nn][fused]") {
  // float64: the fused node and the composition agree to 1e-10 in value and gradients. Cases
  // without fully masked rows (the composition gives NaN there; see the next test).
  Generator g(6);
  const int64_t B = 3, H = 2, D = 8;
  struct Case {
    int64_t tq, tk;
    bool causal;
    int mask;  // 0 none, 1 key_padding_mask, 2 key_lengths, 3 keys-only attn_mask, 4 all three
  };
  for (const Case c :
       {Case{1, 17, true, 0}, Case{5, 17, true, 0}, Case{17, 17, true, 1}, Case{17, 17, false, 2},
        Case{4, 9, false, 3}, Case{9, 9, true, 3}, Case{3, 17, true, 4}, Case{17, 17, false, 4}}) {
    const Tensor q = rnd({B, H, c.tq, D}, g), k = rnd({B, H, c.tk, D}, g),
                 v = rnd({B, H, c.tk, D}, g);
    const Tensor proj = randn({B, H, c.tq, D}, {.dtype = kFloat64}, &g);
    // Batch 0 keeps every key, batch 1 the first 3 (plus holes), batch 2 the first tk - 1; key 0
    // stays visible so no row is fully masked.
    std::vector<bool> pad(B * c.tk, false);
    for (int64_t j = 3; j < c.tk; ++j) pad[c.tk + j] = true;
    pad[2 * c.tk + c.tk - 1] = true;
    if (c.tk > 6) pad[2 * c.tk + 4] = true;  // an interior hole
    const Tensor kpm = from_vector<bool>(pad, {B, c.tk});
    const Tensor lens = from_vector<int64_t>({c.tk, 3, c.tk - 1}, {B});
    nn::F::AttentionOptions o;
    o.causal = c.causal;
    o.scale = 0.4;
    if (c.mask == 1 || c.mask == 4) o.key_padding_mask = kpm;
    if (c.mask == 2 || c.mask == 4) o.key_lengths = lens;
    if (c.mask == 3 || c.mask == 4)
      o.attn_mask = native::reshape(native::logical_not(kpm), {B, 1, 1, c.tk});
    auto fused = [&](const std::vector<Tensor>& in) {
      return nn::F::scaled_dot_product_attention(in[0], in[1], in[2], o);
    };
    auto ref = [&](const std::vector<Tensor>& in) {
      return nn::F::scaled_dot_product_attention_reference(in[0], in[1], in[2], o);
    };
    INFO("Tq " << c.tq << " Tk " << c.tk << " causal " << c.causal << " mask " << c.mask);
    const Tensor y = fused({q, k, v});
    REQUIRE(y.grad_fn());
    CHECK(y.grad_fn()->name() == "FusedAttentionBackward");  // really the fused kernel
    check_same(value_and_grads(fused, {q, k, v}, proj), value_and_grads(ref, {q, k, v}, proj),
               1e-10);
  }
  // gradcheck of the fused node with bottom-right causal and padding.
  const Tensor q = rnd({2, 1, 3, 4}, g), k = rnd({2, 1, 7, 4}, g), v = rnd({2, 1, 7, 4}, g);
  nn::F::AttentionOptions o;
  o.causal = true;
  o.key_padding_mask = from_vector<bool>({false, false, true, false, false, false, false, false,
                                          false, false, false, true, false, true},
                                         {2, 7});
  const auto gc = gradcheck(
      [&](const std::vector<Tensor>& in) {
        return nn::F::scaled_dot_product_attention(in[0], in[1], in[2], o);
      },
      {q, k, v});
  INFO(gc.message);
  CHECK(gc.ok);
}

TEST_CASE("fused attention: fully masked rows give 0 and zero gradients, never NaN",
          "[nn][fused]") {
  Generator g(7);
  const int64_t B = 2, H = 2, T = 6, D = 4;
  const Tensor q = rnd({B, H, T, D}, g), k = rnd({B, H, T, D}, g), v = rnd({B, H, T, D}, g);
  // Batch 1 has no key at all (length 0 / all padded); batch 0 has 4.
  for (int variant = 0; variant < 2; ++variant) {
    nn::F::AttentionOptions o;
    if (variant == 0)
      o.key_lengths = from_vector<int64_t>({4, 0}, {B});
    else
      o.key_padding_mask = from_vector<bool>(
          {false, false, false, false, true, true, true, true, true, true, true, true}, {B, T});
    auto fused = [&](const std::vector<Tensor>& in) {
      return nn::F::scaled_dot_product_attention(in[0], in[1], in[2], o);
    };
    const auto vg = value_and_grads(fused, {q, k, v}, {});
    for (const Tensor& t : vg) {
      const Tensor b1 = native::select(t, 0, 1);
      CHECK(native::amax(native::abs(b1)).item<double>() == 0.0);  // 0, and not NaN
    }
    // Batch 0 equals the composition on batch 0 alone (which has no fully masked row).
    nn::F::AttentionOptions o0;
    o0.key_lengths = from_vector<int64_t>({4}, {1});
    auto ref0 = [&](const std::vector<Tensor>& in) {
      return nn::F::scaled_dot_product_attention_reference(in[0], in[1], in[2], o0);
    };
    const auto first = [](const Tensor& t) { return native::narrow(t, 0, 0, 1); };
    const auto r0 = value_and_grads(ref0, {first(q), first(k), first(v)}, {});
    std::vector<Tensor> f0;
    for (const Tensor& t : vg) f0.push_back(first(t));
    check_same(f0, r0, 1e-10);
  }
  // Causal with Tq > Tk: the first Tq - Tk queries see no key.
  nn::F::AttentionOptions oc;
  oc.causal = true;
  const Tensor y = nn::F::scaled_dot_product_attention(q, native::narrow(k, 2, 0, 4),
                                                       native::narrow(v, 2, 0, 4), oc);
  CHECK(native::amax(native::abs(native::narrow(y, 2, 0, 2))).item<double>() == 0.0);
  CHECK(native::amax(native::abs(native::narrow(y, 2, 2, 4))).item<double>() > 0.0);
}

TEST_CASE("fused attention rejects bad masks", "[nn][fused]") {
  const Tensor q = zeros({2, 1, 3, 4}), k = zeros({2, 1, 5, 4});
  native::AttentionParams p;
  p.key_lengths = from_vector<int64_t>({5}, {1});  // (1), not (B)
  CHECK_THROWS_WITH(native::scaled_dot_product_attention(q, k, k, p),
                    Catch::Contains("key_lengths must be int64/int32 (2)"));
  p.key_lengths = from_vector<int64_t>({5, 6}, {2});  // 6 > Tk
  CHECK_THROWS_WITH(native::scaled_dot_product_attention(q, k, k, p),
                    Catch::Contains("outside [0, kv_len=5]"));
  p.key_lengths = Tensor();
  p.key_padding_mask = zeros({2, 3}, {.dtype = kBool});  // (B, Tq), not (B, Tk)
  CHECK_THROWS_WITH(native::scaled_dot_product_attention(q, k, k, p),
                    Catch::Contains("key_padding_mask must be bool (B, Tk) = (2, 5)"));
  p.key_padding_mask = zeros({2, 5});  // float, not bool
  CHECK_THROWS_WITH(native::scaled_dot_product_attention(q, k, k, p),
                    Catch::Contains("key_padding_mask must be bool"));
}

TEST_CASE("fused attention dropout: same mask in forward and backward", "[nn][fused]") {
  // With dropout the fused and composed paths draw different masks, so check the fused node on its
  // own: gradcheck with a generator reset before every evaluation sees one fixed mask.
  Generator g(4);
  const Tensor q = rnd({1, 2, 5, 4}, g), k = rnd({1, 2, 5, 4}, g), v = rnd({1, 2, 5, 4}, g);
  Generator drop(99);
  auto fn = [&](const std::vector<Tensor>& in) {
    drop.set_state(99, 0);
    return fused_attention(in[0], in[1], in[2], false, 0.0, 0.3, &drop);
  };
  const auto gc = gradcheck(fn, {q, k, v});
  INFO(gc.message);
  CHECK(gc.ok);
}

TEST_CASE("AdamW (fused path) matches the unfused Adam with decoupled decay", "[nn][fused]") {
  Generator g(5);
  const Tensor init = randn({37}, {.dtype = kFloat64}, &g);
  Tensor a = native::clone(init), b = native::clone(init);
  a.requires_grad_(true);
  b.requires_grad_(true);
  nn::AdamOptions o;
  o.lr = 0.01;
  o.weight_decay = 0.1;
  nn::AdamW fused({a}, o);                       // contiguous float64: fused kernel
  nn::Adam unfused({b}, o, /*decoupled=*/true);  // same math through elementwise ops below
  for (int step = 0; step < 5; ++step) {
    const Tensor grad = randn({37}, {.dtype = kFloat64}, &g);
    a.set_grad(native::clone(grad));
    // A non-contiguous gradient forces the unfused path on b.
    const Tensor wide = native::clone(native::stack({grad, grad}, 1));
    b.set_grad(native::select(wide, 1, 0));
    fused.step();
    unfused.step();
  }
  CHECK(native::allclose(a, b, 1e-12, 1e-12));
}
