// SPDX-License-Identifier: Apache-2.0
/// @brief NCCL backend of Communicator for CUDA tensors (built when CUDA and NCCL are found).
///
/// make_nccl_communicator: rank 0 of `bootstrap` (any backend, normally MPI) creates the NCCL
/// unique id and broadcasts its 128 bytes to the other ranks; each rank then binds `device` and
/// joins the NCCL communicator of bootstrap.size() ranks. Operations run on one CUDA stream owned
/// by the communicator and are synchronous on return (the stream is polled under the collective
/// timeout; on expiry ncclCommAbort frees the ranks and an Error names the collective).
/// Semantics are Communicator's; tensors must live on `device`.
#pragma once

#include <memory>

#include <tessera/parallel/communicator.h>

namespace tessera::parallel {

/// Throws tessera::Error in a build without NCCL (Environment::has_nccl() says which).
std::shared_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int device);

}  // namespace tessera::parallel
