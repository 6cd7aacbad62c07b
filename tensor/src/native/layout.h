// SPDX-License-Identifier: Apache-2.0
/// @brief Device-independent layout planning shared by the CPU and CUDA implementations: how a
/// reduction views its input as rows, and how a matmul operand is handed to a GEMM.
#pragma once

#include <algorithm>
#include <vector>

#include <tessera/native/convert.h>
#include <tessera/native/shape.h>
#include <tessera/tensor.h>

namespace tessera::native::detail {

struct Plan {
  Tensor rows;  ///< (outer, inner) contiguous, or (inner, outer) for the column path
  bool column = false;
  int64_t outer = 1, inner = 1;
  Shape out_shape;
};

inline Shape normalize_dims(const char* op, const Tensor& x, const Shape& dims) {
  Shape out;
  if (dims.empty()) {
    for (int64_t d = 0; d < x.dim(); ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, x.dim(), op);
    TESSERA_CHECK(std::find(out.begin(), out.end(), w) == out.end(), op, ": dim ", w,
                  " appears more than once in ", shape_str(dims));
    out.push_back(w);
  }
  if (x.dim() == 0) out.clear();  // reducing a scalar over dim 0/-1 is the identity
  std::sort(out.begin(), out.end());
  return out;
}

inline Plan make_plan(const char* op, const Tensor& x, const Shape& dims_in, bool keepdim,
                      bool allow_column) {
  const Shape dims = normalize_dims(op, x, dims_in);
  std::vector<bool> reduced(x.dim(), false);
  for (int64_t d : dims) reduced[d] = true;
  Plan p;
  Shape perm;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!reduced[d]) {
      perm.push_back(d);
      p.outer *= x.shape()[d];
      p.out_shape.push_back(x.shape()[d]);
    } else if (keepdim) {
      p.out_shape.push_back(1);
    }
  }
  for (int64_t d : dims) {
    perm.push_back(d);
    p.inner *= x.shape()[d];
  }
  if (keepdim) {
    p.out_shape.clear();
    for (int64_t d = 0; d < x.dim(); ++d) p.out_shape.push_back(reduced[d] ? 1 : x.shape()[d]);
  }
  // Column path: dense input whose reduced dims are exactly the leading ones.
  bool prefix = !dims.empty() && dims.size() < static_cast<size_t>(x.dim());
  for (size_t i = 0; i < dims.size() && prefix; ++i) prefix = dims[i] == static_cast<int64_t>(i);
  if (allow_column && prefix && x.is_contiguous() && p.outer > 1) {
    p.column = true;
    p.rows = reshape(x, {p.inner, p.outer});
    return p;
  }
  p.rows = reshape(permute(x, perm), {p.outer, p.inner});
  p.rows = contiguous(p.rows);
  return p;
}

struct MatrixLayout {
  Tensor t;  ///< (batch, rows, cols) with a usable layout
  bool trans = false;
  int64_t ld = 0;
  int64_t batch_stride = 0;
};

/// Makes a (B, r, c) tensor GEMM-ready: unit stride on one matrix dim, a single batch stride.
inline MatrixLayout prepare(Tensor t) {
  const int64_t r = t.shape()[1], c = t.shape()[2];
  auto row_major = [&](const Tensor& x) {
    const auto& s = x.strides();
    return (c == 1 || s[2] == 1) && (r == 1 || s[1] >= std::max<int64_t>(c, 1));
  };
  auto col_major = [&](const Tensor& x) {
    const auto& s = x.strides();
    return (r == 1 || s[1] == 1) && (c == 1 || s[2] >= std::max<int64_t>(r, 1));
  };
  if (!row_major(t) && !col_major(t)) t = contiguous(t);
  MatrixLayout m;
  const auto& s = t.strides();
  m.batch_stride = t.shape()[0] == 1 ? 0 : s[0];
  if (row_major(t)) {
    m.trans = false;
    m.ld = r == 1 ? std::max<int64_t>(c, 1) : s[1];
  } else {
    m.trans = true;
    m.ld = c == 1 ? std::max<int64_t>(r, 1) : s[2];
  }
  m.t = t;
  return m;
}

/// Flattens leading batch dims of an expanded (..., r, c) tensor into one dim without copying when
/// they collapse to a single stride (including stride 0), else copies.
inline Tensor to_3d(const Tensor& x, int64_t batch) {
  const int64_t r = x.shape()[x.dim() - 2], c = x.shape()[x.dim() - 1];
  // All batch dims stride 0 (a broadcast weight): keep one copy with batch stride 0.
  bool all_zero = true;
  for (int64_t d = 0; d + 2 < x.dim(); ++d)
    all_zero = all_zero && (x.strides()[d] == 0 || x.shape()[d] == 1);
  if (all_zero) {
    Shape st = {0, x.strides()[x.dim() - 2], x.strides()[x.dim() - 1]};
    return as_strided(x, {batch, r, c}, st, x.offset());
  }
  return reshape(x, {batch, r, c});
}

}  // namespace tessera::native::detail
