// SPDX-License-Identifier: Apache-2.0
/// @brief Differentiable views, joins/splits, conversions; sum_to (the backward of broadcasting).
#include <tessera/autograd/shape.h>

#include <algorithm>
#include <numeric>

#include <tessera/autograd/function.h>
#include <tessera/creation.h>
#include <tessera/native/convert.h>
#include <tessera/native/reduce.h>

namespace tessera {
namespace {

using autograd::AutogradContext;
using autograd::record1;
using Grads = std::vector<Tensor>;

/// Records y = view-like(x) whose backward is `bw(g)`; nothing saved.
template <typename Backward>
Tensor view_like(const char* name, const Tensor& x, Tensor y, Backward bw) {
  if (y.is_same(x)) y = autograd::data_alias(y);  // native returned its input (no-op view)
  return record1(name, {x}, y,
                 [bw](AutogradContext&, const Grads& g) -> Grads { return {bw(g[0])}; });
}

/// Zeros of `shape` with g written into the region `region(zeros)` selects (narrow/slice/select).
template <typename Region>
Tensor scatter_into_zeros(const Tensor& g, const Shape& shape, Region region) {
  Tensor z = zeros(shape, {.dtype = g.dtype(), .device = g.device()});
  Tensor view = region(z);
  native::copy_(view, g);
  return z;
}

}  // namespace

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  TESSERA_CHECK(lead >= 0, "sum_to: cannot reduce ", describe(g), " to ", shape_str(shape));
  Shape dims;
  for (int64_t d = 0; d < lead; ++d) dims.push_back(d);
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t d = lead + static_cast<int64_t>(i);
    if (shape[i] == 1 && g.shape()[d] != 1)
      dims.push_back(d);
    else
      TESSERA_CHECK(shape[i] == g.shape()[d], "sum_to: cannot reduce ", describe(g), " to ",
                    shape_str(shape));
  }
  Tensor r = dims.empty() ? g : native::sum(g, dims, /*keepdim=*/true);
  return native::reshape(r, shape);
}

