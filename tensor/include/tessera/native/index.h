// SPDX-License-Identifier: Apache-2.0
/// @brief Indexing by integer tensors. Indices are int64 or int32; out-of-range indices throw.
#pragma once

#include <tessera/tensor.h>

namespace tessera::native {

/// Rows of x along dim chosen by a 1-d index.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
/// out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (torch.gather).
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
/// A copy of self with src added at index along dim (torch.scatter_add); deterministic order.
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
Tensor& scatter_add_(Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
/// weight (V, C), indices (...) -> (..., C).
Tensor embedding(const Tensor& weight, const Tensor& indices);
/// grad_output (..., C), indices (...) -> (V, C) with rows summed per index (deterministic).
Tensor embedding_backward(const Tensor& grad_output, const Tensor& indices, int64_t num_weights);
/// One-hot rows along a new last dim of size num_classes (int64).
Tensor one_hot(const Tensor& indices, int64_t num_classes);

}  // namespace tessera::native
