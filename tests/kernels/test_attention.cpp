// SPDX-License-Identifier: Apache-2.0
/// @brief Fused attention CPU kernels against a naive float64 reference (full T x T matrix):
/// causal (bottom-right for Tq != Tk: KV-cache decoding), key lengths and arbitrary key padding
/// masks, fully masked rows (o = 0, lse = -inf, zero gradients, never NaN), Tq != Tk, dropout,
/// backward, padded batch == each sequence alone, thread invariance.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include <tessera/error.h>
#include <tessera/kernels/cpu/attention.h>
#include <tessera/philox.h>

#include "kernels/kernel_test_util.h"

using namespace tessera::kernels::cpu;
using tessera::BFloat16;
using tessera::Float16;
using namespace tessera::test;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct RefAttn {
  std::vector<double> o, lse, gq, gk, gv;
};

// Keep factor of element (b, h, i, j): 0 or 1 / (1 - p), from the documented Philox counter.
double keep_factor(const AttentionShape& s, const AttentionOptions& opt, int64_t bh, int64_t i,
                   int64_t j) {
  if (opt.dropout_p == 0.f) return 1.0;
  const uint64_t idx = (static_cast<uint64_t>(bh) * s.q_len + i) * s.kv_len + j;
  const uint32_t w = tessera::Philox4x32::word(opt.seed, opt.offset, idx);
  return tessera::uniform_float(w) >= opt.dropout_p ? 1.0 / (1.0 - double(opt.dropout_p)) : 0.0;
}

// Naive float64 attention over the full (Tq, Tk) matrix, and its analytic backward
// (dV = P'^T dO, dP = (dO V^T) keep, dS = P (dP - rowsum(P dP)), dQ = scale dS K, dK = scale dS^T
// Q).
RefAttn reference(const AttentionShape& s, const AttentionOptions& opt,
                  const std::vector<double>& q, const std::vector<double>& k,
                  const std::vector<double>& v, const std::vector<double>& go) {
  const int64_t B = s.batch, H = s.heads, Tq = s.q_len, Tk = s.kv_len, D = s.head_dim;
  const double scale = opt.scale != 0.f ? opt.scale : 1.0 / std::sqrt(double(D));
  RefAttn r{std::vector<double>(B * H * Tq * D), std::vector<double>(B * H * Tq),
            std::vector<double>(B * H * Tq * D), std::vector<double>(B * H * Tk * D),
            std::vector<double>(B * H * Tk * D)};
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t len = opt.key_lengths ? opt.key_lengths[bh / H] : Tk;
    const bool* pad = opt.key_padding_mask ? opt.key_padding_mask + (bh / H) * Tk : nullptr;
    const double* Q = &q[bh * Tq * D];
    const double* K = &k[bh * Tk * D];
    const double* V = &v[bh * Tk * D];
    const double* GO = &go[bh * Tq * D];
    for (int64_t i = 0; i < Tq; ++i) {
      std::vector<double> sc(Tk), p(Tk), pd(Tk), dp(Tk);
      double m = -kInf;
      for (int64_t j = 0; j < Tk; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += Q[i * D + d] * K[j * D + d];
        // Causal is bottom-right aligned: query i sees keys j <= i + Tk - Tq.
        const bool masked = j >= len || (pad && pad[j]) || (opt.causal && j > i + Tk - Tq);
        sc[j] = masked ? -kInf : scale * dot;
        m = std::max(m, sc[j]);
      }
      if (m == -kInf) {  // sees nothing: o = 0, lse = -inf, no gradient
        r.lse[bh * Tq + i] = -kInf;
        continue;
      }
      double sum = 0;
      for (int64_t j = 0; j < Tk; ++j) sum += std::exp(sc[j] - m);
      r.lse[bh * Tq + i] = m + std::log(sum);
      for (int64_t j = 0; j < Tk; ++j) {
        p[j] = std::exp(sc[j] - m) / sum;
        pd[j] = p[j] * keep_factor(s, opt, bh, i, j);
      }
      for (int64_t d = 0; d < D; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < Tk; ++j) acc += pd[j] * V[j * D + d];
        r.o[(bh * Tq + i) * D + d] = acc;
      }
      // Backward of this row.
      double rs = 0;
      for (int64_t j = 0; j < Tk; ++j) {
        double acc = 0;
        for (int64_t d = 0; d < D; ++d) acc += GO[i * D + d] * V[j * D + d];
        dp[j] = acc * keep_factor(s, opt, bh, i, j);
        rs += p[j] * dp[j];
      }
      for (int64_t j = 0; j < Tk; ++j) {
        const double ds = p[j] * (dp[j] - rs);
        for (int64_t d = 0; d < D; ++d) {
          r.gq[(bh * Tq + i) * D + d] += scale * ds * K[j * D + d];
          r.gk[(bh * Tk + j) * D + d] += scale * ds * Q[i * D + d];
          r.gv[(bh * Tk + j) * D + d] += pd[j] * GO[i * D + d];
        }
      }
    }
  }
  return r;
}

