// SPDX-License-Identifier: Apache-2.0
/// @brief Views (shape/stride arithmetic on shared storage) and cat/stack/split.
#include <tessera/native/shape.h>

#include <algorithm>

#include <tessera/creation.h>
#include <tessera/native/convert.h>

namespace tessera::native {
namespace {

Tensor make_view(const Tensor& x, Shape shape, Shape strides, int64_t offset) {
  return Tensor(std::make_shared<TensorImpl>(x.storage(), std::move(shape), std::move(strides),
                                             offset, x.dtype()));
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    st[d] = s;
    s *= std::max<int64_t>(shape[d], 1);
  }
  return st;
}

/// Resolves one -1 entry; checks the element count.
Shape infer_shape(const char* op, const Tensor& x, const Shape& shape) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      TESSERA_CHECK(infer < 0, op, ": only one dimension can be -1, got ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      TESSERA_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in ", shape_str(shape));
      known *= out[i];
    }
  }
  const int64_t n = x.numel();
  if (infer >= 0) {
    TESSERA_CHECK(known != 0 && n % known == 0, op, ": shape ", shape_str(shape),
                  " is invalid for input ", describe(x));
    out[infer] = n / known;
  }
  TESSERA_CHECK(known * (infer >= 0 ? out[infer] : 1) == n, op, ": shape ", shape_str(shape),
                " is invalid for input ", describe(x), " of ", n, " elements");
  return out;
}

