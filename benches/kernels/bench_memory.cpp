// SPDX-License-Identifier: Apache-2.0
/// @brief The machine's memory ceilings: a large memcpy and a STREAM-style triad, in GB/s.
///
/// Bytes counted = bytes read + bytes written. Buffers are 64 MiB each, far beyond the L3 cache,
/// and touched once before timing. memcpy is single-threaded (what glibc gives); the parallel copy
/// and triad use both cores through the same parallel_for as tessera's own kernels: that is the
/// bandwidth an elementwise op can hope for (docs/perf.md).
#include <cstring>
#include <vector>

#include <tessera/kernels/cpu/strided_loop.h>

#include "bench_util.h"

namespace {

constexpr size_t kFloats = 16u << 20;  // 64 MiB per buffer

void BM_memcpy(benchmark::State& state) {
  std::vector<float> a(kFloats, 1.f), b(kFloats, 0.f);
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), kFloats * sizeof(float));
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 2.0 * kFloats * sizeof(float), 0);
}

void BM_parallel_copy(benchmark::State& state) {
  std::vector<float> a(kFloats, 1.f), b(kFloats, 0.f);
  for (auto _ : state) {
    tessera::kernels::cpu::parallel_for(
        kFloats, tessera::kernels::cpu::kGrain, [&](int64_t s, int64_t e) {
          std::memcpy(b.data() + s, a.data() + s, (e - s) * sizeof(float));
        });
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 2.0 * kFloats * sizeof(float), 0);
}

void BM_parallel_triad(benchmark::State& state) {
  std::vector<float> a(kFloats, 1.f), b(kFloats, 2.f), c(kFloats, 0.f);
  for (auto _ : state) {
    tessera::kernels::cpu::parallel_for(kFloats, tessera::kernels::cpu::kGrain,
                                        [&](int64_t s, int64_t e) {
                                          for (int64_t i = s; i < e; ++i) c[i] = a[i] + 3.f * b[i];
                                        });
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 3.0 * kFloats * sizeof(float), 2.0 * kFloats);
}

BENCHMARK(BM_memcpy)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_parallel_copy)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_parallel_triad)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
