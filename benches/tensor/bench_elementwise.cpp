// SPDX-License-Identifier: Apache-2.0
/// @brief Elementwise ops in GB/s (bytes read + written), to compare with bench_memory's ceilings.
///
/// Goal (issue: CPU tensor core): large elementwise ops >= 70% of memcpy bandwidth. Sizes: 64 MiB
/// operands (beyond cache) and 1 MiB (in cache, shows per-element compute cost).
#include <cmath>

#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/random.h>

#include "bench_util.h"

namespace {

using namespace tessera;

void BM_add(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Tensor a = randn({n}), b = randn({n});
  for (auto _ : state) benchmark::DoNotOptimize(native::add(a, b).data_ptr());
  bench::set_cost(state, 3.0 * n * 4, n);
}

void BM_add_inplace(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = randn({n});
  const Tensor b = randn({n});
  for (auto _ : state) benchmark::DoNotOptimize(native::add_(a, b).data_ptr());
  bench::set_cost(state, 3.0 * n * 4, n);
}

void BM_mul_scalar(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Tensor a = randn({n});
  for (auto _ : state) benchmark::DoNotOptimize(native::mul(a, 1.5).data_ptr());
  bench::set_cost(state, 2.0 * n * 4, n);
}

void BM_add_bias_broadcast(benchmark::State& state) {
  const int64_t n = state.range(0), c = 768;
  const Tensor a = randn({n / c, c}), b = randn({c});
  for (auto _ : state) benchmark::DoNotOptimize(native::add(a, b).data_ptr());
  bench::set_cost(state, 2.0 * (n / c) * c * 4, n);
}

void BM_exp(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Tensor a = randn({n});
  for (auto _ : state) benchmark::DoNotOptimize(native::exp(a).data_ptr());
  bench::set_cost(state, 2.0 * n * 4, n);
}

void BM_gelu_tanh(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Tensor a = randn({n});
  for (auto _ : state) benchmark::DoNotOptimize(native::gelu(a, true).data_ptr());
  bench::set_cost(state, 2.0 * n * 4, 0);
}

void BM_cast_f32_to_bf16(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Tensor a = randn({n});
  for (auto _ : state) benchmark::DoNotOptimize(native::to(a, kBFloat16).data_ptr());
  bench::set_cost(state, 6.0 * n, 0);
}

void BM_transpose_copy(benchmark::State& state) {
  const int64_t n = state.range(0);
  const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(n)));
  const Tensor a = randn({side, side});
  for (auto _ : state) benchmark::DoNotOptimize(native::contiguous(native::t(a)).data_ptr());
  bench::set_cost(state, 2.0 * side * side * 4, 0);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Arg(1 << 18)->Arg(1 << 24)->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_add)->Apply(sizes);
BENCHMARK(BM_add_inplace)->Apply(sizes);
BENCHMARK(BM_mul_scalar)->Apply(sizes);
BENCHMARK(BM_add_bias_broadcast)->Apply(sizes);
BENCHMARK(BM_exp)->Apply(sizes);
BENCHMARK(BM_gelu_tanh)->Apply(sizes);
BENCHMARK(BM_cast_f32_to_bf16)->Apply(sizes);
BENCHMARK(BM_transpose_copy)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
