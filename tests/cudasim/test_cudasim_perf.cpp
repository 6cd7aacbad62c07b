// SPDX-License-Identifier: Apache-2.0
/// @brief cudasim's measured costs (docs/cudasim.md); hidden: ./test_cudasim "[.perf]"
#include <catch2/catch.hpp>

#include <time.h>

#include <cstdio>
#include <vector>

#include <tessera/cudasim/bench.h>
#include <tessera/cudasim/core.h>

#include "cudasim/cudasim_test_kernels.h"

namespace {
/// This thread's CPU time: robust against other processes sharing the cores (the launch runs on
/// the calling thread with Options::threads = 1).
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

TEST_CASE("cudasim: measured costs", "[.perf][cudasim]") {
  const double c0 = cpu_seconds();
  const double switch_ns = tessera::cudasim::measure_context_switch_ns(2'000'000);
  const double switch_cpu_ns = (cpu_seconds() - c0) * 1e9 / 4'000'000;
  std::printf("context switch: %.1f ns wall, %.1f ns CPU\n", switch_ns, switch_cpu_ns);
  tessera::cudasim::ScopedOptions scope({tessera::cudasim::Schedule::kIndex, 1, 1, 0});
  for (int threads : {32, 256, 1024}) {
    const int iterations = 2000, blocks = 4;
    std::vector<int> y(blocks);
    tessera::cudasim_test::barrier_loop(y.data(), blocks, threads, 1);  // warm the fiber pool
    const double t0 = cpu_seconds();
    tessera::cudasim_test::barrier_loop(y.data(), blocks, threads, iterations);
    const double s = cpu_seconds() - t0;
    REQUIRE(y[0] == iterations);
    std::printf(
        "barrier: %4d threads: %.1f ns per thread per __syncthreads (%.1f us per block barrier)\n",
        threads, s * 1e9 / (double(iterations) * threads * blocks),
        s * 1e6 / (double(iterations) * blocks));
  }
  {
    const int iterations = 2000, blocks = 4, threads = 256;
    std::vector<int> y(blocks);
    tessera::cudasim_test::shuffle_loop(y.data(), blocks, threads, 1);
    const double t0 = cpu_seconds();
    tessera::cudasim_test::shuffle_loop(y.data(), blocks, threads, iterations);
    const double s = cpu_seconds() - t0;
    std::printf("shuffle: %d threads: %.1f ns per lane per __shfl_xor_sync\n", threads,
                s * 1e9 / (double(iterations) * threads * blocks));
  }
}
