// SPDX-License-Identifier: Apache-2.0
/// @brief cudasim's race checker: unsynchronised accesses are reported, synchronised ones are not.
#include <catch2/catch.hpp>

#include <vector>

#include <tessera/cudasim/core.h>
#include <tessera/error.h>

#include "cudasim/cudasim_test_kernels.h"

namespace ct = tessera::cudasim_test;
using tessera::cudasim::Options;
using tessera::cudasim::Schedule;

TEST_CASE("cudasim: the race checker reports unsynchronised shared-memory accesses",
          "[cudasim][race]") {
  if (!ct::race_check_instrumented()) {
    WARN("kernels not instrumented for the race checker (sanitizer build): skipped");
    return;
  }
  const int n = 256;
  std::vector<int> x(n), y(n);
  for (int i = 0; i < n; ++i) x[i] = 3 * i + 1;
  Options o;
  o.race_check = true;
  o.schedule = GENERATE(Schedule::kIndex, Schedule::kReverse, Schedule::kRandom);
  tessera::cudasim::ScopedOptions scope(o);

  // Ordered: lanes of one warp after __syncwarp, or any threads after __syncthreads.
  for (int mode : {1, 3}) {
    INFO("mode " << mode);
    ct::neighbour_exchange(x.data(), y.data(), n, mode);
    for (int i = 0; i < n; ++i) REQUIRE(y[i] == x[mode == 1 ? i ^ 1 : i ^ 32]);
  }
  // Races: no synchronisation at all, or __syncwarp between threads of different warps.
  for (int mode : {0, 2}) {
    INFO("mode " << mode);
    REQUIRE_THROWS_WITH(
        ct::neighbour_exchange(x.data(), y.data(), n, mode),
        Catch::Contains("data race") && Catch::Contains("neighbour_exchange_kernel"));
  }
  REQUIRE_THROWS_WITH(ct::racy_neighbour(x.data(), y.data(), n), Catch::Contains("data race"));
}

TEST_CASE("cudasim: without race checking the racy kernel runs (schedules expose it instead)",
          "[cudasim][race]") {
  tessera::cudasim::ScopedOptions scope(Options{Schedule::kIndex, 1, 1, 0, false});
  std::vector<int> x(64, 1), y(64);
  ct::neighbour_exchange(x.data(), y.data(), 64, 0);
  REQUIRE(y[1] == 1);
}
