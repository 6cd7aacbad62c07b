// SPDX-License-Identifier: Apache-2.0
/// @brief Differentiable index_select / gather / embedding: backward scatter-adds the gradient
/// (deterministic order, native::scatter_add / embedding_backward).
#include <tessera/autograd/index.h>

#include <tessera/autograd/function.h>
#include <tessera/creation.h>
#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>
#include <tessera/native/shape.h>

namespace tessera {
namespace {
using autograd::AutogradContext;
using autograd::record1;
using Grads = std::vector<Tensor>;

Tensor zeros_for(const Shape& shape, const Tensor& g) {
  return zeros(shape, {.dtype = g.dtype(), .device = g.device()});
}
}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const Shape in = x.shape();
  Tensor out = native::index_select(x, dim, index);
  const int64_t d = native::wrap_dim(dim, std::max<int64_t>(x.dim(), 1), "index_select");
  return record1(
      "IndexSelectBackward", {x}, out,
      [in, d](AutogradContext& ctx, const Grads& g) -> Grads {
        if (in.empty()) return {native::reshape(g[0], in)};
        // Scatter-add needs an index with g's shape: the 1-d index laid along dim d.
        const Tensor idx = ctx.saved()[0];
        Shape along(g[0].dim(), 1);
        along[d] = idx.numel();
        const Tensor full =
            native::contiguous(native::expand(native::reshape(idx, along), g[0].shape()));
        return {native::scatter_add(zeros_for(in, g[0]), d, full, g[0])};
      },
      [&](AutogradContext& ctx) { ctx.save_for_backward({index}); });
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const Shape in = x.shape();
  const int64_t d = native::wrap_dim(dim, std::max<int64_t>(x.dim(), 1), "gather");
  return record1(
      "GatherBackward", {x}, native::gather(x, dim, index),
      [in, d](AutogradContext& ctx, const Grads& g) -> Grads {
        return {native::scatter_add(zeros_for(in, g[0]), d, ctx.saved()[0], g[0])};
      },
      [&](AutogradContext& ctx) { ctx.save_for_backward({index}); });
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  const int64_t num = weight.dim() > 0 ? weight.shape()[0] : 0;
  return record1(
      "EmbeddingBackward", {weight}, native::embedding(weight, indices),
      [num](AutogradContext& ctx, const Grads& g) -> Grads {
        return {native::embedding_backward(g[0], ctx.saved()[0], num)};
      },
      [&](AutogradContext& ctx) { ctx.save_for_backward({indices}); });
}

}  // namespace tessera
