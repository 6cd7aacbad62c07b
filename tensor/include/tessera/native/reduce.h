// SPDX-License-Identifier: Apache-2.0
/// @brief Reductions over any set of dims, with keepdim. Deterministic: the summation order is a
/// fixed blocking that does not depend on the number of threads.
///
/// `dims` empty means all dims. Floating sums accumulate in float64 for float64 and float32 inputs
/// are accumulated in float32 pairwise blocks (error O(log n) ulp); 16-bit floats accumulate in
/// float32. Integer and bool sums give int64.
#pragma once

#include <optional>
#include <utility>

#include <tessera/tensor.h>

namespace tessera::native {

Tensor sum(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor prod(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor amax(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
/// Values and int64 indices of the max/min along one dim (first occurrence wins; NaN propagates).
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
/// Variance with Bessel's `correction` (1 = unbiased, 0 = population), two-pass for accuracy.
Tensor var(const Tensor& x, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false);
/// log(sum(exp(x))) computed stably (max subtracted); -inf for all -inf inputs.
Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim = false);
/// Softmax / log-softmax along one dim (composed from the above; issue #6 adds fused kernels).
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace tessera::native
