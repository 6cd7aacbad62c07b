// SPDX-License-Identifier: Apache-2.0
/// @brief Fused scaled-dot-product attention on CUDA (FlashAttention-2 tiling), forward and
/// backward.
//
// attention.cu: o = softmax(scale q k^T + causal mask) v, lse = logsumexp of each scaled row;
//          S = q k^T is never written to global memory.
// Shapes:  q, o (B, H, Tq, D); k, v (B, H, Tk, D), contiguous; lse (B, H, Tq) float32 (float64
//          for float64); D in {32, 64, 128} (template parameter).
// Forward, tensor cores (bf16/f16, 16-byte aligned operands): one block of 4 warps per
//          (b h, 64 query rows); each warp owns 16 rows. Q is staged in shared memory once and
//          kept in registers as mma A fragments (ldmatrix.x4); for each key tile of 64 rows, K and
//          V are staged in shared memory (rows padded by 16 bytes: conflict-free ldmatrix),
//          S (16 x 64 per warp) = Q K^T by mma.sync m16n8k16 (K fragments by ldmatrix.x4),
//          online softmax in registers (row max/sum over the 4 lanes sharing a row: 2 xor
//          shuffles), then P is repacked from the C layout into A fragments (bf16/f16) and
//          O += P V (V fragments by ldmatrix.x4.trans). f32 accumulation throughout.
// Forward, SIMT (float32, float64; 16-bit fallback): one block of 128 threads per (b h, 32
//          query rows); key tiles of 32 rows; Q, K, V, S in shared memory (rows padded to D + 1:
//          conflict-free column walks); S by FMA loops (lane = key), softmax one warp per row
//          (lane = key), O accumulated in registers (4 threads per row, D/4 columns each).
// Causal:  top-left (query i sees keys j <= i); key tiles past a query tile's last row are
//          skipped (half the work). Rows that see no key get o = 0, lse = -inf (the CPU's rule).
// Backward (FA2, recompute, no atomics): D_i = rowsum(dO_i O_i) (one warp per row); kernel
//          dK/dV: one block per (b h, key tile), looping over the query tiles that see it,
//          recomputing P = exp(scale S - lse) and dS = P (dP - D_i) scale; dV += P^T dO,
//          dK += dS^T Q in registers; kernel dQ: one block per (b h, query tile), looping over
//          key tiles, dQ += dS K. Tensor cores for bf16/f16 (64-row tiles, 4 warps x 16 rows; the
//          dK/dV kernel works on S^T = K Q^T so P^T and dS^T are A fragments straight from the
//          accumulators); SIMT (32-row tiles, S/dS in shared memory) for f32/f64 and misaligned
//          16-bit. Recomputing S/dP in both kernels (2 extra GEMM-equivalents) buys determinism:
//          no float atomics, every output element has one writer summing in a fixed order.
// Dropout: keep(b, h, i, j) = uniform_float(Philox(seed, offset + idx / 4)[idx % 4]) >= p with
//          idx = ((b H + h) Tq + i) Tk + j, exactly the CPU kernel's; l and lse use the undropped
//          P, O uses P keep / (1 - p); the backward regenerates the mask.
// Cost:    forward 4 B H Tq Tk D FLOP (2 GEMMs), backward 10 B H Tq Tk D (5 GEMMs; 2 more are
//          recomputed: 14 B H Tq Tk D executed); both halve with causal. Bytes: q, k, v, o once
//          from the block's view (K/V re-read per query tile, from L2): compute-bound for D >= 32.
// Target:  tensor-core forward >= 50% of mma.sync peak at T = 4096, D = 128 (FA2 reaches ~70% on
//          A100). Measured: not yet (no GPU lent; docs/kernels.md).
// Tests: tests/cuda/test_cuda_attention.cpp   Bench: benches/cuda/bench_cuda_ops.cpp
#include <tessera/kernels/cuda/compat.h>
#include <tessera/kernels/cuda/attention.h>
#include <tessera/kernels/cuda/check.h>
#include <tessera/kernels/cuda/ptx.h>
#include <tessera/philox.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

// Loop unrolling: nvcc's pragma, GCC's under cudasim (the register arrays indexed by unrolled
// loop counters must stay in registers).
#if defined(__CUDACC__)
#define TESSERA_ATTN_UNROLL _Pragma("unroll")
#else
#define TESSERA_ATTN_UNROLL _Pragma("GCC unroll 16")
#endif

namespace tessera::kernels::cuda {
namespace {

// ---- element types ----------------------------------------------------------------------------

template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename T>
__device__ __forceinline__ acc_t<T> to_acc(T x) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __bfloat162float(x);
  else if constexpr (std::is_same_v<T, __half>)
    return __half2float(x);
  else
    return x;
}

template <typename T>
__device__ __forceinline__ T from_acc(acc_t<T> x) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __float2bfloat16(x);
  else if constexpr (std::is_same_v<T, __half>)
    return __float2half(x);
  else
    return x;
}

