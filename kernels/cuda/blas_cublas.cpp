// SPDX-License-Identifier: Apache-2.0
/// @brief gemm_strided_batched on cuBLAS (real CUDA builds).
///
/// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so the call swaps the operands
/// (and m with n) instead of copying anything. One cuBLAS handle per (host thread, device),
/// created on first use and bound to the caller's stream for each call.
#include <tessera/kernels/cuda/blas.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <map>
#include <memory>

#include <tessera/error.h>

#include "blas_common.h"

#define TESSERA_CUBLAS_CHECK(expr)                                                           \
  do {                                                                                       \
    const cublasStatus_t tessera_cublas_status_ = (expr);                                    \
    if (tessera_cublas_status_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                        \
      ::tessera::detail::throw_error(__FILE__, __LINE__, "cuBLAS call `" #expr "` failed: ", \
                                     cublasGetStatusName(tessera_cublas_status_), " (",      \
                                     cublasGetStatusString(tessera_cublas_status_), ")");    \
  } while (0)

namespace tessera::kernels::cuda {
namespace {

struct HandleDeleter {
  void operator()(cublasContext* h) const noexcept { cublasDestroy(h); }
};
using Handle = std::unique_ptr<cublasContext, HandleDeleter>;

cublasHandle_t handle_for_current_device() {
  thread_local std::map<int, Handle> handles;
  int device = 0;
  const cudaError_t st = cudaGetDevice(&device);
  TESSERA_CHECK(st == cudaSuccess, "cuda gemm: cudaGetDevice failed: ", cudaGetErrorString(st));
  auto it = handles.find(device);
  if (it == handles.end()) {
    cublasHandle_t h = nullptr;
    TESSERA_CUBLAS_CHECK(cublasCreate(&h));
    it = handles.emplace(device, Handle(h)).first;
  }
  return it->second.get();
}

cudaDataType_t data_type(ScalarType t) {
  switch (t) {
    case ScalarType::kFloat64:
      return CUDA_R_64F;
    case ScalarType::kBFloat16:
      return CUDA_R_16BF;
    case ScalarType::kFloat16:
      return CUDA_R_16F;
    default:
      return CUDA_R_32F;
  }
}

}  // namespace

void gemm_strided_batched(const GemmArgs& g, cudaStream_t stream) {
  detail::check_gemm(g);
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  cublasHandle_t h = handle_for_current_device();
  TESSERA_CUBLAS_CHECK(cublasSetStream(h, stream));
  const cudaDataType_t type = data_type(g.dtype);
  const bool f64 = g.dtype == ScalarType::kFloat64;
  const cublasComputeType_t compute =
      f64 ? CUBLAS_COMPUTE_64F
          : (g.allow_tf32 && g.dtype == ScalarType::kFloat32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                             : CUBLAS_COMPUTE_32F);
  const double alpha64 = g.alpha, beta64 = g.beta;
  const float alpha32 = g.alpha, beta32 = g.beta;
  const void* alpha = f64 ? static_cast<const void*>(&alpha64) : &alpha32;
  const void* beta = f64 ? static_cast<const void*>(&beta64) : &beta32;
  // Column-major view: C^T (n, m) = op(B)^T (n, k) * op(A)^T (k, m).
  TESSERA_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      h, g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
      static_cast<int>(g.n), static_cast<int>(g.m), static_cast<int>(g.k), alpha, g.b, type,
      static_cast<int>(g.ldb), g.stride_b, g.a, type, static_cast<int>(g.lda), g.stride_a, beta,
      g.c, type, static_cast<int>(g.ldc), g.stride_c, static_cast<int>(g.batch), compute,
      CUBLAS_GEMM_DEFAULT));
}

}  // namespace tessera::kernels::cuda
