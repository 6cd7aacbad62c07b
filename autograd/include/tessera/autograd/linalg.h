// SPDX-License-Identifier: Apache-2.0
/// @brief Differentiable matrix products (torch.matmul semantics, batch broadcasting included).
#pragma once

#include <tessera/tensor.h>

namespace tessera {

Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);

}  // namespace tessera
