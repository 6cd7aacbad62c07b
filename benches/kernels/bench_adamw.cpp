// SPDX-License-Identifier: Apache-2.0
/// @brief Multi-tensor AdamW (one fused pass) vs the unfused op-by-op sequence (five passes, as a
/// framework's mul_/lerp_/mul_/addcmul_/addcdiv_ chain). Bytes counted: 28 per parameter
/// (param, grad, exp_avg, exp_avg_sq in; param, exp_avg, exp_avg_sq out).
#include <cmath>
#include <vector>

#include <tessera/kernels/cpu/adamw.h>
#include <tessera/kernels/cpu/strided_loop.h>

#include "bench_util.h"

namespace {

using namespace tessera::kernels::cpu;
constexpr int64_t kParams = 16 << 20;  // 16M elements

template <typename F>
void pass(F f) {
  parallel_for(kParams, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(i);
  });
}

void BM_adamw_fused(benchmark::State& state) {
  std::vector<float> p(kParams, 1.f), g(kParams, 0.01f), m(kParams), v(kParams);
  std::vector<AdamWTensor<float>> list;
  for (int64_t i = 0; i < 8; ++i) {
    const int64_t o = i * (kParams / 8);
    list.push_back({&p[o], &g[o], &m[o], &v[o], kParams / 8});
  }
  AdamWHyper h;
  for (auto _ : state) {
    adamw_step<float>(list.data(), 8, h);
    ++h.step;
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 28.0 * kParams, 12.0 * kParams);
}

void BM_adamw_unfused(benchmark::State& state) {
  std::vector<float> p(kParams, 1.f), g(kParams, 0.01f), m(kParams), v(kParams), d(kParams);
  AdamWHyper h;
  for (auto _ : state) {
    const float decay = 1 - h.lr * h.weight_decay, w1 = 1 - h.beta1, b2 = h.beta2, w2 = 1 - h.beta2;
    const float step = -h.lr / (1 - std::pow(h.beta1, h.step));
    const float bc2 = std::sqrt(1 - std::pow(h.beta2, h.step)), eps = h.eps;
    pass([&](int64_t i) { p[i] *= decay; });
    pass([&](int64_t i) { m[i] += w1 * (g[i] - m[i]); });
    pass([&](int64_t i) { v[i] = v[i] * b2 + w2 * g[i] * g[i]; });
    pass([&](int64_t i) { d[i] = std::sqrt(v[i]) / bc2 + eps; });
    pass([&](int64_t i) { p[i] += step * m[i] / d[i]; });
    ++h.step;
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 28.0 * kParams, 12.0 * kParams);
}

BENCHMARK(BM_adamw_fused)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_adamw_unfused)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
