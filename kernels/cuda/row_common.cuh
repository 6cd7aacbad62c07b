// SPDX-License-Identifier: Apache-2.0
/// @brief Private helpers of the row kernels (layer_norm.cu, softmax.cu): a warp or a group of
/// warps per row, 16-byte vector loads, register-cached rows, deterministic group reductions.
///
// NOTE [row groups]: a row of C elements is owned by a group of kWarps warps (1: warp per row,
//   several rows per block; 8: block per row). Thread `t` of the group (nt = 32 * kWarps threads)
//   owns vectors vi = t, t + nt, t + 2 nt, ... of V consecutive elements (V = 16 / sizeof(T) when
//   every pointer is 16-byte aligned and C % V == 0, else 1). The first kSlots of those vectors are
//   kept in registers (RowCache), so a row up to kSlots * V * nt elements is read from memory once;
//   longer rows re-read the overflow from global memory (L2) in later passes. The column owned by
//   a register slot does not depend on the row, and every reduction is a fixed butterfly
//   (__shfl_xor_sync) plus, for several warps, a fixed-order sum of the warp results in shared
//   memory: results are bit-identical run to run and identical in every lane.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include <tessera/error.h>
#include <tessera/kernels/cuda/types.h>

/// `#pragma unroll` for nvcc; nothing for g++ (cudasim), which warns about the unknown pragma.
#if defined(__CUDACC__)
#define TESSERA_UNROLL _Pragma("unroll")
#else
#define TESSERA_UNROLL
#endif

namespace tessera::kernels::cuda::rows {

constexpr unsigned kFullMask = 0xffffffffu;

/// The accumulation type: double for double storage, float otherwise.
template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename A, typename T>
__device__ __forceinline__ A to_acc(T v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return static_cast<A>(__bfloat162float(v));
  else if constexpr (std::is_same_v<T, __half>)
    return static_cast<A>(__half2float(v));
  else
    return static_cast<A>(v);
}

/// Rounds once to the storage type (round to nearest even).
template <typename T, typename A>
__device__ __forceinline__ T from_acc(A v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __float2bfloat16_rn(static_cast<float>(v));
  else if constexpr (std::is_same_v<T, __half>)
    return __float2half_rn(static_cast<float>(v));
  else
    return static_cast<T>(v);
}

/// exp / log / 1/sqrt in A's precision (the accurate routines, not the __expf approximations).
template <typename A>
__device__ __forceinline__ A exp_acc(A v) {
  if constexpr (std::is_same_v<A, double>)
    return exp(v);
  else
    return expf(v);
}
template <typename A>
__device__ __forceinline__ A log_acc(A v) {
  if constexpr (std::is_same_v<A, double>)
    return log(v);
  else
    return logf(v);
}
template <typename A>
__device__ __forceinline__ A rsqrt_acc(A v) {
  if constexpr (std::is_same_v<A, double>)
    return 1.0 / sqrt(v);
  else
    return 1.0f / sqrtf(v);  // correctly rounded (rsqrtf is an approximation)
}

/// V elements moved as one 16-byte (or smaller) access.
template <typename T, int V>
struct __align__(sizeof(T) * V) Pack {
  T v[V];
};

/// Loads V elements at p (aligned to sizeof(T) * V) widened to A.
template <typename T, typename A, int V>
__device__ __forceinline__ void load_vec(const T* p, A* out) {
  const Pack<T, V> pk = *reinterpret_cast<const Pack<T, V>*>(p);
  TESSERA_UNROLL
  for (int e = 0; e < V; ++e) out[e] = to_acc<A>(pk.v[e]);
}

/// Stores V values rounded to T at p.
template <typename T, typename A, int V>
__device__ __forceinline__ void store_vec(T* p, const A* in) {
  Pack<T, V> pk;
  TESSERA_UNROLL
  for (int e = 0; e < V; ++e) pk.v[e] = from_acc<T>(in[e]);
  *reinterpret_cast<Pack<T, V>*>(p) = pk;
}

/// Sum over the warp: a butterfly, so every lane gets the same bits.
template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
  TESSERA_UNROLL
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
template <typename A>
__device__ __forceinline__ A warp_max(A v) {
  TESSERA_UNROLL
  for (int o = 16; o > 0; o >>= 1) {
    const A u = __shfl_xor_sync(kFullMask, v, o);
    v = u > v ? u : v;
  }
  return v;
}

/// Sum over the group of kWarps warps owning a row. `sh` holds kWarps values of this group; the
/// whole group calls this (a barrier when kWarps > 1, so the block is one group then).
template <int kWarps, typename A>
__device__ __forceinline__ A group_sum(A v, A* sh) {
  v = warp_sum(v);
  if constexpr (kWarps == 1) {
    return v;
  } else {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    A s = 0;
    TESSERA_UNROLL
    for (int w = 0; w < kWarps; ++w) s += sh[w];  // fixed order
    __syncthreads();                              // sh is reused by the next reduction
    return s;
  }
}

/// Online-softmax pair (running max m, sum of exp(z - m)); merged in a fixed butterfly.
template <typename A>
struct MaxSum {
  A m, s;
};

template <typename A>
__device__ __forceinline__ MaxSum<A> merge(MaxSum<A> a, MaxSum<A> b) {
  const A m = a.m > b.m ? a.m : b.m;
  if (m == -INFINITY) return {m, A(0)};  // both empty: avoid exp(-inf - -inf) = NaN
  // exp(-inf) = 0 drops an empty side; commutative, so both butterfly partners agree bitwise.
  const A sa = a.m == m ? a.s : a.s * exp_acc(a.m - m);
  const A sb = b.m == m ? b.s : b.s * exp_acc(b.m - m);
  return {m, sa + sb};
}

template <int kWarps, typename A>
__device__ __forceinline__ MaxSum<A> group_max_sum(MaxSum<A> v, A* sh_m, A* sh_s) {
  TESSERA_UNROLL
  for (int o = 16; o > 0; o >>= 1) {
    const MaxSum<A> u{__shfl_xor_sync(kFullMask, v.m, o), __shfl_xor_sync(kFullMask, v.s, o)};
    v = merge(v, u);
  }
  if constexpr (kWarps == 1) {
    return v;
  } else {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
      sh_m[warp] = v.m;
      sh_s[warp] = v.s;
    }
    __syncthreads();
    MaxSum<A> r{sh_m[0], sh_s[0]};
    TESSERA_UNROLL
    for (int w = 1; w < kWarps; ++w) r = merge(r, MaxSum<A>{sh_m[w], sh_s[w]});
    __syncthreads();
    return r;
  }
}

