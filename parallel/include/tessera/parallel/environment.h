// SPDX-License-Identifier: Apache-2.0
/// @brief Environment: starts and stops the process-level communication runtime (MPI when tessera
/// was built with it) and hands out the world communicator.
///
/// One Environment per process, created first thing in main and destroyed last (RAII: MPI_Finalize
/// runs in the destructor). Built without MPI, or with MPI but started without mpirun, the world
/// is a single process (MPI singleton or LocalCommunicator), so every program runs unchanged.
#pragma once

#include <memory>

#include <tessera/parallel/communicator.h>

namespace tessera::parallel {

class Environment {
 public:
  Environment(int* argc, char*** argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  const std::shared_ptr<Communicator>& world() const { return world_; }
  /// Whether this build has the MPI backend.
  static bool has_mpi();
  /// Whether this build has the NCCL backend (CUDA + NCCL found at configure time).
  static bool has_nccl();
  /// Whether MPI runs at MPI_THREAD_MULTIPLE (any thread may call it). The Environment asks for it
  /// when TESSERA_DP_PROGRESS_THREAD=1 is set (DataParallel's progress thread needs it), else for
  /// MPI_THREAD_FUNNELED. False without MPI.
  static bool thread_multiple();
  /// Ends every rank of the job with `code` (MPI_Abort; std::abort without MPI). For programs that
  /// caught a fatal error on one rank (e.g. a collective timeout): the other ranks may be blocked
  /// in a collective and cannot be reached any other way.
  [[noreturn]] void abort_job(int code) const;

 private:
  bool initialized_here_ = false;
  std::shared_ptr<Communicator> world_;
};

}  // namespace tessera::parallel
