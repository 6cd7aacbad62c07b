// SPDX-License-Identifier: Apache-2.0
/// @brief Softmax and log-softmax over the last dimension with scale and masking (CPU).
///
/// Shapes (row-major): x, y, grad_y, grad_x (rows, cols). T is float, double, BFloat16 or Float16.
///   z[r, j] = scale * x[r, j] + additive[r % mask_rows, j]      (additive: (mask_rows, cols)
///   float) z[r, j] = -inf                     when causal and j > (r % causal_rows) +
///   causal_offset softmax:      y = exp(z - max z) / sum exp(z - max z) log_softmax:  y = z -
///   logsumexp(z)
/// Causal: view the rows as stacked (causal_rows, cols) score blocks (e.g. (B*H*T, T) with
/// causal_rows = T); query i of a block sees columns j <= i + causal_offset (offset 0 with a square
/// block is PyTorch's is_causal; offset cols - causal_rows is the bottom-right convention).
/// Fully masked rows (every z = -inf): softmax writes zeros; log_softmax writes -inf (log 0), and
/// its backward gives zero gradient wherever y = -inf. No NaN is produced from masking.
/// Backward: softmax    grad_x = scale * y * (grad_y - sum_j grad_y * y)
///           log_softmax grad_x = scale * (grad_y - exp(y) * sum_j grad_y)  (0 where y = -inf)
/// y may alias x; grad_x may alias grad_y. Results are bit-identical for any OpenMP thread count.
#pragma once

#include <cstdint>

#include <tessera/half.h>

namespace tessera::kernels::cpu {

struct SoftmaxOptions {
  float scale = 1.f;
  const float* additive = nullptr;  ///< (mask_rows, cols) additive mask (-inf masks), or null
  int64_t mask_rows = 0;            ///< rows of `additive`; row r uses row r % mask_rows
  bool causal = false;
  int64_t causal_rows = 0;    ///< block height: row r is query r % causal_rows
  int64_t causal_offset = 0;  ///< query i sees columns j <= i + causal_offset
};

template <typename T>
void softmax_forward(const T* x, T* y, int64_t rows, int64_t cols, const SoftmaxOptions& opt = {});

template <typename T>
void softmax_backward(const T* y, const T* grad_y, T* grad_x, int64_t rows, int64_t cols,
                      float scale = 1.f);

template <typename T>
void log_softmax_forward(const T* x, T* y, int64_t rows, int64_t cols,
                         const SoftmaxOptions& opt = {});

template <typename T>
void log_softmax_backward(const T* y, const T* grad_y, T* grad_x, int64_t rows, int64_t cols,
                          float scale = 1.f);

}  // namespace tessera::kernels::cpu
