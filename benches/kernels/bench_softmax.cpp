// SPDX-License-Identifier: Apache-2.0
/// @brief Softmax: fused CPU kernel (online max, vectorised exp) vs the unfused composition
/// (max pass, exp + sum pass with libm expf, divide pass), GB/s of 2NC*4 bytes (x in, y out).
#include <cmath>
#include <vector>

#include <tessera/kernels/cpu/softmax.h>
#include <tessera/kernels/cpu/strided_loop.h>

#include "bench_util.h"

namespace {

using namespace tessera::kernels::cpu;

void fill(std::vector<float>& v) {
  for (size_t i = 0; i < v.size(); ++i) v[i] = 4.f * std::sin(0.01f * i);
}

void BM_softmax_fused(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1);
  std::vector<float> x(n * c), y(n * c);
  fill(x);
  SoftmaxOptions o;
  o.scale = 0.125f;
  for (auto _ : state) {
    softmax_forward<float>(x.data(), y.data(), n, c, o);
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 2.0 * n * c * 4, 0);
}

void BM_softmax_unfused(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1);
  std::vector<float> x(n * c), y(n * c), mx(n), sum(n);
  fill(x);
  for (auto _ : state) {
    parallel_for(n, 4, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float m = -INFINITY;
        for (int64_t j = 0; j < c; ++j) m = std::max(m, 0.125f * x[r * c + j]);
        mx[r] = m;
      }
    });
    parallel_for(n, 4, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float s = 0;
        for (int64_t j = 0; j < c; ++j) s += y[r * c + j] = std::exp(0.125f * x[r * c + j] - mx[r]);
        sum[r] = s;
      }
    });
    parallel_for(n, 4, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < c; ++j) y[r * c + j] /= sum[r];
    });
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 2.0 * n * c * 4, 0);
}

void BM_softmax_backward_fused(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1);
  std::vector<float> x(n * c), y(n * c), gy(n * c), gx(n * c);
  fill(x);
  fill(gy);
  softmax_forward<float>(x.data(), y.data(), n, c);
  for (auto _ : state) {
    softmax_backward<float>(y.data(), gy.data(), gx.data(), n, c);
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 3.0 * n * c * 4, 0);
}

BENCHMARK(BM_softmax_fused)
    ->Args({4096, 4096})
    ->Args({65536, 256})
    ->Args({64, 262144})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_softmax_unfused)
    ->Args({4096, 4096})
    ->Args({65536, 256})
    ->Args({64, 262144})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_softmax_backward_fused)
    ->Args({4096, 4096})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
