// SPDX-License-Identifier: Apache-2.0
/// @brief MultiHeadAttention: KV-cache incremental decoding equals the full causal forward (token
/// by token and in chunks, also through a decoder layer); key padding: padded keys do not affect
/// real positions and equal running on the unpadded sequence; input validation.
#include <catch2/catch.hpp>

#include <tessera/nn.h>

using namespace tessera;
using namespace tessera::nn;

namespace {
double max_abs_diff(const Tensor& a, const Tensor& b) {
  return native::amax(native::abs(native::sub(native::to(a, kFloat64), native::to(b, kFloat64))))
      .item<double>();
}
bool all_finite(const Tensor& t) {
  return native::amax(native::to(native::logical_not(native::isfinite(t)), kFloat64))
             .item<double>() == 0.0;
}
}  // namespace

TEST_CASE("KV-cache incremental decoding equals the full causal forward", "[nn][attention]") {
  Generator g(1);
  MultiHeadAttention mha({.embed_dim = 8, .num_heads = 2, .causal = true, .gen = &g});
  const Tensor x = randn({2, 7, 8}, {}, &g);
  const Tensor full = mha.forward(x);
  SECTION("one token at a time") {
    KVCache cache;
    std::vector<Tensor> steps;
    for (int64_t t = 0; t < 7; ++t) {
      const Tensor xt = native::narrow(x, 1, t, 1);
      steps.push_back(mha.forward(xt, xt, xt, /*causal=*/true, {}, &cache));
      CHECK(cache.length() == t + 1);
    }
    const Tensor inc = native::cat(steps, 1);
    INFO("max abs diff " << max_abs_diff(inc, full));
    CHECK(max_abs_diff(inc, full) < 1e-5);
  }
  SECTION("chunks of 3 then 4 (a query block attends to all cached keys)") {
    KVCache cache;
    const Tensor a = native::narrow(x, 1, 0, 3), b = native::narrow(x, 1, 3, 4);
    const Tensor ya = mha.forward(a, a, a, true, {}, &cache);
    const Tensor yb = mha.forward(b, b, b, true, {}, &cache);
    CHECK(max_abs_diff(native::cat({ya, yb}, 1), full) < 1e-5);
  }
  SECTION("without the causal mask the last position differs from the causal one") {
    // Guards against a mask that does nothing: position 0 must differ between causal and not.
    const Tensor nc = mha.forward(x, x, x, false);
    CHECK(max_abs_diff(native::narrow(nc, 1, 0, 1), native::narrow(full, 1, 0, 1)) > 1e-3);
    CHECK(max_abs_diff(native::narrow(nc, 1, 6, 1), native::narrow(full, 1, 6, 1)) < 1e-5);
  }
}

TEST_CASE("decoder layer with a self-attention cache equals the full forward", "[nn][attention]") {
  Generator g(2);
  for (bool pre : {true, false}) {
    TransformerDecoderLayer layer(
        {.d_model = 8, .num_heads = 2, .dim_feedforward = 12, .norm_first = pre, .gen = &g});
    {
      NoGradGuard ng;  // non-trivial norms so pre/post-LN differ meaningfully
      for (auto& [n, p] : layer.named_parameters())
        if (n.find("ln_") == 0) {
          Tensor q = p;
          tessera::normal_(q, n.ends_with("weight") ? 1.0 : 0.0, 0.3, &g);
        }
    }
    const Tensor x = randn({2, 5, 8}, {}, &g);
    const Tensor mem = randn({2, 4, 8}, {}, &g);
    const Tensor full = layer.forward(x, mem);
    KVCache cache;
    std::vector<Tensor> steps;
    for (int64_t t = 0; t < 5; ++t)
      steps.push_back(layer.forward(native::narrow(x, 1, t, 1), mem, {}, {}, &cache));
    INFO("norm_first " << pre);
    CHECK(max_abs_diff(native::cat(steps, 1), full) < 1e-5);
  }
}

