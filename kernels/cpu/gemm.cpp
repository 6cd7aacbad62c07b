// SPDX-License-Identifier: Apache-2.0
/// @brief Batched GEMM through OpenBLAS; 16-bit floats through a float32 staging copy.
///
/// Design: OpenBLAS already reaches ~90% of this CPU's FMA peak on large sgemm (docs/perf.md), so
/// the kernel's job is the layout contract: row-major operands map to CblasRowMajor with the
/// transposes passed through, never copied. Batches run one after another with OpenBLAS threading
/// inside each GEMM (each is large in every model we run); tiny GEMMs would rather thread the
/// batch.
#include <tessera/kernels/cpu/gemm.h>

#include <cblas.h>

#include <omp.h>

#include <algorithm>
#include <vector>

#include <tessera/error.h>

namespace tessera::kernels::cpu {
namespace {

void check_shape(const GemmShape& s) {
  TESSERA_CHECK(s.m >= 0 && s.n >= 0 && s.k >= 0 && s.batch >= 0, "gemm: negative size m=", s.m,
                " n=", s.n, " k=", s.k, " batch=", s.batch);
  const int64_t max32 = (int64_t{1} << 31) - 1;
  TESSERA_CHECK(s.m <= max32 && s.n <= max32 && s.k <= max32 && s.lda <= max32 && s.ldb <= max32 &&
                    s.ldc <= max32,
                "gemm: sizes must fit the BLAS's 32-bit integers, got m=", s.m, " n=", s.n,
                " k=", s.k);
}

template <typename T>
void widen(const T* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

}  // namespace

// NOTE [deterministic GEMM]: OpenBLAS picks its kernels and blocking from the number of threads it
// runs, so the same product can round differently on 1 and 2 threads. tessera promises the same
// result on any thread count, so OpenBLAS always runs single-threaded here (inside our OpenMP
// region it does so by itself; outside, the thread's max-threads ICV is set to 1 around the call)
// and the parallelism comes from us: C is cut into row blocks whose size depends on the shape only,
// and every element of C is one dot product computed by one single-threaded call whatever the
// thread count. Each block is still a large GEMM, so the BLAS kernels run at full speed.
constexpr int64_t kRowBlock = 128;  // rows of C per task (a multiple of the micro-kernel height)

template <typename T, typename Blas>
void blas_batched(const GemmShape& s, float alpha, const T* a, const T* b, float beta, T* c,
                  Blas blas) {
  check_shape(s);
  if (s.m == 0 || s.n == 0) return;
  const int64_t blocks = (s.m + kRowBlock - 1) / kRowBlock;
  const int64_t tasks = s.batch * blocks;
  auto run = [&](int64_t task) {
    const int64_t i = task / blocks, r0 = (task % blocks) * kRowBlock;
    const int64_t rows = std::min(kRowBlock, s.m - r0);
    // Row r of op(A) starts at a + r * lda (not transposed) or a + r (transposed).
    const T* ai = a + i * s.stride_a + (s.trans_a ? r0 : r0 * s.lda);
    blas(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans,
         s.trans_b ? CblasTrans : CblasNoTrans, rows, s.n, s.k, alpha, ai, s.lda,
         b + i * s.stride_b, s.ldb, beta, c + i * s.stride_c + r0 * s.ldc, s.ldc);
  };
  if (omp_in_parallel()) {  // already inside a parallel kernel (e.g. attention tiles)
    for (int64_t t = 0; t < tasks; ++t) run(t);
    return;
  }
  if (tasks == 1) {
    const int prev = omp_get_max_threads();
    omp_set_num_threads(1);
    run(0);
    omp_set_num_threads(prev);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < tasks; ++t) run(t);
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
    for (int64_t r = 0; r < a_rows; ++r)
      widen(a + i * s.stride_a + r * s.lda, &af[r * a_cols], a_cols);
    for (int64_t r = 0; r < b_rows; ++r)
      widen(b + i * s.stride_b + r * s.ldb, &bf[r * b_cols], b_cols);
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
