// SPDX-License-Identifier: Apache-2.0
/// @brief LayerNorm layer (see layer_norm.h); math in functional.cpp.
#include <tessera/nn/layer_norm.h>

#include <tessera/creation.h>
#include <tessera/nn/functional.h>

namespace tessera::nn {

LayerNorm::LayerNorm(Shape shape, double eps_, bool affine, bool with_bias, DType dtype)
    : normalized_shape(std::move(shape)), eps(eps_) {
  TESSERA_CHECK(!normalized_shape.empty(), "LayerNorm: normalized_shape must not be empty");
  if (affine) {
    weight = register_parameter("weight", ones(normalized_shape, {.dtype = dtype}));
    if (with_bias) bias = register_parameter("bias", zeros(normalized_shape, {.dtype = dtype}));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  const int64_t nd = static_cast<int64_t>(normalized_shape.size());
  TESSERA_CHECK(x.dim() >= nd && Shape(x.shape().end() - nd, x.shape().end()) == normalized_shape,
                "LayerNorm: input ", describe(x), " does not end with normalized shape ",
                shape_str(normalized_shape));
  return F::layer_norm(x, nd, weight, bias, eps);
}

}  // namespace tessera::nn