__device__ __forceinline__ float exp_acc(float x) { return __expf(x); }
__device__ __forceinline__ double exp_acc(double x) { return exp(x); }
__device__ __forceinline__ float log_acc(float x) { return logf(x); }
__device__ __forceinline__ double log_acc(double x) { return log(x); }
__device__ __forceinline__ float fma_acc(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fma_acc(double a, double b, double c) { return fma(a, b, c); }
__device__ __forceinline__ float max_acc(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double max_acc(double a, double b) { return fmax(a, b); }

template <typename A>
__device__ __forceinline__ A neg_inf() {
  return -static_cast<A>(INFINITY);
}

// Fixed xor butterflies: every lane ends with the same bits (each step adds the same two values).
template <typename A>
__device__ __forceinline__ A warp_max(A x) {
  TESSERA_ATTN_UNROLL
  for (int o = 16; o > 0; o >>= 1) x = max_acc(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
template <typename A>
__device__ __forceinline__ A warp_sum(A x) {
  TESSERA_ATTN_UNROLL
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// ---- dropout ----------------------------------------------------------------------------------

struct Dropout {
  uint64_t seed, offset;
  float p;
  uint64_t tk;  // keys per row: the element index is row * tk + key
  /// Keep decision of element (row = (b H + h) Tq + i, key j): the CPU kernel's DropoutMask.
  __device__ __forceinline__ bool keep(uint64_t row, uint64_t j) const {
    const uint64_t idx = row * tk + j;
    const U32x4 w = Philox4x32::generate(seed, offset + idx / 4);
    return uniform_float(w[static_cast<int>(idx % 4)]) >= p;
  }
};

// ---- SIMT kernels (float32, float64, 16-bit fallback; the whole backward) ---------------------

constexpr int kSimtThreads = 128;  // 4 warps
constexpr int kSimtBr = 32;        // query rows per tile
constexpr int kSimtBc = 32;        // key rows per tile (= warp size: lane = key in S loops)
constexpr int kSimtLdS = kSimtBc + 1;

// Rows [0, rows) of src (n_valid rows of D, row-major) into dst (rows, D + 1); zero padding rows.
template <int D, typename T, typename A>
__device__ __forceinline__ void load_rows(A* dst, const T* src, int n_valid, int rows) {
  for (int e = threadIdx.x; e < rows * D; e += blockDim.x) {
    const int r = e / D, c = e % D;
    dst[r * (D + 1) + c] = r < n_valid ? to_acc(src[static_cast<int64_t>(r) * D + c]) : A(0);
  }
}

template <int D, typename A>
__device__ __forceinline__ A dot_rows(const A* a, const A* b) {
  A s = 0;
  TESSERA_ATTN_UNROLL
  for (int d = 0; d < D; ++d) s = fma_acc(a[d], b[d], s);
  return s;
}

// NOTE [SIMT forward mapping]: warp w owns query rows 8w..8w+7 of the tile. S: thread (warp w,
// lane j) computes S[w + 4u][j], u < 8. Softmax: warp w walks its 8 rows, lane = key. O: thread
// t owns row t / 4 (= 8w + lane / 4, a row of its own warp) and columns t % 4 + 4u, u < D / 4, so
// the rescale factor and the final l reach it from its own warp's registers.
template <typename T, int D>
__global__ void __launch_bounds__(kSimtThreads)
    attention_fwd_simt(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                       T* __restrict__ o, acc_t<T>* __restrict__ lse, int tq, int tk,
                       acc_t<T> scale, bool causal, Dropout drop) {
  using A = acc_t<T>;
  constexpr int kLd = D + 1;
  TESSERA_DYNAMIC_SMEM(A, smem);
  A* qs = smem;                // (Br, D + 1)
  A* ks = qs + kSimtBr * kLd;  // (Bc, D + 1)
  A* vs = ks + kSimtBc * kLd;  // (Bc, D + 1)
  A* ss = vs + kSimtBc * kLd;  // (Br, Bc + 1): scaled S, then P
  const int64_t bh = blockIdx.x;
  const int q0 = static_cast<int>(blockIdx.y) * kSimtBr;
  const int bq = min(kSimtBr, tq - q0);
  const int tid = static_cast<int>(threadIdx.x), lane = tid % 32, warp = tid / 32;
  const int orow = tid / 4, ocol = tid % 4;
  const T* kg = k + bh * tk * D;  // (Tk, D)
  const T* vg = v + bh * tk * D;  // (Tk, D)
  load_rows<D>(qs, q + (bh * tq + q0) * D, bq, kSimtBr);

  A acc[D / 4];
  TESSERA_ATTN_UNROLL
  for (int u = 0; u < D / 4; ++u) acc[u] = 0;
  A m_run[8], l_run[8];
  TESSERA_ATTN_UNROLL
  for (int i = 0; i < 8; ++i) m_run[i] = neg_inf<A>(), l_run[i] = 0;
  A my_l = 0;
  const bool dropout = drop.p > 0.f;
  const A inv_keep = A(1) / (A(1) - static_cast<A>(drop.p));
  const int k_end = causal ? min(tk, q0 + bq) : tk;

  for (int k0 = 0; k0 < k_end; k0 += kSimtBc) {
    const int bk = min(kSimtBc, k_end - k0);
    __syncthreads();  // the previous tile's readers of ks, vs, ss are done
    load_rows<D>(ks, kg + static_cast<int64_t>(k0) * D, bk, kSimtBc);
    load_rows<D>(vs, vg + static_cast<int64_t>(k0) * D, bk, kSimtBc);
    __syncthreads();
    TESSERA_ATTN_UNROLL
    for (int u = 0; u < 8; ++u) {
      const int r = warp + 4 * u;
      ss[r * kSimtLdS + lane] = dot_rows<D>(qs + r * kLd, ks + lane * kLd) * scale;
    }
    __syncthreads();
    A my_alpha = 1;
    TESSERA_ATTN_UNROLL
    for (int i = 0; i < 8; ++i) {
      const int r = 8 * warp + i, qi = q0 + r, j = k0 + lane;
      const bool visible = lane < bk && (!causal || j <= qi);
      const A s = visible ? ss[r * kSimtLdS + lane] : neg_inf<A>();
      const A m_new = max_acc(m_run[i], warp_max(s));
      const A m_use = m_new == neg_inf<A>() ? A(0) : m_new;  // no key yet: p = alpha = 0
      const A alpha = exp_acc(m_run[i] - m_use);
      A p = exp_acc(s - m_use);
      l_run[i] = l_run[i] * alpha + warp_sum(p);
      m_run[i] = m_new;
      if (dropout && visible && !drop.keep(static_cast<uint64_t>(bh * tq + qi), j)) p = 0;
      ss[r * kSimtLdS + lane] = dropout ? p * inv_keep : p;
      if (lane / 4 == i) my_alpha = alpha, my_l = l_run[i];
    }
    __syncwarp();  // ss rows of this warp are read by this warp only
    TESSERA_ATTN_UNROLL
    for (int u = 0; u < D / 4; ++u) acc[u] *= my_alpha;
    for (int j = 0; j < kSimtBc; ++j) {
      const A p = ss[orow * kSimtLdS + j];
      TESSERA_ATTN_UNROLL
      for (int u = 0; u < D / 4; ++u) acc[u] = fma_acc(p, vs[j * kLd + ocol + 4 * u], acc[u]);
    }
  }
  if (orow < bq) {
    const int64_t row = bh * tq + q0 + orow;
    const A inv = my_l > 0 ? A(1) / my_l : A(0);
    TESSERA_ATTN_UNROLL
    for (int u = 0; u < D / 4; ++u) o[row * D + ocol + 4 * u] = from_acc<T>(acc[u] * inv);
    if (ocol == 0) {
      A m = 0;
      TESSERA_ATTN_UNROLL
      for (int i = 0; i < 8; ++i)
        if (lane / 4 == i) m = m_run[i];
      lse[row] = my_l > 0 ? m + log_acc(my_l) : neg_inf<A>();
    }
  }
}

// D_i = rowsum(dO_i * O_i): one warp per row, 4 rows per block.
template <typename T, int D>
__global__ void __launch_bounds__(kSimtThreads)
    attention_bwd_rowdot(const T* __restrict__ o, const T* __restrict__ grad_o,
                         acc_t<T>* __restrict__ dvec, int64_t rows) {
  using A = acc_t<T>;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * 4 + threadIdx.x / 32;
  const int lane = static_cast<int>(threadIdx.x % 32);
  A s = 0;
  if (row < rows) {
    for (int d = lane; d < D; d += 32) s += to_acc(grad_o[row * D + d]) * to_acc(o[row * D + d]);
  }
  s = warp_sum(s);
  if (row < rows && lane == 0) dvec[row] = s;
}

// Shared memory of the backward kernels (A elements): Q, dO, K, V tiles (32, D + 1), P and dS
// (32, 33), lse and D_i of the query tile (32 each).
template <int D>
constexpr int bwd_smem_elems() {
  return 4 * kSimtBr * (D + 1) + 2 * kSimtBr * kSimtLdS + 2 * kSimtBr;
}

template <typename A, int D>
struct BwdTiles {
  A *qs, *dos, *ks, *vs, *ps, *dss, *lses, *dvs;
  __device__ explicit BwdTiles(A* smem) {
    qs = smem;                        // (Br, D + 1)
    dos = qs + kSimtBr * (D + 1);     // (Br, D + 1)
    ks = dos + kSimtBr * (D + 1);     // (Bc, D + 1)
    vs = ks + kSimtBc * (D + 1);      // (Bc, D + 1)
    ps = vs + kSimtBc * (D + 1);      // (Br, Bc + 1): dropped P, for dV
    dss = ps + kSimtBr * kSimtLdS;    // (Br, Bc + 1): dS (scale included)
    lses = dss + kSimtBr * kSimtLdS;  // (Br)
    dvs = lses + kSimtBr;             // (Br)
  }
};

// Query rows q0.. (bq valid) and key rows k0.. (bk valid) staged in t: fills t.ps and t.dss.
// Thread (warp w, lane j) computes entries (w + 4u, j), u < 8.
template <typename A, int D>
__device__ __forceinline__ void bwd_tile_ds(const BwdTiles<A, D>& t, int64_t bh, int tq, int q0,
                                            int bq, int k0, int bk, A scale, bool causal,
                                            const Dropout& drop) {
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  const A inv_keep = A(1) / (A(1) - static_cast<A>(drop.p));
  TESSERA_ATTN_UNROLL
  for (int u = 0; u < 8; ++u) {
    const int r = warp + 4 * u, qi = q0 + r, j = k0 + lane;
    const A l = t.lses[r];
    const bool visible = r < bq && lane < bk && (!causal || j <= qi) && l != neg_inf<A>();
    A p = 0, ds = 0, pd = 0;
    if (visible) {
      const A s = dot_rows<D>(t.qs + r * (D + 1), t.ks + lane * (D + 1));
      A dp = dot_rows<D>(t.dos + r * (D + 1), t.vs + lane * (D + 1));
      p = exp_acc(s * scale - l);
      pd = p;
      if (drop.p > 0.f) {
        const bool keep = drop.keep(static_cast<uint64_t>(bh * tq + qi), j);
        dp = keep ? dp * inv_keep : A(0);  // gradient of P from that of the dropped P
        pd = keep ? p * inv_keep : A(0);
      }
      ds = p * (dp - t.dvs[r]) * scale;
    }
    t.ps[r * kSimtLdS + lane] = pd;
    t.dss[r * kSimtLdS + lane] = ds;
  }
}

template <typename T, typename A, int D>
__device__ __forceinline__ void bwd_load_query_tile(const BwdTiles<A, D>& t, const T* q,
                                                    const T* grad_o, const A* lse, const A* dvec,
                                                    int64_t bh, int tq, int q0, int bq) {
  const int64_t row0 = bh * tq + q0;
  load_rows<D>(t.qs, q + row0 * D, bq, kSimtBr);
  load_rows<D>(t.dos, grad_o + row0 * D, bq, kSimtBr);
  for (int r = static_cast<int>(threadIdx.x); r < kSimtBr; r += static_cast<int>(blockDim.x)) {
    t.lses[r] = r < bq ? lse[row0 + r] : neg_inf<A>();
    t.dvs[r] = r < bq ? dvec[row0 + r] : A(0);
  }
}

// One block per (b h, 32 key rows): dK, dV of those keys over every query tile that sees them.
// Thread t owns key row t / 4 and columns t % 4 + 4u.
template <typename T, int D>
__global__ void __launch_bounds__(kSimtThreads)
    attention_bwd_dkdv(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                       const T* __restrict__ grad_o, const acc_t<T>* __restrict__ lse,
                       const acc_t<T>* __restrict__ dvec, T* __restrict__ grad_k,
                       T* __restrict__ grad_v, int tq, int tk, acc_t<T> scale, bool causal,
                       Dropout drop) {
  using A = acc_t<T>;
  TESSERA_DYNAMIC_SMEM(A, smem);
  const BwdTiles<A, D> t(smem);
  const int64_t bh = blockIdx.x;
  const int k0 = static_cast<int>(blockIdx.y) * kSimtBc;
  const int bk = min(kSimtBc, tk - k0);
  const int krow = static_cast<int>(threadIdx.x) / 4, kcol = static_cast<int>(threadIdx.x) % 4;
  load_rows<D>(t.ks, k + (bh * tk + k0) * D, bk, kSimtBc);
  load_rows<D>(t.vs, v + (bh * tk + k0) * D, bk, kSimtBc);
  A dk[D / 4], dv[D / 4];
  TESSERA_ATTN_UNROLL
  for (int u = 0; u < D / 4; ++u) dk[u] = 0, dv[u] = 0;
  // Causal: query rows < k0 see none of these keys.
  const int q_first = causal ? (min(k0, tq) / kSimtBr) * kSimtBr : 0;
  for (int q0 = q_first; q0 < tq; q0 += kSimtBr) {
    const int bq = min(kSimtBr, tq - q0);
    __syncthreads();  // previous tile's readers are done
    bwd_load_query_tile<T, A, D>(t, q, grad_o, lse, dvec, bh, tq, q0, bq);
    __syncthreads();
    bwd_tile_ds<A, D>(t, bh, tq, q0, bq, k0, bk, scale, causal, drop);
    __syncthreads();
    for (int r = 0; r < kSimtBr; ++r) {
      const A p = t.ps[r * kSimtLdS + krow], ds = t.dss[r * kSimtLdS + krow];
      TESSERA_ATTN_UNROLL
      for (int u = 0; u < D / 4; ++u) {
        dv[u] = fma_acc(p, t.dos[r * (D + 1) + kcol + 4 * u], dv[u]);
        dk[u] = fma_acc(ds, t.qs[r * (D + 1) + kcol + 4 * u], dk[u]);
      }
    }
  }
  if (krow < bk) {
    const int64_t row = bh * tk + k0 + krow;
    TESSERA_ATTN_UNROLL
    for (int u = 0; u < D / 4; ++u) {
      grad_k[row * D + kcol + 4 * u] = from_acc<T>(dk[u]);
      grad_v[row * D + kcol + 4 * u] = from_acc<T>(dv[u]);
    }
  }
}

// One block per (b h, 32 query rows): dQ = sum over key tiles of dS K. Thread t owns query row
// t / 4 and columns t % 4 + 4u.
template <typename T, int D>
__global__ void __launch_bounds__(kSimtThreads)
    attention_bwd_dq(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                     const T* __restrict__ grad_o, const acc_t<T>* __restrict__ lse,
                     const acc_t<T>* __restrict__ dvec, T* __restrict__ grad_q, int tq, int tk,
                     acc_t<T> scale, bool causal, Dropout drop) {
  using A = acc_t<T>;
  TESSERA_DYNAMIC_SMEM(A, smem);
  const BwdTiles<A, D> t(smem);
  const int64_t bh = blockIdx.x;
  const int q0 = static_cast<int>(blockIdx.y) * kSimtBr;
  const int bq = min(kSimtBr, tq - q0);
  const int qrow = static_cast<int>(threadIdx.x) / 4, qcol = static_cast<int>(threadIdx.x) % 4;
  bwd_load_query_tile<T, A, D>(t, q, grad_o, lse, dvec, bh, tq, q0, bq);
  A dq[D / 4];
  TESSERA_ATTN_UNROLL
  for (int u = 0; u < D / 4; ++u) dq[u] = 0;
  const int k_end = causal ? min(tk, q0 + bq) : tk;
  for (int k0 = 0; k0 < k_end; k0 += kSimtBc) {
    const int bk = min(kSimtBc, k_end - k0);
    __syncthreads();
    load_rows<D>(t.ks, k + (bh * tk + k0) * D, bk, kSimtBc);
    load_rows<D>(t.vs, v + (bh * tk + k0) * D, bk, kSimtBc);
    __syncthreads();
    bwd_tile_ds<A, D>(t, bh, tq, q0, bq, k0, bk, scale, causal, drop);
    __syncthreads();
    for (int j = 0; j < kSimtBc; ++j) {
      const A ds = t.dss[qrow * kSimtLdS + j];
      TESSERA_ATTN_UNROLL
      for (int u = 0; u < D / 4; ++u) dq[u] = fma_acc(ds, t.ks[j * (D + 1) + qcol + 4 * u], dq[u]);
    }
  }
  if (qrow < bq) {
    const int64_t row = bh * tq + q0 + qrow;
    TESSERA_ATTN_UNROLL
    for (int u = 0; u < D / 4; ++u) grad_q[row * D + qcol + 4 * u] = from_acc<T>(dq[u]);
  }
}

// ---- tensor-core forward (bf16, f16) -----------------------------------------------------------

constexpr int kTcThreads = 128;  // 4 warps x 16 query rows
constexpr int kTcBr = 64;
constexpr int kTcBc = 64;

template <int D>
__host__ __device__ constexpr int tc_ld() {
  return D + 8;  // 16-byte pad per row: the 8 row addresses of an ldmatrix hit distinct banks
}
template <int D>
constexpr size_t tc_smem_bytes() {
  return static_cast<size_t>(kTcBr + 2 * kTcBc) * tc_ld<D>() * 2;
}

template <typename T>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4],
                                         const uint32_t (&b)[2]) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    mma_m16n8k16_bf16(d, a, b, d);
  else
    mma_m16n8k16_f16(d, a, b, d);
}

template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return pack_bf16x2(lo, hi);
  else
    return pack_f16x2(lo, hi);
}

// Rows [0, rows) of src (n_valid rows of D 16-bit elements, 16-byte aligned) into dst (rows, ld)
// with 16-byte copies; padding rows are zero (a NaN there would survive P = 0 in P V).
template <int D, typename T>
__device__ __forceinline__ void load_rows_16b(T* dst, const T* src, int n_valid, int rows) {
  constexpr int kChunks = D / 8;  // 8 elements per 16 bytes
  for (int e = threadIdx.x; e < rows * kChunks; e += blockDim.x) {
    const int r = e / kChunks, c = (e % kChunks) * 8;
    uint4 val{0u, 0u, 0u, 0u};
    if (r < n_valid) val = *reinterpret_cast<const uint4*>(src + static_cast<int64_t>(r) * D + c);
    *reinterpret_cast<uint4*>(dst + r * tc_ld<D>() + c) = val;
  }
}

// NOTE [tensor-core forward fragments]: g = lane / 4, t = lane % 4. A warp's S accumulators
// s[n][0..3] hold S[g][8n + 2t + {0,1}] and S[g + 8][8n + 2t + {0,1}] (mma C layout). For P V,
// key block kk (16 keys = n-tiles 2kk, 2kk + 1) of P is an A fragment {s[2kk][0..1],
// s[2kk][2..3], s[2kk + 1][0..1], s[2kk + 1][2..3]} packed to 16 bits: the C layout of two
// adjacent n-tiles is the A layout, so P never leaves registers. Row statistics (m, l) of rows
// g and g + 8 are shared by the 4 lanes of a quad; l is kept lane-partial and summed at the end.
template <typename T, int D>
__global__ void __launch_bounds__(kTcThreads)
    attention_fwd_tc(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                     T* __restrict__ o, float* __restrict__ lse, int tq, int tk, float scale,
                     bool causal, Dropout drop) {
  constexpr int kLd = tc_ld<D>();
  constexpr int kKSteps = D / 16;  // k-steps of Q K^T; also pairs of 8-wide d-tiles of P V
  TESSERA_DYNAMIC_SMEM(T, smem);
  T* qs = smem;              // (64, D + 8)
  T* ks = qs + kTcBr * kLd;  // (64, D + 8)
  T* vs = ks + kTcBc * kLd;  // (64, D + 8)
  const int64_t bh = blockIdx.x;
  const int q0 = static_cast<int>(blockIdx.y) * kTcBr;
  const int bq = min(kTcBr, tq - q0);
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  const int g = lane / 4, t4 = lane % 4;
  const int wrow = warp * 16;  // first tile row of this warp
  const T* kg = k + bh * tk * D;
  const T* vg = v + bh * tk * D;

  load_rows_16b<D>(qs, q + (bh * tq + q0) * D, bq, kTcBr);
  __syncthreads();
  uint32_t qf[kKSteps][4];  // Q (16 x D) as A fragments
  TESSERA_ATTN_UNROLL
  for (int kk = 0; kk < kKSteps; ++kk)
    ldmatrix_x4(qf[kk], qs + (wrow + lane % 16) * kLd + kk * 16 + (lane / 16) * 8);

  float oacc[D / 8][4];
  TESSERA_ATTN_UNROLL
  for (int n = 0; n < D / 8; ++n) oacc[n][0] = oacc[n][1] = oacc[n][2] = oacc[n][3] = 0.f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_part[2] = {0.f, 0.f};
  const int qi[2] = {q0 + wrow + g, q0 + wrow + g + 8};
  const bool dropout = drop.p > 0.f;
  const float inv_keep = 1.f / (1.f - drop.p);
  const int k_end = causal ? min(tk, q0 + bq) : tk;

  for (int k0 = 0; k0 < k_end; k0 += kTcBc) {
    const int bk = min(kTcBc, k_end - k0);
    __syncthreads();  // every warp is done with the previous K, V tiles
    load_rows_16b<D>(ks, kg + static_cast<int64_t>(k0) * D, bk, kTcBc);
    load_rows_16b<D>(vs, vg + static_cast<int64_t>(k0) * D, bk, kTcBc);
    __syncthreads();

    // S (16 x 64) = Q K^T: K rows are B^T[n][k]; x4 gives n-tiles 2np and 2np + 1.
    float s[kTcBc / 8][4];
    TESSERA_ATTN_UNROLL
    for (int n = 0; n < kTcBc / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
    TESSERA_ATTN_UNROLL
    for (int kk = 0; kk < kKSteps; ++kk) {
      TESSERA_ATTN_UNROLL
      for (int np = 0; np < kTcBc / 16; ++np) {
        uint32_t b[4];
        ldmatrix_x4(
            b, ks + (np * 16 + lane % 8 + (lane / 16) * 8) * kLd + kk * 16 + ((lane / 8) % 2) * 8);
        const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
        mma16816<T>(s[2 * np], qf[kk], b0);
        mma16816<T>(s[2 * np + 1], qf[kk], b1);
      }
    }

    // Online softmax on rows g (h = 0) and g + 8 (h = 1).
    float m_use[2], alpha[2];
    TESSERA_ATTN_UNROLL
    for (int h = 0; h < 2; ++h) {
      float mx = -INFINITY;
      TESSERA_ATTN_UNROLL
      for (int n = 0; n < kTcBc / 8; ++n) {
        TESSERA_ATTN_UNROLL
        for (int e = 0; e < 2; ++e) {
          const int col = n * 8 + 2 * t4 + e, j = k0 + col;
          const bool visible = col < bk && (!causal || j <= qi[h]);
          float& x = s[n][2 * h + e];
          x = visible ? x * scale : -INFINITY;
          mx = fmaxf(mx, x);
        }
      }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m_run[h], mx);
      m_use[h] = m_new == -INFINITY ? 0.f : m_new;  // no key yet: p = alpha = 0
      alpha[h] = __expf(m_run[h] - m_use[h]);
      m_run[h] = m_new;
    }
    float rsum[2] = {0.f, 0.f};
    TESSERA_ATTN_UNROLL
    for (int n = 0; n < kTcBc / 8; ++n) {
      TESSERA_ATTN_UNROLL
      for (int e = 0; e < 4; ++e) {
        const int h = e / 2;
        float p = __expf(s[n][e] - m_use[h]);
        rsum[h] += p;
        if (dropout) {
          const int j = k0 + n * 8 + 2 * t4 + (e & 1);
          const bool keep =
              p > 0.f && qi[h] < tq && drop.keep(static_cast<uint64_t>(bh * tq + qi[h]), j);
          p = keep ? p * inv_keep : 0.f;
        }
        s[n][e] = p;
      }
    }
    TESSERA_ATTN_UNROLL
    for (int h = 0; h < 2; ++h) l_part[h] = l_part[h] * alpha[h] + rsum[h];
    TESSERA_ATTN_UNROLL
    for (int n = 0; n < D / 8; ++n) {
      oacc[n][0] *= alpha[0];
      oacc[n][1] *= alpha[0];
      oacc[n][2] *= alpha[1];
      oacc[n][3] *= alpha[1];
    }

    // O (16 x D) += P (16 x 64) V (64 x D): V rows are B[k][n]; x4.trans gives d-tiles 2dp, +1.
    TESSERA_ATTN_UNROLL
    for (int kk = 0; kk < kTcBc / 16; ++kk) {
      const uint32_t a[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]),
                             pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                             pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                             pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
      TESSERA_ATTN_UNROLL
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b[4];
        ldmatrix_x4_trans(
            b, vs + (kk * 16 + lane % 8 + ((lane / 8) % 2) * 8) * kLd + dp * 16 + (lane / 16) * 8);
        const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
        mma16816<T>(oacc[2 * dp], a, b0);
        mma16816<T>(oacc[2 * dp + 1], a, b1);
      }
    }
  }

  TESSERA_ATTN_UNROLL
  for (int h = 0; h < 2; ++h) {
    float l = l_part[h];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    if (qi[h] >= tq) continue;
    const int64_t row = bh * tq + qi[h];
    const float inv = l > 0.f ? 1.f / l : 0.f;
    TESSERA_ATTN_UNROLL
    for (int n = 0; n < D / 8; ++n) {
      T* dst = o + row * D + n * 8 + 2 * t4;
      dst[0] = from_acc<T>(oacc[n][2 * h] * inv);
      dst[1] = from_acc<T>(oacc[n][2 * h + 1] * inv);
    }
    if (t4 == 0) lse[row] = l > 0.f ? m_run[h] + logf(l) : -INFINITY;
  }
}

