// SPDX-License-Identifier: Apache-2.0
/// @brief Launchers of the CUDA softmax / log-softmax kernels over the last dim
/// (kernels/cuda/softmax.cu): scale, causal and boolean masking, backward.
///
/// Shapes (row-major, contiguous): x, y, grad_y, grad_x (rows, cols); mask (mask_rows, cols) bool.
///   z[r, j] = scale * x[r, j], or -inf where masked:
///     - mask given and mask[r % mask_rows, j] == false (true = visible, the convention of a
///     boolean
///       attention mask in PyTorch's scaled_dot_product_attention);
///     - causal (causal_rows > 0) and j > r % causal_rows + causal_offset: the rows are stacked
///       (causal_rows, cols) score blocks, e.g. (B*H*T, T) with causal_rows = T; offset 0 with a
///       square block is PyTorch's is_causal (row i sees j <= i).
///   softmax:      y = exp(z - max z) / sum exp(z - max z)
///   log_softmax:  y = z - logsumexp(z)
/// Convention for a fully masked row (every z = -inf): softmax writes 0 everywhere and
/// log_softmax writes -inf (log 0); masked entries of other rows give probability 0 (-inf for
/// log). No NaN comes from masking. Same convention as the CPU kernels (kernels/cpu/softmax.h).
/// Backward: softmax      grad_x = scale * y * (grad_y - sum_j grad_y * y)
///           log_softmax  grad_x = scale * (grad_y - exp(y) * sum_j grad_y), 0 where y = -inf.
/// T is kFloat32, kFloat64, kBFloat16 or kFloat16 (16-bit types compute in float32, float64 in
/// float64). y may alias x; grad_x may alias grad_y. Bit-identical run to run.
#pragma once

#include <tessera/kernels/cuda/types.h>

namespace tessera::kernels::cuda {

struct SoftmaxParams {
  double scale = 1.0;
  bool log = false;            ///< log_softmax instead of softmax
  const bool* mask = nullptr;  ///< (mask_rows, cols) on the device, true = visible; or null
  int64_t mask_rows = 0;       ///< row r uses mask row r % mask_rows
  int64_t causal_rows = 0;     ///< > 0: causal masking with this block height
  int64_t causal_offset = 0;   ///< query i sees columns j <= i + causal_offset
};

void softmax_forward(ScalarType t, const void* x, void* y, int64_t rows, int64_t cols,
                     const SoftmaxParams& p, cudaStream_t stream);

/// `log` selects log_softmax's backward; `scale` is the forward's scale.
void softmax_backward(ScalarType t, const void* y, const void* grad_y, void* grad_x, int64_t rows,
                      int64_t cols, bool log, double scale, cudaStream_t stream);

}  // namespace tessera::kernels::cuda
