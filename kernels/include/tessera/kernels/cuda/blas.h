// SPDX-License-Identifier: Apache-2.0
/// @brief One GEMM entry point for the CUDA backend: cuBLAS under nvcc, a CPU reference under
/// cudasim.
///
/// Row-major semantics (the tensor library's): for every batch b,
///   C_b = alpha * op(A_b) * op(B_b) + beta * C_b,   op(A_b) (m, k), op(B_b) (k, n), C_b (m, n)
/// A_b at A + b * stride_a, row-major with leading dimension lda (its row stride, elements); with
/// trans_a it is stored as (k, m) row-major and op() transposes it. Same for B. C is row-major
/// (ldc). All of A, B, C have dtype `t` (kFloat32, kFloat64, kBFloat16, kFloat16). Accumulation is
/// float32 for 32/16-bit types (float64 for kFloat64); TF32 tensor cores only when `allow_tf32`.
/// Real CUDA: cublasGemmStridedBatchedEx on `stream` with a per-thread, per-device handle.
/// cudasim (kernels/cuda/blas_reference.cpp): a plain loop on the host (device memory is host
/// memory there), float32/float64 accumulation in k order, one rounding on store.
#pragma once

#include <cstdint>

#include <tessera/kernels/cuda/types.h>

namespace tessera::kernels::cuda {

struct GemmArgs {
  ScalarType dtype = ScalarType::kFloat32;
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f, beta = 0.0f;
  const void* a = nullptr;
  int64_t lda = 0, stride_a = 0;
  const void* b = nullptr;
  int64_t ldb = 0, stride_b = 0;
  void* c = nullptr;
  int64_t ldc = 0, stride_c = 0;
  int64_t batch = 1;
  bool allow_tf32 = false;
};

/// Preconditions (checked, tessera::Error): supported dtype, sizes >= 0, leading dimensions
/// >= the row length, sizes within cuBLAS's int range.
void gemm_strided_batched(const GemmArgs& args, cudaStream_t stream);

}  // namespace tessera::kernels::cuda
