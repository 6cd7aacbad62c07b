// SPDX-License-Identifier: Apache-2.0
/// @brief Differentiable integer indexing: index_select, gather, embedding (indices get no grad).
#pragma once

#include <tessera/native/index.h>
#include <tessera/tensor.h>

namespace tessera {

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
/// weight (V, C), indices (...) -> (..., C); the weight gradient sums rows per index.
Tensor embedding(const Tensor& weight, const Tensor& indices);

using native::one_hot;

}  // namespace tessera