template <typename T>
struct Outputs {
  std::vector<T> o, gq, gk, gv;
  std::vector<compute_t<T>> lse;
};

// Random q, k, v, grad_o; forward and backward checked against the float64 reference. Tolerances
// (kernel_test_util.h Tol<T>): o and lse atol = rtol = 1e-5 (float32), 2e-2 (bfloat16), 4e-3
// (float16); gradients the same scaled by 1 + sqrt(max(Tq, Tk)) (float32) or 3 (16-bit).
template <typename T>
Outputs<T> run_case(const AttentionShape& s, const AttentionOptions& opt, uint64_t seed,
                    double grad_tol_scale = 1.0) {
  using A = compute_t<T>;
  CAPTURE(s.batch, s.heads, s.q_len, s.kv_len, s.head_dim, opt.causal, opt.key_lengths != nullptr,
          opt.key_padding_mask != nullptr, opt.dropout_p);
  std::mt19937_64 rng(seed);
  const int64_t nq = s.batch * s.heads * s.q_len * s.head_dim;
  const int64_t nk = s.batch * s.heads * s.kv_len * s.head_dim;
  auto q = random_vec<T>(nq, rng, -2, 2), k = random_vec<T>(nk, rng, -2, 2);
  auto v = random_vec<T>(nk, rng), go = random_vec<T>(nq, rng);
  const RefAttn ref = reference(s, opt, to_double(q), to_double(k), to_double(v), to_double(go));
  std::vector<T> o(nq);
  std::vector<A> lse(s.batch * s.heads * s.q_len);
  attention_forward<T>(s, opt, q.data(), k.data(), v.data(), o.data(), lse.data());
  check_close("o", o, ref.o);
  check_close("lse", lse, ref.lse, Tol<T>::rtol, Tol<T>::atol);
  std::vector<T> gq(nq, T(9.f)), gk(nk, T(9.f)), gv(nk, T(9.f));  // assigned, not accumulated
  attention_backward<T>(s, opt, q.data(), k.data(), v.data(), o.data(), go.data(), lse.data(),
                        gq.data(), gk.data(), gv.data());
  // Gradients sum over up to Tk (Tq) products: float32 error grows with the sum length.
  double gt = Tol<T>::rtol * grad_tol_scale;
  if constexpr (std::is_same_v<T, float>) gt *= 1 + std::sqrt(double(std::max(s.q_len, s.kv_len)));
  if constexpr (std::is_same_v<T, BFloat16> || std::is_same_v<T, Float16>) gt *= 3;
  check_close("grad_q", gq, ref.gq, gt, gt);
  check_close("grad_k", gk, ref.gk, gt, gt);
  check_close("grad_v", gv, ref.gv, gt, gt);
  return {o, gq, gk, gv, lse};
}

// Deterministic pseudo-random padding mask (B, Tk) with about `frac` of the keys padded.
std::unique_ptr<bool[]> random_pad(int64_t b, int64_t tk, double frac, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution d(frac);
  auto m = std::make_unique<bool[]>(static_cast<size_t>(std::max<int64_t>(b * tk, 1)));
  for (int64_t i = 0; i < b * tk; ++i) m[i] = d(rng);
  return m;
}

}  // namespace

