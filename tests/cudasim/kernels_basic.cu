// SPDX-License-Identifier: Apache-2.0
/// @brief Test kernels for cudasim: shared memory, barriers, shuffles, atomics, votes, math.
///
/// Compiled by nvcc (scripts/nvcc_check.sh) and by g++ against cudasim (tests/cudasim). Each kernel
/// is written so its result depends on the feature it tests: a missing barrier, a wrong shuffle
/// segment or a lost atomic changes the output. Tests: test_cudasim_basic.cpp.
#include <tessera/kernels/cuda/check.h>
#include <tessera/kernels/cuda/compat.h>

#include "cudasim_test_kernels.h"

namespace tessera::cudasim_test {
namespace {

constexpr unsigned kFull = 0xffffffffu;

__global__ void block_sum_kernel(const float* __restrict__ x, int n, float* __restrict__ sums) {
  __shared__ __align__(16) float s[kReduceThreads];  // (256)
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  s[threadIdx.x] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) s[threadIdx.x] += s[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) sums[blockIdx.x] = s[0];
}

__global__ void warp_shuffle_kernel(const int* __restrict__ x, int width, int src, int xor_mask,
                                    ShuffleOut out) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int seg_lane = lane % width;
  const int v0 = x[i];
  int up = v0;
  for (int d = 1; d < width; d *= 2) {
    const int t = __shfl_up_sync(kFull, up, d, width);
    if (seg_lane >= d) up += t;
  }
  int down = v0;
  for (int d = 1; d < width; d *= 2) {
    const int t = __shfl_down_sync(kFull, down, d, width);
    if (seg_lane + d < width) down += t;
  }
  int total = v0;
  for (int m = width / 2; m >= 1; m /= 2) total += __shfl_xor_sync(kFull, total, m, width);
  out.scan_up[i] = up;
  out.suffix_down[i] = down;
  out.total_xor[i] = total;
  out.bcast_idx[i] = __shfl_sync(kFull, v0, src, width);
  out.raw_up[i] = __shfl_up_sync(kFull, v0, 3, width);
  out.raw_down[i] = __shfl_down_sync(kFull, v0, 5, width);
  out.raw_xor[i] = __shfl_xor_sync(kFull, v0, xor_mask, width);
  out.reduce_add[i] = __reduce_add_sync(kFull, v0);
  out.reduce_max[i] = __reduce_max_sync(kFull, v0);
}

__global__ void reverse_chunks_kernel(const float* __restrict__ x, float* __restrict__ y, int n) {
  TESSERA_DYNAMIC_SMEM(float, s);                     // (chunk) floats, then
  int* idx = reinterpret_cast<int*>(s + blockDim.x);  // (chunk) ints
  const int base = static_cast<int>(blockIdx.x * blockDim.x);
  const int t = static_cast<int>(threadIdx.x);
  s[t] = base + t < n ? x[base + t] : 0.0f;
  idx[t] = base + t;
  __syncthreads();
  const int r = static_cast<int>(blockDim.x) - 1 - t;
  if (base + t < n && idx[r] == base + r) y[base + t] = s[r];
}

__global__ void large_smem_kernel(uint32_t* out, int bytes) {
  TESSERA_DYNAMIC_SMEM(unsigned char, s);  // (bytes)
  for (int i = static_cast<int>(threadIdx.x); i < bytes; i += static_cast<int>(blockDim.x))
    s[i] = static_cast<unsigned char>((i * 7 + blockIdx.x) & 0xFF);
  __syncthreads();
  if (threadIdx.x == 0) {
    uint32_t sum = 0;
    for (int i = 0; i < bytes; ++i) sum = sum * 31u + s[i];
    out[blockIdx.x] = sum;
  }
}

__global__ void histogram_kernel(const int* __restrict__ x, int n, int nbins, HistogramOut out) {
  __shared__ unsigned local[256];
  for (int b = static_cast<int>(threadIdx.x); b < nbins; b += static_cast<int>(blockDim.x))
    local[b] = 0;
  __syncthreads();
  const int stride = static_cast<int>(gridDim.x * blockDim.x);
  for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < n; i += stride) {
    const int v = x[i];
    atomicAdd(&local[v], 1u);
    atomicMax(out.max_value, v);
    atomicMin(out.min_value, v);
    atomicAdd(out.sum, static_cast<double>(v));
    atomicAdd(out.sum_scaled, static_cast<float>(v) / 64.0f);
    atomicCAS(&out.first_index[v], -1, i);
    atomicExch(&out.last_index[v], i);
  }
  __syncthreads();
  for (int b = static_cast<int>(threadIdx.x); b < nbins; b += static_cast<int>(blockDim.x))
    if (local[b] != 0) atomicAdd(&out.bins[b], local[b]);
}

__global__ void votes_kernel(const int* __restrict__ x, int n, int threshold, VoteOut out) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int pred = i < n && x[i] > threshold;
  const unsigned ballot = __ballot_sync(kFull, pred);
  const int any = __any_sync(kFull, pred);
  const int all = __all_sync(kFull, pred);
  const int warp = static_cast<int>(blockIdx.x * ((blockDim.x + 31) / 32) + threadIdx.x / 32);
  if (threadIdx.x % 32 == 0) {
    out.ballots[warp] = ballot;
    out.anys[warp] = any;
    out.alls[warp] = all;
  }
  const int count = __syncthreads_count(pred);
  const int and_all = __syncthreads_and(pred);
  const int or_any = __syncthreads_or(pred);
  if (threadIdx.x == 0) {
    out.counts[blockIdx.x] = count;
    out.ands[blockIdx.x] = and_all;
    out.ors[blockIdx.x] = or_any;
  }
}