// ---- tensor-core backward (bf16, f16) ----------------------------------------------------------

// acc (16 x 64) += A B^T: A = 16 rows of a (row-major, ld tc_ld<D>), B = 64 rows of b; both in
// shared memory. A by ldmatrix.x4 at row lane % 16, B^T[n][k] rows by ldmatrix.x4 (n-tiles 2np,
// 2np + 1): the recipes of NOTE [tensor-core forward fragments].
template <typename T, int D>
__device__ __forceinline__ void warp_abt_16x64(float (&acc)[kTcBc / 8][4], const T* a, const T* b,
                                               int lane) {
  constexpr int kLd = tc_ld<D>();
  TESSERA_ATTN_UNROLL
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t af[4];
    ldmatrix_x4(af, a + (lane % 16) * kLd + kk * 16 + (lane / 16) * 8);
    TESSERA_ATTN_UNROLL
    for (int np = 0; np < kTcBc / 16; ++np) {
      uint32_t bf[4];
      ldmatrix_x4(
          bf, b + (np * 16 + lane % 8 + (lane / 16) * 8) * kLd + kk * 16 + ((lane / 8) % 2) * 8);
      const uint32_t b0[2] = {bf[0], bf[1]}, b1[2] = {bf[2], bf[3]};
      mma16816<T>(acc[2 * np], af, b0);
      mma16816<T>(acc[2 * np + 1], af, b1);
    }
  }
}

