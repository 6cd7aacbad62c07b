// SPDX-License-Identifier: Apache-2.0
/// @brief PyTorch-style printing: nested brackets, a shared number format, "..." past 1000
/// elements.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include <tessera/native/convert.h>
#include <tessera/tensor.h>

namespace tessera {
namespace {

// PyTorch's print options (torch._tensor_str.PRINT_OPTS defaults).
constexpr int64_t kSummarizeAbove = 1000;  // threshold
constexpr int64_t kEdgeItems = 3;
constexpr int kPrecision = 4;
constexpr int64_t kLineWidth = 80;

/// torch._tensor_str._Formatter: one number format and width for the whole tensor, decided from its
/// (summarised) values. Widths and modes look only at non-zero finite values, as PyTorch does.
struct Formatter {
  DType dtype = kFloat32;
  bool floating = false;
  bool int_mode = true;  // floating values that are all integers print as "3."
  bool sci_mode = false;
  size_t max_width = 1;

  Formatter(DType t, const std::vector<long double>& vals) : dtype(t), floating(is_floating(t)) {
    if (!floating) {
      for (long double v : vals) max_width = std::max(max_width, raw(v).size());
      return;
    }
    std::vector<long double> nz;
    for (long double v : vals)
      if (std::isfinite(v) && v != 0) nz.push_back(v);
    if (nz.empty()) return;
    long double lo = INFINITY, hi = 0;
    for (long double v : nz) {
      lo = std::min(lo, std::abs(v));
      hi = std::max(hi, std::abs(v));
      int_mode = int_mode && v == std::ceil(v);
    }
    if (int_mode) {
      sci_mode = hi / lo > 1000.0 || hi > 1.0e8;
    } else {
      sci_mode = hi / lo > 1000.0 || hi > 1.0e8 || lo < 1.0e-4;
    }
    for (long double v : nz) max_width = std::max(max_width, raw(v).size());
  }

  std::string raw(long double v) const {
    std::ostringstream os;
    if (dtype == kBool) return v != 0 ? "True" : "False";
    if (!floating) {
      os << static_cast<int64_t>(v);
      return os.str();
    }
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (sci_mode) {
      os << std::scientific << std::setprecision(kPrecision) << v;
    } else if (int_mode) {
      os << std::fixed << std::setprecision(0) << v << ".";
    } else {
      os << std::fixed << std::setprecision(kPrecision) << v;
    }
    return os.str();
  }

  std::string format(long double v) const {
    const std::string s = raw(v);
    std::string out(max_width > s.size() ? max_width - s.size() : 0, ' ');
    return out.append(s);
  }
};

/// Values (row-major) of the elements shown when summarising: per dim the first and last
/// kEdgeItems when the dim is longer than 2 * kEdgeItems (torch's get_summarized_data).
void summarized_values(const std::vector<long double>& vals, const Shape& shape, size_t dim,
                       int64_t offset, const Shape& strides, bool summarize,
                       std::vector<long double>& out) {
  if (dim == shape.size()) {
    out.push_back(vals[offset]);
    return;
  }
  const int64_t n = shape[dim];
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) i = n - kEdgeItems;
    summarized_values(vals, shape, dim + 1, offset + i * strides[dim], strides, summarize, out);
  }
}

/// torch._tensor_str._tensor_str_with_formatter (and _vector_str for the innermost dim).
std::string tensor_str(const std::vector<long double>& vals, const Shape& shape,
                       const Shape& strides, int64_t offset, size_t dim, int64_t indent,
                       bool summarize, const Formatter& f) {
  const size_t remaining = shape.size() - dim;
  if (remaining == 0) return f.format(vals[offset]);
  const int64_t n = shape[dim];
  const bool cut = summarize && n > 2 * kEdgeItems;
  std::vector<std::string> parts;
  if (remaining == 1) {
    for (int64_t i = 0; i < n; ++i) {
      if (cut && i == kEdgeItems) {
        parts.push_back(" ...");
        i = n - kEdgeItems;
      }
      parts.push_back(f.format(vals[offset + i * strides[dim]]));
    }
    const int64_t per_line =
        std::max<int64_t>(1, (kLineWidth - indent) / static_cast<int64_t>(f.max_width + 2));
    std::string out = "[";
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0 && static_cast<int64_t>(i) % per_line == 0) {
        out.append(",\n").append(static_cast<size_t>(indent + 1), ' ');
      } else if (i > 0) {
        out.append(", ");
      }
      out.append(parts[i]);
    }
    return out + "]";
  }
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdgeItems) {
      parts.push_back("...");
      i = n - kEdgeItems;
    }
    parts.push_back(tensor_str(vals, shape, strides, offset + i * strides[dim], dim + 1, indent + 1,
                               summarize, f));
  }
  std::string sep = ",";
  sep.append(remaining - 1, '\n').append(static_cast<size_t>(indent + 1), ' ');
  std::string out = "[";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out.append(sep);
    out.append(parts[i]);
  }
  return out.append("]");
}

}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  // long double holds every int64 exactly (64-bit mantissa), so integers print exactly.
  std::vector<long double> vals(static_cast<size_t>(numel()));
  const bool integral = is_integral(dtype());
  const Tensor c =
      native::contiguous(native::to(native::to(*this, kCPU), integral ? kInt64 : kFloat64));
  if (integral) {
    const int64_t* q = static_cast<const int64_t*>(c.data_ptr());
    std::copy(q, q + numel(), vals.begin());
  } else {
    const double* q = static_cast<const double*>(c.data_ptr());
    std::copy(q, q + numel(), vals.begin());
  }
  Shape strides(shape().size());
  int64_t s = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    strides[d] = s;
    s *= std::max<int64_t>(shape()[d], 1);
  }
  const bool summarize = numel() > kSummarizeAbove;
  std::vector<long double> shown;
  if (numel() > 0) summarized_values(vals, shape(), 0, 0, strides, summarize, shown);
  const Formatter f(dtype(), shown);
  const std::string prefix = "tensor(";
  std::ostringstream os;
  os << prefix;
  if (numel() == 0) {
    os << "[]";
  } else {
    os << tensor_str(vals, shape(), strides, 0, 0, static_cast<int64_t>(prefix.size()), summarize,
                     f);
  }
  os << ", shape=" << shape_str(shape()) << ", dtype=" << dtype();
  if (!device().is_cpu()) os << ", device=" << device();
  if (requires_grad()) os << ", requires_grad=True";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace tessera
