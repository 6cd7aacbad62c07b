// SPDX-License-Identifier: Apache-2.0
/// @brief Fused softmax cross-entropy classifier head (loss and logits gradient in one pass), CPU.
///
/// Shapes (row-major): logits, grad_logits (rows, vocab); targets (rows) int64 or int32;
/// row_loss, lse (rows) compute_t<T>. T is float, double, BFloat16 or Float16.
/// Per row with target t != ignore_index, eps = label_smoothing, p = softmax(logits row):
///   loss_r = (1 - eps) * (-log p_t) + eps * mean_j(-log p_j)          (PyTorch's formula)
///          = lse - (1 - eps) * x_t - eps * mean_j x_j,     lse = log sum_j exp x_j
///   dloss_r/dx_j = p_j - (1 - eps) [j == t] - eps / vocab
/// Rows with t == ignore_index have loss 0 and zero gradient and do not count. Reductions:
///   kMean: sum_r loss_r / count (count = rows not ignored; 0 when count == 0, where PyTorch gives
///          NaN), gradient scale grad_loss / count;  kSum: sum_r loss_r, scale grad_loss;
///   kNone: row_loss is the result; backward takes one grad_loss per row.
/// A target outside [0, vocab) that is not ignore_index throws tessera::Error.
/// Results are bit-identical for any OpenMP thread count.
#pragma once

#include <cstdint>

#include <tessera/half.h>
#include <tessera/kernels/cpu/compute_type.h>

namespace tessera::kernels::cpu {

enum class LossReduction { kMean, kSum, kNone };

struct CrossEntropyOptions {
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;  ///< in [0, 1] (double: float64 losses keep full precision)
  LossReduction reduction = LossReduction::kMean;
};

/// Forward. Writes row_loss and lse when non-null and returns the reduced loss (kMean/kSum; the
/// sum for kNone). When grad_logits is non-null it also writes the gradient of the reduced loss
/// times grad_loss in the same pass (the llm.c fused classifier: probabilities are never stored);
/// grad_logits may alias logits (the logits buffer then holds the gradient). Not with kNone.
template <typename T, typename Index>
double cross_entropy_forward(const T* logits, const Index* targets, int64_t rows, int64_t vocab,
                             const CrossEntropyOptions& opt, compute_t<T>* row_loss,
                             compute_t<T>* lse, T* grad_logits = nullptr, float grad_loss = 1.f);

/// Backward from the saved lse: grad_logits (assigned) = dL/dlogits where grad_loss points at one
/// value (kMean, kSum) or rows values (kNone). grad_logits may alias logits.
template <typename T, typename Index>
void cross_entropy_backward(const T* logits, const Index* targets, const compute_t<T>* lse,
                            int64_t rows, int64_t vocab, const CrossEntropyOptions& opt,
                            const float* grad_loss, T* grad_logits);

}  // namespace tessera::kernels::cpu