TEST_CASE("key padding: padded keys do not affect the outputs of real positions",
          "[nn][attention]") {
  Generator g(3);
  for (bool fused : {true, false}) {
    MultiHeadAttention mha({.embed_dim = 8, .num_heads = 4, .fused_qkv = fused, .gen = &g});
    Tensor x = randn({2, 6, 8}, {}, &g);
    // Batch 0 has 4 real tokens, batch 1 has 6.
    const Tensor kpm = from_vector<bool>(
        {false, false, false, false, true, true, false, false, false, false, false, false}, {2, 6});
    const Tensor y = mha.forward(x, x, x, false, kpm);
    // Garbage in the padded positions changes nothing at real positions.
    Tensor x2 = native::clone(x);
    Tensor pad = native::narrow(native::select(x2, 0, 0), 0, 4, 2);
    native::fill_(pad, Scalar(1e3));
    const Tensor y2 = mha.forward(x2, x2, x2, false, kpm);
    const Tensor real0 = native::narrow(native::select(y, 0, 0), 0, 0, 4);
    CHECK(max_abs_diff(real0, native::narrow(native::select(y2, 0, 0), 0, 0, 4)) < 1e-5);
    CHECK(max_abs_diff(native::select(y, 0, 1), native::select(y2, 0, 1)) < 1e-5);
    // And equals attention over the unpadded sequence alone.
    const Tensor x0 = native::contiguous(native::narrow(native::narrow(x, 0, 0, 1), 1, 0, 4));
    const Tensor alone = mha.forward(x0, x0, x0, false);
    CHECK(max_abs_diff(real0, native::select(alone, 0, 0)) < 1e-5);
    // Without the mask, the padded garbage does leak (the test can fail).
    const Tensor leak = mha.forward(x2, x2, x2, false);
    CHECK(max_abs_diff(native::narrow(native::select(leak, 0, 0), 0, 0, 4), real0) > 1e-2);
  }
}

TEST_CASE("key padding: each sentence of a padded batch equals the sentence alone",
          "[nn][attention]") {
  // Issue #8's masking property through the fused CPU kernel, causal and not; a sentence with no
  // real token (every key padded) gives finite outputs and gradients (the kernel's 0), not NaN.
  Generator g(5);
  MultiHeadAttention mha({.embed_dim = 16, .num_heads = 2, .gen = &g});
  const int64_t B = 4, T = 9;
  const std::vector<int64_t> lens = {9, 4, 1, 0};
  std::vector<bool> pad(B * T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < T; ++j) pad[b * T + j] = j >= lens[b];
  const Tensor kpm = from_vector<bool>(pad, {B, T});
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    const Tensor x = randn({B, T, 16}, {.requires_grad = true}, &g);
    const Tensor y = mha.forward(x, x, x, causal, kpm);
    for (int64_t b = 0; b < B; ++b) {
      if (lens[b] == 0) continue;
      const Tensor xb =
          native::contiguous(native::narrow(native::narrow(detach(x), 0, b, 1), 1, 0, lens[b]));
      const Tensor alone = mha.forward(xb, xb, xb, causal);
      const Tensor got = native::narrow(native::narrow(y, 0, b, 1), 1, 0, lens[b]);
      INFO("sentence " << b);
      CHECK(max_abs_diff(got, alone) < 1e-5);
    }
    backward(sum(y));
    CHECK(all_finite(y));
    CHECK(all_finite(x.grad()));
    for (auto& [n, p] : mha.named_parameters()) {
      INFO(n);
      CHECK(all_finite(p.grad()));
    }
    mha.zero_grad();
  }
}

TEST_CASE("MultiHeadAttention validates its inputs", "[nn][attention]") {
  Generator g(4);
  MultiHeadAttention mha({.embed_dim = 8, .num_heads = 2, .gen = &g});
  const Tensor x = randn({2, 3, 8}, {}, &g), y = randn({2, 3, 8}, {}, &g);
  CHECK_THROWS_WITH(mha.forward(randn({2, 3, 6})), Catch::Contains("expected query"));
  CHECK_THROWS_WITH(mha.forward(x, y, y, false),
                    Catch::Contains("fused_qkv supports self-attention only"));
  CHECK_THROWS_WITH(mha.forward(x, x, x, false, zeros({2, 4}, {.dtype = kBool})),
                    Catch::Contains("key_padding_mask must be bool"));
  CHECK_THROWS_WITH(MultiHeadAttention({.embed_dim = 6, .num_heads = 4}),
                    Catch::Contains("multiple of num_heads"));
}
