// SPDX-License-Identifier: Apache-2.0
/// @brief TESSERA_CUDA_CHECK: CUDA runtime status -> tessera::Error (real CUDA and cudasim alike).
#pragma once

#include <cstdio>

#include <tessera/error.h>

/// Throws tessera::Error naming the call, the CUDA error name and its description.
#define TESSERA_CUDA_CHECK(expr)                                                           \
  do {                                                                                     \
    const cudaError_t tessera_cuda_status_ = (expr);                                       \
    if (tessera_cuda_status_ != cudaSuccess) [[unlikely]]                                  \
      ::tessera::detail::throw_error(__FILE__, __LINE__, "CUDA call `" #expr "` failed: ", \
                                     cudaGetErrorName(tessera_cuda_status_), " (",         \
                                     cudaGetErrorString(tessera_cuda_status_), ")");       \
  } while (0)

/// After a raw <<<>>> launch: reports a launch failure (TESSERA_LAUNCH already does this).
#define TESSERA_CUDA_LAUNCH_CHECK() TESSERA_CUDA_CHECK(cudaGetLastError())

/// For destructors: prints instead of throwing.
#define TESSERA_CUDA_CHECK_PRINT(expr)                                            \
  do {                                                                            \
    const cudaError_t tessera_cuda_status_ = (expr);                              \
    if (tessera_cuda_status_ != cudaSuccess)                                      \
      std::fprintf(stderr, "tessera: CUDA call `%s` failed: %s (%s:%d)\n", #expr, \
                   cudaGetErrorString(tessera_cuda_status_), __FILE__, __LINE__); \
  } while (0)
