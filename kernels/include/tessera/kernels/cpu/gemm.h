// SPDX-License-Identifier: Apache-2.0
/// @brief Batched GEMM on raw row-major pointers (CPU).
///
///   C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b],  b = 0 .. batch-1
///   op(A) is (M, K): A is (M, K) with row stride lda, or (K, M) when trans_a (then op(A) = A^T).
///   op(B) is (K, N): likewise. C is (M, N) with row stride ldc. Batch strides in elements.
/// float and double call OpenBLAS (sgemm/dgemm; OpenMP build, both cores). BFloat16 and Float16
/// widen A and B to float32, run sgemm, and round C once (beta applied in float32).
/// Cost: 2*M*N*K FLOP per batch; compute-bound above ~64^3 (benches/kernels/bench_gemm.cpp).
#pragma once

#include <cstdint>

#include <tessera/half.h>

namespace tessera::kernels::cpu {

struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  ///< batch strides (elements)
  int64_t batch = 1;
};

template <typename T>
void gemm(const GemmShape& s, float alpha, const T* a, const T* b, float beta, T* c);

}  // namespace tessera::kernels::cpu