/// Threads per block: 4 one-warp groups, or one group of kWarps warps.
template <int kWarps>
constexpr int kBlockThreads = kWarps == 1 ? 128 : 32 * kWarps;
constexpr int kWarpRowMaxCols = 1024;  // above: a block per row
constexpr int kBlockWarps = 8;

// ---- host side: dtype and mapping dispatch

template <typename F>
void visit_float(const char* op, ScalarType t, F&& f) {
  switch (t) {
    case ScalarType::kFloat32:
      return f.template operator()<float>();
    case ScalarType::kFloat64:
      return f.template operator()<double>();
    case ScalarType::kBFloat16:
      return f.template operator()<__nv_bfloat16>();
    case ScalarType::kFloat16:
      return f.template operator()<__half>();
    default:
      TESSERA_FAIL(op, ": needs float32, float64, bfloat16 or float16 storage, got scalar type ",
                   static_cast<int>(t));
  }
}

inline bool aligned16(std::initializer_list<const void*> ps) {
  for (const void* p : ps)
    if (p && reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

/// Calls f.template operator()<V, kWarps>() for the row mapping of (cols, alignment).
template <typename T, typename F>
void visit_mapping(int64_t cols, bool aligned, F&& f) {
  constexpr int kVec = 16 / static_cast<int>(sizeof(T));
  const bool vec = aligned && cols % kVec == 0;
  const bool warp = cols <= kWarpRowMaxCols;
  if (vec && warp) return f.template operator()<kVec, 1>();
  if (vec) return f.template operator()<kVec, kBlockWarps>();
  if (warp) return f.template operator()<1, 1>();
  return f.template operator()<1, kBlockWarps>();
}

inline unsigned row_grid(int64_t n_rows, int groups_per_block) {
  const int64_t blocks = (n_rows + groups_per_block - 1) / groups_per_block;
  return static_cast<unsigned>(blocks < (1 << 20) ? blocks : (1 << 20));
}

}  // namespace tessera::kernels::cuda::rows
