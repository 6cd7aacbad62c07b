// SPDX-License-Identifier: Apache-2.0
/// @brief cudasim's costs (docs/cudasim.md): context switch and barrier per thread. Hidden test:
///   ./test_cudasim "[.perf]"
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

#include <tessera/cudasim/bench.h>
#include <tessera/cudasim/core.h>

#include "cudasim/cudasim_test_kernels.h"

TEST_CASE("cudasim: measured costs", "[.perf][cudasim]") {
  const double switch_ns = tessera::cudasim::measure_context_switch_ns(2'000'000);
  std::printf("context switch: %.1f ns\n", switch_ns);
  tessera::cudasim::ScopedOptions scope({tessera::cudasim::Schedule::kIndex, 1, 1, 0});
  for (int threads : {32, 256, 1024}) {
    const int iterations = 2000, blocks = 4;
    std::vector<int> y(blocks);
    tessera::cudasim_test::barrier_loop(y.data(), blocks, threads, 1);  // warm the fiber pool
    const auto t0 = std::chrono::steady_clock::now();
    tessera::cudasim_test::barrier_loop(y.data(), blocks, threads, iterations);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    REQUIRE(y[0] == iterations);
    std::printf("barrier: %4d threads: %.1f ns per thread per __syncthreads (%.1f us per block barrier)\n",
                threads, s * 1e9 / (double(iterations) * threads * blocks),
                s * 1e6 / (double(iterations) * blocks));
  }
}