TEST_CASE("attention float64 reference backward matches finite differences",
          "[kernels][attention]") {
  AttentionShape s{2, 1, 3, 4, 3};
  const int64_t lens[2] = {4, 2};
  std::mt19937_64 rng(11);
  const auto q = random_vec<double>(2 * 3 * 3, rng), k = random_vec<double>(2 * 4 * 3, rng);
  const auto v = random_vec<double>(2 * 4 * 3, rng), go = random_vec<double>(2 * 3 * 3, rng);
  const bool pad[8] = {false, true, false, false, false, false, true, false};
  for (int variant = 0; variant < 3; ++variant) {
    AttentionOptions opt;
    opt.causal = true;  // bottom-right: Tq = 3 < Tk = 4
    opt.key_lengths = lens;
    if (variant == 1) {
      opt.dropout_p = 0.3f;
      opt.seed = 42;
    }
    if (variant == 2) opt.key_padding_mask = pad;
    const RefAttn r = reference(s, opt, q, k, v, go);
    auto loss = [&](const std::vector<double>& qq, const std::vector<double>& kk,
                    const std::vector<double>& vv) {
      const auto o = reference(s, opt, qq, kk, vv, go).o;
      double l = 0;
      for (size_t i = 0; i < o.size(); ++i) l += o[i] * go[i];
      return l;
    };
    const double h = 1e-6;
    auto fd_check = [&](std::vector<double> x, const std::vector<double>& g, int which) {
      for (size_t i = 0; i < x.size(); ++i) {
        auto xp = x, xm = x;
        xp[i] += h;
        xm[i] -= h;
        const double fd = which == 0   ? (loss(xp, k, v) - loss(xm, k, v)) / (2 * h)
                          : which == 1 ? (loss(q, xp, v) - loss(q, xm, v)) / (2 * h)
                                       : (loss(q, k, xp) - loss(q, k, xm)) / (2 * h);
        CHECK(std::fabs(fd - g[i]) < 1e-7);
      }
    };
    fd_check(q, r.gq, 0);
    fd_check(k, r.gk, 1);
    fd_check(v, r.gv, 2);
  }
}

TEST_CASE("attention float32 matches float64 reference over sequence lengths and head dims",
          "[kernels][attention]") {
  const int64_t t = GENERATE(1, 17, 127, 129);
  const int64_t d = GENERATE(32, 64, 128);
  const bool causal = GENERATE(false, true);
  AttentionOptions opt;
  opt.causal = causal;
  run_case<float>(AttentionShape{1, 2, t, t, d}, opt, t * 131 + d);
}

TEST_CASE("attention with Tq != Tk, padding and fully masked rows", "[kernels][attention]") {
  const auto tq_tk =
      GENERATE(std::make_pair<int64_t, int64_t>(17, 129), std::make_pair<int64_t, int64_t>(129, 17),
               std::make_pair<int64_t, int64_t>(65, 200));
  const bool causal = GENERATE(false, true);
  const int64_t tq = tq_tk.first, tk = tq_tk.second;
  // Batch 1 has no keys at all: every one of its queries is fully masked.
  const int64_t lens[3] = {tk, 0, tk / 2 + 1};
  AttentionOptions opt;
  opt.causal = causal;
  opt.key_lengths = lens;
  opt.scale = 0.3f;
  run_case<float>(AttentionShape{3, 2, tq, tk, 32}, opt, tq + tk);
  run_case<double>(AttentionShape{3, 1, tq, tk, 16}, opt, tq * tk);
}

TEST_CASE("attention long sequences (T = 1000)", "[kernels][attention]") {
#ifdef NDEBUG
  const int64_t t = 1000;
#else
  const int64_t t = 300;      // sanitizer builds: the float64 reference is O(T^2 D)
#endif
  const int64_t lens[2] = {t, t - 77};
  AttentionOptions opt;
  opt.causal = true;
  opt.key_lengths = lens;
  run_case<float>(AttentionShape{2, 1, t, t, 64}, opt, 1000);
}

TEMPLATE_TEST_CASE("attention 16-bit and float64 storage", "[kernels][attention]", double, BFloat16,
                   Float16) {
  const bool causal = GENERATE(false, true);
  const int64_t lens[2] = {129, 40};
  AttentionOptions opt;
  opt.causal = causal;
  opt.key_lengths = lens;
  run_case<TestType>(AttentionShape{2, 2, 129, 129, 64}, opt, 77);
}

