// SPDX-License-Identifier: Apache-2.0
/// @brief Matrix products (CPU: OpenBLAS sgemm/dgemm; 16-bit floats through float32).
#pragma once

#include <tessera/tensor.h>

namespace tessera::native {

/// torch.matmul semantics: 1-d x 1-d dot, 2-d x 2-d mm, batched with broadcast batch dims,
/// 1-d operands promoted by a prepended/appended dim that is then removed. Transposed views are
/// passed to the BLAS as transposes, not copied.
Tensor matmul(const Tensor& a, const Tensor& b);
/// (n, m) x (m, p) -> (n, p).
Tensor mm(const Tensor& a, const Tensor& b);
/// (b, n, m) x (b, m, p) -> (b, n, p), no broadcasting.
Tensor bmm(const Tensor& a, const Tensor& b);

}  // namespace tessera::native
