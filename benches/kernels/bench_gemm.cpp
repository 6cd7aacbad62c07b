// SPDX-License-Identifier: Apache-2.0
/// @brief sgemm: tessera::native::matmul against the machine's best sgemm (OpenBLAS called
/// directly).
///
/// Cost model: 2*M*N*K FLOP. The ceiling is OpenBLAS's own cblas_sgemm on the same shapes (the
/// fastest sgemm on this machine, docs/perf.md); matmul's goal is >= 80% of it. Shapes: squares
/// 256..2048 and the GEMMs of a GPT-2-small training step (B*T = 1024 rows, C = 768).
#include <cblas.h>

#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/random.h>

#include "bench_util.h"

namespace {

using namespace tessera;

void BM_openblas_sgemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const Tensor a = randn({m, k}), b = randn({k, n});
  Tensor c = empty({m, n});
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.f, a.data<float>(), k,
                b.data<float>(), n, 0.f, c.data<float>(), n);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  bench::set_cost(state, 0, 2.0 * m * n * k);
}

void BM_tessera_matmul(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const Tensor a = randn({m, k}), b = randn({k, n});
  for (auto _ : state) {
    Tensor c = native::matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  bench::set_cost(state, 0, 2.0 * m * n * k);
}

// A transposed right operand (a Linear layer's x @ W^T): passed to the BLAS as a transpose.
void BM_tessera_matmul_bt(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const Tensor a = randn({m, k}), w = randn({n, k});
  const Tensor wt = native::t(w);
  for (auto _ : state) {
    Tensor c = native::matmul(a, wt);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  bench::set_cost(state, 0, 2.0 * m * n * k);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t s : {256, 512, 1024, 2048}) b->Args({s, s, s});
  b->Args({1024, 2304, 768});  // GPT-2 small: qkv projection
  b->Args({1024, 768, 768});   // attention output projection
  b->Args({1024, 3072, 768});  // MLP up
  b->Args({1024, 768, 3072});  // MLP down
  b->ArgNames({"M", "N", "K"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_openblas_sgemm)->Apply(shapes);
BENCHMARK(BM_tessera_matmul)->Apply(shapes);
BENCHMARK(BM_tessera_matmul_bt)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
