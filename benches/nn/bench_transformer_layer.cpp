// SPDX-License-Identifier: Apache-2.0
/// @brief Forward and forward+backward of a pre-LN Transformer encoder layer composed from
/// differentiable primitives (the baseline fused kernels will be measured against).
///
/// Cost model (per layer, N = B*T tokens, C = d_model, FF = 4C): matmuls 2*N*(3C*C + C*C + 2*C*FF)
/// = 24*N*C^2 FLOP, attention 4*B*T^2*C FLOP; backward ~2x forward. Elementwise/norm/softmax
/// traffic is not counted, so GFLOP/s shows how far the composed layer is from GEMM speed.
#include <tessera/nn.h>

#include "bench_util.h"

namespace {

using namespace tessera;

double layer_flops(int64_t b, int64_t t, int64_t c) {
  const double n = static_cast<double>(b * t);
  return 24.0 * n * c * c + 4.0 * b * static_cast<double>(t) * t * c;
}

void BM_encoder_layer(benchmark::State& state) {
  const int64_t b = 4, t = state.range(0), c = state.range(1);
  const bool with_backward = state.range(2) != 0;
  Generator g(1);
  nn::TransformerEncoderLayer layer({.d_model = c, .num_heads = c / 64, .gen = &g});
  const Tensor x = randn({b, t, c}, {}, &g);
  for (auto _ : state) {
    if (with_backward) {
      Tensor loss = mean(layer.forward(x, {}, /*causal=*/true));
      backward(loss);
      layer.zero_grad();
    } else {
      NoGradGuard no_grad;
      benchmark::DoNotOptimize(layer.forward(x, {}, true).data_ptr());
    }
  }
  tessera::bench::set_cost(state, 0, layer_flops(b, t, c) * (with_backward ? 3.0 : 1.0));
}

BENCHMARK(BM_encoder_layer)
    ->ArgNames({"T", "C", "bwd"})
    ->Args({128, 256, 0})
    ->Args({128, 256, 1})
    ->Args({256, 512, 0})
    ->Args({256, 512, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
