// SPDX-License-Identifier: Apache-2.0
/// @brief Reductions in GB/s (bytes read): all elements, the last dim (rows), the first dim
/// (columns).
#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/random.h>

#include "bench_util.h"

namespace {

using namespace tessera;

void BM_sum_all(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Tensor a = randn({n});
  for (auto _ : state) benchmark::DoNotOptimize(native::sum(a).data_ptr());
  bench::set_cost(state, 4.0 * n, n);
}

void BM_sum_rows(benchmark::State& state) {  // (N/768, 768) -> (N/768): a LayerNorm-like shape
  const int64_t n = state.range(0), c = 768;
  const Tensor a = randn({n / c, c});
  for (auto _ : state) benchmark::DoNotOptimize(native::sum(a, {1}).data_ptr());
  bench::set_cost(state, 4.0 * (n / c) * c, n);
}

void BM_sum_cols(benchmark::State& state) {  // (N/768, 768) -> (768): a bias gradient
  const int64_t n = state.range(0), c = 768;
  const Tensor a = randn({n / c, c});
  for (auto _ : state) benchmark::DoNotOptimize(native::sum(a, {0}).data_ptr());
  bench::set_cost(state, 4.0 * (n / c) * c, n);
}

void BM_amax_rows(benchmark::State& state) {
  const int64_t n = state.range(0), c = 768;
  const Tensor a = randn({n / c, c});
  for (auto _ : state) benchmark::DoNotOptimize(native::amax(a, {1}).data_ptr());
  bench::set_cost(state, 4.0 * (n / c) * c, 0);
}

void BM_softmax_rows(benchmark::State& state) {
  const int64_t n = state.range(0), c = 1024;
  const Tensor a = randn({n / c, c});
  for (auto _ : state) benchmark::DoNotOptimize(native::softmax(a, -1).data_ptr());
  bench::set_cost(state, 8.0 * (n / c) * c, 0);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Arg(1 << 18)->Arg(1 << 24)->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_sum_all)->Apply(sizes);
BENCHMARK(BM_sum_rows)->Apply(sizes);
BENCHMARK(BM_sum_cols)->Apply(sizes);
BENCHMARK(BM_amax_rows)->Apply(sizes);
BENCHMARK(BM_softmax_rows)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
