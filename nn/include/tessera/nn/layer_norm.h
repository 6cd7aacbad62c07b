// SPDX-License-Identifier: Apache-2.0
/// @brief LayerNorm over the trailing dims `normalized_shape` (weight 1, bias 0 at init).
///
/// As torch.nn.LayerNorm: `elementwise_affine = false` has neither weight nor bias; `bias = false`
/// keeps the weight only (nanoGPT's bias-free blocks).
#pragma once

#include <tessera/nn/module.h>

namespace tessera::nn {

class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     bool bias = true, DType dtype = kFloat32);
  LayerNorm(int64_t dim, double eps = 1e-5, bool elementwise_affine = true, bool bias = true,
            DType dtype = kFloat32)
      : LayerNorm(Shape{dim}, eps, elementwise_affine, bias, dtype) {}
  std::string name() const override { return "LayerNorm"; }
  Tensor forward(const Tensor& x) override;
  Shape normalized_shape;
  double eps;
  Tensor weight, bias;  ///< undefined without elementwise_affine (bias: also without `bias`)
};

}  // namespace tessera::nn