// acc (16 x D) += P B: P (16 x 64) in C-layout registers (repacked to A fragments, 16-bit), B = 64
// rows of b (row-major [k][n], shared memory) by ldmatrix.x4.trans.
template <typename T, int D>
__device__ __forceinline__ void warp_pb_16xd(float (&acc)[D / 8][4], const float (&p)[kTcBc / 8][4],
                                             const T* b, int lane) {
  constexpr int kLd = tc_ld<D>();
  TESSERA_ATTN_UNROLL
  for (int kk = 0; kk < kTcBc / 16; ++kk) {
    const uint32_t a[4] = {
        pack2<T>(p[2 * kk][0], p[2 * kk][1]), pack2<T>(p[2 * kk][2], p[2 * kk][3]),
        pack2<T>(p[2 * kk + 1][0], p[2 * kk + 1][1]), pack2<T>(p[2 * kk + 1][2], p[2 * kk + 1][3])};
    TESSERA_ATTN_UNROLL
    for (int dp = 0; dp < D / 16; ++dp) {
      uint32_t bf[4];
      ldmatrix_x4_trans(
          bf, b + (kk * 16 + lane % 8 + ((lane / 8) % 2) * 8) * kLd + dp * 16 + (lane / 16) * 8);
      const uint32_t b0[2] = {bf[0], bf[1]}, b1[2] = {bf[2], bf[3]};
      mma16816<T>(acc[2 * dp], a, b0);
      mma16816<T>(acc[2 * dp + 1], a, b1);
    }
  }
}

