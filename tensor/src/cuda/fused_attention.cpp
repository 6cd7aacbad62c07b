// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA scaled_dot_product_attention and its backward: the native op's Tensor contract
/// (shapes and dtypes checked there) over kernels::cuda::attention_forward / _backward
/// (kernels/cuda/attention.cu).
#include <tessera/creation.h>
#include <tessera/kernels/cuda/attention.h>
#include <tessera/native/convert.h>
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

kc::AttentionShape shape_of(const Tensor& q, const Tensor& k) {
  return {q.size(0), q.size(1), q.size(2), k.size(2), q.size(3)};
}

kc::AttentionConfig config_of(const AttentionParams& p) {
  kc::AttentionConfig c;
  c.scale = static_cast<float>(p.scale);
  c.causal = p.causal;
  c.dropout_p = static_cast<float>(p.dropout_p);
  c.seed = p.seed;
  c.offset = p.offset;
  return c;
}

void check_supported(const char* op, const Tensor& q) {
  TESSERA_CHECK(kc::attention_supported(scalar_type(q.dtype()), q.size(3)), op,
                ": the CUDA kernel covers float32/float64/bfloat16/float16 with head_dim 32, 64 "
                "or 128, got ",
                describe(q),
                " (use nn::functional::scaled_dot_product_attention, which composes "
                "other shapes)");
}

}  // namespace

bool attention_supported(DType t, int64_t head_dim) {
  return kc::attention_supported(scalar_type(t), head_dim);
}

AttentionResult scaled_dot_product_attention(const Tensor& q_in, const Tensor& k_in,
                                             const Tensor& v_in, const AttentionParams& p) {
  const char* op = "scaled_dot_product_attention";
  const Device dev = common_device(op, {&q_in, &k_in, &v_in});
  DeviceGuard guard(dev.index);
  check_supported(op, q_in);
  const Tensor q = contiguous(q_in), k = contiguous(k_in), v = contiguous(v_in);
  AttentionResult r;
  r.out = empty(q.shape(), {.dtype = q.dtype(), .device = dev});
  r.lse = empty({q.size(0), q.size(1), q.size(2)},
                {.dtype = q.dtype() == kFloat64 ? kFloat64 : kFloat32, .device = dev});
  kc::attention_forward(scalar_type(q.dtype()), shape_of(q, k), config_of(p), q.data_ptr(),
                        k.data_ptr(), v.data_ptr(), r.out.data_ptr(), r.lse.data_ptr(),
                        stream_of(dev.index));
  return r;
}

AttentionGrads scaled_dot_product_attention_backward(const Tensor& grad_out, const Tensor& q_in,
                                                     const Tensor& k_in, const Tensor& v_in,
                                                     const Tensor& out, const Tensor& lse,
                                                     const AttentionParams& p) {
  const char* op = "scaled_dot_product_attention_backward";
  const Device dev = common_device(op, {&grad_out, &q_in, &k_in, &v_in, &out, &lse});
  DeviceGuard guard(dev.index);
  check_supported(op, q_in);
  const DType stat = q_in.dtype() == kFloat64 ? kFloat64 : kFloat32;
  const Shape lse_shape{q_in.size(0), q_in.size(1), q_in.size(2)};
  TESSERA_CHECK(out.shape() == q_in.shape() && grad_out.shape() == q_in.shape() &&
                    lse.dtype() == stat && lse.shape() == lse_shape,
                op, ": expected out and grad_out shaped like q and lse (B, H, Tq) ", stat,
                ", got q ", describe(q_in), ", out ", describe(out), ", grad_out ",
                describe(grad_out), ", lse ", describe(lse));
  const Tensor q = contiguous(q_in), k = contiguous(k_in), v = contiguous(v_in);
  const Tensor o = contiguous(native::to(out, q.dtype()));
  const Tensor g = contiguous(native::to(grad_out, q.dtype())), l = contiguous(lse);
  AttentionGrads r;
  r.grad_q = empty(q.shape(), {.dtype = q.dtype(), .device = dev});
  r.grad_k = empty(k.shape(), {.dtype = q.dtype(), .device = dev});
  r.grad_v = empty(v.shape(), {.dtype = q.dtype(), .device = dev});
  const auto s = shape_of(q, k);
  const size_t ws_bytes = kc::attention_backward_workspace(scalar_type(q.dtype()), s);
  const Tensor ws =
      empty({static_cast<int64_t>((ws_bytes + 7) / 8)}, {.dtype = kInt64, .device = dev});
  kc::attention_backward(scalar_type(q.dtype()), s, config_of(p), q.data_ptr(), k.data_ptr(),
                         v.data_ptr(), o.data_ptr(), g.data_ptr(), l.data_ptr(),
                         r.grad_q.data_ptr(), r.grad_k.data_ptr(), r.grad_v.data_ptr(),
                         ws.data_ptr(), stream_of(dev.index));
  return r;
}

}  // namespace tessera::native::cuda_impl
