// SPDX-License-Identifier: Apache-2.0
/// @brief Environment: MPI_Init_thread / MPI_Finalize when built with MPI, else a
/// LocalCommunicator.
#include <tessera/parallel/environment.h>

#include <cstdlib>

#if TESSERA_HAS_MPI
#include <mpi.h>

#include "mpi_communicator.h"
#endif

namespace tessera::parallel {

Environment::Environment(int* argc, char*** argv) {
#if TESSERA_HAS_MPI
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    // FUNNELED: tessera calls MPI from one thread only (the one that runs the training loop).
    int provided = 0;
    TESSERA_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS,
                  "parallel::Environment: MPI_Init_thread failed");
    initialized_here_ = true;
  }
  world_ = detail::make_mpi_communicator(MPI_COMM_WORLD);
#else
  (void)argc;
  (void)argv;
  world_ = std::make_shared<LocalCommunicator>();
#endif
}

Environment::~Environment() {
  world_.reset();
#if TESSERA_HAS_MPI
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (initialized_here_ && !finalized) MPI_Finalize();
#endif
}

bool Environment::has_mpi() { return TESSERA_HAS_MPI != 0; }
bool Environment::has_nccl() { return TESSERA_HAS_NCCL != 0; }

void Environment::abort_job(int code) const {
#if TESSERA_HAS_MPI
  MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::abort();
}

}  // namespace tessera::parallel
