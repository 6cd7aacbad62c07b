// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA elementwise ops: shape/dtype preparation on the host, one strided kernel launch.
///
/// Mirrors tensor/src/native/elementwise.cpp: inputs are converted to the compute dtype and
/// expanded (stride-0 views) to the broadcast shape exactly as on the CPU, then
/// kernels::cuda::elementwise runs the op (kernels/cuda/elementwise.cu).
#include <cstring>
#include <string_view>
#include <unordered_map>

#include <tessera/creation.h>
#include <tessera/kernels/cuda/elementwise.h>
#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>
#include <tessera/native/shape.h>

#include "cuda/common.h"
#include "cuda/ops.h"
#include "native/iter.h"

namespace tessera::native::cuda_impl {
namespace {

namespace kc = kernels::cuda;
using cuda::detail::common_device;
using cuda::detail::DeviceGuard;

void launch(EwOp op, Tensor& out, const Tensor& in1, const Tensor& in2, const Tensor& in3,
            const kc::EwParams& params) {
  const auto L = cuda::detail::make_layout<4>(out.shape(), {&out, &in1, &in2, &in3});
  kc::elementwise(op, L, out.numel(), params, cuda::detail::stream_of(out.device().index));
}

Tensor binary_p(EwOp op, const char* name, const Tensor& a, const Tensor& b, DType compute,
                const kc::EwParams& params) {
  const Device dev = common_device(name, {&a, &b});
  DeviceGuard guard(dev.index);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, {.dtype = kc::ew_bool_out(op) ? kBool : compute, .device = dev});
  const Tensor ea = expand(native::to(a, compute), shape),
               eb = expand(native::to(b, compute), shape);
  launch(op, out, ea, eb, eb, params);
  return out;
}

Tensor unary_p(EwOp op, const char* name, const Tensor& x, DType compute,
               const kc::EwParams& params) {
  const Device dev = common_device(name, {&x});
  DeviceGuard guard(dev.index);
  Tensor out = empty(x.shape(), {.dtype = kc::ew_bool_out(op) ? kBool : compute, .device = dev});
  const Tensor ex = native::to(x, compute);
  launch(op, out, ex, ex, ex, params);
  return out;
}

bool can_cast(DType from, DType to) {
  if (is_floating(from) && !is_floating(to)) return false;
  if (from != kBool && to == kBool) return false;
  return true;
}

}  // namespace

EwOp op_named(const char* name) {
  static const std::unordered_map<std::string_view, EwOp> table = {
      {"sqrt", EwOp::kSqrt},   {"rsqrt", EwOp::kRsqrt}, {"reciprocal", EwOp::kReciprocal},
      {"exp", EwOp::kExp},     {"log", EwOp::kLog},     {"log1p", EwOp::kLog1p},
      {"expm1", EwOp::kExpm1}, {"sin", EwOp::kSin},     {"cos", EwOp::kCos},
      {"tanh", EwOp::kTanh},   {"erf", EwOp::kErf},     {"sigmoid", EwOp::kSigmoid},
      {"floor", EwOp::kFloor}, {"ceil", EwOp::kCeil},   {"round", EwOp::kRound},
      {"trunc", EwOp::kTrunc}, {"add", EwOp::kAdd},     {"sub", EwOp::kSub},
      {"rsub", EwOp::kSub},    {"mul", EwOp::kMul},     {"div", EwOp::kDiv},
      {"rdiv", EwOp::kDiv},    {"eq", EwOp::kEq},       {"ne", EwOp::kNe},
      {"lt", EwOp::kLt},       {"le", EwOp::kLe},       {"gt", EwOp::kGt},
      {"ge", EwOp::kGe}};
  auto it = table.find(name);
  TESSERA_CHECK(it != table.end(), "cuda: no CUDA kernel for op '", name, "'");
  return it->second;
}

Tensor binary(EwOp op, const char* name, const Tensor& a, const Tensor& b, DType compute) {
  return binary_p(op, name, a, b, compute, {});
}

Tensor unary(EwOp op, const char* name, const Tensor& x, DType compute) {
  return unary_p(op, name, x, compute, {});
}

Tensor scalar_16bit(const char* name, const Tensor& a, const Scalar& s, bool reversed) {
  kc::EwParams p;
  p.p0 = s.to_double();
  p.scalar_operand = true;
  p.reversed = reversed;
  const EwOp op = op_named(name);
  const Device dev = common_device(name, {&a});
  DeviceGuard guard(dev.index);
  Tensor out = empty(a.shape(), {.dtype = a.dtype(), .device = dev});
  launch(op, out, a, a, a, p);
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b, DType compute) {
  const Device dev = common_device("where", {&cond, &a, &b});
  TESSERA_CHECK(cond.dtype() == kBool, "where: condition must be bool, got ", describe(cond));
  DeviceGuard guard(dev.index);
  const Shape shape =
      broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = empty(shape, {.dtype = compute, .device = dev});
  const Tensor ec = expand(cond, shape), ea = expand(native::to(a, compute), shape),
               eb = expand(native::to(b, compute), shape);
  launch(EwOp::kWhere, out, ec, ea, eb, {});
  return out;
}

Tensor clamp(const Tensor& x, DType compute, double lo, double hi) {
  kc::EwParams p;
  p.p0 = lo;
  p.p1 = hi;
  return unary_p(EwOp::kClamp, "clamp", x, compute, p);
}

Tensor& binary_inplace(EwOp op, const char* name, Tensor& self, const Tensor& other, double alpha) {
  const Device dev = common_device(name, {&self, &other});
  DeviceGuard guard(dev.index);
  detail::check_writable(name, self);
  const Shape shape = broadcast_shapes(self.shape(), other.shape(), name);
  TESSERA_CHECK(shape == self.shape(), name, ": the result shape ", shape_str(shape),
                " does not match the in-place target ", describe(self));
  const DType compute = promote_types(self.dtype(), other.dtype());
  TESSERA_CHECK(can_cast(compute, self.dtype()), name, ": result type ", compute,
                " can't be cast to the in-place target ", describe(self));
  kc::EwParams p;
  p.p0 = alpha;
  if (compute != self.dtype()) {
    const Tensor r = binary_p(op, name, self, other, compute, p);
    return native::copy_(self, r);  // bumps the version
  }
  const Tensor eo = expand(native::to(other, self.dtype()), shape);
  launch(op, self, self, eo, eo, p);
  self.bump_version();
  return self;
}

Tensor& fill_(Tensor& self, const Scalar& value) {
  const Device dev = common_device("fill_", {&self});
  DeviceGuard guard(dev.index);
  detail::check_writable("fill_", self);
  if (!self.is_contiguous()) {
    Tensor one = empty({}, {.dtype = self.dtype(), .device = dev});
    fill_(one, value);
    return native::copy_(self, one);
  }
  uint64_t pattern = 0;
  visit_dtype(self.dtype(), [&]<typename T>() {
    const T v = value.to<T>();
    std::memcpy(&pattern, &v, sizeof(T));
  });
  kc::fill(self.data_ptr(), self.numel(), static_cast<int>(self.element_size()), pattern,
           cuda::detail::stream_of(dev.index));
  self.bump_version();
  return self;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  common_device("allclose", {&a, &b});
  return native::allclose(native::to(a, kCPU), native::to(b, kCPU), rtol, atol);
}

}  // namespace tessera::native::cuda_impl
