// SPDX-License-Identifier: Apache-2.0
/// @brief First include of every tessera .cu file: CUDA under nvcc, cudasim under g++.
///
/// Under nvcc this is the CUDA runtime plus bf16/fp16 headers. Under g++ with TESSERA_CUDASIM
/// (link tessera::cudasim, or add the files with tessera_cudasim_sources) the same source compiles
/// as C++ and runs on CPU fibers with CUDA semantics (docs/cudasim.md).
///
/// Portable spellings a kernel must use instead of CUDA-only syntax:
///   TESSERA_DYNAMIC_SMEM(T, name);   instead of `extern __shared__ T name[];`
///   TESSERA_LAUNCH(kernel, grid, block, smem_bytes, stream)(args...);   instead of <<<...>>>
///   __shared__ __align__(16) T x[N];   instead of alignas(16) (it stops compiling with a macro)
/// Inline PTX lives in tessera/kernels/cuda/ptx.h only.
#pragma once

#if defined(__CUDACC__)

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#define TESSERA_DEVICE_CODE 1

/// Declares `T* name` pointing at the block's dynamic shared memory (the launch's smem_bytes).
/// One untyped extern array for every kernel: typed extern __shared__ arrays of different types in
/// one translation unit are a compile error under nvcc.
#define TESSERA_DYNAMIC_SMEM(T, name)                                    \
  extern __shared__ __align__(16) unsigned char tessera_dynamic_smem_[]; \
  T* name = reinterpret_cast<T*>(tessera_dynamic_smem_)

#elif defined(TESSERA_CUDASIM)

#include <tessera/cudasim/cudasim.h>

#define TESSERA_DEVICE_CODE 1

/// cudasim: a per-block, 128-byte aligned buffer of smem_bytes filled with 0xFF (NaN), followed by
/// a canary that the launch checks (an overflow is reported as tessera::Error).
#define TESSERA_DYNAMIC_SMEM(T, name) T* name = static_cast<T*>(::tessera::cudasim::dynamic_smem())

#else
#error "tessera .cu files compile with nvcc, or with g++ -DTESSERA_CUDASIM (link tessera::cudasim)"
#endif

#include <tessera/kernels/cuda/launch.h>
