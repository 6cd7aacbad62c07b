// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA matmul/mm/bmm: the CPU's shape and layout logic, GEMM through kernels/cuda/blas.h.
///
/// As on the CPU, a row-major or transposed (unit row stride) operand is handed to the GEMM as is
/// and an operand broadcast over the batch gets batch stride 0. bf16/f16 accumulate in float32;
/// float32 uses TF32 tensor cores only after cuda::set_allow_tf32(true).
#include <atomic>

#include <tessera/creation.h>
#include <tessera/kernels/cuda/blas.h>
#include <tessera/native/convert.h>
#include <tessera/native/shape.h>

#include "cuda/common.h"
#include "cuda/ops.h"
#include "native/layout.h"

namespace tessera::cuda {
namespace {
std::atomic<bool>& tf32_flag() {
  static std::atomic<bool> flag{false};  // like torch.backends.cuda.matmul.allow_tf32
  return flag;
}
}  // namespace
void set_allow_tf32(bool allow) { tf32_flag().store(allow); }
bool allow_tf32() { return tf32_flag().load(); }
}  // namespace tessera::cuda

namespace tessera::native::cuda_impl {
namespace {

namespace kc = kernels::cuda;

using native::detail::MatrixLayout;
using native::detail::prepare;
using native::detail::to_3d;

Tensor gemm_3d(const Tensor& a3, const Tensor& b3) {
  const int64_t batch = a3.shape()[0], m = a3.shape()[1], k = a3.shape()[2], n = b3.shape()[2];
  const DType dtype = a3.dtype();
  TESSERA_CHECK(is_floating(dtype), "matmul: needs floating tensors, got ", describe(a3));
  const Device dev = a3.device();
  Tensor out = empty({batch, m, n}, {.dtype = dtype, .device = dev});
  if (out.numel() == 0) return out;
  if (k == 0) return zeros({batch, m, n}, {.dtype = dtype, .device = dev});
  const MatrixLayout A = prepare(a3), B = prepare(b3);
  kc::GemmArgs g;
  g.dtype = cuda::detail::scalar_type(dtype);
  g.trans_a = A.trans;
  g.trans_b = B.trans;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = A.t.data_ptr();
  g.lda = A.ld;
  g.stride_a = A.batch_stride;
  g.b = B.t.data_ptr();
  g.ldb = B.ld;
  g.stride_b = B.batch_stride;
  g.c = out.data_ptr();
  g.ldc = n;
  g.stride_c = m * n;
  g.batch = batch;
  g.allow_tf32 = cuda::allow_tf32();
  kc::gemm_strided_batched(g, cuda::detail::stream_of(dev.index));
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  const Device dev = cuda::detail::common_device("matmul", {&a_in, &b_in});
  cuda::detail::DeviceGuard guard(dev.index);
  TESSERA_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1,
                "matmul: both arguments need at least 1 dim, got ", describe(a_in), " and ",
                describe(b_in));
  const DType dtype = promote_types(a_in.dtype(), b_in.dtype());
  const Tensor a1 = native::to(a_in, dtype), b1 = native::to(b_in, dtype);
  const bool a_vec = a1.dim() == 1, b_vec = b1.dim() == 1;
  const Tensor a = a_vec ? unsqueeze(a1, 0) : a1;
  const Tensor b = b_vec ? unsqueeze(b1, 1) : b1;
  const int64_t m = a.size(-2), k = a.size(-1), k2 = b.size(-2), n = b.size(-1);
  TESSERA_CHECK(k == k2, "matmul: inner dimensions differ: ", describe(a_in), " @ ", describe(b_in),
                " (", k, " vs ", k2, ")");
  const Shape abatch(a.shape().begin(), a.shape().end() - 2);
  const Shape bbatch(b.shape().begin(), b.shape().end() - 2);
  const Shape batch_shape = broadcast_shapes(abatch, bbatch, "matmul (batch dims)");
  int64_t batch = 1;
  for (int64_t s : batch_shape) batch *= s;
  Shape ashape = batch_shape, bshape = batch_shape;
  ashape.insert(ashape.end(), {m, k});
  bshape.insert(bshape.end(), {k, n});
  const Tensor out3 = gemm_3d(to_3d(expand(a, ashape), batch), to_3d(expand(b, bshape), batch));
  Shape out_shape = batch_shape;
  if (!a_vec) out_shape.push_back(m);
  if (!b_vec) out_shape.push_back(n);
  return reshape(out3, out_shape);
}

}  // namespace tessera::native::cuda_impl
