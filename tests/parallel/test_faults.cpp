// SPDX-License-Identifier: Apache-2.0
/// @brief The collective watchdog: a rank that hangs makes the others fail within a bounded time
/// with an error naming it, instead of hanging the job (run with 2 ranks).
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <tessera/creation.h>
#include <tessera/parallel/communicator.h>

#include "mpi_world.h"

using namespace tessera;
using namespace tessera::parallel;

TEST_CASE("a hung rank is named by the others' timeout error", "[parallel][faults]") {
  Communicator& world = *test::world();
  if (world.size() < 2) return;
  auto sub = world.split(0, world.rank());  // the timed-out communicator is unusable afterwards
  const double timeout = 1.0;
  sub->set_timeout_s(timeout);
  const int hung = world.size() - 1;
  Tensor x = ones({3});
  if (world.rank() == hung) {
    // Busy elsewhere (a stuck data loader, an infinite loop) for far longer than the timeout.
    std::this_thread::sleep_for(std::chrono::duration<double>(8 * timeout));
    sub->all_reduce(x);  // arrives late: completes the collective the others gave up on
  } else {
    const auto start = std::chrono::steady_clock::now();
    std::string message;
    try {
      sub->all_reduce(x);
    } catch (const Error& e) {
      message = e.what();
    }
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO(message);
    CHECK_THAT(message,
               Catch::Contains("all_reduce") &&
                   Catch::Contains("world rank(s) " + std::to_string(hung) + " never arrived") &&
                   Catch::Contains("TESSERA_COLLECTIVE_TIMEOUT_S"));
    // Bounded: the timeout plus the diagnosis grace period (one more timeout), plus slack.
    CHECK(waited >= timeout);
    CHECK(waited < 2 * timeout + 3.0);
    CHECK_THROWS_WITH(sub->barrier(), Catch::Contains("already timed out"));
  }
  world.barrier();  // everyone (including the late rank) meets again on a healthy communicator
}

TEST_CASE("the timeout comes from TESSERA_COLLECTIVE_TIMEOUT_S", "[parallel][faults]") {
  setenv("TESSERA_COLLECTIVE_TIMEOUT_S", "2.5", 1);
  CHECK(collective_timeout_from_env() == 2.5);
  setenv("TESSERA_COLLECTIVE_TIMEOUT_S", "soon", 1);
  CHECK_THROWS_WITH(collective_timeout_from_env(), Catch::Contains("TESSERA_COLLECTIVE_TIMEOUT_S"));
  setenv("TESSERA_COLLECTIVE_TIMEOUT_S", "120", 1);
}
