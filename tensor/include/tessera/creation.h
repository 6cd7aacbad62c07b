// SPDX-License-Identifier: Apache-2.0
/// @brief Creating tensors: empty, zeros, ones, full, arange, linspace, from values, *_like.
#pragma once

#include <initializer_list>
#include <vector>

#include <tessera/options.h>
#include <tessera/scalar.h>
#include <tessera/tensor.h>

namespace tessera {

/// Uninitialised contiguous tensor.
Tensor empty(const Shape& shape, TensorOptions opts = {});
Tensor zeros(const Shape& shape, TensorOptions opts = {});
Tensor ones(const Shape& shape, TensorOptions opts = {});
Tensor full(const Shape& shape, Scalar value, TensorOptions opts = {});
/// 0-d tensor holding `value`.
Tensor scalar_tensor(Scalar value, TensorOptions opts = {});
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, Scalar value);
/// [start, end) with `step` (1-d). The dtype defaults to int64 when all arguments are integers
/// (pass opts to choose), float32 otherwise.
Tensor arange(Scalar end);
Tensor arange(Scalar start, Scalar end, Scalar step = 1);
Tensor arange(Scalar start, Scalar end, Scalar step, TensorOptions opts);
/// `steps` evenly spaced values from start to end inclusive (1-d, floating).
Tensor linspace(double start, double end, int64_t steps, TensorOptions opts = {});
/// Identity matrix n x n.
Tensor eye(int64_t n, TensorOptions opts = {});

/// A tensor holding `values` (copied) with the given shape (default: 1-d of values.size()).
/// The dtype is that of T unless opts.dtype says otherwise... (opts.dtype is honoured).
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions opts);
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  return from_vector(values, shape, TensorOptions{.dtype = dtype_of<T>()});
}
template <typename T>
Tensor from_vector(const std::vector<T>& values) {
  return from_vector(values, Shape{static_cast<int64_t>(values.size())});
}
/// tensor({1.f, 2.f, 3.f}) -> float32 [3];  tensor({1, 2}, {.dtype = kInt64}).
Tensor tensor(std::initializer_list<float> values, TensorOptions opts = {});
Tensor tensor(std::initializer_list<double> values, TensorOptions opts = {.dtype = kFloat64});
Tensor tensor(std::initializer_list<int64_t> values, TensorOptions opts = {.dtype = kInt64});
Tensor tensor(std::initializer_list<int> values, TensorOptions opts = {.dtype = kInt64});
Tensor tensor(std::initializer_list<bool> values, TensorOptions opts = {.dtype = kBool});

/// Copies the elements (any device, any layout) into a std::vector<T> in row-major order.
template <typename T>
std::vector<T> to_vector(const Tensor& t);

}  // namespace tessera
