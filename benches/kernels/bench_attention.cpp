// SPDX-License-Identifier: Apache-2.0
/// @brief Fused attention (FlashAttention-2 style tiles) vs the unfused composition: per (b, h)
/// S = Q K^T with a full (T, T) sgemm, a masked softmax over S (libm expf), O = P V with sgemm.
/// Backward likewise vs the unfused 4-GEMM + softmax-backward sequence on a stored P.
/// Args: B, H, T, D, causal. FLOPs counted: 4 B H T^2 D forward, 10 B H T^2 D backward (the
/// matrix products of the full, non-causal problem, for both variants so GFLOP/s compare time).
#include <cmath>
#include <vector>

#include <tessera/kernels/cpu/attention.h>
#include <tessera/kernels/cpu/gemm.h>
#include <tessera/kernels/cpu/softmax.h>

#include "bench_util.h"

namespace {

using namespace tessera::kernels::cpu;

struct Problem {
  int64_t B, H, T, D;
  bool causal;
  std::vector<float> q, k, v, o, go, gq, gk, gv, lse;
  explicit Problem(const benchmark::State& s)
      : B(s.range(0)), H(s.range(1)), T(s.range(2)), D(s.range(3)), causal(s.range(4) != 0) {
    const int64_t n = B * H * T * D;
    q.resize(n);
    k.resize(n);
    v.resize(n);
    o.resize(n);
    go.resize(n);
    gq.resize(n);
    gk.resize(n);
    gv.resize(n);
    lse.resize(B * H * T);
    for (int64_t i = 0; i < n; ++i) {
      q[i] = std::sin(0.37f * i);
      k[i] = std::cos(0.11f * i);
      v[i] = std::sin(0.05f * i + 1);
      go[i] = std::cos(0.07f * i);
    }
  }
  AttentionShape shape() const { return {B, H, T, T, D}; }
  AttentionOptions options() const {
    AttentionOptions o;
    o.causal = causal;
    return o;
  }
};

GemmShape gs(int64_t m, int64_t n, int64_t k, bool ta, bool tb, int64_t lda, int64_t ldb,
             int64_t ldc) {
  GemmShape g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.trans_a = ta;
  g.trans_b = tb;
  g.lda = lda;
  g.ldb = ldb;
  g.ldc = ldc;
  return g;
}

// Row softmax of the (T, T) scores with scale and causal mask; OpenMP over rows.
void softmax_rows(float* s, int64_t t, float scale, bool causal) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < t; ++i) {
    float* row = s + i * t;
    const int64_t n = causal ? i + 1 : t;
    float m = -INFINITY, sum = 0;
    for (int64_t j = 0; j < n; ++j) m = std::max(m, row[j] * scale);
    for (int64_t j = 0; j < n; ++j) sum += row[j] = std::exp(row[j] * scale - m);
    for (int64_t j = 0; j < n; ++j) row[j] /= sum;
    for (int64_t j = n; j < t; ++j) row[j] = 0;
  }
}

void BM_attention_fused(benchmark::State& state) {
  Problem p(state);
  for (auto _ : state) {
    attention_forward<float>(p.shape(), p.options(), p.q.data(), p.k.data(), p.v.data(), p.o.data(),
                             p.lse.data());
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 0, 4.0 * p.B * p.H * p.T * p.T * p.D);
}

void BM_attention_unfused(benchmark::State& state) {
  Problem p(state);
  const int64_t T = p.T, D = p.D;
  std::vector<float> s(T * T);
  const float scale = 1.f / std::sqrt(float(D));
  for (auto _ : state) {
    for (int64_t bh = 0; bh < p.B * p.H; ++bh) {
      const float* q = &p.q[bh * T * D];
      const float* k = &p.k[bh * T * D];
      const float* v = &p.v[bh * T * D];
      gemm<float>(gs(T, T, D, false, true, D, D, T), 1.f, q, k, 0.f, s.data());
      softmax_rows(s.data(), T, scale, p.causal);
      gemm<float>(gs(T, D, T, false, false, T, D, D), 1.f, s.data(), v, 0.f, &p.o[bh * T * D]);
    }
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 0, 4.0 * p.B * p.H * p.T * p.T * p.D);
}

