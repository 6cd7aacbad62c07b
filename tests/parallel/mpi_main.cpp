// SPDX-License-Identifier: Apache-2.0
/// @brief Catch2 main for tests launched by mpirun: starts MPI (parallel::Environment), runs the
/// same test cases in the same order on every rank, and fails the job if any rank failed.
/// Every rank prints its own Catch report (a failure names the rank in its message).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include <omp.h>

#include <tessera/creation.h>
#include <tessera/parallel/environment.h>

#include "mpi_world.h"

namespace {
std::shared_ptr<tessera::parallel::Communicator> g_world;
}

const std::shared_ptr<tessera::parallel::Communicator>& tessera::test::world() { return g_world; }

int main(int argc, char** argv) {
  // Ranks share the machine's cores: one OpenMP thread each unless the caller chose otherwise.
  if (std::getenv("OMP_NUM_THREADS") == nullptr) omp_set_num_threads(1);
  tessera::parallel::Environment env(&argc, &argv);
  g_world = env.world();
  int failed = 0;
  try {
    failed = Catch::Session().run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", g_world->rank(), e.what());
    env.abort_job(3);
  }
  tessera::Tensor any =
      tessera::full({1}, tessera::Scalar(int64_t{failed}), {.dtype = tessera::kInt64});
  g_world->all_reduce(any, tessera::parallel::ReduceOp::Max);
  const int result = static_cast<int>(any.item<int64_t>());
  if (result != 0 && failed == 0)
    std::fprintf(stderr, "rank %d: passed, but another rank failed\n", g_world->rank());
  g_world.reset();
  return result;
}
