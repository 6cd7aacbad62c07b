// SPDX-License-Identifier: Apache-2.0
/// @brief matmul / mm / bmm: shape logic and layout mapping onto kernels::cpu::gemm.
///
/// A matrix operand is handed to the GEMM as is when it is row-major (unit column stride) or a
/// transposed view (unit row stride); only other layouts are copied. Batch dims broadcast; an
/// operand broadcast over the batch gets batch stride 0, so a shared weight is never replicated.
#include <tessera/native/linalg.h>

#include <tessera/creation.h>
#include <tessera/kernels/cpu/gemm.h>
#include <tessera/native/convert.h>
#include <tessera/native/shape.h>

#include "cuda/dispatch.h"
#include "iter.h"
#include "layout.h"

namespace tessera::native {
namespace {

using detail::MatrixLayout;
using detail::prepare;
using detail::to_3d;

Tensor gemm_3d(const char* op, const Tensor& a3, const Tensor& b3) {
  const int64_t batch = a3.shape()[0], m = a3.shape()[1], k = a3.shape()[2], n = b3.shape()[2];
  const DType dtype = a3.dtype();
  TESSERA_CHECK(is_floating(dtype), op, ": needs floating tensors, got ", describe(a3));
  Tensor out = empty({batch, m, n}, {.dtype = dtype, .device = a3.device()});
  if (out.numel() == 0) return out;
  if (k == 0) return zeros({batch, m, n}, {.dtype = dtype, .device = a3.device()});
  const MatrixLayout A = prepare(a3), B = prepare(b3);
  kernels::cpu::GemmShape s;
  s.m = m;
  s.n = n;
  s.k = k;
  s.trans_a = A.trans;
  s.trans_b = B.trans;
  s.lda = A.ld;
  s.ldb = B.ld;
  s.ldc = n;
  s.stride_a = A.batch_stride;
  s.stride_b = B.batch_stride;
  s.stride_c = m * n;
  s.batch = batch;
  visit_dtype(dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> ||
                  std::is_same_v<T, BFloat16> || std::is_same_v<T, Float16>) {
      kernels::cpu::gemm<T>(s, 1.0f, static_cast<const T*>(A.t.data_ptr()),
                            static_cast<const T*>(B.t.data_ptr()), 0.0f,
                            static_cast<T*>(out.data_ptr()));
    }
  });
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  TESSERA_CUDA_DISPATCH(cuda_impl::matmul(a_in, b_in), a_in, b_in);
  detail::check_cpu("matmul", {&a_in, &b_in});
  TESSERA_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1,
                "matmul: both arguments need at least 1 dim, got ", describe(a_in), " and ",
                describe(b_in));
  TESSERA_CHECK(a_in.device() == b_in.device(),
                "matmul: operands on different devices: ", describe(a_in), " and ", describe(b_in));
  const DType dtype = promote_types(a_in.dtype(), b_in.dtype());
  const Tensor a1 = to(a_in, dtype), b1 = to(b_in, dtype);
  const bool a_vec = a1.dim() == 1, b_vec = b1.dim() == 1;
  const Tensor a = a_vec ? unsqueeze(a1, 0) : a1;  // (k) -> (1, k)
  const Tensor b = b_vec ? unsqueeze(b1, 1) : b1;  // (k) -> (k, 1)
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
  const Tensor out3 =
      gemm_3d("matmul", to_3d(expand(a, ashape), batch), to_3d(expand(b, bshape), batch));
  Shape out_shape = batch_shape;
  if (!a_vec) out_shape.push_back(m);
  if (!b_vec) out_shape.push_back(n);
  return reshape(out3, out_shape);
}

Tensor mm(const Tensor& a, const Tensor& b) {
  TESSERA_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expects 2-d tensors, got ", describe(a), " and ",
                describe(b));
  return matmul(a, b);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  TESSERA_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0),
                "bmm: expects (b, n, m) "
                "and (b, m, p) tensors with the same b, got ",
                describe(a), " and ", describe(b));
  return matmul(a, b);
}

}  // namespace tessera::native