template <int D>
constexpr size_t tc_bwd_smem_bytes() {
  return static_cast<size_t>(4 * 64) * tc_ld<D>() * 2 + 2 * 64 * sizeof(float);
}

// One block per (b h, 64 key rows), 4 warps x 16 key rows, looping over the query tiles that see
// them. In transposed form per warp: S^T = K Q^T and dP^T = V dO^T (16 keys x 64 queries),
// P^T = exp(scale S^T - lse), dS^T = P^T (dP^T - D) scale, then dV += P^T dO and dK += dS^T Q with
// P^T and dS^T as A fragments straight from the accumulators.
template <typename T, int D>
__global__ void __launch_bounds__(kTcThreads)
    attention_bwd_dkdv_tc(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                          const T* __restrict__ grad_o, const float* __restrict__ lse,
                          const float* __restrict__ dvec, T* __restrict__ grad_k,
                          T* __restrict__ grad_v, int tq, int tk, float scale, bool causal,
                          Dropout drop) {
  constexpr int kLd = tc_ld<D>();
  TESSERA_DYNAMIC_SMEM(T, smem);
  T* ks = smem;                                            // (64, D + 8)
  T* vs = ks + 64 * kLd;                                   // (64, D + 8)
  T* qs = vs + 64 * kLd;                                   // (64, D + 8)
  T* dos = qs + 64 * kLd;                                  // (64, D + 8)
  float* lses = reinterpret_cast<float*>(dos + 64 * kLd);  // (64)
  float* dvs = lses + 64;                                  // (64)
  const int64_t bh = blockIdx.x;
  const int k0 = static_cast<int>(blockIdx.y) * 64;
  const int bk = min(64, tk - k0);
  const int tid = static_cast<int>(threadIdx.x), lane = tid % 32, warp = tid / 32;
  const int g = lane / 4, t4 = lane % 4, wrow = warp * 16;
  const int kj[2] = {k0 + wrow + g, k0 + wrow + g + 8};
  load_rows_16b<D>(ks, k + (bh * tk + k0) * D, bk, 64);
  load_rows_16b<D>(vs, v + (bh * tk + k0) * D, bk, 64);
  float dk[D / 8][4], dv[D / 8][4];
  TESSERA_ATTN_UNROLL
  for (int n = 0; n < D / 8; ++n) TESSERA_ATTN_UNROLL
  for (int e = 0; e < 4; ++e) dk[n][e] = dv[n][e] = 0.f;
  const bool dropout = drop.p > 0.f;
  const float inv_keep = 1.f / (1.f - drop.p);
  const int q_first = causal ? (min(k0, tq) / 64) * 64 : 0;  // rows < k0 see none of these keys
  for (int q0 = q_first; q0 < tq; q0 += 64) {
    const int bq = min(64, tq - q0);
    const int64_t row0 = bh * tq + q0;
    __syncthreads();  // the previous tile's readers are done
    load_rows_16b<D>(qs, q + row0 * D, bq, 64);
    load_rows_16b<D>(dos, grad_o + row0 * D, bq, 64);
    for (int r = tid; r < 64; r += kTcThreads) {
      lses[r] = r < bq ? lse[row0 + r] : -INFINITY;
      dvs[r] = r < bq ? dvec[row0 + r] : 0.f;
    }
    __syncthreads();
    float st[kTcBc / 8][4], dpt[kTcBc / 8][4];
    TESSERA_ATTN_UNROLL
    for (int n = 0; n < kTcBc / 8; ++n) TESSERA_ATTN_UNROLL
    for (int e = 0; e < 4; ++e) st[n][e] = dpt[n][e] = 0.f;
    warp_abt_16x64<T, D>(st, ks + wrow * kLd, qs, lane);    // S^T (16 keys x 64 queries)
    warp_abt_16x64<T, D>(dpt, vs + wrow * kLd, dos, lane);  // dP'^T
    TESSERA_ATTN_UNROLL
    for (int n = 0; n < kTcBc / 8; ++n) {
      TESSERA_ATTN_UNROLL
      for (int e = 0; e < 4; ++e) {
        const int i = n * 8 + 2 * t4 + (e & 1), qi = q0 + i, j = kj[e / 2];
        const float l = lses[i];
        const bool visible = j < tk && qi < tq && (!causal || j <= qi) && l != -INFINITY;
        const float p = visible ? __expf(st[n][e] * scale - l) : 0.f;
        float dp = dpt[n][e], pd = p;
        if (dropout && p > 0.f) {
          const bool keep = drop.keep(static_cast<uint64_t>(bh * tq + qi), j);
          dp = keep ? dp * inv_keep : 0.f;
          pd = keep ? p * inv_keep : 0.f;
        }
        dpt[n][e] = p * (dp - dvs[i]) * scale;  // dS^T
        st[n][e] = pd;                          // dropped P^T
      }
    }
    warp_pb_16xd<T, D>(dv, st, dos, lane);
    warp_pb_16xd<T, D>(dk, dpt, qs, lane);
  }
  TESSERA_ATTN_UNROLL
  for (int h = 0; h < 2; ++h) {
    if (kj[h] >= tk) continue;
    const int64_t row = bh * tk + kj[h];
    TESSERA_ATTN_UNROLL
    for (int n = 0; n < D / 8; ++n) {
      const int col = n * 8 + 2 * t4;
      grad_k[row * D + col] = from_acc<T>(dk[n][2 * h]);
      grad_k[row * D + col + 1] = from_acc<T>(dk[n][2 * h + 1]);
      grad_v[row * D + col] = from_acc<T>(dv[n][2 * h]);
      grad_v[row * D + col + 1] = from_acc<T>(dv[n][2 * h + 1]);
    }
  }
}

