// SPDX-License-Identifier: Apache-2.0
/// @brief Launchers of the CUDA LayerNorm kernels (kernels/cuda/layer_norm.cu): forward, fused
/// residual-add forward, backward (deterministic grad_weight / grad_bias).
///
/// Shapes (row-major, contiguous): x, y, residual, residual_out, grad_y, grad_x (rows, cols);
/// weight, bias, grad_weight, grad_bias (cols); mean, rstd (rows) in the accumulation type: float
/// for float32/bfloat16/float16 storage, double for float64 (as the CPU kernels' compute_t).
///   y = (x - mean) * rstd * weight + bias,   rstd = 1 / sqrt(var + eps), var biased (/ cols).
/// Null pointers: weight (= 1), bias (= 0), mean/rstd (not saved); in backward grad_x,
/// grad_weight and grad_bias may each be null (that gradient is not wanted).
/// Invariants (as the CPU kernels): backward assigns (=) grad_x and accumulates (+=) into
/// grad_weight and grad_bias. Every launcher enqueues on `stream` and returns; results are
/// bit-identical run to run (no atomics).
#pragma once

#include <cstddef>

#include <tessera/kernels/cuda/types.h>

namespace tessera::kernels::cuda {

/// y = LayerNorm(x) over the last dim; `t` is kFloat32, kFloat64, kBFloat16 or kFloat16.
void layer_norm_forward(ScalarType t, const void* x, const void* weight, const void* bias, void* y,
                        void* mean, void* rstd, int64_t rows, int64_t cols, double eps,
                        cudaStream_t stream);

/// Fused pre-norm residual: residual_out = x + residual (rounded to t), y =
/// LayerNorm(residual_out). residual_out may alias x or residual.
void add_layer_norm_forward(ScalarType t, const void* x, const void* residual, void* residual_out,
                            const void* weight, const void* bias, void* y, void* mean, void* rstd,
                            int64_t rows, int64_t cols, double eps, cudaStream_t stream);

/// Scratch bytes layer_norm_backward needs for the per-chunk grad_weight/grad_bias partials.
size_t layer_norm_backward_workspace(ScalarType t, int64_t rows, int64_t cols);

/// Backward given the forward input x (for the fused variant: residual_out) and saved mean/rstd.
/// `workspace` holds layer_norm_backward_workspace() bytes, 16-byte aligned (null when 0 or when
/// neither grad_weight nor grad_bias is wanted).
void layer_norm_backward(ScalarType t, const void* grad_y, const void* x, const void* weight,
                         const void* mean, const void* rstd, void* grad_x, void* grad_weight,
                         void* grad_bias, int64_t rows, int64_t cols, void* workspace,
                         cudaStream_t stream);

}  // namespace tessera::kernels::cuda