/// Strides that view `x` with `shape`, if its layout allows (ATen's computeStride).
bool compute_view_strides(const Tensor& x, const Shape& shape, Shape& strides) {
  const Shape& os = x.shape();
  const Shape& ost = x.strides();
  strides.assign(shape.size(), 0);
  if (x.numel() == 0 || os.empty()) {
    strides = contiguous_strides(shape);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = ost.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t td = static_cast<int64_t>(os.size()) - 1; td >= 0; --td) {
    tensor_numel *= os[td];
    if (td == 0 || (os[td - 1] != 1 && ost[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (td > 0) {
        chunk_base_stride = ost[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

}  // namespace

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t n = std::max<int64_t>(ndim, 1);  // a 0-d tensor accepts dim 0 and -1
  TESSERA_CHECK(dim >= -n && dim < n, op, ": dimension ", dim, " out of range for a tensor of ",
                ndim, " dims (expected in [", -n, ", ", n - 1, "])");
  return dim < 0 ? dim + n : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TESSERA_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ",
                  shape_str(b), " are not broadcastable (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor view(const Tensor& x, const Shape& shape) {
  const Shape s = infer_shape("view", x, shape);
  Shape strides;
  TESSERA_CHECK(compute_view_strides(x, s, strides), "view: shape ", shape_str(s),
                " is not compatible with the strides ", shape_str(x.strides()), " of ", describe(x),
                "; use reshape() (which copies)");
  return make_view(x, s, strides, x.offset());
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  const Shape s = infer_shape("reshape", x, shape);
  Shape strides;
  if (compute_view_strides(x, s, strides)) return make_view(x, s, strides, x.offset());
  return view(clone(x), s);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t s = wrap_dim(start_dim, x.dim(), "flatten");
  const int64_t e = wrap_dim(end_dim, x.dim(), "flatten");
  TESSERA_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= x.shape()[d];
  shape.push_back(n);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const Shape& dims) {
  TESSERA_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "permute: got ", dims.size(),
                " dims ", shape_str(dims), " for ", describe(x));
  Shape shape(dims.size()), strides(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], x.dim(), "permute");
    TESSERA_CHECK(!seen[d], "permute: dimension ", d, " repeated in ", shape_str(dims));
    seen[d] = true;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  return make_view(x, shape, strides, x.offset());
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  if (x.dim() == 0) return x;
  const int64_t a = wrap_dim(dim0, x.dim(), "transpose"), b = wrap_dim(dim1, x.dim(), "transpose");
  Shape shape = x.shape(), strides = x.strides();
  std::swap(shape[a], shape[b]);
  std::swap(strides[a], strides[b]);
  return make_view(x, shape, strides, x.offset());
}

Tensor t(const Tensor& x) {
  TESSERA_CHECK(x.dim() <= 2, "t: expects a tensor with <= 2 dims, got ", describe(x));
  return x.dim() < 2 ? x : transpose(x, 0, 1);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  TESSERA_CHECK(x.dim() > 0, "narrow: cannot narrow a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "narrow");
  const int64_t size = x.shape()[d];
  if (start < 0) start += size;
  TESSERA_CHECK(start >= 0 && length >= 0 && start + length <= size, "narrow: range [", start, ", ",
                start + length, ") out of bounds for dim ", d, " of size ", size, " in ",
                describe(x));
  Shape shape = x.shape();
  shape[d] = length;
  return make_view(x, shape, x.strides(), x.offset() + start * x.strides()[d]);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  TESSERA_CHECK(x.dim() > 0, "slice: cannot slice a 0-d tensor");
  TESSERA_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t d = wrap_dim(dim, x.dim(), "slice");
  const int64_t size = x.shape()[d];
  auto clampi = [&](int64_t i) {
    if (i < 0) i += size;
    return std::clamp<int64_t>(i, 0, size);
  };
  const int64_t s = clampi(start), e = std::max(clampi(end), s);
  Shape shape = x.shape(), strides = x.strides();
  shape[d] = (e - s + step - 1) / step;
  strides[d] *= step;
  return make_view(x, shape, strides, x.offset() + s * x.strides()[d]);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  TESSERA_CHECK(x.dim() > 0, "select: cannot select from a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "select");
  const int64_t size = x.shape()[d];
  TESSERA_CHECK(index >= -size && index < size, "select: index ", index, " out of range for dim ",
                d, " of size ", size, " in ", describe(x));
  if (index < 0) index += size;
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return make_view(x, shape, strides, x.offset() + index * x.strides()[d]);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  if (shape == x.shape()) return x;
  TESSERA_CHECK(shape.size() >= x.shape().size(), "expand: cannot expand ", describe(x), " to ",
                shape_str(shape), " (fewer dims)");
  const size_t lead = shape.size() - x.shape().size();
  Shape out(shape.size()), strides(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      TESSERA_CHECK(shape[i] >= 0, "expand: invalid size ", shape[i], " in ", shape_str(shape));
      out[i] = shape[i];
      strides[i] = 0;
      continue;
    }
    const int64_t have = x.shape()[i - lead];
    const int64_t want = shape[i] == -1 ? have : shape[i];
    TESSERA_CHECK(want >= 0, "expand: invalid size ", shape[i], " in ", shape_str(shape), " for ",
                  describe(x));
    TESSERA_CHECK(want == have || have == 1, "expand: ", describe(x), " cannot be expanded to ",
                  shape_str(shape), " (dim ", i, ": ", have, " vs ", want, ")");
    out[i] = want;
    strides[i] = want == have ? x.strides()[i - lead] : 0;
  }
  return make_view(x, out, strides, x.offset());
}

Tensor squeeze(const Tensor& x) {
  Shape shape, strides;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (x.shape()[d] == 1) continue;
    shape.push_back(x.shape()[d]);
    strides.push_back(x.strides()[d]);
  }
  return make_view(x, shape, strides, x.offset());
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  if (x.dim() == 0) return x;
  const int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.shape()[d] != 1) return x;
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return make_view(x, shape, strides, x.offset());
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape(), strides = x.strides();
  const int64_t st = d < x.dim() ? x.strides()[d] * x.shape()[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, st);
  return make_view(x, shape, strides, x.offset());
}

Tensor as_strided(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset) {
  TESSERA_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape_str(shape),
                " and strides ", shape_str(strides), " differ in rank");
  int64_t last = offset;
  bool empty_view = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    TESSERA_CHECK(shape[i] >= 0 && strides[i] >= 0, "as_strided: negative size or stride in ",
                  shape_str(shape), " / ", shape_str(strides));
    if (shape[i] == 0)
      empty_view = true;
    else
      last += (shape[i] - 1) * strides[i];
  }
  const int64_t capacity = static_cast<int64_t>(x.storage()->nbytes() / x.element_size());
  TESSERA_CHECK(offset >= 0 && (empty_view || last < capacity), "as_strided: view of shape ",
                shape_str(shape), " strides ", shape_str(strides), " offset ", offset,
                " reaches element ", last, " beyond the storage of ", capacity, " elements");
  return make_view(x, shape, strides, offset);
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  TESSERA_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = tensors[0];
  TESSERA_CHECK(first.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated");
  const int64_t d = wrap_dim(dim, first.dim(), "cat");
  DType dtype = first.dtype();
  Shape shape = first.shape();
  shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    TESSERA_CHECK(t.dim() == first.dim() && t.device() == first.device(), "cat: tensor ", i, " ",
                  describe(t), " does not match tensor 0 ", describe(first));
    for (int64_t k = 0; k < t.dim(); ++k) {
      TESSERA_CHECK(k == d || t.shape()[k] == first.shape()[k], "cat: tensor ", i, " ", describe(t),
                    " differs from tensor 0 ", describe(first), " in dim ", k);
    }
    shape[d] += t.shape()[d];
    dtype = promote_types(dtype, t.dtype());
  }
  Tensor out = empty(shape, {.dtype = dtype, .device = first.device()});
  int64_t pos = 0;
  for (const Tensor& t : tensors) {
    Tensor part = narrow(out, d, pos, t.shape()[d]);
    copy_(part, t);
    pos += t.shape()[d];
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  TESSERA_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  const int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    TESSERA_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: tensor ", i, " ",
                  describe(tensors[i]), " differs in shape from tensor 0 ", describe(tensors[0]));
    parts.push_back(unsqueeze(tensors[i], d));
  }
  return cat(parts, d);
}

