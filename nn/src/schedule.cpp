// SPDX-License-Identifier: Apache-2.0
/// @brief Learning-rate schedule factors.
#include <tessera/nn/schedule.h>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace tessera::nn {

double WarmupCosine::factor(int64_t step) const {
  TESSERA_CHECK(step >= 0 && warmup_steps >= 0 && total_steps > warmup_steps,
                "WarmupCosine: need step >= 0 and total_steps > warmup_steps >= 0, got step ", step,
                ", warmup ", warmup_steps, ", total ", total_steps);
  if (step < warmup_steps) return static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  if (step >= total_steps) return min_factor;
  const double ratio =
      static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
  const double coeff = 0.5 * (1.0 + std::cos(std::numbers::pi * ratio));
  return min_factor + coeff * (1.0 - min_factor);
}

double InverseSqrt::factor(int64_t step) const {
  TESSERA_CHECK(step >= 0 && warmup_steps >= 1,
                "InverseSqrt: need step >= 0 and warmup_steps >= 1, got ", step, ", ",
                warmup_steps);
  const double s = static_cast<double>(step + 1), w = static_cast<double>(warmup_steps);
  return s < w ? s / w : std::sqrt(w / s);
}

}  // namespace tessera::nn
