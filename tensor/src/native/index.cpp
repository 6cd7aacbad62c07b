// SPDX-License-Identifier: Apache-2.0
/// @brief Integer indexing on CPU: index_select, gather, scatter_add, embedding (+ backward),
/// one_hot.
///
/// Indices are validated in full before any write, so a bad index leaves outputs untouched and
/// raises tessera::Error naming the op, the index value and the bound. Scatter-style ops run
/// their additions in index order (serially per output slice) so results are deterministic.
#include <tessera/native/index.h>

#include <tessera/creation.h>
#include <tessera/native/convert.h>
#include <tessera/native/shape.h>

#include "cuda/dispatch.h"
#include "iter.h"

namespace tessera::native {
namespace {

/// Contiguous int64 copy of an index tensor, checked to lie in [0, bound).
std::vector<int64_t> checked_indices(const char* op, const Tensor& index, int64_t bound) {
  TESSERA_CHECK(index.dtype() == kInt64 || index.dtype() == kInt32, op,
                ": indices must be int64 or int32, got ", describe(index));
  const Tensor c = contiguous(to(index, kInt64));
  const int64_t* p = static_cast<const int64_t*>(c.data_ptr());
  std::vector<int64_t> out(p, p + c.numel());
  for (size_t i = 0; i < out.size(); ++i) {
    TESSERA_CHECK(out[i] >= 0 && out[i] < bound, op, ": index ", out[i], " at position ", i,
                  " is out of range [0, ", bound, ")");
  }
  return out;
}

/// Calls f.template operator()<T>() with T the *byte width* type: indexing moves elements without
/// looking at their values, so one instantiation per element size serves every dtype.
template <typename F>
void visit_width(DType t, F&& f) {
  switch (element_size(t)) {
    case 1:
      f.template operator()<uint8_t>();
      break;
    case 2:
      f.template operator()<uint16_t>();
      break;
    case 4:
      f.template operator()<uint32_t>();
      break;
    case 8:
      f.template operator()<uint64_t>();
      break;
    default:
      TESSERA_FAIL("unsupported element size");
  }
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  TESSERA_CUDA_DISPATCH(cuda_impl::index_select(x, dim, index), x, index);
  detail::check_cpu("index_select", {&x, &index});
  TESSERA_CHECK(index.dim() <= 1, "index_select: index must be 0-d or 1-d, got ", describe(index));
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  const int64_t size = x.dim() == 0 ? 1 : x.shape()[d];
  const auto idx = checked_indices("index_select", index, size);
  if (x.dim() == 0) return clone(x);
  Shape shape = x.shape();
  shape[d] = static_cast<int64_t>(idx.size());
  Tensor out = empty(shape, {.dtype = x.dtype(), .device = x.device()});
  // Copy slice by slice: out.select(d, i) = x.select(d, idx[i]) (strided copies, any layout).
  for (size_t i = 0; i < idx.size(); ++i) {
    Tensor dst = select(out, d, static_cast<int64_t>(i));
    copy_(dst, select(x, d, idx[i]));
  }
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  TESSERA_CUDA_DISPATCH(cuda_impl::gather(x, dim, index), x, index);
  detail::check_cpu("gather", {&x, &index});
  TESSERA_CHECK(index.dim() == x.dim(), "gather: index ", describe(index),
                " must have as many dims as the input ", describe(x));
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  for (int64_t k = 0; k < x.dim(); ++k) {
    TESSERA_CHECK(k == d || index.shape()[k] <= x.shape()[k], "gather: index ", describe(index),
                  " is larger than the input ", describe(x), " in dim ", k);
  }
  const auto idx = checked_indices("gather", index, x.dim() == 0 ? 1 : x.shape()[d]);
  Tensor out = empty(index.shape(), {.dtype = x.dtype(), .device = x.device()});
  if (out.numel() == 0) return out;
  const Tensor xc = x;  // strided reads: element (i..) at sum i_k * stride_k
  visit_width(x.dtype(), [&]<typename W>() {
    const W* src = static_cast<const W*>(xc.data_ptr());
    W* dst = static_cast<W*>(out.data_ptr());
    const int64_t nd = index.dim();
    std::vector<int64_t> pos(nd, 0);
    for (size_t flat = 0; flat < idx.size(); ++flat) {
      int64_t off = 0;
      for (int64_t k = 0; k < nd; ++k) off += (k == d ? idx[flat] : pos[k]) * xc.strides()[k];
      dst[flat] = src[off];
      for (int64_t k = nd - 1; k >= 0; --k) {
        if (++pos[k] < index.shape()[k]) break;
        pos[k] = 0;
      }
    }
  });
  return out;
}

Tensor& scatter_add_(Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  TESSERA_CUDA_DISPATCH(cuda_impl::scatter_add_(self, dim, index, src), self, index, src);
  detail::check_cpu("scatter_add_", {&self, &index, &src});
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
  const auto idx = checked_indices("scatter_add", index, self.dim() == 0 ? 1 : self.shape()[d]);
  const Tensor s = to(src, self.dtype());
  visit_dtype(self.dtype(), [&]<typename T>() {
    T* dst = static_cast<T*>(self.data_ptr());
    const T* sp = static_cast<const T*>(s.data_ptr());
    const int64_t nd = index.dim();
    std::vector<int64_t> pos(nd, 0);
    for (size_t flat = 0; flat < idx.size(); ++flat) {
      int64_t doff = 0, soff = 0;
      for (int64_t k = 0; k < nd; ++k) {
        doff += (k == d ? idx[flat] : pos[k]) * self.strides()[k];
        soff += pos[k] * s.strides()[k];
      }
      if constexpr (std::is_same_v<T, bool>)
        dst[doff] = dst[doff] || sp[soff];
      else
        dst[doff] = T(acc_t<T>(dst[doff]) + acc_t<T>(sp[soff]));
      for (int64_t k = nd - 1; k >= 0; --k) {
        if (++pos[k] < index.shape()[k]) break;
        pos[k] = 0;
      }
    }
  });
  self.bump_version();
  return self;
}

Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = clone(self);
  return scatter_add_(out, dim, index, src);
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  TESSERA_CUDA_DISPATCH(cuda_impl::embedding(weight, indices), weight, indices);
  detail::check_cpu("embedding", {&weight, &indices});
  TESSERA_CHECK(weight.dim() == 2, "embedding: weight must be (num_embeddings, dim), got ",
                describe(weight));
  const auto idx = checked_indices("embedding", indices, weight.size(0));
  const int64_t c = weight.size(1);
  Shape shape = indices.shape();
  shape.push_back(c);
  Tensor out = empty(shape, {.dtype = weight.dtype(), .device = weight.device()});
  const Tensor w = contiguous(weight);
  visit_width(w.dtype(), [&]<typename W>() {
    const W* src = static_cast<const W*>(w.data_ptr());
    W* dst = static_cast<W*>(out.data_ptr());
    kernels::cpu::parallel_for(static_cast<int64_t>(idx.size()), 64, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) std::copy_n(src + idx[i] * c, c, dst + i * c);
    });
  });
  return out;
}