// One block per (b h, 64 query rows), 4 warps x 16 rows, looping over key tiles: S = Q K^T,
// dP' = dO V^T, dS = P (dP - D) scale, dQ += dS K.
template <typename T, int D>
__global__ void __launch_bounds__(kTcThreads)
    attention_bwd_dq_tc(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                        const T* __restrict__ grad_o, const float* __restrict__ lse,
                        const float* __restrict__ dvec, T* __restrict__ grad_q, int tq, int tk,
                        float scale, bool causal, Dropout drop) {
  constexpr int kLd = tc_ld<D>();
  TESSERA_DYNAMIC_SMEM(T, smem);
  T* qs = smem;            // (64, D + 8)
  T* dos = qs + 64 * kLd;  // (64, D + 8)
  T* ks = dos + 64 * kLd;  // (64, D + 8)
  T* vs = ks + 64 * kLd;   // (64, D + 8)
  const int64_t bh = blockIdx.x;
  const int q0 = static_cast<int>(blockIdx.y) * 64;
  const int bq = min(64, tq - q0);
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  const int g = lane / 4, t4 = lane % 4, wrow = warp * 16;
  const int64_t row0 = bh * tq + q0;
  load_rows_16b<D>(qs, q + row0 * D, bq, 64);
  load_rows_16b<D>(dos, grad_o + row0 * D, bq, 64);
  const int qi[2] = {q0 + wrow + g, q0 + wrow + g + 8};
  float lrow[2], drow[2];
  TESSERA_ATTN_UNROLL
  for (int h = 0; h < 2; ++h) {
    lrow[h] = qi[h] < tq ? lse[bh * tq + qi[h]] : -INFINITY;
    drow[h] = qi[h] < tq ? dvec[bh * tq + qi[h]] : 0.f;
  }
  float dq[D / 8][4];
  TESSERA_ATTN_UNROLL
  for (int n = 0; n < D / 8; ++n) TESSERA_ATTN_UNROLL
  for (int e = 0; e < 4; ++e) dq[n][e] = 0.f;
  const bool dropout = drop.p > 0.f;
  const float inv_keep = 1.f / (1.f - drop.p);
  const int k_end = causal ? min(tk, q0 + bq) : tk;
  for (int k0 = 0; k0 < k_end; k0 += 64) {
    const int bk = min(64, k_end - k0);
    __syncthreads();
    load_rows_16b<D>(ks, k + (bh * tk + k0) * D, bk, 64);
    load_rows_16b<D>(vs, v + (bh * tk + k0) * D, bk, 64);
    __syncthreads();
    float s[kTcBc / 8][4], dp[kTcBc / 8][4];
    TESSERA_ATTN_UNROLL
    for (int n = 0; n < kTcBc / 8; ++n) TESSERA_ATTN_UNROLL
    for (int e = 0; e < 4; ++e) s[n][e] = dp[n][e] = 0.f;
    warp_abt_16x64<T, D>(s, qs + wrow * kLd, ks, lane);
    warp_abt_16x64<T, D>(dp, dos + wrow * kLd, vs, lane);
    TESSERA_ATTN_UNROLL
    for (int n = 0; n < kTcBc / 8; ++n) {
      TESSERA_ATTN_UNROLL
      for (int e = 0; e < 4; ++e) {
        const int h = e / 2, j = k0 + n * 8 + 2 * t4 + (e & 1);
        const bool visible =
            j < k_end && qi[h] < tq && (!causal || j <= qi[h]) && lrow[h] != -INFINITY;
        const float p = visible ? __expf(s[n][e] * scale - lrow[h]) : 0.f;
        float d = dp[n][e];
        if (dropout && p > 0.f)
          d = drop.keep(static_cast<uint64_t>(bh * tq + qi[h]), j) ? d * inv_keep : 0.f;
        s[n][e] = p * (d - drow[h]) * scale;  // dS
      }
    }
    warp_pb_16xd<T, D>(dq, s, ks, lane);
  }
  TESSERA_ATTN_UNROLL
  for (int h = 0; h < 2; ++h) {
    if (qi[h] >= tq) continue;
    const int64_t row = bh * tq + qi[h];
    TESSERA_ATTN_UNROLL
    for (int n = 0; n < D / 8; ++n) {
      grad_q[row * D + n * 8 + 2 * t4] = from_acc<T>(dq[n][2 * h]);
      grad_q[row * D + n * 8 + 2 * t4 + 1] = from_acc<T>(dq[n][2 * h + 1]);
    }
  }
}