TEST_CASE("attention dropout matches the reference with the documented Philox mask",
          "[kernels][attention]") {
  const bool causal = GENERATE(false, true);
  AttentionOptions opt;
  opt.causal = causal;
  opt.dropout_p = 0.25f;
  opt.seed = 0x1234'5678'9abcULL;
  opt.offset = 17;
  run_case<float>(AttentionShape{2, 2, 131, 131, 32}, opt, 5);
  run_case<double>(AttentionShape{1, 2, 33, 70, 8}, opt, 6);
  // The mask really drops: a different seed changes the output.
  AttentionShape s{1, 1, 16, 16, 8};
  std::mt19937_64 rng(1);
  auto q = random_vec<float>(128, rng), k = random_vec<float>(128, rng),
       v = random_vec<float>(128, rng);
  std::vector<float> o1(128), o2(128), lse(16);
  attention_forward<float>(s, opt, q.data(), k.data(), v.data(), o1.data(), lse.data());
  opt.seed += 1;
  attention_forward<float>(s, opt, q.data(), k.data(), v.data(), o2.data(), lse.data());
  CHECK_FALSE(same_bits(o1, o2));
}

TEST_CASE("attention results do not depend on the thread count", "[kernels][attention]") {
#ifdef NDEBUG
  constexpr int64_t t = 200;
#else
  constexpr int64_t t = 130;  // sanitizer builds are ~10x slower
#endif
  AttentionShape s{2, 3, t, t, 64};
  const int64_t lens[2] = {t, t - 50};
  auto pad = random_pad(2, t, 0.2, 3);
  AttentionOptions opt;
  opt.causal = true;
  opt.key_lengths = lens;
  opt.key_padding_mask = pad.get();
  opt.dropout_p = 0.1f;
  std::mt19937_64 rng(12);
  const int64_t n = 2 * 3 * t * 64;
  auto q = random_vec<float>(n, rng), k = random_vec<float>(n, rng), v = random_vec<float>(n, rng);
  auto go = random_vec<float>(n, rng);
  auto run = [&](int threads) {
    std::vector<float> o(n), lse(2 * 3 * t), gq(n), gk(n), gv(n);
    with_threads(threads, [&] {
      attention_forward<float>(s, opt, q.data(), k.data(), v.data(), o.data(), lse.data());
      attention_backward<float>(s, opt, q.data(), k.data(), v.data(), o.data(), go.data(),
                                lse.data(), gq.data(), gk.data(), gv.data());
    });
    return std::vector<std::vector<float>>{o, lse, gq, gk, gv};
  };
  // 3 threads on 2 cores too: chunking depends on the sizes only, never on the team.
  const auto a = run(1), b = run(2), d = run(3);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(same_bits(a[i], b[i]));
    CHECK(same_bits(a[i], d[i]));
  }
}

TEST_CASE("attention with no keys or no queries", "[kernels][attention]") {
  AttentionOptions opt;
  opt.causal = true;
  std::vector<float> q(2 * 3 * 4, 1.f), o(2 * 3 * 4, 7.f), lse(2 * 3, 7.f), go(2 * 3 * 4, 1.f);
  std::vector<float> gq(2 * 3 * 4, 7.f);
  const AttentionShape s{1, 2, 3, 0, 4};  // kv_len = 0: every query is fully masked
  attention_forward<float>(s, opt, q.data(), nullptr, nullptr, o.data(), lse.data());
  for (float v : o) CHECK(v == 0.f);
  for (float v : lse) CHECK(v == -INFINITY);
  attention_backward<float>(s, opt, q.data(), nullptr, nullptr, o.data(), go.data(), lse.data(),
                            gq.data(), nullptr, nullptr);
  for (float v : gq) CHECK(v == 0.f);
  // No queries: nothing to do, keys get zero gradient.
  std::vector<float> k(2 * 5 * 4, 1.f), gk(2 * 5 * 4, 7.f), gv(2 * 5 * 4, 7.f);
  const AttentionShape s0{1, 2, 0, 5, 4};
  attention_forward<float>(s0, opt, nullptr, k.data(), k.data(), nullptr, nullptr);
  attention_backward<float>(s0, opt, nullptr, k.data(), k.data(), nullptr, nullptr, nullptr,
                            nullptr, gk.data(), gv.data());
  for (float v : gk) CHECK(v == 0.f);
  for (float v : gv) CHECK(v == 0.f);
}

