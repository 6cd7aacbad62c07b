// SPDX-License-Identifier: Apache-2.0
/// @brief Views (no copy) and joins/splits. Dims may be negative (counted from the end).
#pragma once

#include <vector>

#include <tessera/tensor.h>

namespace tessera::native {

/// A view with a new shape; one entry may be -1. Throws when the strides cannot express it.
Tensor view(const Tensor& x, const Shape& shape);
/// view() when possible, else a contiguous copy.
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& x, const Shape& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
/// Transpose of a 2-d tensor (0-d and 1-d returned as is).
Tensor t(const Tensor& x);
/// Elements start .. start+length-1 along dim.
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
/// Python slice x[..., start:end:step, ...] along dim; start/end clamp like Python's.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
/// Removes dim by taking index `index` (negative counts from the end).
Tensor select(const Tensor& x, int64_t dim, int64_t index);
/// Broadcast view to `shape` (-1 keeps a size); size-1 dims get stride 0.
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
/// A raw strided view of x's storage. For experts; checked against the storage size.
Tensor as_strided(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset);

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
/// Pieces of `split_size` along dim (the last may be smaller); views.
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
/// Pieces of the given sizes (which must sum to the dim's size); views.
std::vector<Tensor> split_with_sizes(const Tensor& x, const Shape& sizes, int64_t dim = 0);
/// `chunks` pieces of ceil(size / chunks) (like torch.chunk); views.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

/// The broadcast shape of a and b, or a tessera::Error naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast");
/// Normalises a possibly negative dim against rank `ndim`, or throws naming `op`.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op = "dim");

}  // namespace tessera::native
