// SPDX-License-Identifier: Apache-2.0
/// @brief LayerNorm over the last dimension (forward, fused residual-add forward, backward), CPU.
///
/// Shapes (row-major): x, y, residual, residual_out, grad_y, grad_x (rows, cols); weight, bias,
/// grad_weight, grad_bias (cols); mean, rstd (rows) of compute_t<T> (float, or double for double).
///   y = (x - mean) * rstd * weight + bias,  rstd = 1 / sqrt(var + eps), var biased (divide by
///   cols).
/// T is float, double, BFloat16 or Float16 (16-bit types compute in float).
/// Null pointers: weight (= 1), bias (= 0), mean/rstd (not saved); in backward grad_x, grad_weight,
/// grad_bias may each be null (that gradient is not wanted: ATen's grad_input_mask).
/// Invariants: backward assigns (=) grad_x and accumulates (+=) into grad_weight and grad_bias.
/// Results are bit-identical for any OpenMP thread count. Design: kernels/cpu/layer_norm.cpp.
#pragma once

#include <cstdint>

#include <tessera/half.h>
#include <tessera/kernels/cpu/compute_type.h>

namespace tessera::kernels::cpu {

/// y = LayerNorm(x); saves mean and rstd per row when non-null.
template <typename T>
void layer_norm_forward(const T* x, const T* weight, const T* bias, T* y, compute_t<T>* mean,
                        compute_t<T>* rstd, int64_t rows, int64_t cols, float eps);

/// Fused pre-norm residual: residual_out = x + residual; y = LayerNorm(residual_out).
/// residual_out may alias x or residual (in-place residual stream).
template <typename T>
void add_layer_norm_forward(const T* x, const T* residual, T* residual_out, const T* weight,
                            const T* bias, T* y, compute_t<T>* mean, compute_t<T>* rstd,
                            int64_t rows, int64_t cols, float eps);

/// Backward of layer_norm_forward given its input x (for the fused variant: residual_out) and saved
/// mean/rstd. grad_x = dL/dx (+ grad_extra when non-null: the gradient that reached residual_out
/// through its other uses, so the fused variant's grad_x is the gradient of both x and residual).
/// grad_extra may alias grad_x.
template <typename T>
void layer_norm_backward(const T* grad_y, const T* x, const T* weight, const compute_t<T>* mean,
                         const compute_t<T>* rstd, const T* grad_extra, T* grad_x, T* grad_weight,
                         T* grad_bias, int64_t rows, int64_t cols);

}  // namespace tessera::kernels::cpu
