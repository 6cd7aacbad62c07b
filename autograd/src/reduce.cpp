// SPDX-License-Identifier: Apache-2.0
/// @brief Differentiable reductions and (log-)softmax; backward broadcasts the gradient back over
/// the reduced dims (re-inserted as size-1 dims when keepdim was false).
#include <tessera/autograd/reduce.h>

#include <algorithm>

#include <tessera/autograd/function.h>
#include <tessera/autograd/shape.h>
#include <tessera/creation.h>
#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>
#include <tessera/native/fused.h>
#include <tessera/native/index.h>
#include <tessera/native/shape.h>

namespace tessera {
namespace {

using autograd::AutogradContext;
using autograd::record1;
using Grads = std::vector<Tensor>;

/// Sorted, wrapped, de-duplicated reduced dims (all dims when `dims` is empty).
Shape reduced_dims(const Shape& dims, int64_t ndim, const char* op) {
  Shape out;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
  } else {
    for (int64_t d : dims) out.push_back(native::wrap_dim(d, ndim, op));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

/// A reduction result r (keepdim or not) reshaped to keep the reduced dims as size 1.
Tensor keepdim_view(const Tensor& r, const Shape& in_shape, const Shape& rdims) {
  Shape kept = in_shape;
  for (int64_t d : rdims) kept[d] = 1;
  return native::reshape(r, kept);
}

int64_t count_of(const Shape& in, const Shape& rdims) {
  int64_t n = 1;
  for (int64_t d : rdims) n *= in[d];
  return n;
}

}  // namespace

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  const Shape in = x.shape();
  const Shape rd = reduced_dims(dims, x.dim(), "sum");
  return record1("SumBackward", {x}, native::sum(x, dims, keepdim),
                 [in, rd](AutogradContext&, const Grads& g) -> Grads {
                   return {native::expand(keepdim_view(g[0], in, rd), in)};
                 });
}

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  const Shape in = x.shape();
  const Shape rd = reduced_dims(dims, x.dim(), "mean");
  const double n = static_cast<double>(count_of(in, rd));
  return record1("MeanBackward", {x}, native::mean(x, dims, keepdim),
                 [in, rd, n](AutogradContext&, const Grads& g) -> Grads {
                   return {native::expand(native::div(keepdim_view(g[0], in, rd), Scalar(n)), in)};
                 });
}

namespace {
Tensor amax_amin(const char* name, const Tensor& x, const Shape& dims, bool keepdim, bool is_max) {
  Tensor out = is_max ? native::amax(x, dims, keepdim) : native::amin(x, dims, keepdim);
  const Shape in = x.shape();
  const Shape rd = reduced_dims(dims, x.dim(), name);
  return record1(
      name, {x}, out,
      [in, rd](AutogradContext& ctx, const Grads& g) -> Grads {
        const auto s = ctx.saved();  // x, out
        const Tensor hit = native::eq(s[0], keepdim_view(s[1], in, rd));
        const Tensor count = native::sum(native::to(hit, g[0].dtype()), rd, /*keepdim=*/true);
        const Tensor share = native::div(keepdim_view(g[0], in, rd), count);
        return {native::where(hit, native::expand(share, in), Scalar(0.0))};
      },
      [&](AutogradContext& ctx) {
        ctx.save_for_backward({x, out});
      });
}

std::pair<Tensor, Tensor> max_min(const char* name, const Tensor& x, int64_t dim, bool keepdim,
                                  bool is_max) {
  auto [values, indices] = is_max ? native::max(x, dim, keepdim) : native::min(x, dim, keepdim);
  const Shape in = x.shape();
  const int64_t d = native::wrap_dim(dim, std::max<int64_t>(x.dim(), 1), name);
  record1(
      name, {x}, values,
      [in, d](AutogradContext& ctx, const Grads& g) -> Grads {
        const Tensor idx = ctx.saved()[0];
        if (in.empty()) return {native::reshape(g[0], in)};
        const Tensor gk = keepdim_view(g[0], in, {d});
        const Tensor ik = keepdim_view(idx, in, {d});
        return {native::scatter_add(zeros(in, {.dtype = g[0].dtype(), .device = g[0].device()}), d,
                                    ik, gk)};
      },
      [&](AutogradContext& ctx) { ctx.save_for_backward({indices}); });
  return {values, indices};
}
}  // namespace

Tensor amax(const Tensor& x, const Shape& dims, bool keepdim) {
  return amax_amin("AmaxBackward", x, dims, keepdim, true);
}
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim) {
  return amax_amin("AminBackward", x, dims, keepdim, false);
}
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return max_min("MaxBackward", x, dim, keepdim, true);
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return max_min("MinBackward", x, dim, keepdim, false);
}

Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  const Shape in = x.shape();
  const Shape rd = reduced_dims(dims, x.dim(), "var");
  const double denom = static_cast<double>(count_of(in, rd) - correction);
  return record1(
      "VarBackward", {x}, native::var(x, dims, correction, keepdim),
      [in, rd, denom](AutogradContext& ctx, const Grads& g) -> Grads {
        const Tensor xs = ctx.saved()[0];
        const Tensor centered = native::sub(xs, native::mean(xs, rd, true));
        return {
            native::mul(native::mul(centered, keepdim_view(g[0], in, rd)), Scalar(2.0 / denom))};
      },
      [&](AutogradContext& ctx) { ctx.save_for_backward({x}); });
}

Tensor std(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  const Shape in = x.shape();
  const Shape rd = reduced_dims(dims, x.dim(), "std");
  const double denom = static_cast<double>(count_of(in, rd) - correction);
  Tensor out = native::std(x, dims, correction, keepdim);
  return record1(
      "StdBackward", {x}, out,
      [in, rd, denom](AutogradContext& ctx, const Grads& g) -> Grads {
        const auto s = ctx.saved();
        const Tensor centered = native::sub(s[0], native::mean(s[0], rd, true));
        const Tensor scale = native::div(keepdim_view(g[0], in, rd),
                                         native::mul(keepdim_view(s[1], in, rd), Scalar(denom)));
        return {native::mul(centered, scale)};
      },
      [&](AutogradContext& ctx) {
        ctx.save_for_backward({x, out});
      });
}

Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim) {
  const Shape in = x.shape();
  const Shape rd = reduced_dims(dims, x.dim(), "logsumexp");
  Tensor out = native::logsumexp(x, dims, keepdim);
  return record1(
      "LogsumexpBackward", {x}, out,
      [in, rd](AutogradContext& ctx, const Grads& g) -> Grads {
        const auto s = ctx.saved();
        const Tensor p = native::exp(native::sub(s[0], keepdim_view(s[1], in, rd)));
        return {native::mul(p, keepdim_view(g[0], in, rd))};
      },
      [&](AutogradContext& ctx) {
        ctx.save_for_backward({x, out});
      });
}

Tensor softmax(const Tensor& x, int64_t dim) {
  Tensor y = native::softmax(x, dim);
  return record1(
      "SoftmaxBackward", {x}, y,
      [dim](AutogradContext& ctx, const Grads& g) -> Grads {
        return {native::softmax_backward(ctx.saved()[0], g[0], dim)};
      },
      [&](AutogradContext& ctx) { ctx.save_for_backward({y}); });
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  Tensor y = native::log_softmax(x, dim);
  return record1(
      "LogSoftmaxBackward", {x}, y,
      [dim](AutogradContext& ctx, const Grads& g) -> Grads {
        return {native::log_softmax_backward(ctx.saved()[0], g[0], dim)};
      },
      [&](AutogradContext& ctx) { ctx.save_for_backward({y}); });
}

}  // namespace tessera