// The same composition with tessera's vectorised softmax kernel in the middle: isolates what
// fusion itself buys (no (T, T) round trip through memory) from the faster exp.
void BM_attention_unfused_vec_softmax(benchmark::State& state) {
  Problem p(state);
  const int64_t T = p.T, D = p.D;
  std::vector<float> s(T * T);
  SoftmaxOptions so;
  so.scale = 1.f / std::sqrt(float(D));
  so.causal = p.causal;
  so.causal_rows = T;
  for (auto _ : state) {
    for (int64_t bh = 0; bh < p.B * p.H; ++bh) {
      gemm<float>(gs(T, T, D, false, true, D, D, T), 1.f, &p.q[bh * T * D], &p.k[bh * T * D], 0.f,
                  s.data());
      softmax_forward<float>(s.data(), s.data(), T, T, so);
      gemm<float>(gs(T, D, T, false, false, T, D, D), 1.f, s.data(), &p.v[bh * T * D], 0.f,
                  &p.o[bh * T * D]);
    }
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 0, 4.0 * p.B * p.H * p.T * p.T * p.D);
}

void BM_attention_backward_fused(benchmark::State& state) {
  Problem p(state);
  attention_forward<float>(p.shape(), p.options(), p.q.data(), p.k.data(), p.v.data(), p.o.data(),
                           p.lse.data());
  for (auto _ : state) {
    attention_backward<float>(p.shape(), p.options(), p.q.data(), p.k.data(), p.v.data(),
                              p.o.data(), p.go.data(), p.lse.data(), p.gq.data(), p.gk.data(),
                              p.gv.data());
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 0, 10.0 * p.B * p.H * p.T * p.T * p.D);
}

// Unfused backward with the stored P (recomputed here per head, untimed work excluded is not
// possible without a (B, H, T, T) buffer, so P's forward is included: 2 more GEMMs, like a
// framework that keeps P would not pay -- see docs/kernels.md).
void BM_attention_backward_unfused(benchmark::State& state) {
  Problem p(state);
  const int64_t T = p.T, D = p.D;
  const float scale = 1.f / std::sqrt(float(D));
  std::vector<float> P(p.B * p.H * T * T), dp(T * T);
  for (int64_t bh = 0; bh < p.B * p.H; ++bh) {  // the stored probabilities (untimed)
    gemm<float>(gs(T, T, D, false, true, D, D, T), 1.f, &p.q[bh * T * D], &p.k[bh * T * D], 0.f,
                &P[bh * T * T]);
    softmax_rows(&P[bh * T * T], T, scale, p.causal);
  }
  for (auto _ : state) {
    for (int64_t bh = 0; bh < p.B * p.H; ++bh) {
      const float* q = &p.q[bh * T * D];
      const float* k = &p.k[bh * T * D];
      const float* v = &p.v[bh * T * D];
      const float* go = &p.go[bh * T * D];
      float* pr = &P[bh * T * T];
      gemm<float>(gs(T, D, T, true, false, T, D, D), 1.f, pr, go, 0.f, &p.gv[bh * T * D]);  // dV
      gemm<float>(gs(T, T, D, false, true, D, D, T), 1.f, go, v, 0.f, dp.data());           // dP
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < T; ++i) {  // dS = P (dP - rowsum(P dP)) scale
        float dot = 0;
        for (int64_t j = 0; j < T; ++j) dot += pr[i * T + j] * dp[i * T + j];
        for (int64_t j = 0; j < T; ++j)
          dp[i * T + j] = pr[i * T + j] * (dp[i * T + j] - dot) * scale;
      }
      gemm<float>(gs(T, D, T, false, false, T, D, D), 1.f, dp.data(), k, 0.f, &p.gq[bh * T * D]);
      gemm<float>(gs(T, D, T, true, false, T, D, D), 1.f, dp.data(), q, 0.f, &p.gk[bh * T * D]);
    }
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 0, 10.0 * p.B * p.H * p.T * p.T * p.D);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->Args({1, 8, 1024, 64, 0})
      ->Args({1, 8, 1024, 64, 1})
      ->Args({1, 12, 1024, 64, 0})
      ->Args({4, 8, 256, 64, 1})
      ->Args({1, 8, 4096, 64, 1});
  b->ArgNames({"B", "H", "T", "D", "causal"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_attention_fused)->Apply(shapes);
BENCHMARK(BM_attention_unfused)->Apply(shapes);
BENCHMARK(BM_attention_unfused_vec_softmax)->Apply(shapes);
BENCHMARK(BM_attention_backward_fused)
    ->Args({1, 8, 1024, 64, 0})
    ->Args({1, 8, 1024, 64, 1})
    ->ArgNames({"B", "H", "T", "D", "causal"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_backward_unfused)
    ->Args({1, 8, 1024, 64, 0})
    ->Args({1, 8, 1024, 64, 1})
    ->ArgNames({"B", "H", "T", "D", "causal"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
