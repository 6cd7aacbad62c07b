// SPDX-License-Identifier: Apache-2.0
/// @brief Test kernels for the tensor-core wrappers (mma.m16n8k16, ldmatrix) and cp.async.
///
/// Fragments follow the PTX ISA layouts written in tessera/kernels/cuda/ptx.h. The tests compare
/// against a float64 product of the bf16/f16-rounded inputs, and check that a deliberately wrong
/// layout gives a wrong product (so the emulation really depends on the layout).
/// Tests: test_cudasim_mma.cpp.
#include <tessera/kernels/cuda/compat.h>
#include <tessera/kernels/cuda/ptx.h>

#include "cudasim_test_kernels.h"

namespace tessera::cudasim_test {
namespace {

using tessera::kernels::cuda::cp_async_16;
using tessera::kernels::cuda::cp_async_commit;
using tessera::kernels::cuda::cp_async_wait;
using tessera::kernels::cuda::pack_bf16x2;
using tessera::kernels::cuda::pack_f16x2;

__device__ __forceinline__ uint32_t pack(bool bf16, float lo, float hi) {
  return bf16 ? pack_bf16x2(lo, hi) : pack_f16x2(lo, hi);
}

__global__ void mma_direct_kernel(const float* __restrict__ a,  // (16, 16) row-major
                                  const float* __restrict__ b,  // (16, 8) row-major [k][n]
                                  const float* __restrict__ c,  // (16, 8)
                                  float* __restrict__ d,        // (16, 8)
                                  bool bf16, bool wrong_layout) {
  const int lane = static_cast<int>(threadIdx.x);
  const int g = lane >> 2, t = lane & 3;
  uint32_t ra[4] = {
      pack(bf16, a[g * 16 + 2 * t], a[g * 16 + 2 * t + 1]),
      pack(bf16, a[(g + 8) * 16 + 2 * t], a[(g + 8) * 16 + 2 * t + 1]),
      pack(bf16, a[g * 16 + 2 * t + 8], a[g * 16 + 2 * t + 9]),
      pack(bf16, a[(g + 8) * 16 + 2 * t + 8], a[(g + 8) * 16 + 2 * t + 9]),
  };
  if (wrong_layout) {
    const uint32_t tmp = ra[1];
    ra[1] = ra[2];
    ra[2] = tmp;
  }
  const uint32_t rb[2] = {pack(bf16, b[(2 * t) * 8 + g], b[(2 * t + 1) * 8 + g]),
                          pack(bf16, b[(2 * t + 8) * 8 + g], b[(2 * t + 9) * 8 + g])};
  const float rc[4] = {c[g * 8 + 2 * t], c[g * 8 + 2 * t + 1], c[(g + 8) * 8 + 2 * t],
                       c[(g + 8) * 8 + 2 * t + 1]};
  float rd[4];
  if (bf16) {
    tessera::kernels::cuda::mma_m16n8k16_bf16(rd, ra, rb, rc);
  } else {
    tessera::kernels::cuda::mma_m16n8k16_f16(rd, ra, rb, rc);
  }
  d[g * 8 + 2 * t] = rd[0];
  d[g * 8 + 2 * t + 1] = rd[1];
  d[(g + 8) * 8 + 2 * t] = rd[2];
  d[(g + 8) * 8 + 2 * t + 1] = rd[3];
}

__global__ void mma_ldmatrix_kernel(const float* __restrict__ a,  // (16, 16) row-major
                                    const float* __restrict__ b,  // (16, 16) row-major [k][n]
                                    float* __restrict__ d,        // (16, 16)
                                    int variant) {
  __shared__ __align__(16) unsigned short sa[16][16];   // A
  __shared__ __align__(16) unsigned short sb[16][16];   // B [k][n]
  __shared__ __align__(16) unsigned short sbt[16][16];  // B^T [n][k]
  const int lane = static_cast<int>(threadIdx.x);
  for (int i = lane; i < 256; i += 32) {
    const int r = i / 16, col = i % 16;
    sa[r][col] = __bfloat16_as_ushort(__float2bfloat16(a[i]));
    sb[r][col] = __bfloat16_as_ushort(__float2bfloat16(b[i]));
    sbt[col][r] = sb[r][col];
  }
  __syncwarp();

  uint32_t ra[4];
  uint32_t rb[2][2];  // [n-tile][register]
  if (variant == 0 || variant == 1 || variant == 4) {
    tessera::kernels::cuda::ldmatrix_x4(ra, &sa[lane % 16][(lane / 16) * 8]);
    uint32_t r[4];
    if (variant == 0) {
      tessera::kernels::cuda::ldmatrix_x4(r,
                                          &sbt[lane % 8 + (lane / 16) * 8][((lane / 8) % 2) * 8]);
    } else if (variant == 1) {
      tessera::kernels::cuda::ldmatrix_x4_trans(
          r, &sb[lane % 8 + ((lane / 8) % 2) * 8][(lane / 16) * 8]);
    } else {
      tessera::kernels::cuda::ldmatrix_x4(r, &sb[lane % 8 + ((lane / 8) % 2) * 8][(lane / 16) * 8]);
    }
    rb[0][0] = r[0];
    rb[0][1] = r[1];
    rb[1][0] = r[2];
    rb[1][1] = r[3];
  } else if (variant == 2) {
    uint32_t lo[2], hi[2];
    tessera::kernels::cuda::ldmatrix_x2(lo, &sa[lane % 16][0]);
    tessera::kernels::cuda::ldmatrix_x2(hi, &sa[lane % 16][8]);
    ra[0] = lo[0];
    ra[1] = lo[1];
    ra[2] = hi[0];
    ra[3] = hi[1];
    for (int nt = 0; nt < 2; ++nt)
      tessera::kernels::cuda::ldmatrix_x2_trans(rb[nt], &sb[lane % 16][nt * 8]);
  } else {
    for (int i = 0; i < 4; ++i) {
      uint32_t r[1];
      tessera::kernels::cuda::ldmatrix_x1(r, &sa[lane % 8 + 8 * (i & 1)][8 * (i >> 1)]);
      ra[i] = r[0];
    }
    for (int nt = 0; nt < 2; ++nt) {
      for (int j = 0; j < 2; ++j) {
        uint32_t r[1];
        tessera::kernels::cuda::ldmatrix_x1_trans(r, &sb[lane % 8 + 8 * j][nt * 8]);
        rb[nt][j] = r[0];
      }
    }
  }
  const int g = lane >> 2, t = lane & 3;
  for (int nt = 0; nt < 2; ++nt) {
    const float zero[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const uint32_t bfrag[2] = {rb[nt][0], rb[nt][1]};
    float rd[4];
    tessera::kernels::cuda::mma_m16n8k16_bf16(rd, ra, bfrag, zero);
    d[g * 16 + nt * 8 + 2 * t] = rd[0];
    d[g * 16 + nt * 8 + 2 * t + 1] = rd[1];
    d[(g + 8) * 16 + nt * 8 + 2 * t] = rd[2];
    d[(g + 8) * 16 + nt * 8 + 2 * t + 1] = rd[3];
  }
}

__global__ void cp_async_kernel(const float* __restrict__ x, float* __restrict__ y,
                                bool wait_first) {
  TESSERA_DYNAMIC_SMEM(float, s);  // (512)
  const int t = static_cast<int>(threadIdx.x);
  const int base = static_cast<int>(blockIdx.x) * 512;
  cp_async_16(&s[4 * t], &x[base + 4 * t]);
  cp_async_commit();
  cp_async_16(&s[256 + 4 * t], &x[base + 256 + 4 * t]);
  cp_async_commit();
  if (wait_first) cp_async_wait<1>();  // the first group has landed, the second may not have
  __syncthreads();
  const int other = 63 - t;  // read another thread's chunk: needs the barrier as well
  for (int k = 0; k < 4; ++k) y[base + 4 * other + k] = s[4 * other + k];
  cp_async_wait<0>();
  __syncthreads();
  for (int k = 0; k < 4; ++k) y[base + 256 + 4 * other + k] = s[256 + 4 * other + k];
}

}  // namespace

void mma_direct(const float* a, const float* b, const float* c, float* d, bool bf16,
                bool wrong_layout) {
  TESSERA_LAUNCH(mma_direct_kernel, 1, 32, 0, nullptr)(a, b, c, d, bf16, wrong_layout);
}

void mma_ldmatrix(const float* a, const float* b, float* d, int variant) {
  TESSERA_CHECK(variant >= 0 && variant <= 4, "mma_ldmatrix: variant 0..4, got ", variant);
  TESSERA_LAUNCH(mma_ldmatrix_kernel, 1, 32, 0, nullptr)(a, b, d, variant);
}

void cp_async_copy(const float* x, float* y, int n, bool wait_first) {
  TESSERA_CHECK(n % 512 == 0, "cp_async_copy: n must be a multiple of 512, got ", n);
  TESSERA_LAUNCH(cp_async_kernel, n / 512, 64, 512 * sizeof(float), nullptr)(x, y, wait_first);
}

}  // namespace tessera::cudasim_test