__global__ void racy_neighbour_kernel(const int* __restrict__ x, int* __restrict__ y, int n) {
  __shared__ int s[64];
  const int t = static_cast<int>(threadIdx.x);
  s[t] = -1;
  __syncthreads();
  s[t] = x[blockIdx.x * blockDim.x + t];
  // BUG on purpose: no __syncwarp/__syncthreads between the write above and this read.
  y[blockIdx.x * blockDim.x + t] = s[t ^ 1];
}

__global__ void neighbour_exchange_kernel(const int* __restrict__ x, int* __restrict__ y,
                                          int mode) {
  __shared__ int s[64];
  const int t = static_cast<int>(threadIdx.x);
  const int i = static_cast<int>(blockIdx.x * blockDim.x) + t;
  s[t] = x[i];
  if (mode == 1 || mode == 2) __syncwarp();
  if (mode == 3) __syncthreads();
  y[i] = s[mode >= 2 ? t ^ 32 : t ^ 1];
}

__global__ void barrier_loop_kernel(int* y, int iterations) {
  int passed = 0;
  for (int it = 0; it < iterations; ++it) {
    __syncthreads();
    ++passed;
  }
  if (threadIdx.x == 0) y[blockIdx.x] = passed;
}

__global__ void math_kernel(const float* __restrict__ x, int n, float* __restrict__ out,
                            float* __restrict__ bf16, float* __restrict__ f16) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  const float v = x[i];
  float* o = out + kMathOutputs * i;
  o[0] = __expf(v);
  o[1] = expf(v);
  o[2] = rsqrtf(fabsf(v) + 0.25f);
  o[3] = __fdividef(v, 3.0f);
  o[4] = exp2f(v);
  o[5] = fmaf(v, v, 1.0f);
  o[6] = __logf(fabsf(v) + 1.0f);
  o[7] = tanhf(v);
  o[8] = erff(v);
  o[9] = __frcp_rn(v);
  o[10] = fmaxf(v, 0.5f);
  o[11] = fminf(v, 0.5f);
  bf16[i] = __bfloat162float(__float2bfloat16(v));
  f16[i] = __half2float(__float2half(v));
}

__global__ void shuffle_loop_kernel(int* y, int iterations) {
  int v = static_cast<int>(threadIdx.x);
  for (int it = 0; it < iterations; ++it) v += __shfl_xor_sync(kFull, v, it & 31) & 1;
  if (threadIdx.x == 0) y[blockIdx.x] = v;
}

}  // namespace

void shuffle_loop(int* y, int blocks, int threads, int iterations) {
  TESSERA_LAUNCH(shuffle_loop_kernel, blocks, threads, 0, nullptr)(y, iterations);
}

void math_intrinsics(const float* x, int n, float* out, float* bf16, float* f16) {
  TESSERA_LAUNCH(math_kernel, (n + 127) / 128, 128, 0, nullptr)(x, n, out, bf16, f16);
}

void block_sum(const float* x, int n, float* block_sums, int blocks) {
  TESSERA_LAUNCH(block_sum_kernel, blocks, kReduceThreads, 0, nullptr)(x, n, block_sums);
}

void warp_shuffles(const int* x, int n, int width, int src, int xor_mask, ShuffleOut out) {
  TESSERA_CHECK(n % 96 == 0, "warp_shuffles: n must be a multiple of 96, got ", n);
  TESSERA_LAUNCH(warp_shuffle_kernel, n / 96, 96, 0, nullptr)(x, width, src, xor_mask, out);
}

void reverse_chunks(const float* x, float* y, int n, int chunk) {
  const int blocks = (n + chunk - 1) / chunk;
  const size_t smem = static_cast<size_t>(chunk) * (sizeof(float) + sizeof(int));
  TESSERA_LAUNCH(reverse_chunks_kernel, blocks, chunk, smem, nullptr)(x, y, n);
}

void large_dynamic_smem(uint32_t* out, int blocks, int bytes, bool set_attribute) {
  if (set_attribute) {
    TESSERA_CUDA_CHECK(cudaFuncSetAttribute(large_smem_kernel,
                                            cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  }
  TESSERA_LAUNCH(large_smem_kernel, blocks, 128, bytes, nullptr)(out, bytes);
}

void histogram(const int* x, int n, int nbins, int blocks, HistogramOut out) {
  TESSERA_CHECK(nbins <= 256, "histogram: at most 256 bins, got ", nbins);
  TESSERA_LAUNCH(histogram_kernel, blocks, 128, 0, nullptr)(x, n, nbins, out);
}

void votes(const int* x, int n, int threshold, VoteOut out) {
  TESSERA_LAUNCH(votes_kernel, (n + 79) / 80, 80, 0, nullptr)(x, n, threshold, out);
}

void racy_neighbour(const int* x, int* y, int n) {
  TESSERA_CHECK(n % 64 == 0, "racy_neighbour: n must be a multiple of 64, got ", n);
  TESSERA_LAUNCH(racy_neighbour_kernel, n / 64, 64, 0, nullptr)(x, y, n);
}

void neighbour_exchange(const int* x, int* y, int n, int mode) {
  TESSERA_CHECK(n % 64 == 0, "neighbour_exchange: n must be a multiple of 64, got ", n);
  TESSERA_LAUNCH(neighbour_exchange_kernel, n / 64, 64, 0, nullptr)(x, y, mode);
}

bool race_check_instrumented() {
#if defined(TESSERA_CUDASIM_RACE_INSTRUMENTED)
  return true;
#else
  return false;
#endif
}

void barrier_loop(int* y, int blocks, int threads, int iterations) {
  TESSERA_LAUNCH(barrier_loop_kernel, blocks, threads, 0, nullptr)(y, iterations);
}

}  // namespace tessera::cudasim_test
