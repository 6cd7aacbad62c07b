// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA indexing: index_select, gather, scatter_add_, embedding (+ backward), one_hot.
///
/// Indices are validated in full before any kernel runs, as on the CPU: they are copied to the
/// host (one synchronising transfer of 8 bytes per index) and checked against the bound, so a bad
/// index is a tessera::Error naming the op, value and position, never a device fault.
#include <tessera/creation.h>
#include <tessera/kernels/cuda/index.h>
#include <tessera/native/convert.h>
#include <tessera/native/index.h>
#include <tessera/native/shape.h>

#include "cuda/common.h"
#include "cuda/ops.h"
#include "native/iter.h"

namespace tessera::native::cuda_impl {
namespace {

namespace kc = kernels::cuda;
using cuda::detail::common_device;
using cuda::detail::DeviceGuard;
using cuda::detail::stream_of;

/// Contiguous int64 copy of `index` on `dev`, checked to lie in [0, bound).
Tensor checked_indices(const char* op, const Tensor& index, int64_t bound, Device dev) {
  TESSERA_CHECK(index.dtype() == kInt64 || index.dtype() == kInt32, op,
                ": indices must be int64 or int32, got ", describe(index));
  const Tensor host = contiguous(native::to(native::to(index, kCPU), kInt64));
  const int64_t* p = static_cast<const int64_t*>(host.data_ptr());
  for (int64_t i = 0; i < host.numel(); ++i) {
    TESSERA_CHECK(p[i] >= 0 && p[i] < bound, op, ": index ", p[i], " at position ", i,
                  " is out of range [0, ", bound, ")");
  }
  return native::to(host, dev);
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const Device dev = common_device("index_select", {&x, &index});
  DeviceGuard guard(dev.index);
  TESSERA_CHECK(index.dim() <= 1, "index_select: index must be 0-d or 1-d, got ", describe(index));
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  const int64_t size = x.dim() == 0 ? 1 : x.shape()[d];
  const Tensor idx = checked_indices("index_select", index, size, dev);
  if (x.dim() == 0) return clone(x);
  Shape shape = x.shape();
  shape[d] = idx.numel();
  Tensor out = empty(shape, {.dtype = x.dtype(), .device = dev});
  kc::index_gather(static_cast<int>(x.element_size()), out.data_ptr(), x.data_ptr(),
                   static_cast<const int64_t*>(idx.data_ptr()), static_cast<int>(x.dim()),
                   shape.data(), x.strides().data(), static_cast<int>(d), true,
                   stream_of(dev.index));
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const Device dev = common_device("gather", {&x, &index});
  DeviceGuard guard(dev.index);
  TESSERA_CHECK(index.dim() == x.dim(), "gather: index ", describe(index),
                " must have as many dims as the input ", describe(x));
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  for (int64_t k = 0; k < x.dim(); ++k) {
    TESSERA_CHECK(k == d || index.shape()[k] <= x.shape()[k], "gather: index ", describe(index),
                  " is larger than the input ", describe(x), " in dim ", k);
  }
  const Tensor idx = checked_indices("gather", index, x.dim() == 0 ? 1 : x.shape()[d], dev);
  Tensor out = empty(index.shape(), {.dtype = x.dtype(), .device = dev});
  if (out.numel() == 0) return out;
  kc::index_gather(static_cast<int>(x.element_size()), out.data_ptr(), x.data_ptr(),
                   static_cast<const int64_t*>(idx.data_ptr()), static_cast<int>(x.dim()),
                   index.shape().data(), x.strides().data(), static_cast<int>(d), false,
                   stream_of(dev.index));
  return out;
}

Tensor& scatter_add_(Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  const Device dev = common_device("scatter_add_", {&self, &index, &src});
  DeviceGuard guard(dev.index);
  detail::check_writable("scatter_add_", self);
  TESSERA_CHECK(index.dim() == self.dim() && src.dim() == self.dim(), "scatter_add: self ",
                describe(self), ", index ", describe(index), " and src ", describe(src),
                " must have the same number of dims");
  const int64_t d = wrap_dim(dim, self.dim(), "scatter_add");
  for (int64_t k = 0; k < self.dim(); ++k) {
    TESSERA_CHECK(
        index.shape()[k] <= src.shape()[k] && (k == d || index.shape()[k] <= self.shape()[k]),
        "scatter_add: index ", describe(index), " is larger than src ", describe(src), " or self ",
        describe(self), " in dim ", k);
  }
  const Tensor idx =
      checked_indices("scatter_add", index, self.dim() == 0 ? 1 : self.shape()[d], dev);
  const Tensor s = native::to(src, self.dtype());
  // A 0-d scatter is a 1-element one: views of shape (1) (self stays the written tensor).
  const bool scalar = self.dim() == 0;
  const Tensor self1 = scalar ? unsqueeze(self, 0) : self;
  const Tensor s1 = scalar ? unsqueeze(s, 0) : s;
  const Shape sizes = scalar ? Shape{1} : index.shape();
  kc::scatter_add(cuda::detail::scalar_type(self.dtype()), self1.data_ptr(), self1.strides().data(),
                  s1.data_ptr(), s1.strides().data(), static_cast<const int64_t*>(idx.data_ptr()),
                  static_cast<int>(sizes.size()), sizes.data(), scalar ? 0 : static_cast<int>(d),
                  stream_of(dev.index));
  self.bump_version();
  return self;
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  const Device dev = common_device("embedding", {&weight, &indices});
  DeviceGuard guard(dev.index);
  TESSERA_CHECK(weight.dim() == 2, "embedding: weight must be (num_embeddings, dim), got ",
                describe(weight));
  const Tensor idx = checked_indices("embedding", indices, weight.size(0), dev);
  const int64_t c = weight.size(1);
  Shape shape = indices.shape();
  shape.push_back(c);
  Tensor out = empty(shape, {.dtype = weight.dtype(), .device = dev});
  if (out.numel() == 0) return out;
  const int64_t sizes[2] = {idx.numel(), c};
  kc::index_gather(static_cast<int>(weight.element_size()), out.data_ptr(), weight.data_ptr(),
                   static_cast<const int64_t*>(idx.data_ptr()), 2, sizes, weight.strides().data(),
                   0, true, stream_of(dev.index));
  return out;
}

Tensor embedding_backward(const Tensor& grad_output, const Tensor& indices, int64_t num_weights) {
  const Device dev = common_device("embedding_backward", {&grad_output, &indices});
  DeviceGuard guard(dev.index);
  const Tensor idx = checked_indices("embedding_backward", indices, num_weights, dev);
  bool prefix = grad_output.dim() == indices.dim() + 1;
  for (int64_t d = 0; prefix && d < indices.dim(); ++d)
    prefix = grad_output.shape()[d] == indices.shape()[d];
  TESSERA_CHECK(prefix, "embedding_backward: grad_output ", describe(grad_output),
                " must have the indices' shape ", shape_str(indices.shape()), " plus one dim");
  if (grad_output.dtype() == kBFloat16 || grad_output.dtype() == kFloat16) {
    // Sum in float32 and round once, as the CPU does.
    return native::to(embedding_backward(native::to(grad_output, kFloat32), indices, num_weights),
                      grad_output.dtype());
  }
  const int64_t c = grad_output.size(-1);
  const Tensor g = contiguous(grad_output);
  Tensor out = zeros({num_weights, c}, {.dtype = g.dtype(), .device = dev});
  kc::embedding_backward(cuda::detail::scalar_type(g.dtype()), g.data_ptr(),
                         static_cast<const int64_t*>(idx.data_ptr()), idx.numel(), c,
                         out.data_ptr(), stream_of(dev.index));
  return out;
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  const Device dev = common_device("one_hot", {&indices});
  // A tiny op whose size is the output's: built on the host and copied (one transfer).
  return native::to(native::one_hot(native::to(indices, kCPU), num_classes), dev);
}

}  // namespace tessera::native::cuda_impl
