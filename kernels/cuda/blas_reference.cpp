// SPDX-License-Identifier: Apache-2.0
/// @brief gemm_strided_batched for cudasim builds: a host loop standing in for cuBLAS.
///
/// Under cudasim "device" pointers are host pointers, so the reference reads them directly.
/// It is deliberately independent of kernels::cpu::gemm (OpenBLAS), which the CPU matmul uses:
/// tests comparing CUDA and CPU matmul then check the layout mapping (transposes, leading
/// dimensions, batch strides) against a different implementation. Accumulation: float32 for
/// 32/16-bit inputs (as cuBLAS's CUBLAS_COMPUTE_32F), float64 for float64; one rounding on store.
/// Cost: m n k multiply-adds, single-threaded per (batch, row) with OpenMP over them.
#include <tessera/half.h>
#include <tessera/kernels/cuda/blas.h>

#include <type_traits>

#include "blas_common.h"

namespace tessera::kernels::cuda {
namespace {

template <typename T>
using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename T>
void gemm_typed(const GemmArgs& g) {
  using A = Acc<T>;
  const T* a = static_cast<const T*>(g.a);
  const T* b = static_cast<const T*>(g.b);
  T* c = static_cast<T*>(g.c);
  const int64_t rows = g.batch * g.m;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t bi = r / g.m, i = r % g.m;
    const T* ab = a + bi * g.stride_a;
    const T* bb = b + bi * g.stride_b;
    T* cb = c + bi * g.stride_c;
    for (int64_t j = 0; j < g.n; ++j) {
      A acc = 0;
      for (int64_t p = 0; p < g.k; ++p) {
        const A av = static_cast<A>(g.trans_a ? ab[p * g.lda + i] : ab[i * g.lda + p]);
        const A bv = static_cast<A>(g.trans_b ? bb[j * g.ldb + p] : bb[p * g.ldb + j]);
        acc += av * bv;
      }
      A v = static_cast<A>(g.alpha) * acc;
      if (g.beta != 0.0f) v += static_cast<A>(g.beta) * static_cast<A>(cb[i * g.ldc + j]);
      cb[i * g.ldc + j] = T(v);
    }
  }
}

}  // namespace

void gemm_strided_batched(const GemmArgs& g, cudaStream_t) {
  detail::check_gemm(g);
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  switch (g.dtype) {
    case ScalarType::kFloat32:
      return gemm_typed<float>(g);
    case ScalarType::kFloat64:
      return gemm_typed<double>(g);
    case ScalarType::kBFloat16:
      return gemm_typed<BFloat16>(g);
    case ScalarType::kFloat16:
      return gemm_typed<Float16>(g);
    default:
      break;
  }
}

}  // namespace tessera::kernels::cuda