Tensor embedding_backward(const Tensor& grad_output, const Tensor& indices, int64_t num_weights) {
  TESSERA_CUDA_DISPATCH(cuda_impl::embedding_backward(grad_output, indices, num_weights),
                        grad_output, indices);
  detail::check_cpu("embedding_backward", {&grad_output, &indices});
  const auto idx = checked_indices("embedding_backward", indices, num_weights);
  // grad_output must be exactly indices.shape + (C): rows are read by flat index position.
  bool prefix = grad_output.dim() == indices.dim() + 1;
  for (int64_t d = 0; prefix && d < indices.dim(); ++d)
    prefix = grad_output.shape()[d] == indices.shape()[d];
  TESSERA_CHECK(prefix, "embedding_backward: grad_output ", describe(grad_output),
                " must have the indices' shape ", shape_str(indices.shape()), " plus one dim");
  if (grad_output.dtype() == kBFloat16 || grad_output.dtype() == kFloat16) {
    // Sum in float32 and round once: per-add rounding to 16 bits would lose small gradients.
    return to(embedding_backward(to(grad_output, kFloat32), indices, num_weights),
              grad_output.dtype());
  }
  const int64_t c = grad_output.size(-1);
  const Tensor g = contiguous(grad_output);
  Tensor out = zeros({num_weights, c}, {.dtype = g.dtype(), .device = g.device()});
  visit_dtype(g.dtype(), [&]<typename T>() {
    const T* gp = static_cast<const T*>(g.data_ptr());
    T* op = static_cast<T*>(out.data_ptr());
    // Parallel over columns: every thread walks all indices in order, so each row's sum has a
    // fixed order whatever the thread count.
    kernels::cpu::parallel_for(c, 64, [&](int64_t cb, int64_t ce) {
      for (size_t i = 0; i < idx.size(); ++i) {
        T* row = op + idx[i] * c;
        const T* grow = gp + static_cast<int64_t>(i) * c;
        for (int64_t j = cb; j < ce; ++j) {
          if constexpr (std::is_same_v<T, bool>)
            row[j] = row[j] || grow[j];
          else
            row[j] = T(acc_t<T>(row[j]) + acc_t<T>(grow[j]));
        }
      }
    });
  });
  return out;
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  TESSERA_CUDA_DISPATCH(cuda_impl::one_hot(indices, num_classes), indices);
  detail::check_cpu("one_hot", {&indices});
  TESSERA_CHECK(num_classes > 0, "one_hot: num_classes must be positive, got ", num_classes);
  const auto idx = checked_indices("one_hot", indices, num_classes);
  Shape shape = indices.shape();
  shape.push_back(num_classes);
  Tensor out = zeros(shape, {.dtype = kInt64});
  int64_t* p = static_cast<int64_t*>(out.data_ptr());
  for (size_t i = 0; i < idx.size(); ++i) p[static_cast<int64_t>(i) * num_classes + idx[i]] = 1;
  return out;
}

}  // namespace tessera::native
