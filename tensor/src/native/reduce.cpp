// SPDX-License-Identifier: Apache-2.0
/// @brief Reductions on CPU: sum, mean, prod, amax/amin, max/min with indices, var/std, logsumexp.
///
/// Plan: permute the kept dims in front of the reduced ones and view the input as a row-major
/// (outer, inner) matrix (copying only when the permuted layout is not dense); each output is the
/// reduction of one row. A contiguous input reduced over its leading dims takes a column path
/// instead (out[j] = sum_i x[i, j], rows streamed in order) so bias gradients need no transpose.
/// Determinism: a row longer than kBlock is cut into fixed blocks whose partials are combined in
/// block order; threads only decide who computes which (row, block), never the arithmetic order.
/// Accumulation: float64 for every floating input (float32 sums are exact to ~1 ulp of the result),
/// int64 for integers and bool. Cost: one read of the input; bandwidth-bound.
#include <tessera/native/reduce.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <tessera/creation.h>
#include <tessera/kernels/cpu/softmax.h>
#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>
#include <tessera/native/shape.h>

#include "cuda/dispatch.h"
#include "iter.h"
#include "layout.h"

namespace tessera::native {
namespace {

using kernels::cpu::parallel_for;
constexpr int64_t kBlock = 1 << 15;

using detail::normalize_dims;
using detail::Plan;

/// The row plan of a CPU reduction (CPU tensors only).
Plan make_plan(const char* op, const Tensor& x, const Shape& dims, bool keepdim,
               bool allow_column) {
  detail::check_cpu(op, {&x});
  return detail::make_plan(op, x, dims, keepdim, allow_column);
}

/// Accumulator type: double for floating inputs, int64 for integers and bool.
template <typename T>
using SumAcc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;

template <typename T>
SumAcc<T> sum_run(const T* p, int64_t n) {
  using S = SumAcc<T>;
  S a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += S(acc_t<T>(p[i]));
    a1 += S(acc_t<T>(p[i + 1]));
    a2 += S(acc_t<T>(p[i + 2]));
    a3 += S(acc_t<T>(p[i + 3]));
  }
  for (; i < n; ++i) a0 += S(acc_t<T>(p[i]));
  return (a0 + a1) + (a2 + a3);
}

/// Reduces every row of `rows` with `run(ptr, n)` over fixed blocks combined by `combine`.
template <typename T, typename R, typename Run, typename Combine>
std::vector<R> reduce_rows(const Tensor& rows, int64_t outer, int64_t inner, R init, Run run,
                           Combine combine) {
  const T* base = static_cast<const T*>(rows.data_ptr());
  const int64_t blocks = std::max<int64_t>((inner + kBlock - 1) / kBlock, 1);
  std::vector<R> partial(static_cast<size_t>(outer * blocks), init);
  const int64_t grain = std::max<int64_t>(1, kBlock / std::max<int64_t>(inner, 1));
  parallel_for(outer * blocks, grain, [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      const int64_t r = w / blocks, k = w % blocks;
      const int64_t start = k * kBlock, len = std::min(kBlock, inner - start);
      partial[w] = len > 0 ? run(base + r * inner + start, len) : init;
    }
  });
  std::vector<R> out(static_cast<size_t>(outer), init);
  for (int64_t r = 0; r < outer; ++r) {
    R acc = partial[r * blocks];
    for (int64_t k = 1; k < blocks; ++k) acc = combine(acc, partial[r * blocks + k]);
    out[r] = acc;
  }
  return out;
}

template <typename T, typename R>
Tensor store(const std::vector<R>& vals, const Shape& shape, DType dtype) {
  Tensor out = empty(shape, {.dtype = dtype});
  visit_dtype(dtype, [&]<typename O>() {
    O* o = static_cast<O*>(out.data_ptr());
    for (size_t i = 0; i < vals.size(); ++i) {
      if constexpr (std::is_same_v<O, BFloat16> || std::is_same_v<O, Float16>)
        o[i] = O(static_cast<float>(vals[i]));
      else
        o[i] = static_cast<O>(vals[i]);
    }
  });
  return out;
}

DType sum_dtype(DType t) { return is_floating(t) ? t : kInt64; }