std::vector<Tensor> split_with_sizes(const Tensor& x, const Shape& sizes, int64_t dim) {
  TESSERA_CHECK(x.dim() > 0, "split: cannot split a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    TESSERA_CHECK(s >= 0, "split_with_sizes: negative size in ", shape_str(sizes));
    total += s;
  }
  TESSERA_CHECK(total == x.shape()[d], "split_with_sizes: sizes ", shape_str(sizes), " sum to ",
                total, " but dim ", d, " of ", describe(x), " has size ", x.shape()[d]);
  std::vector<Tensor> out;
  int64_t pos = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(x, d, pos, s));
    pos += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  TESSERA_CHECK(x.dim() > 0, "split: cannot split a 0-d tensor");
  TESSERA_CHECK(split_size > 0, "split: split_size must be positive, got ", split_size);
  const int64_t d = wrap_dim(dim, x.dim(), "split");
  const int64_t size = x.shape()[d];
  Shape sizes;
  for (int64_t pos = 0; pos < size; pos += split_size)
    sizes.push_back(std::min(split_size, size - pos));
  if (sizes.empty()) sizes.push_back(0);
  return split_with_sizes(x, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  TESSERA_CHECK(chunks > 0, "chunk: number of chunks must be positive, got ", chunks);
  TESSERA_CHECK(x.dim() > 0, "chunk: cannot chunk a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "chunk");
  const int64_t size = x.shape()[d];
  // torch.chunk: an empty dim gives `chunks` empty pieces (split would give one).
  if (size == 0) return split_with_sizes(x, Shape(static_cast<size_t>(chunks), 0), d);
  return split(x, (size + chunks - 1) / chunks, d);
}

}  // namespace tessera::native
