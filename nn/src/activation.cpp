// SPDX-License-Identifier: Apache-2.0
/// @brief GELU and ReLU modules.
#include <tessera/nn/activation.h>

#include <tessera/nn/functional.h>

namespace tessera::nn {

Tensor GELU::forward(const Tensor& x) { return F::gelu(x, tanh_approx); }
Tensor ReLU::forward(const Tensor& x) { return F::relu(x); }

}  // namespace tessera::nn