// ---- launchers ---------------------------------------------------------------------------------

constexpr size_t kDefaultSmem = 48 * 1024;

template <typename K>
void allow_smem(K kernel, size_t bytes) {
  if (bytes > kDefaultSmem)
    TESSERA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            static_cast<int>(bytes)));
}

void check_shape(const char* op, const AttentionShape& s, const AttentionConfig& c) {
  TESSERA_CHECK(s.batch >= 0 && s.heads >= 0 && s.q_len >= 0 && s.kv_len >= 0, op,
                ": expected non-negative sizes, got (B, H, Tq, Tk, D) = (", s.batch, ", ", s.heads,
                ", ", s.q_len, ", ", s.kv_len, ", ", s.head_dim, ")");
  TESSERA_CHECK(s.head_dim == 32 || s.head_dim == 64 || s.head_dim == 128, op,
                ": head_dim must be 32, 64 or 128 on CUDA, got ", s.head_dim);
  TESSERA_CHECK(s.q_len < (int64_t{1} << 30) && s.kv_len < (int64_t{1} << 30) &&
                    s.batch * s.heads < (int64_t{1} << 31),
                op, ": sizes too large (Tq=", s.q_len, ", Tk=", s.kv_len,
                ", B*H=", s.batch * s.heads, ")");
  TESSERA_CHECK(!c.causal || s.q_len == s.kv_len, op,
                ": causal attention is top-left aligned and needs Tq == Tk, got Tq=", s.q_len,
                " Tk=", s.kv_len);
  TESSERA_CHECK(c.dropout_p >= 0.f && c.dropout_p < 1.f, op, ": expected dropout_p in [0, 1), got ",
                c.dropout_p);
  TESSERA_CHECK(std::isfinite(c.scale) && c.scale >= 0.f, op,
                ": expected a finite scale >= 0 (0 = 1/sqrt(head_dim)), got ", c.scale);
}

template <typename A>
A resolve_scale(const AttentionShape& s, const AttentionConfig& c) {
  return c.scale != 0.f ? static_cast<A>(c.scale) : A(1) / std::sqrt(static_cast<A>(s.head_dim));
}

dim3 grid_of(const AttentionShape& s, int64_t len, int tile) {
  const int64_t tiles = (len + tile - 1) / tile;
  TESSERA_CHECK(tiles <= 65535, "attention: too many tiles (", tiles, ") for grid.y");
  return dim3(static_cast<unsigned>(s.batch * s.heads), static_cast<unsigned>(tiles), 1);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename T, int D>
void forward_typed(const AttentionShape& s, const AttentionConfig& c, const void* q, const void* k,
                   const void* v, void* out, void* lse, cudaStream_t stream) {
  using A = acc_t<T>;
  const int tq = static_cast<int>(s.q_len), tk = static_cast<int>(s.kv_len);
  const Dropout drop{c.seed, c.offset, c.dropout_p, static_cast<uint64_t>(s.kv_len)};
  const A scale = resolve_scale<A>(s, c);
  constexpr bool k16 = sizeof(T) == 2;
  if constexpr (k16) {
    if (!c.force_simt && aligned16(q) && aligned16(k) && aligned16(v)) {
      constexpr size_t bytes = tc_smem_bytes<D>();
      allow_smem(attention_fwd_tc<T, D>, bytes);
      TESSERA_LAUNCH((attention_fwd_tc<T, D>), grid_of(s, s.q_len, kTcBr), kTcThreads, bytes,
                     stream)
      (static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v),
       static_cast<T*>(out), static_cast<float*>(lse), tq, tk, static_cast<float>(scale), c.causal,
       drop);
      return;
    }
  }
  constexpr size_t bytes =
      sizeof(A) * (static_cast<size_t>(kSimtBr + 2 * kSimtBc) * (D + 1) + kSimtBr * kSimtLdS);
  allow_smem(attention_fwd_simt<T, D>, bytes);
  TESSERA_LAUNCH((attention_fwd_simt<T, D>), grid_of(s, s.q_len, kSimtBr), kSimtThreads, bytes,
                 stream)
  (static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v),
   static_cast<T*>(out), static_cast<A*>(lse), tq, tk, scale, c.causal, drop);
}