TEST_CASE("attention rejects bad arguments", "[kernels][attention]") {
  float x = 0;
  AttentionOptions opt;
  CHECK_THROWS_AS(attention_forward<float>(AttentionShape{1, 1, 1, 1, 0}, opt, &x, &x, &x, &x, &x),
                  tessera::Error);
  const int64_t bad_len[1] = {2};
  opt.key_lengths = bad_len;
  CHECK_THROWS_AS(attention_forward<float>(AttentionShape{1, 1, 1, 1, 1}, opt, &x, &x, &x, &x, &x),
                  tessera::Error);
  opt.key_lengths = nullptr;
  opt.dropout_p = 1.f;
  CHECK_THROWS_AS(attention_forward<float>(AttentionShape{1, 1, 1, 1, 1}, opt, &x, &x, &x, &x, &x),
                  tessera::Error);
}

TEST_CASE("attention causal is bottom-right aligned for Tq < Tk (KV-cache decoding)",
          "[kernels][attention]") {
  const int64_t tq = GENERATE(1, 17, 127, 129);
  const int64_t extra = GENERATE(1, 111);
  const int64_t d = GENERATE(32, 64, 128);
  AttentionOptions opt;
  opt.causal = true;
  run_case<float>(AttentionShape{2, 1, tq, tq + extra, d}, opt, tq * 7 + extra + d);
  if (d == 64) run_case<BFloat16>(AttentionShape{1, 2, tq, tq + extra, d}, opt, tq + extra);
}

TEST_CASE("attention decode rows equal the last rows of the full causal forward",
          "[kernels][attention]") {
  // q = the last r rows of a causal self-attention over T keys: the KV-cache decoding step.
  const int64_t t = 129, d = 64;
  const int64_t r = GENERATE(1, 17, 64);
  std::mt19937_64 rng(99);
  auto q = random_vec<float>(t * d, rng, -2, 2), k = random_vec<float>(t * d, rng, -2, 2);
  auto v = random_vec<float>(t * d, rng);
  AttentionOptions opt;
  opt.causal = true;
  std::vector<float> o(t * d), lse(t), od(r * d), lsed(r);
  attention_forward<float>(AttentionShape{1, 1, t, t, d}, opt, q.data(), k.data(), v.data(),
                           o.data(), lse.data());
  attention_forward<float>(AttentionShape{1, 1, r, t, d}, opt, q.data() + (t - r) * d, k.data(),
                           v.data(), od.data(), lsed.data());
  std::vector<double> tail_o(o.end() - r * d, o.end()), tail_lse(lse.end() - r, lse.end());
  check_close("decode o", od, tail_o);
  check_close("decode lse", lsed, tail_lse);
}

TEST_CASE("attention key padding: lengths 0 and 1, arbitrary masks, odd T, head dims",
          "[kernels][attention]") {
  const int64_t t = GENERATE(1, 17, 127, 129);
  const int64_t d = GENERATE(32, 64, 128);
  const bool causal = GENERATE(false, true);
  // 0: lengths only; 1: bool mask only (random holes, batch 0 all padded); 2: both.
  const int variant = GENERATE(0, 1, 2);
  const int64_t B = 4;
  const int64_t lens[B] = {0, 1, t, t / 2 + 1};
  auto pad = random_pad(B, t, 0.3, t * 3 + d);
  for (int64_t j = 0; j < t; ++j) pad[j] = true;  // batch 0: every key padded
  AttentionOptions opt;
  opt.causal = causal;
  opt.scale = 0.2f;
  if (variant != 1) opt.key_lengths = lens;
  if (variant != 0) opt.key_padding_mask = pad.get();
  const AttentionShape s{B, 2, t, t, d};
  const Outputs<float> out = run_case<float>(s, opt, t * 1000 + d * 10 + variant);
  // Batch 0 sees no key: exactly o = 0, lse = -inf, zero gradients (never NaN).
  const int64_t per_b = 2 * t * d;
  int64_t bad = 0;
  for (int64_t i = 0; i < per_b; ++i)
    bad += out.o[i] != 0.f || out.gq[i] != 0.f || out.gk[i] != 0.f || out.gv[i] != 0.f;
  for (int64_t i = 0; i < 2 * t; ++i) bad += out.lse[i] != -INFINITY;
  CHECK(bad == 0);
  // Padded keys of every batch get exactly zero gradient.
  int64_t leaked = 0;
  for (int64_t b = 1; b < B; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t j = 0; j < t; ++j) {
        const bool masked = (variant != 1 && j >= lens[b]) || (variant != 0 && pad[b * t + j]);
        if (!masked) continue;
        for (int64_t x = 0; x < d; ++x) {
          const int64_t idx = ((b * 2 + h) * t + j) * d + x;
          leaked += out.gk[idx] != 0.f || out.gv[idx] != 0.f;
        }
      }
  CHECK(leaked == 0);
  if (d == 64 && variant == 2) run_case<BFloat16>(s, opt, t + 5);
}

