// SPDX-License-Identifier: Apache-2.0
/// @brief PyTorch-style printing: nested brackets, a shared number format, "..." past 1000 elements.
#include <cmath>
#include <iomanip>
#include <sstream>

#include <tessera/native/convert.h>
#include <tessera/tensor.h>

namespace tessera {
namespace {

constexpr int64_t kSummarizeAbove = 1000;  // as torch's default print threshold
constexpr int64_t kEdgeItems = 3;

struct Formatter {
  bool floating = false;
  bool integral_valued = true;
  bool scientific = false;
  int precision = 4;

  std::string format(double v) const {
    std::ostringstream os;
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (!floating) {
      os << static_cast<int64_t>(v);
    } else if (scientific) {
      os << std::scientific << std::setprecision(precision) << v;
    } else if (integral_valued) {
      os << static_cast<int64_t>(v) << ".";
    } else {
      os << std::fixed << std::setprecision(precision) << v;
    }
    return os.str();
  }
};

void print_rec(std::ostringstream& os, const std::vector<double>& vals, const Shape& shape,
               const Shape& strides, int64_t offset, size_t dim, bool summarize,
               const Formatter& f, int indent, size_t width) {
  if (shape.empty()) {
    os << f.format(vals[offset]);
    return;
  }
  const int64_t n = shape[dim];
  os << "[";
  auto item = [&](int64_t i) {
    if (dim + 1 == shape.size()) {
      std::string s = f.format(vals[offset + i * strides[dim]]);
      os << std::string(width > s.size() ? width - s.size() : 0, ' ') << s;
    } else {
      print_rec(os, vals, shape, strides, offset + i * strides[dim], dim + 1, summarize, f,
                indent + 1, width);
    }
  };
  const std::string sep = dim + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' ');
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      os << "..." << sep;
      i = n - kEdgeItems;
    }
    item(i);
    if (i + 1 < n) os << sep;
  }
  os << "]";
}

}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  const Tensor c = native::to(native::to(*this, kCPU), kFloat64);
  // Gather values in logical order (row-major), then index them by logical position.
  std::vector<double> vals(static_cast<size_t>(numel()));
  {
    const Tensor dense = native::contiguous(c);
    const double* q = static_cast<const double*>(dense.data_ptr());
    std::copy(q, q + numel(), vals.begin());
  }
  Formatter f;
  f.floating = is_floating(dtype());
  double max_abs = 0, min_abs = INFINITY;
  for (double v : vals) {
    if (!std::isfinite(v)) continue;
    f.integral_valued = f.integral_valued && v == std::nearbyint(v);
    max_abs = std::max(max_abs, std::abs(v));
    if (v != 0) min_abs = std::min(min_abs, std::abs(v));
  }
  if (f.floating && !f.integral_valued &&
      (max_abs >= 1e8 || (min_abs < 1e-4 && min_abs > 0) || (max_abs / min_abs > 1e3 && max_abs > 1e3)))
    f.scientific = true;
  if (f.floating && f.integral_valued && max_abs >= 1e8) f.scientific = true;
  size_t width = 0;
  for (double v : vals) width = std::max(width, f.format(v).size());
  Shape strides(shape().size());
  int64_t s = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    strides[d] = s;
    s *= std::max<int64_t>(shape()[d], 1);
  }
  std::ostringstream os;
  os << "tensor(";
  if (numel() == 0) {
    os << "[]";
  } else {
    print_rec(os, vals, shape(), strides, 0, 0, numel() > kSummarizeAbove, f, 7, width);
  }
  os << ", shape=" << shape_str(shape()) << ", dtype=" << dtype();
  if (!device().is_cpu()) os << ", device=" << device();
  if (requires_grad()) os << ", requires_grad=true";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace tessera
