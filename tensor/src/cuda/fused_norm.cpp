// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA LayerNorm and softmax-family ops: the Tensor contract of native/fused.h and
/// native/reduce.h's softmax/log_softmax on kernels/cuda/layer_norm.cu and softmax.cu.
///
/// Same contract as the CPU path (tensor/src/native/fused.cpp, reduce.cpp): inputs of any layout
/// are made contiguous on the device, statistics are float32 (float64 for float64 input),
/// backward accumulates grad_weight/grad_bias into zeros. The native op has already checked shapes
/// and dtypes; this file checks devices.
#include <algorithm>

#include <tessera/creation.h>
#include <tessera/kernels/cuda/layer_norm.h>
#include <tessera/kernels/cuda/softmax.h>
#include <tessera/native/convert.h>
#include <tessera/native/fused.h>
#include <tessera/native/shape.h>

#include "cuda/common.h"
#include "cuda/ops.h"

namespace tessera::native::cuda_impl {
namespace {

namespace kc = kernels::cuda;
using cuda::detail::common_device;
using cuda::detail::DeviceGuard;
using cuda::detail::scalar_type;
using cuda::detail::stream_of;

DType stat_dtype(DType t) { return t == kFloat64 ? kFloat64 : kFloat32; }

void* ptr(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

void check_floating(const char* op, const Tensor& x) {
  const DType t = x.dtype();
  TESSERA_CHECK(t == kFloat32 || t == kFloat64 || t == kBFloat16 || t == kFloat16, op,
                ": needs a float32, float64, bfloat16 or float16 tensor, got ", describe(x));
}

}  // namespace

LayerNormResult layer_norm(const Tensor& x_in, const Tensor& weight, const Tensor& bias,
                           double eps) {
  const Device dev = common_device("layer_norm", {&x_in, &weight, &bias});
  DeviceGuard guard(dev.index);
  check_floating("layer_norm", x_in);
  const int64_t cols = x_in.size(-1), rows = cols == 0 ? 0 : x_in.numel() / cols;
  const Tensor x = native::contiguous(x_in);
  const Tensor w = weight.defined() ? native::contiguous(weight) : weight;
  const Tensor b = bias.defined() ? native::contiguous(bias) : bias;
  LayerNormResult r;
  r.y = empty(x.shape(), {.dtype = x.dtype(), .device = dev});
  r.mean = empty({rows}, {.dtype = stat_dtype(x.dtype()), .device = dev});
  r.rstd = empty({rows}, {.dtype = stat_dtype(x.dtype()), .device = dev});
  kc::layer_norm_forward(scalar_type(x.dtype()), x.data_ptr(), ptr(w), ptr(b), r.y.data_ptr(),
                         rows > 0 && cols > 0 ? r.mean.data_ptr() : nullptr,
                         rows > 0 && cols > 0 ? r.rstd.data_ptr() : nullptr, rows, cols, eps,
                         stream_of(dev.index));
  return r;
}

LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x_in, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, bool want_x,
                                   bool want_weight, bool want_bias) {
  const char* op = "layer_norm_backward";
  const Device dev = common_device(op, {&grad_y, &x_in, &weight, &mean, &rstd});
  DeviceGuard guard(dev.index);
  check_floating(op, x_in);
  const int64_t cols = x_in.size(-1), rows = cols == 0 ? 0 : x_in.numel() / cols;
  TESSERA_CHECK(mean.numel() == rows && rstd.numel() == rows &&
                    mean.dtype() == stat_dtype(x_in.dtype()) && rstd.dtype() == mean.dtype(),
                op, ": mean ", describe(mean), " and rstd ", describe(rstd), " must be (", rows,
                ") ", stat_dtype(x_in.dtype()), " for input ", describe(x_in));
  const Tensor x = native::contiguous(x_in);
  const Tensor g = native::contiguous(native::to(grad_y, x_in.dtype()));
  const Tensor w = weight.defined() ? native::contiguous(weight) : weight;
  const Tensor m = native::contiguous(mean), s = native::contiguous(rstd);
  LayerNormGrads r;
  if (want_x) r.grad_x = empty(x.shape(), {.dtype = x.dtype(), .device = dev});
  if (want_weight) r.grad_weight = zeros({cols}, {.dtype = x.dtype(), .device = dev});
  if (want_bias) r.grad_bias = zeros({cols}, {.dtype = x.dtype(), .device = dev});
  const kc::ScalarType t = scalar_type(x.dtype());
  Tensor ws;
  if (want_weight || want_bias) {
    const size_t bytes = kc::layer_norm_backward_workspace(t, rows, cols);
    if (bytes > 0)
      ws = empty({static_cast<int64_t>((bytes + 7) / 8)}, {.dtype = kFloat64, .device = dev});
  }
  kc::layer_norm_backward(t, g.data_ptr(), x.data_ptr(), ptr(w), m.data_ptr(), s.data_ptr(),
                          ptr(r.grad_x), ptr(r.grad_weight), ptr(r.grad_bias), rows, cols, ptr(ws),
                          stream_of(dev.index));
  return r;
}

Tensor softmax(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  const Device dev = common_device(op, {&x});
  DeviceGuard guard(dev.index);
  // As the CPU: integers compute in float32; 16-bit types in float32 inside the kernel.
  const Tensor xf = is_floating(x.dtype()) ? x : native::to(x, kFloat32);
  if (xf.dim() == 0) return log ? zeros_like(xf) : ones_like(xf);
  const int64_t d = wrap_dim(dim, xf.dim(), op), last = xf.dim() - 1;
  const Tensor xt = native::contiguous(native::transpose(xf, d, last));
  const int64_t cols = xt.size(-1), rows = cols == 0 ? 0 : xt.numel() / cols;
  Tensor y = empty(xt.shape(), {.dtype = xf.dtype(), .device = dev});
  kc::SoftmaxParams p;
  p.log = log;
  kc::softmax_forward(scalar_type(xf.dtype()), xt.data_ptr(), y.data_ptr(), rows, cols, p,
                      stream_of(dev.index));
  return native::transpose(y, d, last);
}

Tensor softmax_backward(const Tensor& y, const Tensor& grad_y, int64_t dim, bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  const Device dev = common_device(op, {&y, &grad_y});
  DeviceGuard guard(dev.index);
  check_floating(op, y);
  TESSERA_CHECK(y.shape() == grad_y.shape(), op, ": grad ", describe(grad_y), " does not match ",
                describe(y));
  const int64_t d = wrap_dim(dim, y.dim(), op);
  const int64_t last = std::max<int64_t>(y.dim() - 1, 0);
  const Tensor yt = native::contiguous(native::transpose(y, d, last));
  const Tensor gt = native::contiguous(native::transpose(native::to(grad_y, y.dtype()), d, last));
  const int64_t cols = y.dim() == 0 ? 1 : yt.size(-1), rows = cols == 0 ? 0 : yt.numel() / cols;
  Tensor gx = empty(yt.shape(), {.dtype = y.dtype(), .device = dev});
  kc::softmax_backward(scalar_type(y.dtype()), yt.data_ptr(), gt.data_ptr(), gx.data_ptr(), rows,
                       cols, log, 1.0, stream_of(dev.index));
  return native::transpose(gx, d, last);
}

}  // namespace tessera::native::cuda_impl
