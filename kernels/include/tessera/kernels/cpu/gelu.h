// SPDX-License-Identifier: Apache-2.0
/// @brief GELU forward and backward, exact (erf) and tanh approximation, vectorised (CPU).
///
/// Shapes: x, y, grad_y, grad_x (n) contiguous. T is float, double, BFloat16 or Float16.
///   exact: y = x Phi(x),                     dy/dx = Phi(x) + x phi(x)
///   tanh:  y = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)   (PyTorch
///   approximate='tanh')
///          computed as x sigmoid(2u) (no cancellation for x << 0);
///          dy/dx = s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 x^2),  s = sigmoid(2u)
/// grad_x is assigned and may alias grad_y or x; y may alias x. Elementwise: thread invariant.
#pragma once

#include <cstdint>

#include <tessera/half.h>

namespace tessera::kernels::cpu {

enum class GeluApproximation { kNone, kTanh };

template <typename T>
void gelu_forward(const T* x, T* y, int64_t n, GeluApproximation approx);

template <typename T>
void gelu_backward(const T* grad_y, const T* x, T* grad_x, int64_t n, GeluApproximation approx);

}  // namespace tessera::kernels::cpu
