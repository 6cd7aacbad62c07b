// SPDX-License-Identifier: Apache-2.0
/// @brief cross_entropy (fused kernel; ignore_index, label smoothing), its unfused reference
/// composed from differentiable primitives, and mse_loss.
#include <tessera/nn/loss.h>

#include <tessera/ops.h>

namespace tessera::nn::functional {

Tensor cross_entropy_reference(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                               double label_smoothing) {
  TESSERA_CHECK(
      logits.dim() >= 2 && targets.dim() == logits.dim() - 1 &&
          Shape(logits.shape().begin(), logits.shape().end() - 1) == targets.shape(),
      "cross_entropy: expected logits (N, C) or (B, T, C) and targets (N) or (B, T), got logits ",
      describe(logits), " and targets ", describe(targets));
  TESSERA_CHECK(targets.dtype() == kInt64 || targets.dtype() == kInt32,
                "cross_entropy: targets must be int64 or int32, got ", describe(targets));
  TESSERA_CHECK(is_floating(logits.dtype()), "cross_entropy: logits must be floating, got ",
                describe(logits));
  TESSERA_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
                "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  const int64_t c = logits.size(-1);
  const Tensor logp = log_softmax(reshape(logits, {-1, c}), -1);  // (N, C)
  const Tensor tgt = native::reshape(native::to(targets, kInt64), {-1});
  const Tensor valid = native::ne(tgt, Scalar(ignore_index));
  {
    const Tensor bad = native::logical_and(
        valid, native::logical_or(native::lt(tgt, Scalar(int64_t{0})), native::ge(tgt, Scalar(c))));
    const bool any_bad = native::sum(bad).item<int64_t>() > 0;
    TESSERA_CHECK(!any_bad, "cross_entropy: a target is outside [0, ", c,
                  ") and is not ignore_index ", ignore_index);
  }
  const Tensor safe =
      native::unsqueeze(native::where(valid, tgt, Scalar(int64_t{0})), 1);  // (N, 1)
  Tensor per_token = neg(squeeze(gather(logp, 1, safe), 1));                // (N)
  if (label_smoothing > 0.0) {
    const Tensor smooth = neg(mean(logp, {1}));
    per_token =
        add(mul(per_token, Scalar(1.0 - label_smoothing)), mul(smooth, Scalar(label_smoothing)));
  }
  const Tensor masked = where(valid, per_token, Scalar(0.0));
  const double count = static_cast<double>(native::sum(valid).item<int64_t>());
  return div(sum(masked), Scalar(count));
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                     double label_smoothing) {
  TESSERA_CHECK(
      logits.dim() >= 2 && targets.dim() == logits.dim() - 1 &&
          Shape(logits.shape().begin(), logits.shape().end() - 1) == targets.shape(),
      "cross_entropy: expected logits (N, C) or (B, T, C) and targets (N) or (B, T), got logits ",
      describe(logits), " and targets ", describe(targets));
  // One fused node: softmax, loss and the logits gradient without storing probabilities. The
  // fused kernels run on CPU and CUDA; other devices use the composition.
  if (!logits.device().is_cpu() && !logits.device().is_cuda())
    return cross_entropy_reference(logits, targets, ignore_index, label_smoothing);
  const int64_t c = logits.size(-1);
  return tessera::cross_entropy(reshape(logits, {-1, c}), native::reshape(targets, {-1}),
                                ignore_index, label_smoothing);
}

Tensor mse_loss(const Tensor& input, const Tensor& target) {
  TESSERA_CHECK(input.shape() == target.shape(), "mse_loss: input ", describe(input),
                " and target ", describe(target), " must have the same shape");
  return mean(square(sub(input, target)));
}

}  // namespace tessera::nn::functional
