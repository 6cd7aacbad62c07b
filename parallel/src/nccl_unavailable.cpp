// SPDX-License-Identifier: Apache-2.0
/// @brief make_nccl_communicator in a build without CUDA/NCCL: a clear error.
#include <tessera/parallel/nccl.h>

namespace tessera::parallel {

std::shared_ptr<Communicator> make_nccl_communicator(Communicator&, int device) {
  TESSERA_FAIL("make_nccl_communicator(device ", device,
               "): this build of tessera has no NCCL "
               "backend (configure with CUDA and NCCL available: -DTESSERA_CUDA=ON)");
}

}  // namespace tessera::parallel
