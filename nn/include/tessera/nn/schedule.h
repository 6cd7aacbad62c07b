// SPDX-License-Identifier: Apache-2.0
/// @brief Learning-rate schedules as pure functions of the (0-based) step, returning a factor of
/// the base lr; `apply` writes initial_lr * factor into every group of an optimizer.
#pragma once

#include <cstdint>

#include <tessera/nn/optim.h>

namespace tessera::nn {

/// Linear warmup over `warmup_steps` (factor (step + 1) / warmup), then cosine decay from 1 to
/// min_factor at total_steps, and min_factor afterwards.
struct WarmupCosine {
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_factor = 0.0;
  double factor(int64_t step) const;
  void apply(Optimizer& opt, int64_t step) const { opt.scale_lr(factor(step)); }
};

/// Linear warmup ((step + 1) / warmup), then sqrt(warmup / (step + 1)) (Transformer / fairseq).
struct InverseSqrt {
  int64_t warmup_steps = 1;
  double factor(int64_t step) const;
  void apply(Optimizer& opt, int64_t step) const { opt.scale_lr(factor(step)); }
};

}  // namespace tessera::nn
