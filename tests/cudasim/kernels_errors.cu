// SPDX-License-Identifier: Apache-2.0
/// @brief Deliberately wrong kernels: each misuse must come back from the launch as tessera::Error.
///
/// On a GPU these hang, corrupt memory or give undefined results; cudasim must name the problem.
/// Tests: test_cudasim_errors.cpp.
#include <tessera/kernels/cuda/compat.h>
#include <tessera/kernels/cuda/ptx.h>

#include "cudasim_test_kernels.h"

namespace tessera::cudasim_test {
namespace {

constexpr unsigned kFull = 0xffffffffu;

__global__ void misuse_kernel(Misuse what, int* out) {
  const int t = static_cast<int>(threadIdx.x);
  int v = t;
  switch (what) {
    case Misuse::kBarrierAfterExit:
      if (t >= 32) return;
      __syncthreads();
      break;
    case Misuse::kBarrierDifferentSites:
      if (t % 2) {
        __syncthreads();
      } else {
        __syncthreads();
      }
      break;
    case Misuse::kShuffleLaneNotInMask:
      if (t == 5) v = __shfl_sync(0x1u, v, 0);
      break;
    case Misuse::kShuffleMasksDiffer:
      v = __shfl_sync(t < 16 ? kFull : 0xffff0000u, v, 0);
      break;
    case Misuse::kShuffleExitedLane:
      if (t >= 16) return;
      v = __shfl_sync(kFull, v, 0);
      break;
    case Misuse::kShuffleBadWidth:
      v = __shfl_sync(kFull, v, 0, 3);
      break;
    case Misuse::kShuffleVsBarrier:
      if (t == 31) {
        __syncthreads();
      } else {
        v = __shfl_sync(kFull, v, 0);
      }
      break;
    case Misuse::kDynamicSmemOverflow: {
      TESSERA_DYNAMIC_SMEM(float, s);  // (blockDim.x) floats
      s[t + 1] = 1.0f;                 // BUG on purpose: the last thread writes past the end
      break;
    }
    case Misuse::kMmaPartialWarp: {
      const uint32_t a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
      const float c[4] = {0, 0, 0, 0};
      float d[4];
      tessera::kernels::cuda::mma_m16n8k16_bf16(d, a, b, c);
      v = static_cast<int>(d[0]);
      break;
    }
    case Misuse::kTrap:
      if (t == 3) __trap();
      break;
  }
  out[t] = v;
}

__global__ void noop_kernel(int* out) { out[threadIdx.x] = 0; }

}  // namespace

void misuse(Misuse what) {
  static int out[64];
  int threads = 64;
  if (what == Misuse::kShuffleLaneNotInMask || what == Misuse::kShuffleMasksDiffer ||
      what == Misuse::kShuffleExitedLane || what == Misuse::kShuffleBadWidth ||
      what == Misuse::kShuffleVsBarrier) {
    threads = 32;
  } else if (what == Misuse::kMmaPartialWarp) {
    threads = 16;
  }
  const size_t smem = what == Misuse::kDynamicSmemOverflow ? threads * sizeof(float) : 0;
  TESSERA_LAUNCH(misuse_kernel, 1, threads, smem, nullptr)(what, out);
}

void launch_too_many_threads() {
  static int out[2048];
  TESSERA_LAUNCH(noop_kernel, 1, 2048, 0, nullptr)(out);
}

}  // namespace tessera::cudasim_test
