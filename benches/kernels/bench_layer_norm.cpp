// SPDX-License-Identifier: Apache-2.0
/// @brief LayerNorm: fused CPU kernel vs the unfused composition (mean, subtract, variance,
/// normalise as separate passes over memory), forward and backward, GB/s of the fused data volume.
///
/// Bytes counted (the fused kernel's floor): forward 2NC*4 (x in, y out), backward 3NC*4
/// (x, grad_y in, grad_x out). The same count is used for the unfused rows so GB/s compare time.
#include <cmath>
#include <vector>

#include <tessera/kernels/cpu/layer_norm.h>
#include <tessera/kernels/cpu/strided_loop.h>

#include "bench_util.h"

namespace {

using namespace tessera::kernels::cpu;

struct Data {
  int64_t n, c;
  std::vector<float> x, y, w, b, mean, rstd, gy, gx, gw, gb, tmp;
  Data(int64_t n_, int64_t c_)
      : n(n_),
        c(c_),
        x(n * c),
        y(n * c),
        w(c, 1.1f),
        b(c, 0.1f),
        mean(n),
        rstd(n),
        gy(n * c),
        gx(n * c),
        gw(c),
        gb(c),
        tmp(n * c) {
    for (int64_t i = 0; i < n * c; ++i) {
      x[i] = std::sin(0.001f * i);
      gy[i] = std::cos(0.003f * i);
    }
  }
};

void BM_layer_norm_fused(benchmark::State& state) {
  Data d(state.range(0), state.range(1));
  for (auto _ : state) {
    layer_norm_forward<float>(d.x.data(), d.w.data(), d.b.data(), d.y.data(), d.mean.data(),
                              d.rstd.data(), d.n, d.c, 1e-5f);
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 2.0 * d.n * d.c * 4, 7.0 * d.n * d.c);
}

// What an op-by-op framework does: x.mean(-1); xc = x - mean; var = (xc*xc).mean(-1);
// y = xc * rstd * w + b. Each step is a parallel pass over memory.
void BM_layer_norm_unfused(benchmark::State& state) {
  Data d(state.range(0), state.range(1));
  const int64_t n = d.n, c = d.c;
  for (auto _ : state) {
    parallel_for(n, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < c; ++j) s += d.x[r * c + j];
        d.mean[r] = s / c;
      }
    });
    parallel_for(n * c, kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) d.tmp[i] = d.x[i] - d.mean[i / c];
    });
    parallel_for(n, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < c; ++j) s += d.tmp[r * c + j] * d.tmp[r * c + j];
        d.rstd[r] = 1.f / std::sqrt(s / c + 1e-5f);
      }
    });
    parallel_for(n * c, kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) d.y[i] = d.tmp[i] * d.rstd[i / c] * d.w[i % c] + d.b[i % c];
    });
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 2.0 * d.n * d.c * 4, 7.0 * d.n * d.c);
}

void BM_add_layer_norm_fused(benchmark::State& state) {
  Data d(state.range(0), state.range(1));
  for (auto _ : state) {
    add_layer_norm_forward<float>(d.x.data(), d.gy.data(), d.tmp.data(), d.w.data(), d.b.data(),
                                  d.y.data(), d.mean.data(), d.rstd.data(), d.n, d.c, 1e-5f);
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 4.0 * d.n * d.c * 4, 8.0 * d.n * d.c);
}

void BM_layer_norm_backward_fused(benchmark::State& state) {
  Data d(state.range(0), state.range(1));
  layer_norm_forward<float>(d.x.data(), d.w.data(), d.b.data(), d.y.data(), d.mean.data(),
                            d.rstd.data(), d.n, d.c, 1e-5f);
  for (auto _ : state) {
    layer_norm_backward<float>(d.gy.data(), d.x.data(), d.w.data(), d.mean.data(), d.rstd.data(),
                               nullptr, d.gx.data(), d.gw.data(), d.gb.data(), d.n, d.c);
    benchmark::ClobberMemory();
  }
  tessera::bench::set_cost(state, 3.0 * d.n * d.c * 4, 12.0 * d.n * d.c);
}

BENCHMARK(BM_layer_norm_fused)
    ->Args({16384, 768})
    ->Args({4096, 4096})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_layer_norm_unfused)
    ->Args({16384, 768})
    ->Args({4096, 4096})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_add_layer_norm_fused)
    ->Args({16384, 768})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_layer_norm_backward_fused)
    ->Args({16384, 768})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
