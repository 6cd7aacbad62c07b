// SPDX-License-Identifier: Apache-2.0
/// @brief Activation modules: GELU (exact erf or tanh approximation) and ReLU.
#pragma once

#include <tessera/nn/module.h>

namespace tessera::nn {

class GELU : public Module {
 public:
  explicit GELU(bool tanh_approx = false) : tanh_approx(tanh_approx) {}
  std::string name() const override { return "GELU"; }
  Tensor forward(const Tensor& x) override;
  bool tanh_approx;
};

class ReLU : public Module {
 public:
  std::string name() const override { return "ReLU"; }
  Tensor forward(const Tensor& x) override;
};

}  // namespace tessera::nn