TEST_CASE("attention padded batch gives each sequence its output alone", "[kernels][attention]") {
  // The masking property of issue #8: sequence b padded to T inside a batch gets the same output
  // rows [0, len_b), and the same gradients there, as sequence b run alone with T = len_b (the
  // loss ignores padded query rows: their grad_o is 0).
  const bool causal = GENERATE(false, true);
  const bool use_mask = GENERATE(false, true);  // lengths, or the equivalent bool mask
  const int64_t B = 4, H = 2, T = 131, D = 32;
  const int64_t lens[B] = {131, 70, 1, 129};
  auto pad = std::make_unique<bool[]>(B * T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < T; ++j) pad[b * T + j] = j >= lens[b];
  std::mt19937_64 rng(5);
  const int64_t n = B * H * T * D;
  auto q = random_vec<float>(n, rng, -2, 2), k = random_vec<float>(n, rng, -2, 2);
  auto v = random_vec<float>(n, rng), go = random_vec<float>(n, rng);
  for (int64_t b = 0; b < B; ++b)  // padded query rows carry no loss
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = lens[b]; i < T; ++i)
        for (int64_t x = 0; x < D; ++x) go[((b * H + h) * T + i) * D + x] = 0.f;
  AttentionOptions opt;
  opt.causal = causal;
  if (use_mask)
    opt.key_padding_mask = pad.get();
  else
    opt.key_lengths = lens;
  std::vector<float> o(n), lse(B * H * T), gq(n), gk(n), gv(n);
  const AttentionShape s{B, H, T, T, D};
  attention_forward<float>(s, opt, q.data(), k.data(), v.data(), o.data(), lse.data());
  attention_backward<float>(s, opt, q.data(), k.data(), v.data(), o.data(), go.data(), lse.data(),
                            gq.data(), gk.data(), gv.data());
  for (int64_t b = 0; b < B; ++b) {
    CAPTURE(b, causal, use_mask);
    const int64_t L = lens[b], m = H * L * D;
    // Sequence b alone: (1, H, L, D), rows [0, L) of each head.
    auto take = [&](const std::vector<float>& x) {
      std::vector<float> r;
      for (int64_t h = 0; h < H; ++h) {
        const auto* p = x.data() + (b * H + h) * T * D;
        r.insert(r.end(), p, p + L * D);
      }
      return r;
    };
    const auto qa = take(q), ka = take(k), va = take(v), goa = take(go);
    std::vector<float> oa(m), lsea(H * L), gqa(m), gka(m), gva(m);
    AttentionOptions alone;
    alone.causal = causal;
    const AttentionShape sa{1, H, L, L, D};
    attention_forward<float>(sa, alone, qa.data(), ka.data(), va.data(), oa.data(), lsea.data());
    attention_backward<float>(sa, alone, qa.data(), ka.data(), va.data(), oa.data(), goa.data(),
                              lsea.data(), gqa.data(), gka.data(), gva.data());
    auto as_ref = [](const std::vector<float>& x) {
      return std::vector<double>(x.begin(), x.end());
    };
    // Same arithmetic up to tile GEMM blocking: float32 tolerances.
    check_close("o", take(o), as_ref(oa), 1e-5, 1e-6);
    check_close("grad_q", take(gq), as_ref(gqa), 1e-4, 1e-5);
    check_close("grad_k", take(gk), as_ref(gka), 1e-4, 1e-5);
    check_close("grad_v", take(gv), as_ref(gva), 1e-4, 1e-5);
  }
}
