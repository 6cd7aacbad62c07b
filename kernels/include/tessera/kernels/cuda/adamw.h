// SPDX-License-Identifier: Apache-2.0
/// @brief Launcher of the multi-tensor AdamW update on CUDA (kernels/cuda/adamw.cu): one launch
/// over a whole list of tensors, the exact per-element sequence of kernels::cpu::adamw_step
/// (PyTorch's torch.optim.AdamW, amsgrad off; see <tessera/kernels/cpu/adamw.h> for the formula).
///
/// Shapes: per tensor, param, grad, exp_avg, exp_avg_sq (numel) contiguous device arrays of T
/// (float or double); numel may be 0. The tensors are cut into fixed chunks of
/// kAdamWChunkElems elements and one block updates one chunk. The chunk table travels as kernel
/// arguments when it has at most kAdamWInlineChunks entries, otherwise it is copied to
/// `workspace` (device memory of adamw_workspace_bytes() bytes, 8-byte aligned) on `stream`.
/// Every element sees the CPU kernel's sequence of operations (scalars computed in double and
/// rounded once), so results agree with it to rounding: the compilers may contract a * b + c into
/// an FMA differently (nvcc does by default, g++ for this C++ code too).
#pragma once

#include <cstddef>
#include <cstdint>

#include <tessera/kernels/cpu/adamw.h>
#include <tessera/kernels/cuda/types.h>

namespace tessera::kernels::cuda {

using cpu::AdamWHyper;
using cpu::AdamWTensor;

inline constexpr int64_t kAdamWChunkElems = 65536;  ///< elements per block (PyTorch's chunk size)
inline constexpr int kAdamWInlineChunks = 64;       ///< chunk tables up to this size go inline

/// Device bytes the chunk table needs (0 when it goes in the kernel arguments).
template <typename T>
size_t adamw_workspace_bytes(const AdamWTensor<T>* tensors, int64_t count);

/// Updates every tensor of the list in place, in one kernel launch.
template <typename T>
void adamw_step(const AdamWTensor<T>* tensors, int64_t count, const AdamWHyper& hyper,
                void* workspace, cudaStream_t stream);

}  // namespace tessera::kernels::cuda
