// SPDX-License-Identifier: Apache-2.0
/// @brief Host launchers of the cudasim test kernels (.cu files for both nvcc and cudasim).
///
/// Pointers are device pointers; under cudasim device memory is host memory, so the tests pass
/// std::vector data directly. Every launcher uses TESSERA_LAUNCH and throws tessera::Error on
/// failure.
#pragma once

#include <cstdint>

namespace tessera::cudasim_test {

constexpr int kReduceThreads = 256;

/// block_sums[b] = sum of x[b*256 .. b*256+255] (zero-padded past n): static smem tree reduction.
void block_sum(const float* x, int n, float* block_sums, int blocks);

/// Per warp segment of `width` lanes (blocks of 96 threads, n a multiple of 96):
///   scan_up = inclusive prefix sum (shfl_up), suffix_down = inclusive suffix sum (shfl_down),
///   total_xor = segment sum (xor butterfly), bcast_idx = x[segment base + src % width] (shfl idx),
///   raw_up/raw_down = __shfl_up_sync(x, 3)/__shfl_down_sync(x, 5), raw_xor = __shfl_xor_sync(x,
///   xor_mask), all with `width`; reduce_add/reduce_max = __reduce_*_sync over the whole warp.
struct ShuffleOut {
  int* scan_up;
  int* suffix_down;
  int* total_xor;
  int* bcast_idx;
  int* raw_up;
  int* raw_down;
  int* raw_xor;
  int* reduce_add;
  int* reduce_max;
};
void warp_shuffles(const int* x, int n, int width, int src, int xor_mask, ShuffleOut out);

/// y = x with each chunk of `chunk` elements reversed, through dynamic shared memory (one block of
/// `chunk` threads per chunk, smem = chunk floats + chunk ints).
void reverse_chunks(const float* x, float* y, int n, int chunk);

/// Fills `bytes` of dynamic shared memory (> 48 KiB needs the attribute) and writes each block's
/// byte checksum to out[block]. set_attribute: whether to call cudaFuncSetAttribute first.
void large_dynamic_smem(uint32_t* out, int blocks, int bytes, bool set_attribute);

/// bins[v] += count of v in x (shared-memory histogram per block, then global atomics across many
/// blocks); also max/min of x, sum of x (double), sum of x/64 (float), an atomicCAS-claimed index
/// per bin (first_index) and an atomicExch'd index per bin (last_index).
struct HistogramOut {
  unsigned* bins;
  int* max_value;
  int* min_value;
  double* sum;
  float* sum_scaled;
  int* first_index;
  int* last_index;
};
void histogram(const int* x, int n, int nbins, int blocks, HistogramOut out);

/// Blocks of 80 threads (the third warp has 16 lanes). Per warp w of block b (index b*3+w):
/// ballots = __ballot_sync(x > threshold), anys, alls; per block: __syncthreads_count/and/or.
struct VoteOut {
  unsigned* ballots;
  int* anys;
  int* alls;
  int* counts;
  int* ands;
  int* ors;
};
void votes(const int* x, int n, int threshold, VoteOut out);

/// Neighbour exchange through shared memory WITHOUT a barrier: deliberately racy, its result
/// depends on the schedule (the schedule tests must see that).
void racy_neighbour(const int* x, int* y, int n);

/// y[i] = x[partner(i)] exchanged through shared memory, blocks of 64 threads. mode 0: partner
/// i^1, no synchronisation (race); 1: partner i^1 after __syncwarp (ordered: same warp);
/// 2: partner i^32 after __syncwarp (race: other warp); 3: partner i^32 after __syncthreads.
void neighbour_exchange(const int* x, int* y, int n, int mode);

/// Whether these kernels were compiled for cudasim's race checker (RACE_CHECK, not under ASan).
bool race_check_instrumented();

/// One warp: D(16x8) = A(16x16) * B(16x8) + C with A, B rounded to bf16 (or f16); fragments read
/// straight from global memory in the PTX layout. wrong_layout swaps A's registers 1 and 2.
void mma_direct(const float* a, const float* b, const float* c, float* d, bool bf16,
                bool wrong_layout);

/// One warp: D(16x16) = A(16x16) * B(16x16) (row-major, bf16) with fragments loaded by ldmatrix.
/// variant 0: A x4, B^T x4;  1: A x4, B x4.trans;  2: A 2 x2, B x2.trans;  3: A 4 x1, B x1.trans;
/// 4 (deliberately wrong): B x4 without .trans from row-major B.
void mma_ldmatrix(const float* a, const float* b, float* d, int variant);

/// y = x through shared memory staged by cp.async (16-byte chunks), one block of 64 threads per
/// 256 floats. wait_first = false reads shared memory before cp.async.wait (deliberately wrong).
void cp_async_copy(const float* x, float* y, int n, bool wait_first);

/// Kernels that misuse barriers, warp collectives or shared memory; each launch must throw.
enum class Misuse {
  kBarrierAfterExit,       ///< half the block returns, the rest call __syncthreads
  kBarrierDifferentSites,  ///< odd and even threads wait at different __syncthreads
  kShuffleLaneNotInMask,   ///< lane 5 calls __shfl_sync with mask 0x1
  kShuffleMasksDiffer,     ///< lanes 0-15 use mask 0xffffffff, lanes 16-31 0xffff0000
  kShuffleExitedLane,      ///< lanes 16-31 return, lanes 0-15 shuffle with the full mask
  kShuffleBadWidth,        ///< width 3
  kShuffleVsBarrier,       ///< lane 31 waits at __syncthreads while lanes 0-30 shuffle with it
  kDynamicSmemOverflow,    ///< writes one float past the dynamic shared memory
  kMmaPartialWarp,         ///< mma with a 16-thread block
  kTrap,                   ///< __trap()
};
void misuse(Misuse what);

/// Device math, 12 outputs per element (out[12*i + k]): __expf, expf, rsqrtf, __fdividef(x, 3),
/// exp2f, fmaf(x, x, 1), __logf(|x|+1), tanhf, erff, __frcp_rn, fmaxf(x, 0.5), fminf(x, 0.5).
/// Round trips: bf16[i] = __bfloat162float(__float2bfloat16(x)), f16[i] likewise through __half.
constexpr int kMathOutputs = 12;
void math_intrinsics(const float* x, int n, float* out, float* bf16, float* f16);

/// Launch configuration errors: block of 2048 threads.
void launch_too_many_threads();

/// One block per element, n blocks of `threads`: y[b] = number of barriers passed (for timing).
void barrier_loop(int* y, int blocks, int threads, int iterations);

/// y[b] = sum over iterations of a full-warp __shfl_xor_sync (for timing).
void shuffle_loop(int* y, int blocks, int threads, int iterations);

}  // namespace tessera::cudasim_test
