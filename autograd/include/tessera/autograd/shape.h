// SPDX-License-Identifier: Apache-2.0
/// @brief Differentiable views, joins and splits, dtype conversion, detach.
///
/// View ops return views of their input (shared storage) exactly like tessera::native; their
/// backward maps the gradient back to the input's shape.
#pragma once

#include <vector>

#include <tessera/native/shape.h>
#include <tessera/tensor.h>

namespace tessera {

Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& x, const Shape& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor t(const Tensor& x);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
/// x itself when already contiguous (no node), else a differentiable contiguous copy.
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
/// Differentiable dtype conversion (the gradient is converted back); x itself if dtype matches.
Tensor to(const Tensor& x, DType dtype);
/// Same data, cut from the graph: a leaf that does not require grad (shares storage).
Tensor detach(const Tensor& x);

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split_with_sizes(const Tensor& x, const Shape& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

using native::broadcast_shapes;

/// Sums `g` over the dims that broadcasting added or expanded so that it has `shape` (the
/// backward of broadcasting). Not recorded.
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace tessera
