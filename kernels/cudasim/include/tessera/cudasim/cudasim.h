// SPDX-License-Identifier: Apache-2.0
/// @brief cudasim: CUDA kernel source compiled by g++, run on CPU fibers with CUDA semantics.
///
/// Included (through tessera/kernels/cuda/compat.h) first by every .cu file built with
/// TESSERA_CUDASIM. Order matters: the keywords must exist before CUDA's headers, and the builtin
/// variables (threadIdx, ...) are macros defined last so no CUDA header sees them.
/// See docs/cudasim.md for what is emulated and what is not.
#pragma once

#include <tessera/cudasim/keywords.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <tessera/cudasim/core.h>
#include <tessera/cudasim/intrinsics.h>
#include <tessera/cudasim/launch.h>
#include <tessera/cudasim/tensor_core.h>

#define threadIdx (::tessera::cudasim::detail::this_thread("threadIdx").thread_idx)
#define blockIdx (::tessera::cudasim::detail::this_thread("blockIdx").block_idx)
#define blockDim (::tessera::cudasim::detail::this_thread("blockDim").block_dim)
#define gridDim (::tessera::cudasim::detail::this_thread("gridDim").grid_dim)
