// SPDX-License-Identifier: Apache-2.0
/// @brief Linear: y = x W^T + b with W (out, in) like PyTorch; init U(-1/sqrt(in), 1/sqrt(in)).
#pragma once

#include <tessera/nn/module.h>
#include <tessera/random.h>

namespace tessera::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, DType dtype = kFloat32,
         Generator* gen = nullptr);
  std::string name() const override { return "Linear"; }
  Tensor forward(const Tensor& x) override;
  int64_t in_features, out_features;
  Tensor weight;  ///< (out, in)
  Tensor bias;    ///< (out) or undefined
};

}  // namespace tessera::nn
