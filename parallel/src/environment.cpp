// SPDX-License-Identifier: Apache-2.0
/// @brief Environment: MPI_Init_thread / MPI_Finalize when built with MPI, else a
/// LocalCommunicator.
#include <tessera/parallel/environment.h>

#include <cstdlib>
#include <string>

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
    // FUNNELED: tessera calls MPI from one thread only (the one that runs the training loop),
    // unless DataParallel's progress thread is wanted (TESSERA_DP_PROGRESS_THREAD=1): MULTIPLE.
    const char* progress = std::getenv("TESSERA_DP_PROGRESS_THREAD");
    const bool multiple = progress != nullptr && std::string(progress) == "1";
    int provided = 0;
    TESSERA_CHECK(MPI_Init_thread(argc, argv, multiple ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED,
                                  &provided) == MPI_SUCCESS,
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

bool Environment::thread_multiple() {
#if TESSERA_HAS_MPI
  int initialized = 0, finalized = 0, level = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return false;
  MPI_Query_thread(&level);
  return level == MPI_THREAD_MULTIPLE;
#else
  return false;
#endif
}

void Environment::abort_job(int code) const {
#if TESSERA_HAS_MPI
  MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::abort();
}

}  // namespace tessera::parallel