Tensor sum_impl(const Tensor& x, const Shape& dims, bool keepdim, double scale_div,
                DType out_dtype) {
  TESSERA_CUDA_DISPATCH(cuda_impl::sum(x, dims, keepdim, scale_div != 1.0, out_dtype), x);
  Plan p = make_plan("sum", x, dims, keepdim, true);
  return visit_dtype(p.rows.dtype(), [&]<typename T>() -> Tensor {
    using S = SumAcc<T>;
    std::vector<S> vals;
    if (p.column) {
      vals.assign(static_cast<size_t>(p.outer), S(0));
      const T* base = static_cast<const T*>(p.rows.data_ptr());
      parallel_for(p.outer, 1024, [&](int64_t b, int64_t e) {
        for (int64_t i = 0; i < p.inner; ++i) {
          const T* row = base + i * p.outer;
          for (int64_t j = b; j < e; ++j) vals[j] += S(acc_t<T>(row[j]));
        }
      });
    } else {
      vals = reduce_rows<T, S>(p.rows, p.outer, p.inner, S(0), sum_run<T>,
                               [](S a, S b) { return a + b; });
    }
    if (scale_div != 1.0) {
      std::vector<double> scaled(vals.size());
      for (size_t i = 0; i < vals.size(); ++i) scaled[i] = static_cast<double>(vals[i]) / scale_div;
      return store<T, double>(scaled, p.out_shape, out_dtype);
    }
    return store<T, S>(vals, p.out_shape, out_dtype);
  });
}

int64_t reduced_count(const Tensor& x, const Shape& dims) {
  if (dims.empty()) return x.numel();
  int64_t n = 1;
  for (int64_t d : normalize_dims("mean", x, dims)) n *= x.shape()[d];
  return n;
}

/// Comparison type: int64 for integers and bool (exact beyond 2^53), double for floating types.
template <typename T>
using CmpAcc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;

template <typename R>
bool is_nan(R v) {
  if constexpr (std::is_floating_point_v<R>)
    return std::isnan(v);
  else
    return false;
}

/// Max (is_max) or min of a run; NaN wins, as in PyTorch.
template <typename T>
CmpAcc<T> extreme_run(const T* p, int64_t n, bool is_max) {
  using R = CmpAcc<T>;
  R best = is_max ? std::numeric_limits<R>::lowest() : std::numeric_limits<R>::max();
  if constexpr (std::is_floating_point_v<R>) {
    best = is_max ? -std::numeric_limits<R>::infinity() : std::numeric_limits<R>::infinity();
  }
  for (int64_t i = 0; i < n; ++i) {
    const R v = static_cast<R>(acc_t<T>(p[i]));
    if (is_nan(v)) return v;
    best = is_max ? std::max(best, v) : std::min(best, v);
  }
  return best;
}

Tensor extreme(const char* op, const Tensor& x, const Shape& dims, bool keepdim, bool is_max) {
  TESSERA_CUDA_DISPATCH(cuda_impl::extreme(op, x, dims, keepdim, is_max), x);
  Plan p = make_plan(op, x, dims, keepdim, false);
  TESSERA_CHECK(p.inner > 0 || p.outer == 0, op, ": cannot reduce over an empty dimension of ",
                describe(x));
  return visit_dtype(p.rows.dtype(), [&]<typename T>() -> Tensor {
    using R = CmpAcc<T>;
    auto vals = reduce_rows<T, R>(
        p.rows, p.outer, p.inner, R(0),
        [is_max](const T* q, int64_t n) { return extreme_run(q, n, is_max); },
        [is_max](R a, R b) {
          if (is_nan(a)) return a;
          if (is_nan(b)) return b;
          return is_max ? std::max(a, b) : std::min(a, b);
        });
    return store<T, R>(vals, p.out_shape, x.dtype());
  });
}

