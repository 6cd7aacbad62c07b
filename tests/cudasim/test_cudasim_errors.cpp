// SPDX-License-Identifier: Apache-2.0
/// @brief Barrier divergence, bad warp masks and shared-memory overflows are reported, never hang.
#include <catch2/catch.hpp>

#include <tessera/cudasim/core.h>
#include <tessera/error.h>

#include "cudasim/cudasim_test_kernels.h"

namespace ct = tessera::cudasim_test;
using Catch::Contains;
using tessera::cudasim::Options;
using tessera::cudasim::Schedule;

TEST_CASE("cudasim: kernel misuse is a tessera::Error naming the kernel and the problem",
          "[cudasim][errors]") {
  struct Case {
    ct::Misuse what;
    const char* expect;
  };
  const Case cases[] = {
      {ct::Misuse::kBarrierAfterExit, "divergent barrier"},
      {ct::Misuse::kBarrierDifferentSites, "divergent barrier"},
      {ct::Misuse::kShuffleLaneNotInMask, "does not include the lane itself"},
      {ct::Misuse::kShuffleMasksDiffer, "mask"},  // "same mask" or "exited": see below
      {ct::Misuse::kShuffleExitedLane, "exited"},
      {ct::Misuse::kShuffleBadWidth, "not a power of two"},
      {ct::Misuse::kShuffleVsBarrier, "deadlock"},
      {ct::Misuse::kDynamicSmemOverflow, "dynamic shared memory overflow"},
      {ct::Misuse::kMmaPartialWarp, "needs all 32 lanes"},
      {ct::Misuse::kTrap, "__trap"},
  };
  const Schedule schedule = GENERATE(Schedule::kIndex, Schedule::kReverse, Schedule::kRandom);
  tessera::cudasim::ScopedOptions scope(Options{schedule, 99, 1, 0});
  for (const Case& c : cases) {
    INFO("misuse " << static_cast<int>(c.what) << " expecting '" << c.expect << "' under "
                   << tessera::cudasim::schedule_name(schedule));
    REQUIRE_THROWS_MATCHES(ct::misuse(c.what), tessera::Error,
                           Catch::Matchers::Predicate<tessera::Error>(
                               [&](const tessera::Error& e) {
                                 const std::string m = e.what();
                                 return m.find(c.expect) != std::string::npos &&
                                        m.find("misuse_kernel") != std::string::npos;
                               },
                               std::string("message names misuse_kernel and '") + c.expect + "'"));
  }
  // The simulator is still usable after the failures (fibers abandoned mid-kernel are recycled).
  std::vector<float> x(300, 1.0f), sums(2);
  ct::block_sum(x.data(), 300, sums.data(), 2);
  REQUIRE(sums[0] == 256.0f);
  REQUIRE(sums[1] == 44.0f);
}

TEST_CASE("cudasim: the error says where", "[cudasim][errors]") {
  try {
    ct::misuse(ct::Misuse::kBarrierAfterExit);
    FAIL("expected an error");
  } catch (const tessera::Error& e) {
    const std::string m = e.what();
    INFO(m);
    REQUIRE(m.find("kernels_errors.cu") != std::string::npos);  // launch site and barrier site
    REQUIRE(m.find("block (0,0,0)") != std::string::npos);
    REQUIRE(m.find("__syncthreads") != std::string::npos);
  }
}

TEST_CASE("cudasim: lanes with different masks are named as such", "[cudasim][errors]") {
  // Index order: lanes 0-15 wait with the full mask when lane 16 arrives with 0xffff0000.
  tessera::cudasim::ScopedOptions scope(Options{Schedule::kIndex, 1, 1, 0});
  REQUIRE_THROWS_WITH(ct::misuse(ct::Misuse::kShuffleMasksDiffer),
                      Contains("same intrinsic with the same mask") && Contains("0xffff0000"));
}

TEST_CASE("cudasim: invalid launch configurations are rejected", "[cudasim][errors]") {
  REQUIRE_THROWS_WITH(ct::launch_too_many_threads(),
                      Contains("invalid block size") && Contains("noop_kernel"));
}

TEST_CASE("cudasim: builtins outside a kernel are an error", "[cudasim][errors]") {
  REQUIRE_THROWS_WITH(tessera::cudasim::dynamic_smem(), Contains("outside a kernel"));
}
