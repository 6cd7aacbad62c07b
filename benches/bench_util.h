// SPDX-License-Identifier: Apache-2.0
/// @brief Helpers shared by the benches: rate counters from a declared cost model.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

namespace tessera::bench {

/// Declares the work of one iteration so Google Benchmark prints rates: bytes moved (read +
/// written) and floating-point operations. Both are per iteration.
inline void set_cost(benchmark::State& state, double bytes, double flops) {
  if (bytes > 0)
    state.counters["GB/s"] =
        benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  if (flops > 0)
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace tessera::bench
