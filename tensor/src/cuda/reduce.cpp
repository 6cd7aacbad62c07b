// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA reductions: the CPU's plan (kept dims first, reduced dims last, one row per output)
/// and kernels::cuda::reduce_rows / reduce_columns (kernels/cuda/reduce.cu).
///
/// Kernels accumulate into a float64 (floating inputs) or int64 (integer/bool inputs) vector
/// which is then cast to the result dtype, exactly as the CPU's store() does.
#include <algorithm>

#include <tessera/creation.h>
#include <tessera/kernels/cuda/reduce.h>
#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>
#include <tessera/native/shape.h>

#include "cuda/common.h"
#include "cuda/ops.h"
#include "native/layout.h"

namespace tessera::native::cuda_impl {
namespace {

namespace kc = kernels::cuda;
using cuda::detail::common_device;
using cuda::detail::DeviceGuard;
using cuda::detail::scalar_type;
using cuda::detail::stream_of;

using detail::make_plan;
using detail::Plan;

DType acc_dtype(DType t) { return is_floating(t) ? kFloat64 : kInt64; }

Tensor finish(const Tensor& acc, const Plan& p, DType out_dtype) {
  return reshape(native::to(acc, out_dtype), p.out_shape);
}

/// Runs reduce_rows for `op` and returns the (outer) accumulator (and index) tensors.
Tensor run_rows(kc::ReduceOp op, const Plan& p, Device dev, Tensor* index = nullptr,
                int64_t correction = 0) {
  Tensor acc = empty({p.outer}, {.dtype = acc_dtype(p.rows.dtype()), .device = dev});
  int64_t* ip = nullptr;
  if (index) {
    *index = empty({p.outer}, {.dtype = kInt64, .device = dev});
    ip = static_cast<int64_t*>(index->data_ptr());
  }
  const size_t ws_bytes = kc::reduce_rows_workspace(op, p.outer, p.inner);
  Tensor ws;
  if (ws_bytes > 0)
    ws = empty({static_cast<int64_t>((ws_bytes + 7) / 8)}, {.dtype = kInt64, .device = dev});
  kc::reduce_rows(op, scalar_type(p.rows.dtype()), p.rows.data_ptr(), p.outer, p.inner,
                  acc.data_ptr(), ip, correction, ws_bytes > 0 ? ws.data_ptr() : nullptr,
                  stream_of(dev.index));
  return acc;
}

}  // namespace

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim, bool mean, DType out_dtype) {
  const Device dev = common_device(mean ? "mean" : "sum", {&x});
  DeviceGuard guard(dev.index);
  Plan p = make_plan(mean ? "mean" : "sum", x, dims, keepdim, true);
  // Integers sum exactly in int64; their mean divides that in float64 (the CPU's order).
  const bool int_mean = mean && !is_floating(x.dtype());
  const bool kernel_mean = mean && !int_mean;
  Tensor acc = empty({p.outer}, {.dtype = acc_dtype(x.dtype()), .device = dev});
  if (p.column) {
    kc::reduce_columns(scalar_type(x.dtype()), p.rows.data_ptr(), p.inner, p.outer, acc.data_ptr(),
                       kernel_mean, stream_of(dev.index));
  } else {
    acc = run_rows(kernel_mean ? kc::ReduceOp::kMean : kc::ReduceOp::kSum, p, dev);
  }
  if (int_mean) acc = div(native::to(acc, kFloat64), static_cast<double>(p.inner));
  return finish(acc, p, out_dtype);
}

Tensor prod(const Tensor& x, const Shape& dims, bool keepdim) {
  const Device dev = common_device("prod", {&x});
  DeviceGuard guard(dev.index);
  const Plan p = make_plan("prod", x, dims, keepdim, false);
  return finish(run_rows(kc::ReduceOp::kProd, p, dev), p,
                is_floating(x.dtype()) ? x.dtype() : kInt64);
}

Tensor extreme(const char* op, const Tensor& x, const Shape& dims, bool keepdim, bool is_max) {
  const Device dev = common_device(op, {&x});
  DeviceGuard guard(dev.index);
  const Plan p = make_plan(op, x, dims, keepdim, false);
  TESSERA_CHECK(p.inner > 0 || p.outer == 0, op, ": cannot reduce over an empty dimension of ",
                describe(x));
  return finish(run_rows(is_max ? kc::ReduceOp::kMax : kc::ReduceOp::kMin, p, dev), p, x.dtype());
}

std::pair<Tensor, Tensor> arg_extreme(const char* op, const Tensor& x, int64_t dim, bool keepdim,
                                      bool is_max) {
  const Device dev = common_device(op, {&x});
  DeviceGuard guard(dev.index);
  const Plan p = make_plan(op, x, {dim}, keepdim, false);
  TESSERA_CHECK(p.inner > 0 || p.outer == 0, op, ": cannot reduce over an empty dimension of ",
                describe(x));
  Tensor index;
  const Tensor acc =
      run_rows(is_max ? kc::ReduceOp::kArgMax : kc::ReduceOp::kArgMin, p, dev, &index);
  return {finish(acc, p, x.dtype()), reshape(index, p.out_shape)};
}

Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  const Device dev = common_device("var", {&x});
  DeviceGuard guard(dev.index);
  TESSERA_CHECK(is_floating(x.dtype()), "var: needs a floating tensor, got ", describe(x));
  const Plan p = make_plan("var", x, dims, keepdim, false);
  return finish(run_rows(kc::ReduceOp::kVar, p, dev, nullptr, correction), p, x.dtype());
}

Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim) {
  const Device dev = common_device("logsumexp", {&x});
  DeviceGuard guard(dev.index);
  const Tensor xf = is_floating(x.dtype()) ? x : native::to(x, kFloat32);
  const Plan p = make_plan("logsumexp", xf, dims, keepdim, false);
  return finish(run_rows(kc::ReduceOp::kLogSumExp, p, dev), p, xf.dtype());
}

}  // namespace tessera::native::cuda_impl
