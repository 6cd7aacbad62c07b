// SPDX-License-Identifier: Apache-2.0
/// @brief Precondition checks shared by the cuBLAS and reference GEMM implementations.
#pragma once

#include <climits>

#include <tessera/error.h>
#include <tessera/kernels/cuda/blas.h>

namespace tessera::kernels::cuda::detail {

inline void check_gemm(const GemmArgs& g) {
  const bool dtype_ok = g.dtype == ScalarType::kFloat32 || g.dtype == ScalarType::kFloat64 ||
                        g.dtype == ScalarType::kBFloat16 || g.dtype == ScalarType::kFloat16;
  TESSERA_CHECK(dtype_ok, "cuda gemm: unsupported dtype ", static_cast<int>(g.dtype));
  TESSERA_CHECK(g.m >= 0 && g.n >= 0 && g.k >= 0 && g.batch >= 0,
                "cuda gemm: negative size (m=", g.m, ", n=", g.n, ", k=", g.k, ", batch=", g.batch,
                ")");
  const int64_t a_cols = g.trans_a ? g.m : g.k, b_cols = g.trans_b ? g.k : g.n;
  TESSERA_CHECK(g.lda >= (a_cols > 1 ? a_cols : 1) && g.ldb >= (b_cols > 1 ? b_cols : 1) &&
                    g.ldc >= (g.n > 1 ? g.n : 1),
                "cuda gemm: leading dimensions too small (lda=", g.lda, ", ldb=", g.ldb,
                ", ldc=", g.ldc, ")");
  TESSERA_CHECK(g.m <= INT_MAX && g.n <= INT_MAX && g.k <= INT_MAX && g.batch <= INT_MAX &&
                    g.lda <= INT_MAX && g.ldb <= INT_MAX && g.ldc <= INT_MAX,
                "cuda gemm: sizes exceed cuBLAS's 32-bit int range");
}

}  // namespace tessera::kernels::cuda::detail
