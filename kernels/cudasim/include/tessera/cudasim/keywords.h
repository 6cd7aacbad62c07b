// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA's declaration keywords for g++, defined before any CUDA header is included.
///
/// crt/host_defines.h defines these only under __CUDACC__ or when they are still undefined, so
/// defining them first lets g++ compile the toolkit's <cuda_bf16.h>/<cuda_fp16.h> as host code.
///
/// NOTE [static shared memory]: `__shared__` is `static thread_local` so that blocks may run on
/// several OS threads at once (each block's fibers stay on one OS thread). AddressSanitizer does
/// not put redzones around thread_local arrays, so an overflow there would silently corrupt the
/// neighbour; under ASan `__shared__` is plain `static` (redzoned) and the launch runs the blocks
/// of a grid one after another (LaunchSpec::serial_blocks).
#pragma once

#if defined(__CUDACC__)
#error "tessera/cudasim is for g++; nvcc compiles .cu files with the real CUDA headers"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TESSERA_CUDASIM_STATIC_SHARED 1
#else
#define TESSERA_CUDASIM_STATIC_SHARED 0
#endif

#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#if TESSERA_CUDASIM_STATIC_SHARED
#define __shared__ static
#else
#define __shared__ static thread_local
#endif
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __grid_constant__
// __noinline__ stays undefined: libstdc++ spells __attribute__((__noinline__)) itself.
