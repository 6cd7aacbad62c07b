// SPDX-License-Identifier: Apache-2.0
/// @brief Differentiable matmul/mm/bmm. Backward: grad_a = g b^T, grad_b = a^T g, with 1-d
/// operands lifted to matrices and broadcast batch dims summed back (sum_to).
#include <tessera/autograd/linalg.h>

#include <tessera/autograd/function.h>
#include <tessera/autograd/shape.h>
#include <tessera/native/linalg.h>
#include <tessera/native/shape.h>

namespace tessera {
namespace {

using autograd::AutogradContext;
using Grads = std::vector<Tensor>;

Grads matmul_backward(AutogradContext& ctx, const Grads& g) {
  const auto s = ctx.saved();
  const Tensor& a = s[0];
  const Tensor& b = s[1];
  const Tensor A = a.dim() == 1 ? native::unsqueeze(a, 0) : a;  // (..., n, m)
  const Tensor B = b.dim() == 1 ? native::unsqueeze(b, 1) : b;  // (..., m, p)
  Tensor G = g[0];                                              // (..., n, p) less lifted dims
  if (a.dim() == 1 && b.dim() == 1)
    G = native::reshape(G, {1, 1});
  else if (a.dim() == 1)
    G = native::unsqueeze(G, -2);
  else if (b.dim() == 1)
    G = native::unsqueeze(G, -1);
  Tensor ga, gb;
  if (ctx.needs_input_grad(0))
    ga = native::reshape(sum_to(native::matmul(G, native::transpose(B, -1, -2)), A.shape()),
                         a.shape());
  if (ctx.needs_input_grad(1)) {
    if (A.dim() == 2 && b.dim() == 2 && b.size(0) > 1 && b.size(1) > 1 && b.stride(0) == 1 &&
        b.stride(1) == b.size(0)) {
      // b is the transpose of a dense matrix (Linear's t(weight)): compute the gradient in that
      // matrix's layout, (G^T A)^T, so the weight's gradient arrives dense instead of as a
      // transposed view that AccumulateGrad must copy with a strided transpose.
      gb = native::transpose(native::matmul(native::transpose(G, 0, 1), A), 0, 1);
    } else {
      gb = native::reshape(sum_to(native::matmul(native::transpose(A, -1, -2), G), B.shape()),
                           b.shape());
    }
  }
  return {ga, gb};
}

Tensor record_matmul(const char* name, const Tensor& a, const Tensor& b, Tensor out) {
  return autograd::record1(name, {a, b}, out, matmul_backward, [&](AutogradContext& ctx) {
    ctx.save_for_backward({a, b});
  });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  return record_matmul("MatmulBackward", a, b, native::matmul(a, b));
}
Tensor mm(const Tensor& a, const Tensor& b) {
  return record_matmul("MmBackward", a, b, native::mm(a, b));
}
Tensor bmm(const Tensor& a, const Tensor& b) {
  return record_matmul("BmmBackward", a, b, native::bmm(a, b));
}

}  // namespace tessera