template <typename T, int D>
void backward_typed(const AttentionShape& s, const AttentionConfig& c, const void* q, const void* k,
                    const void* v, const void* out, const void* grad_out, const void* lse,
                    void* grad_q, void* grad_k, void* grad_v, void* workspace,
                    cudaStream_t stream) {
  using A = acc_t<T>;
  const int tq = static_cast<int>(s.q_len), tk = static_cast<int>(s.kv_len);
  const Dropout drop{c.seed, c.offset, c.dropout_p, static_cast<uint64_t>(s.kv_len)};
  const A scale = resolve_scale<A>(s, c);
  const int64_t rows = s.batch * s.heads * s.q_len;
  A* dvec = static_cast<A*>(workspace);
  const T* qp = static_cast<const T*>(q);
  const T* kp = static_cast<const T*>(k);
  const T* vp = static_cast<const T*>(v);
  const T* gop = static_cast<const T*>(grad_out);
  const A* lp = static_cast<const A*>(lse);
  if (rows > 0) {
    TESSERA_LAUNCH((attention_bwd_rowdot<T, D>), static_cast<unsigned>((rows + 3) / 4),
                   kSimtThreads, 0, stream)
    (static_cast<const T*>(out), gop, dvec, rows);
  }
  if constexpr (sizeof(T) == 2) {
    if (!c.force_simt && aligned16(q) && aligned16(k) && aligned16(v) && aligned16(grad_out)) {
      constexpr size_t tc_bytes = tc_bwd_smem_bytes<D>();
      const float fscale = static_cast<float>(scale);
      if (s.kv_len > 0) {
        allow_smem(attention_bwd_dkdv_tc<T, D>, tc_bytes);
        TESSERA_LAUNCH((attention_bwd_dkdv_tc<T, D>), grid_of(s, s.kv_len, 64), kTcThreads,
                       tc_bytes, stream)
        (qp, kp, vp, gop, lp, dvec, static_cast<T*>(grad_k), static_cast<T*>(grad_v), tq, tk,
         fscale, c.causal, drop);
      }
      if (rows > 0) {
        allow_smem(attention_bwd_dq_tc<T, D>, tc_bytes);
        TESSERA_LAUNCH((attention_bwd_dq_tc<T, D>), grid_of(s, s.q_len, 64), kTcThreads, tc_bytes,
                       stream)
        (qp, kp, vp, gop, lp, dvec, static_cast<T*>(grad_q), tq, tk, fscale, c.causal, drop);
      }
      return;
    }
  }
  constexpr size_t bytes = sizeof(A) * bwd_smem_elems<D>();
  if (s.kv_len > 0) {
    allow_smem(attention_bwd_dkdv<T, D>, bytes);
    TESSERA_LAUNCH((attention_bwd_dkdv<T, D>), grid_of(s, s.kv_len, kSimtBc), kSimtThreads, bytes,
                   stream)
    (qp, kp, vp, gop, lp, dvec, static_cast<T*>(grad_k), static_cast<T*>(grad_v), tq, tk, scale,
     c.causal, drop);
  }
  if (rows > 0) {
    allow_smem(attention_bwd_dq<T, D>, bytes);
    TESSERA_LAUNCH((attention_bwd_dq<T, D>), grid_of(s, s.q_len, kSimtBr), kSimtThreads, bytes,
                   stream)
    (qp, kp, vp, gop, lp, dvec, static_cast<T*>(grad_q), tq, tk, scale, c.causal, drop);
  }
}

template <typename T, typename... Args>
void forward_dim(int64_t d, Args... args) {
  if (d == 32) return forward_typed<T, 32>(args...);
  if (d == 64) return forward_typed<T, 64>(args...);
  return forward_typed<T, 128>(args...);
}
template <typename T, typename... Args>
void backward_dim(int64_t d, Args... args) {
  if (d == 32) return backward_typed<T, 32>(args...);
  if (d == 64) return backward_typed<T, 64>(args...);
  return backward_typed<T, 128>(args...);
}

}  // namespace

bool attention_supported(ScalarType t, int64_t head_dim) {
  const bool dtype_ok = t == ScalarType::kFloat32 || t == ScalarType::kFloat64 ||
                        t == ScalarType::kBFloat16 || t == ScalarType::kFloat16;
  return dtype_ok && (head_dim == 32 || head_dim == 64 || head_dim == 128);
}

void attention_forward(ScalarType t, const AttentionShape& s, const AttentionConfig& c,
                       const void* q, const void* k, const void* v, void* out, void* lse,
                       cudaStream_t stream) {
  // Preconditions
  check_shape("cuda attention_forward", s, c);
  if (s.batch * s.heads * s.q_len == 0) return;
  TESSERA_CHECK(q && out && lse && (s.kv_len == 0 || (k && v)),
                "cuda attention_forward: q, k, v, out, lse must be non-null");
  switch (t) {
    case ScalarType::kFloat32:
      return forward_dim<float>(s.head_dim, s, c, q, k, v, out, lse, stream);
    case ScalarType::kFloat64:
      return forward_dim<double>(s.head_dim, s, c, q, k, v, out, lse, stream);
    case ScalarType::kBFloat16:
      return forward_dim<__nv_bfloat16>(s.head_dim, s, c, q, k, v, out, lse, stream);
    case ScalarType::kFloat16:
      return forward_dim<__half>(s.head_dim, s, c, q, k, v, out, lse, stream);
    default:
      TESSERA_FAIL("cuda attention_forward: needs float32, float64, bfloat16 or float16");
  }
}

size_t attention_backward_workspace(ScalarType t, const AttentionShape& s) {
  const size_t acc = t == ScalarType::kFloat64 ? 8 : 4;
  return acc * static_cast<size_t>(s.batch * s.heads * s.q_len);
}

void attention_backward(ScalarType t, const AttentionShape& s, const AttentionConfig& c,
                        const void* q, const void* k, const void* v, const void* out,
                        const void* grad_out, const void* lse, void* grad_q, void* grad_k,
                        void* grad_v, void* workspace, cudaStream_t stream) {
  // Preconditions
  check_shape("cuda attention_backward", s, c);
  if (s.batch * s.heads == 0) return;
  TESSERA_CHECK((s.q_len == 0 || (q && out && grad_out && lse && grad_q && workspace)) &&
                    (s.kv_len == 0 || (k && v && grad_k && grad_v)),
                "cuda attention_backward: every pointer must be non-null");
  switch (t) {
    case ScalarType::kFloat32:
      return backward_dim<float>(s.head_dim, s, c, q, k, v, out, grad_out, lse, grad_q, grad_k,
                                 grad_v, workspace, stream);
    case ScalarType::kFloat64:
      return backward_dim<double>(s.head_dim, s, c, q, k, v, out, grad_out, lse, grad_q, grad_k,
                                  grad_v, workspace, stream);
    case ScalarType::kBFloat16:
      return backward_dim<__nv_bfloat16>(s.head_dim, s, c, q, k, v, out, grad_out, lse, grad_q,
                                         grad_k, grad_v, workspace, stream);
    case ScalarType::kFloat16:
      return backward_dim<__half>(s.head_dim, s, c, q, k, v, out, grad_out, lse, grad_q, grad_k,
                                  grad_v, workspace, stream);
    default:
      TESSERA_FAIL("cuda attention_backward: needs float32, float64, bfloat16 or float16");
  }
}

}  // namespace tessera::kernels::cuda