std::pair<Tensor, Tensor> arg_extreme(const char* op, const Tensor& x, int64_t dim, bool keepdim,
                                      bool is_max) {
  TESSERA_CUDA_DISPATCH(cuda_impl::arg_extreme(op, x, dim, keepdim, is_max), x);
  Plan p = make_plan(op, x, {dim}, keepdim, false);
  TESSERA_CHECK(p.inner > 0 || p.outer == 0, op, ": cannot reduce over an empty dimension of ",
                describe(x));
  Tensor idx = empty(p.out_shape, {.dtype = kInt64});
  Tensor val = empty(p.out_shape, {.dtype = x.dtype()});
  visit_dtype(x.dtype(), [&]<typename T>() {
    using R = CmpAcc<T>;
    const T* base = static_cast<const T*>(p.rows.data_ptr());
    int64_t* ip = static_cast<int64_t*>(idx.data_ptr());
    T* vp = static_cast<T*>(val.data_ptr());
    parallel_for(p.outer, std::max<int64_t>(1, kBlock / std::max<int64_t>(p.inner, 1)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t r = b; r < e; ++r) {
                     const T* row = base + r * p.inner;
                     int64_t best = 0;
                     R bv = static_cast<R>(acc_t<T>(row[0]));
                     for (int64_t i = 1; i < p.inner && !is_nan(bv); ++i) {
                       const R v = static_cast<R>(acc_t<T>(row[i]));
                       if (is_nan(v) || (is_max ? v > bv : v < bv)) {
                         bv = v;
                         best = i;
                       }
                     }
                     ip[r] = best;
                     vp[r] = row[best];
                   }
                 });
  });
  return {val, idx};
}

}  // namespace

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  return sum_impl(x, dims, keepdim, 1.0, sum_dtype(x.dtype()));
}

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  const DType out = is_floating(x.dtype()) ? x.dtype() : kFloat32;
  const int64_t n = reduced_count(x, dims);
  return sum_impl(x, dims, keepdim, static_cast<double>(n), out);  // n == 0 gives NaN, as PyTorch
}

Tensor prod(const Tensor& x, const Shape& dims, bool keepdim) {
  TESSERA_CUDA_DISPATCH(cuda_impl::prod(x, dims, keepdim), x);
  Plan p = make_plan("prod", x, dims, keepdim, false);
  return visit_dtype(p.rows.dtype(), [&]<typename T>() -> Tensor {
    using S = SumAcc<T>;
    auto vals = reduce_rows<T, S>(
        p.rows, p.outer, p.inner, S(1),
        [](const T* q, int64_t n) {
          S a = 1;
          for (int64_t i = 0; i < n; ++i) a *= S(acc_t<T>(q[i]));
          return a;
        },
        [](S a, S b) { return a * b; });
    return store<T, S>(vals, p.out_shape, sum_dtype(x.dtype()));
  });
}

Tensor amax(const Tensor& x, const Shape& dims, bool keepdim) {
  return extreme("amax", x, dims, keepdim, true);
}
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim) {
  return extreme("amin", x, dims, keepdim, false);
}
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme("max", x, dim, keepdim, true);
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme("min", x, dim, keepdim, false);
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme("argmax", x, dim, keepdim, true).second;
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme("argmin", x, dim, keepdim, false).second;
}

Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  TESSERA_CHECK(is_floating(x.dtype()), "var: needs a floating tensor, got ", describe(x));
  TESSERA_CUDA_DISPATCH(cuda_impl::var(x, dims, correction, keepdim), x);
  Plan p = make_plan("var", x, dims, keepdim, false);
  return visit_dtype(x.dtype(), [&]<typename T>() -> Tensor {
    // Two passes per row: the mean, then the sum of squared deviations (accurate for large means).
    auto sums = reduce_rows<T, double>(p.rows, p.outer, p.inner, 0.0, sum_run<T>,
                                       [](double a, double b) { return a + b; });
    const T* base = static_cast<const T*>(p.rows.data_ptr());
    std::vector<double> out(static_cast<size_t>(p.outer));
    const double denom = static_cast<double>(p.inner - correction);
    parallel_for(p.outer, std::max<int64_t>(1, kBlock / std::max<int64_t>(p.inner, 1)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t r = b; r < e; ++r) {
                     const double m = sums[r] / static_cast<double>(p.inner);
                     double ss = 0;
                     const T* row = base + r * p.inner;
                     for (int64_t i = 0; i < p.inner; ++i) {
                       const double dv = static_cast<double>(acc_t<T>(row[i])) - m;
                       ss += dv * dv;
                     }
                     out[r] = denom > 0 ? ss / denom : std::numeric_limits<double>::quiet_NaN();
                   }
                 });
    return store<T, double>(out, p.out_shape, x.dtype());
  });
}

