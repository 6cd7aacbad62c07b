// SPDX-License-Identifier: Apache-2.0
/// @brief Vectorised GELU (exact and tanh) vs a plain loop over libm's tanhf / erff.
/// Bytes counted: forward 8 per element (x in, y out), backward 12.
#include <cmath>
#include <vector>

#include <tessera/kernels/cpu/gelu.h>
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

void BM_gelu_tanh_fused(benchmark::State& state) {
  std::vector<float> x(kParams), y(kParams);
  for (int64_t i = 0; i < kParams; ++i) x[i] = 4.f * std::sin(0.001f * i);
  for (auto _ : state) {
    gelu_forward<float>(x.data(), y.data(), kParams, GeluApproximation::kTanh);
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 8.0 * kParams, 0);
}

void BM_gelu_tanh_libm(benchmark::State& state) {
  std::vector<float> x(kParams), y(kParams);
  for (int64_t i = 0; i < kParams; ++i) x[i] = 4.f * std::sin(0.001f * i);
  for (auto _ : state) {
    pass([&](int64_t i) {
      const float u = 0.7978845608f * (x[i] + 0.044715f * x[i] * x[i] * x[i]);
      y[i] = 0.5f * x[i] * (1.f + std::tanh(u));
    });
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 8.0 * kParams, 0);
}

void BM_gelu_exact_fused(benchmark::State& state) {
  std::vector<float> x(kParams), y(kParams);
  for (int64_t i = 0; i < kParams; ++i) x[i] = 4.f * std::sin(0.001f * i);
  for (auto _ : state) {
    gelu_forward<float>(x.data(), y.data(), kParams, GeluApproximation::kNone);
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 8.0 * kParams, 0);
}

void BM_gelu_exact_libm(benchmark::State& state) {
  std::vector<float> x(kParams), y(kParams);
  for (int64_t i = 0; i < kParams; ++i) x[i] = 4.f * std::sin(0.001f * i);
  for (auto _ : state) {
    pass([&](int64_t i) { y[i] = 0.5f * x[i] * (1.f + std::erf(x[i] * 0.70710678f)); });
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 8.0 * kParams, 0);
}

void BM_gelu_tanh_backward_fused(benchmark::State& state) {
  std::vector<float> x(kParams), gy(kParams, 1.f), gx(kParams);
  for (int64_t i = 0; i < kParams; ++i) x[i] = 4.f * std::sin(0.001f * i);
  for (auto _ : state) {
    gelu_backward<float>(gy.data(), x.data(), gx.data(), kParams, GeluApproximation::kTanh);
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 12.0 * kParams, 0);
}

BENCHMARK(BM_gelu_tanh_fused)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gelu_tanh_libm)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gelu_exact_fused)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gelu_exact_libm)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gelu_tanh_backward_fused)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
