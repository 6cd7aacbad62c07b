// SPDX-License-Identifier: Apache-2.0
/// @brief The world communicator of an MPI test executable (set up by mpi_main.cpp).
#pragma once

#include <memory>

#include <tessera/parallel/communicator.h>

namespace tessera::test {
/// The world of this mpirun job (size 1 when started without mpirun).
const std::shared_ptr<parallel::Communicator>& world();
}  // namespace tessera::test
