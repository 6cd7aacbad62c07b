// SPDX-License-Identifier: Apache-2.0
/// @brief Tensor-core and cp.async primitives: inline PTX under nvcc, emulated under cudasim.
///
/// The only file in tessera with inline PTX. Fragment layouts (PTX ISA, m16n8k16, g = lane/4,
/// t = lane%4; two 16-bit values per 32-bit register, lower index in the low half):
///   A (16x16, row):  a[0] = A[g][2t..2t+1]   a[1] = A[g+8][2t..]  a[2] = A[g][2t+8..]  a[3] =
///   A[g+8][2t+8..] B (16x8, col):   b[0] = {B[2t][g], B[2t+1][g]}                b[1] =
///   {B[2t+8][g], B[2t+9][g]} C/D (16x8 f32):  c[0..1] = C[g][2t..2t+1]                     c[2..3]
///   = C[g+8][2t..2t+1] ldmatrix x1/x2/x4: lanes 8j..8j+7 give the 16-byte aligned row addresses of
///   matrix j;
///     r[j] = {M_j[lane/4][2(lane%4)], M_j[lane/4][2(lane%4)+1]}; .trans gives M_j transposed.
/// Under cudasim every one of these is a rendezvous of all 32 lanes (docs/cudasim.md).
#pragma once

#include <cstdint>

#include <tessera/kernels/cuda/compat.h>

namespace tessera::kernels::cuda {

/// Two floats as a bf16x2 / f16x2 register (lo in the low 16 bits), round to nearest even.
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  const __nv_bfloat16 l = __float2bfloat16(lo), h = __float2bfloat16(hi);
  return static_cast<uint32_t>(__bfloat16_as_ushort(l)) |
         (static_cast<uint32_t>(__bfloat16_as_ushort(h)) << 16);
}
__device__ __forceinline__ uint32_t pack_f16x2(float lo, float hi) {
  const __half l = __float2half(lo), h = __float2half(hi);
  return static_cast<uint32_t>(__half_as_ushort(l)) |
         (static_cast<uint32_t>(__half_as_ushort(h)) << 16);
}

#if defined(__CUDACC__)

/// D = A*B + C, bf16 inputs, f32 accumulate: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32.
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4],
                                                  const uint32_t (&b)[2], const float (&c)[4]) {
#if defined(__CUDA_ARCH__)
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
        "f"(c[2]), "f"(c[3]));
#endif
}

/// D = A*B + C, f16 inputs, f32 accumulate: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32.
__device__ __forceinline__ void mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4],
                                                 const uint32_t (&b)[2], const float (&c)[4]) {
#if defined(__CUDA_ARCH__)
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
        "f"(c[2]), "f"(c[3]));
#endif
}

#define TESSERA_PTX_SMEM_ADDR(p) static_cast<uint32_t>(__cvta_generic_to_shared(p))

__device__ __forceinline__ void ldmatrix_x1(uint32_t (&r)[1], const void* smem_row) {
#if defined(__CUDA_ARCH__)
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n"
               : "=r"(r[0])
               : "r"(TESSERA_PTX_SMEM_ADDR(smem_row))
               : "memory");
#endif
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t (&r)[2], const void* smem_row) {
#if defined(__CUDA_ARCH__)
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(TESSERA_PTX_SMEM_ADDR(smem_row))
               : "memory");
#endif
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem_row) {
#if defined(__CUDA_ARCH__)
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(TESSERA_PTX_SMEM_ADDR(smem_row))
               : "memory");
#endif
}
__device__ __forceinline__ void ldmatrix_x1_trans(uint32_t (&r)[1], const void* smem_row) {
#if defined(__CUDA_ARCH__)
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
               : "=r"(r[0])
               : "r"(TESSERA_PTX_SMEM_ADDR(smem_row))
               : "memory");
#endif
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t (&r)[2], const void* smem_row) {
#if defined(__CUDA_ARCH__)
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(TESSERA_PTX_SMEM_ADDR(smem_row))
               : "memory");
#endif
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem_row) {
#if defined(__CUDA_ARCH__)
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(TESSERA_PTX_SMEM_ADDR(smem_row))
               : "memory");
#endif
}

/// 16-byte global -> shared copy that bypasses registers (cp.async.cg, sm_80+).
__device__ __forceinline__ void cp_async_16(void* smem_dst, const void* gmem_src) {
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(TESSERA_PTX_SMEM_ADDR(smem_dst)),
               "l"(gmem_src)
               : "memory");
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
/// Waits until at most N of this thread's committed cp.async groups are still pending.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}
__device__ __forceinline__ void cp_async_wait_all() {
#if defined(__CUDA_ARCH__)
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

#undef TESSERA_PTX_SMEM_ADDR

#else  // cudasim

__forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4],
                                       const uint32_t (&b)[2], const float (&c)[4],
                                       std::source_location loc = std::source_location::current()) {
  ::tessera::cudasim::mma_m16n8k16(::tessera::cudasim::WarpOp::kMmaBf16, d, a, b, c, loc);
}
__forceinline__ void mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                      const float (&c)[4],
                                      std::source_location loc = std::source_location::current()) {
  ::tessera::cudasim::mma_m16n8k16(::tessera::cudasim::WarpOp::kMmaF16, d, a, b, c, loc);
}
#define TESSERA_CUDASIM_LDMATRIX(fn, count, trans)                                      \
  __forceinline__ void fn(uint32_t(&r)[count], const void* smem_row,                    \
                          std::source_location loc = std::source_location::current()) { \
    ::tessera::cudasim::ldmatrix(count, trans, r, smem_row, loc);                       \
  }
TESSERA_CUDASIM_LDMATRIX(ldmatrix_x1, 1, false)
TESSERA_CUDASIM_LDMATRIX(ldmatrix_x2, 2, false)
TESSERA_CUDASIM_LDMATRIX(ldmatrix_x4, 4, false)
TESSERA_CUDASIM_LDMATRIX(ldmatrix_x1_trans, 1, true)
TESSERA_CUDASIM_LDMATRIX(ldmatrix_x2_trans, 2, true)
TESSERA_CUDASIM_LDMATRIX(ldmatrix_x4_trans, 4, true)
#undef TESSERA_CUDASIM_LDMATRIX

__forceinline__ void cp_async_16(void* smem_dst, const void* gmem_src,
                                 std::source_location loc = std::source_location::current()) {
  ::tessera::cudasim::cp_async_16(smem_dst, gmem_src, loc);
}
__forceinline__ void cp_async_commit() { ::tessera::cudasim::cp_async_commit(); }
template <int N>
__forceinline__ void cp_async_wait() {
  ::tessera::cudasim::cp_async_wait(N);
}
__forceinline__ void cp_async_wait_all() { ::tessera::cudasim::cp_async_wait_all(); }

#endif

}  // namespace tessera::kernels::cuda
