// SPDX-License-Identifier: Apache-2.0
/// @brief Launchers of the fused softmax cross-entropy classifier head on CUDA
/// (kernels/cuda/cross_entropy.cu): the same semantics as kernels::cpu::cross_entropy_forward /
/// cross_entropy_backward with the mean reduction.
///
/// Shapes (row-major, contiguous): logits, grad_logits (rows, vocab) of dtype t (float32, float64,
/// bfloat16, float16); targets (rows) of dtype index_t (int64 or int32); row_loss, lse (rows) of
/// the compute type (float64 for float64 logits, float32 otherwise); loss a single element of
/// dtype t; grad_loss a single float32. Per row r with target t_r != ignore_index,
/// eps = label_smoothing, lse_r = log sum_j exp x_rj:
///   row_loss_r = lse_r - (1 - eps) x_{r,t_r} - eps mean_j x_rj        (PyTorch's formula)
///   loss = sum_r row_loss_r / count   (count = rows not ignored; NaN when count == 0)
///   grad_logits_rj = grad_loss / count * (exp(x_rj - lse_r) - eps / vocab - (1 - eps)[j == t_r])
/// Ignored rows: row_loss 0, zero gradient, lse still written.
/// Preconditions: the caller validates targets on the host (each in [0, vocab) or ignore_index)
/// and passes their count; a target that is out of range anyway gives a NaN row loss / gradient
/// row, never an out-of-bounds read. Results are bit-identical run to run (no atomics).
#pragma once

#include <cstdint>

#include <tessera/kernels/cuda/types.h>

namespace tessera::kernels::cuda {

/// Forward: writes lse (rows), row_loss (rows) and loss (one element of dtype t, the mean over
/// counted rows reduced in a fixed order in float64). rows may be 0 (loss = NaN).
void cross_entropy_forward(ScalarType t, ScalarType index_t, const void* logits,
                           const void* targets, int64_t rows, int64_t vocab, int64_t ignore_index,
                           double label_smoothing, int64_t count, void* row_loss, void* lse,
                           void* loss, cudaStream_t stream);

/// Backward from the saved lse: grad_logits (assigned, dtype t) of the mean loss times
/// *grad_loss (a device pointer). Probabilities are recomputed, never stored.
void cross_entropy_backward(ScalarType t, ScalarType index_t, const void* logits,
                            const void* targets, const void* lse, int64_t rows, int64_t vocab,
                            int64_t ignore_index, double label_smoothing, int64_t count,
                            const float* grad_loss, void* grad_logits, cudaStream_t stream);

}  // namespace tessera::kernels::cuda