Tensor view(const Tensor& x, const Shape& shape) {
  const Shape in = x.shape();
  return view_like("ViewBackward", x, native::view(x, shape),
                   [in](const Tensor& g) { return native::reshape(g, in); });
}
Tensor reshape(const Tensor& x, const Shape& shape) {
  const Shape in = x.shape();
  return view_like("ReshapeBackward", x, native::reshape(x, shape),
                   [in](const Tensor& g) { return native::reshape(g, in); });
}
Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  const Shape in = x.shape();
  return view_like("FlattenBackward", x, native::flatten(x, start_dim, end_dim),
                   [in](const Tensor& g) { return native::reshape(g, in); });
}
Tensor permute(const Tensor& x, const Shape& dims) {
  Tensor y = native::permute(x, dims);  // validates dims
  Shape inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i)
    inverse[native::wrap_dim(dims[i], x.dim(), "permute")] = static_cast<int64_t>(i);
  return view_like("PermuteBackward", x, y,
                   [inverse](const Tensor& g) { return native::permute(g, inverse); });
}
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  return view_like("TransposeBackward", x, native::transpose(x, d0, d1),
                   [d0, d1](const Tensor& g) { return native::transpose(g, d0, d1); });
}
Tensor t(const Tensor& x) {
  return view_like("TBackward", x, native::t(x), [](const Tensor& g) { return native::t(g); });
}
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  const Shape in = x.shape();
  return view_like(
      "NarrowBackward", x, native::narrow(x, dim, start, length), [=](const Tensor& g) {
        return scatter_into_zeros(
            g, in, [&](const Tensor& z) { return native::narrow(z, dim, start, length); });
      });
}
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  const Shape in = x.shape();
  return view_like(
      "SliceBackward", x, native::slice(x, dim, start, end, step), [=](const Tensor& g) {
        return scatter_into_zeros(
            g, in, [&](const Tensor& z) { return native::slice(z, dim, start, end, step); });
      });
}
Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  const Shape in = x.shape();
  return view_like("SelectBackward", x, native::select(x, dim, index), [=](const Tensor& g) {
    return scatter_into_zeros(g, in,
                              [&](const Tensor& z) { return native::select(z, dim, index); });
  });
}
Tensor expand(const Tensor& x, const Shape& shape) {
  const Shape in = x.shape();
  return view_like("ExpandBackward", x, native::expand(x, shape),
                   [in](const Tensor& g) { return sum_to(g, in); });
}
Tensor squeeze(const Tensor& x) {
  const Shape in = x.shape();
  return view_like("SqueezeBackward", x, native::squeeze(x),
                   [in](const Tensor& g) { return native::reshape(g, in); });
}
Tensor squeeze(const Tensor& x, int64_t dim) {
  const Shape in = x.shape();
  return view_like("SqueezeBackward", x, native::squeeze(x, dim),
                   [in](const Tensor& g) { return native::reshape(g, in); });
}
Tensor unsqueeze(const Tensor& x, int64_t dim) {
  const Shape in = x.shape();
  return view_like("UnsqueezeBackward", x, native::unsqueeze(x, dim),
                   [in](const Tensor& g) { return native::reshape(g, in); });
}
Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  return view_like("ContiguousBackward", x, native::contiguous(x),
                   [](const Tensor& g) { return g; });
}
Tensor clone(const Tensor& x) {
  return view_like("CloneBackward", x, native::clone(x), [](const Tensor& g) { return g; });
}
Tensor to(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  // The engine casts the gradient back to x's dtype; integer results are not differentiable.
  return view_like("ToCopyBackward", x, native::to(x, dtype), [](const Tensor& g) { return g; });
}
Tensor detach(const Tensor& x) { return autograd::data_alias(x); }

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  Tensor out = native::cat(tensors, dim);
  if (tensors.empty()) return out;
  const int64_t d = native::wrap_dim(dim, out.dim(), "cat");
  Shape sizes;
  for (const Tensor& t : tensors) sizes.push_back(t.dim() == 0 ? 0 : t.shape()[d]);
  return record1("CatBackward", tensors, out,
                 [d, sizes](AutogradContext& ctx, const Grads& g) -> Grads {
                   Grads r;
                   int64_t start = 0;
                   for (size_t i = 0; i < sizes.size(); ++i) {
                     r.push_back(ctx.needs_input_grad(i) ? native::narrow(g[0], d, start, sizes[i])
                                                         : Tensor());
                     start += sizes[i];
                   }
                   return r;
                 });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  Tensor out = native::stack(tensors, dim);
  if (tensors.empty()) return out;
  const int64_t d = native::wrap_dim(dim, out.dim(), "stack");
  const size_t n = tensors.size();
  return record1(
      "StackBackward", tensors, out, [d, n](AutogradContext& ctx, const Grads& g) -> Grads {
        Grads r;
        for (size_t i = 0; i < n; ++i)
          r.push_back(ctx.needs_input_grad(i) ? native::select(g[0], d, static_cast<int64_t>(i))
                                              : Tensor());
        return r;
      });
}

namespace {
/// Records pieces that partition x along dim: backward concatenates their gradients (the engine
/// supplies zeros for pieces that got none).
std::vector<Tensor> record_split(const Tensor& x, int64_t dim, std::vector<Tensor> pieces) {
  if (pieces.empty()) return pieces;
  const int64_t d = native::wrap_dim(dim, x.dim(), "split");
  autograd::record("SplitBackward", {x}, pieces,
                   [d](AutogradContext&, const Grads& g) -> Grads { return {native::cat(g, d)}; });
  return pieces;
}
}  // namespace

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  return record_split(x, dim, native::split(x, split_size, dim));
}
std::vector<Tensor> split_with_sizes(const Tensor& x, const Shape& sizes, int64_t dim) {
  return record_split(x, dim, native::split_with_sizes(x, sizes, dim));
}
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  return record_split(x, dim, native::chunk(x, chunks, dim));
}

}  // namespace tessera
