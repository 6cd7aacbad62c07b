// SPDX-License-Identifier: Apache-2.0
/// @brief gradcheck: analytic gradients (backward) vs float64 central finite differences.
///
/// For each of `num_projections` random projections r (fixed seed) of the outputs, compares
/// analytic d<r, f(x)>/dx (one backward) with (<r, f(x + eps e_i)> - <r, f(x - eps e_i)>) / 2eps
/// for every element i of every input that requires grad. A wrong Jacobian J gives J^T r != the
/// true one with probability 1 over r. Cost: 2 * (total input elements) forward evaluations.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <tessera/tensor.h>

namespace tessera::autograd {

struct GradcheckResult {
  bool ok = true;
  std::string message;  ///< worst element: input index, flat element, analytic, numeric
  double max_abs_error = 0.0;
  int64_t worst_input = -1;
  int64_t worst_element = -1;
  double worst_analytic = 0.0;
  double worst_numeric = 0.0;
};

using GradcheckFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

/// `inputs`: float64 contiguous tensors; those with requires_grad are checked. The check passes
/// when |analytic - numeric| <= atol + rtol * |numeric| for every element.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3,
                          int num_projections = 2);
/// One-output convenience.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-5,
                          double rtol = 1e-3);

}  // namespace tessera::autograd

namespace tessera {
using autograd::gradcheck;
}
