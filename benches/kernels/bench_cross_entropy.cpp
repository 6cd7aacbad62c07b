// SPDX-License-Identifier: Apache-2.0
/// @brief Fused cross-entropy (loss + logits gradient in one pass, in place) vs the unfused
/// composition (log_softmax into an (N, V) buffer, NLL gather, softmax again, gradient pass).
/// GB/s of the fused floor: 2NV*4 bytes (logits in, gradient out).
#include <cmath>
#include <vector>

#include <tessera/kernels/cpu/cross_entropy.h>
#include <tessera/kernels/cpu/strided_loop.h>

#include "bench_util.h"

namespace {

using namespace tessera::kernels::cpu;

void BM_cross_entropy_fused(benchmark::State& state) {
  const int64_t n = state.range(0), v = state.range(1);
  std::vector<float> logits(n * v), grad(n * v), lse(n);
  std::vector<int64_t> t(n);
  for (int64_t i = 0; i < n * v; ++i) logits[i] = 3.f * std::sin(0.001f * i);
  for (int64_t r = 0; r < n; ++r) t[r] = (r * 7919) % v;
  CrossEntropyOptions o;
  o.label_smoothing = 0.1f;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cross_entropy_forward<float, int64_t>(
        logits.data(), t.data(), n, v, o, nullptr, lse.data(), grad.data(), 1.f));
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 2.0 * n * v * 4, 0);
}

void BM_cross_entropy_unfused(benchmark::State& state) {
  const int64_t n = state.range(0), v = state.range(1);
  std::vector<float> logits(n * v), grad(n * v), logp(n * v), lse(n), loss(n);
  std::vector<int64_t> t(n);
  for (int64_t i = 0; i < n * v; ++i) logits[i] = 3.f * std::sin(0.001f * i);
  for (int64_t r = 0; r < n; ++r) t[r] = (r * 7919) % v;
  const float eps = 0.1f;
  for (auto _ : state) {
    parallel_for(n, 1, [&](int64_t r0, int64_t r1) {  // log_softmax
      for (int64_t r = r0; r < r1; ++r) {
        const float* x = &logits[r * v];
        float m = -INFINITY, s = 0;
        for (int64_t j = 0; j < v; ++j) m = std::max(m, x[j]);
        for (int64_t j = 0; j < v; ++j) s += std::exp(x[j] - m);
        const float l = m + std::log(s);
        for (int64_t j = 0; j < v; ++j) logp[r * v + j] = x[j] - l;
      }
    });
    parallel_for(n, 1, [&](int64_t r0, int64_t r1) {  // nll + smoothing
      for (int64_t r = r0; r < r1; ++r) {
        float sm = 0;
        for (int64_t j = 0; j < v; ++j) sm += logp[r * v + j];
        loss[r] = -(1 - eps) * logp[r * v + t[r]] - eps * sm / v;
      }
    });
    parallel_for(n, 1, [&](int64_t r0, int64_t r1) {  // gradient: softmax - smoothed one-hot
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t j = 0; j < v; ++j)
          grad[r * v + j] = (std::exp(logp[r * v + j]) - eps / v - (j == t[r] ? 1 - eps : 0.f)) / n;
      }
    });
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 2.0 * n * v * 4, 0);
}

BENCHMARK(BM_cross_entropy_fused)
    ->Args({256, 50257})
    ->Args({2048, 8192})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cross_entropy_unfused)
    ->Args({256, 50257})
    ->Args({2048, 8192})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