Tensor std(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  return sqrt(var(x, dims, correction, keepdim));
}

Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim) {
  TESSERA_CUDA_DISPATCH(cuda_impl::logsumexp(x, dims, keepdim), x);
  const Tensor xf = is_floating(x.dtype()) ? x : to(x, kFloat32);
  Plan p = make_plan("logsumexp", xf, dims, keepdim, false);
  return visit_dtype(xf.dtype(), [&]<typename T>() -> Tensor {
    const T* base = static_cast<const T*>(p.rows.data_ptr());
    std::vector<double> out(static_cast<size_t>(p.outer));
    parallel_for(p.outer, std::max<int64_t>(1, kBlock / std::max<int64_t>(p.inner, 1)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t r = b; r < e; ++r) {
                     const T* row = base + r * p.inner;
                     const double m = extreme_run(row, p.inner, true);
                     if (!std::isfinite(m)) {  // all -inf -> -inf; any +inf -> +inf; NaN -> NaN
                       out[r] = p.inner == 0 ? -INFINITY : m;
                       continue;
                     }
                     double s = 0;
                     for (int64_t i = 0; i < p.inner; ++i)
                       s += std::exp(static_cast<double>(acc_t<T>(row[i])) - m);
                     out[r] = m + std::log(s);
                   }
                 });
    return store<T, double>(out, p.out_shape, xf.dtype());
  });
}

namespace {
/// Softmax-family forward over `dim` with the fused single-pass kernel (online max per row): moves
/// dim last, runs rows, moves it back. Integer inputs compute in float32; 16-bit inputs compute in
/// float32 inside the kernel and round once (rounding an intermediate logsumexp to 16 bits would
/// cancel catastrophically in x - lse).
template <typename Kernel>
Tensor softmax_family(const char* op, const Tensor& x, int64_t dim, Kernel kernel) {
  detail::check_cpu(op, {&x});
  const Tensor xf = is_floating(x.dtype()) ? x : to(x, kFloat32);
  if (xf.dim() == 0) return kernel.scalar(xf);
  const int64_t d = wrap_dim(dim, xf.dim(), op), last = xf.dim() - 1;
  const Tensor xt = contiguous(transpose(xf, d, last));
  const int64_t cols = xt.size(-1), rows = cols == 0 ? 0 : xt.numel() / cols;
  Tensor y = empty(xt.shape(), {.dtype = xf.dtype()});
  switch (xf.dtype()) {
    case DType::Float32:
      kernel(xt.data<float>(), y.data<float>(), rows, cols);
      break;
    case DType::Float64:
      kernel(xt.data<double>(), y.data<double>(), rows, cols);
      break;
    case DType::BFloat16:
      kernel(xt.data<BFloat16>(), y.data<BFloat16>(), rows, cols);
      break;
    case DType::Float16:
      kernel(xt.data<Float16>(), y.data<Float16>(), rows, cols);
      break;
    default:
      TESSERA_FAIL(op, ": unsupported dtype ", xf.dtype());
  }
  return transpose(y, d, last);
}

/// Off the CPU, softmax composes dispatched ops in float32 (float64 kept) and rounds once: rounding
/// an intermediate logsumexp to 16 bits would cancel catastrophically in x - lse.
DType softmax_compute(DType t) { return t == kFloat64 ? kFloat64 : kFloat32; }
DType softmax_out(DType t) { return is_floating(t) ? t : kFloat32; }

struct SoftmaxKernel {
  template <typename T>
  void operator()(const T* x, T* y, int64_t rows, int64_t cols) const {
    kernels::cpu::softmax_forward<T>(x, y, rows, cols);
  }
  Tensor scalar(const Tensor& x) const { return ones_like(x); }
};
struct LogSoftmaxKernel {
  template <typename T>
  void operator()(const T* x, T* y, int64_t rows, int64_t cols) const {
    kernels::cpu::log_softmax_forward<T>(x, y, rows, cols);
  }
  Tensor scalar(const Tensor& x) const { return zeros_like(x); }
};
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  TESSERA_CUDA_DISPATCH(cuda_impl::softmax(x, dim, false), x);
  if (!x.device().is_cpu()) {  // other devices: composed from their dispatched ops, in float32
    const Tensor xf = to(x, softmax_compute(x.dtype()));
    const Tensor e = exp(sub(xf, amax(xf, {dim}, true)));
    return to(div(e, sum(e, {dim}, true)), softmax_out(x.dtype()));
  }
  return softmax_family("softmax", x, dim, SoftmaxKernel{});
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  TESSERA_CUDA_DISPATCH(cuda_impl::softmax(x, dim, true), x);
  if (!x.device().is_cpu()) {
    const Tensor xf = to(x, softmax_compute(x.dtype()));
    return to(sub(xf, logsumexp(xf, {dim}, true)), softmax_out(x.dtype()));
  }
  return softmax_family("log_softmax", x, dim, LogSoftmaxKernel{});
}

}  // namespace tessera::native
