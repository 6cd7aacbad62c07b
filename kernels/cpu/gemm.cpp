// SPDX-License-Identifier: Apache-2.0
/// @brief Batched GEMM through OpenBLAS; 16-bit floats through a float32 staging copy.
///
/// Design: OpenBLAS already reaches ~90% of this CPU's FMA peak on large sgemm (docs/perf.md), so
/// the kernel's job is the layout contract: row-major operands map to CblasRowMajor with the
/// transposes passed through, never copied. Batches run one after another with OpenBLAS threading
/// inside each GEMM (each is large in every model we run); tiny GEMMs would rather thread the batch.
#include <tessera/kernels/cpu/gemm.h>

#include <cblas.h>

#include <vector>

#include <tessera/error.h>

namespace tessera::kernels::cpu {
namespace {

void check_shape(const GemmShape& s) {
  TESSERA_CHECK(s.m >= 0 && s.n >= 0 && s.k >= 0 && s.batch >= 0, "gemm: negative size m=", s.m,
                " n=", s.n, " k=", s.k, " batch=", s.batch);
  const int64_t max32 = (int64_t{1} << 31) - 1;
  TESSERA_CHECK(s.m <= max32 && s.n <= max32 && s.k <= max32 && s.lda <= max32 &&
                    s.ldb <= max32 && s.ldc <= max32,
                "gemm: sizes must fit the BLAS's 32-bit integers, got m=", s.m, " n=", s.n,
                " k=", s.k);
}

template <typename T>
void widen(const T* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

}  // namespace

// One BLAS call per batch entry, in row-major order with the transposes passed through.
template <typename T, typename Blas>
void blas_batched(const GemmShape& s, float alpha, const T* a, const T* b, float beta, T* c,
                  Blas blas) {
  check_shape(s);
  if (s.m == 0 || s.n == 0) return;
  for (int64_t i = 0; i < s.batch; ++i) {
    blas(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans,
         s.m, s.n, s.k, alpha, a + i * s.stride_a, s.lda, b + i * s.stride_b, s.ldb, beta,
         c + i * s.stride_c, s.ldc);
  }
}

template <>
void gemm<float>(const GemmShape& s, float alpha, const float* a, const float* b, float beta,
                 float* c) {
  blas_batched(s, alpha, a, b, beta, c, cblas_sgemm);
}

template <>
void gemm<double>(const GemmShape& s, float alpha, const double* a, const double* b, float beta,
                  double* c) {
  blas_batched(s, alpha, a, b, beta, c, cblas_dgemm);
}

// 16-bit floats: stage each batch's operands densely in float32, sgemm, round C once.
template <typename T>
static void gemm_16(const GemmShape& s, float alpha, const T* a, const T* b, float beta, T* c) {
  check_shape(s);
  if (s.m == 0 || s.n == 0) return;
  const int64_t a_rows = s.trans_a ? s.k : s.m, a_cols = s.trans_a ? s.m : s.k;
  const int64_t b_rows = s.trans_b ? s.n : s.k, b_cols = s.trans_b ? s.k : s.n;
  std::vector<float> af(a_rows * a_cols), bf(b_rows * b_cols), cf(s.m * s.n);
  for (int64_t i = 0; i < s.batch; ++i) {
    for (int64_t r = 0; r < a_rows; ++r) widen(a + i * s.stride_a + r * s.lda, &af[r * a_cols], a_cols);
    for (int64_t r = 0; r < b_rows; ++r) widen(b + i * s.stride_b + r * s.ldb, &bf[r * b_cols], b_cols);
    T* ci = c + i * s.stride_c;
    if (beta != 0.f) {
      for (int64_t r = 0; r < s.m; ++r) widen(ci + r * s.ldc, &cf[r * s.n], s.n);
    }
    cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans,
                s.trans_b ? CblasTrans : CblasNoTrans, s.m, s.n, s.k, alpha, af.data(), a_cols,
                bf.data(), b_cols, beta, cf.data(), s.n);
    for (int64_t r = 0; r < s.m; ++r)
      for (int64_t j = 0; j < s.n; ++j) ci[r * s.ldc + j] = T(cf[r * s.n + j]);
  }
}

template <>
void gemm<BFloat16>(const GemmShape& s, float alpha, const BFloat16* a, const BFloat16* b,
                    float beta, BFloat16* c) {
  gemm_16(s, alpha, a, b, beta, c);
}
template <>
void gemm<Float16>(const GemmShape& s, float alpha, const Float16* a, const Float16* b, float beta,
                   Float16* c) {
  gemm_16(s, alpha, a, b, beta, c);
}

}  // namespace tessera::kernels::cpu
