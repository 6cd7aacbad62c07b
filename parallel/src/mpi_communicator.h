// SPDX-License-Identifier: Apache-2.0
/// @brief Private: the MPI backend's factory (used by Environment); only built with MPI.
#pragma once

#include <memory>

#include <mpi.h>

#include <tessera/parallel/communicator.h>

namespace tessera::parallel::detail {

/// Wraps a duplicate of `comm` (the communicator owns and frees the duplicate).
std::shared_ptr<Communicator> make_mpi_communicator(MPI_Comm comm);

}  // namespace tessera::parallel::detail
