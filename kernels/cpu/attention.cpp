// SPDX-License-Identifier: Apache-2.0
/// @brief FlashAttention-2 style fused attention forward and backward on CPU (tiles + online
/// softmax).
//
// attention.cpp: o = softmax(scale q k^T + masks) v without materialising the (Tq, Tk) matrix.
// Shapes:  q, o (B, H, Tq, D); k, v (B, H, Tk, D); lse (B, H, Tq); tiles S, P (Bq, Bk).
// Forward (Dao 2023, Algorithm 1 on CPU): one task per (b, h, query tile of kBq rows), spread over
//          OpenMP threads in fixed order. For each key tile of kBk rows: S = Q K^T (tile GEMM),
//          row max m, P = exp(scale S - m), running sum l and accumulator O rescaled by
//          exp(m_old - m_new), O += P V (tile GEMM). Finally O /= l, lse = m + log l. Causal and
//          padded tiles beyond a query tile's last visible key are skipped, so causal costs half.
// Masks:   causal is bottom-right aligned (row i sees keys j <= i + Tk - Tq: FlashAttention's and
//          KV-cache decoding's convention; the usual triangle when Tq == Tk). Key padding comes
//          as lengths (keys >= len[b] masked) and/or a bool (B, Tk) mask (true = padding); both
//          shrink the key range to the last unpadded key + 1, and mask entries inside it set S to
//          -inf before the row max (exp_fast(-inf) = 0). A row that sees no key keeps l = 0:
//          o = 0, lse = -inf, and its backward rows are skipped (zero gradients, no NaN).
// Backward (Dao 2023, Algorithm 2): D_i = rowsum(dO_i * O_i); for each key tile j (outer) and query
//          tile i (inner): S = Q_i K_j^T, P = exp(scale S - lse_i), dV_j += P^T dO_i,
//          dP = dO_i V_j^T, dS = P (dP - D_i) scale, dQ_i += dS K_j, dK_j += dS^T Q_i.
//          The GPU version adds dQ_i with atomics; here one task owns a whole (b, h), so every
//          accumulation has one writer and a fixed order: no atomics, thread-count invariant.
//          (Parallelism is B*H tasks: enough for training shapes; B*H = 1 runs one thread.)
// Tile GEMMs: gemm.h (OpenBLAS, single-threaded inside the OpenMP region). NOTE [attention tile
//          GEMMs]: measured against a hand-written AVX2 loop in docs/kernels.md; OpenBLAS's small
//          GEMMs reach ~70% of its large-GEMM rate at 64 x 128 x 64, and the exp/softmax part costs
//          about as much as one GEMM, so tiles are sized to keep S, Q, K, V, O in L2 (~130 KB).
// Dropout: keep mask from Philox at counter offset + (((b H + h) Tq + i) Tk + j) / 4 (attention.h);
//          l and lse use the undropped P; O uses P * keep / (1 - p); backward regenerates it.
// Cost:    forward 4 B H Tq Tk D FLOP (2 GEMMs) + ~15 B H Tq Tk for the softmax; backward
//          10 B H Tq Tk D (5 GEMMs); both halve with causal. Bytes: q, k, v, o once each (plus k, v
//          re-read from L2/L3 per query tile): compute-bound for D >= 32.
// Target:  >= 2x the unfused composition (GEMM, softmax, GEMM over the full T x T matrix) at
//          T = 1024, D = 64. Measured: docs/kernels.md.
// Tests: tests/kernels/test_attention.cpp   Bench: benches/kernels/bench_attention.cpp
#include <tessera/kernels/cpu/attention.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <tessera/error.h>
#include <tessera/kernels/cpu/gemm.h>
#include <tessera/kernels/cpu/strided_loop.h>
#include <tessera/philox.h>

#include "vec_math.h"

namespace tessera::kernels::cpu {
namespace {

using detail::exp_fast;

constexpr int64_t kBq = 64;   // query rows per tile
constexpr int64_t kBk = 128;  // key rows per tile

void check_args(const char* op, const AttentionShape& s, const AttentionOptions& o) {
  TESSERA_CHECK(s.batch >= 0 && s.heads >= 0 && s.q_len >= 0 && s.kv_len >= 0 && s.head_dim > 0, op,
                ": expected non-negative sizes and head_dim > 0, got (B, H, Tq, Tk, D) = (",
                s.batch, ", ", s.heads, ", ", s.q_len, ", ", s.kv_len, ", ", s.head_dim, ")");
  TESSERA_CHECK(o.dropout_p >= 0.f && o.dropout_p < 1.f, op, ": expected dropout_p in [0, 1), got ",
                o.dropout_p);
  TESSERA_CHECK(std::isfinite(o.scale) && o.scale >= 0.f, op,
                ": expected a finite scale >= 0 (0 = 1/sqrt(head_dim)), got ", o.scale);
  if (o.key_lengths) {
    for (int64_t b = 0; b < s.batch; ++b)
      TESSERA_CHECK(o.key_lengths[b] >= 0 && o.key_lengths[b] <= s.kv_len, op, ": key_lengths[", b,
                    "] = ", o.key_lengths[b], " is outside [0, kv_len=", s.kv_len, "]");
  }
}

// Per batch: one past the last key that is not padding (by length and by mask); keys from there
// on are never visited.
std::vector<int64_t> key_ends(const AttentionShape& s, const AttentionOptions& o) {
  std::vector<int64_t> end(s.batch, s.kv_len);
  for (int64_t b = 0; b < s.batch; ++b) {
    if (o.key_lengths) end[b] = o.key_lengths[b];
    if (o.key_padding_mask) {
      const bool* pm = o.key_padding_mask + b * s.kv_len;
      while (end[b] > 0 && pm[end[b] - 1]) --end[b];
    }
  }
  return end;
}

// Keys of row `i` (global query index) in the key tile [k0, k0 + bk) that causal masking leaves
// visible: [0, n) of the tile. off = Tk - Tq (bottom-right alignment).
inline int64_t visible_in_tile(bool causal, int64_t i, int64_t off, int64_t k0, int64_t bk) {
  return causal ? std::clamp<int64_t>(i + 1 + off - k0, 0, bk) : bk;
}

template <typename A>
A resolve_scale(const AttentionShape& s, const AttentionOptions& o) {
  return o.scale != 0.f ? static_cast<A>(o.scale) : A(1) / std::sqrt(static_cast<A>(s.head_dim));
}

// Rows [0, rows) x D of src as A: the pointer itself when T is A, else a widened copy.
template <typename A, typename T>
const A* as_acc(const T* src, int64_t n, std::vector<A>& buf) {
  if constexpr (std::is_same_v<T, A>) {
    return src;
  } else {
    buf.resize(n);
    for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<A>(src[i]);
    return buf.data();
  }
}

// C (m, n) = alpha op(A) op(B) + beta C on dense tiles (leading dimensions given).
template <typename A>
void tile_gemm(int64_t m, int64_t n, int64_t k, bool ta, bool tb, const A* a, int64_t lda,
               const A* b, int64_t ldb, float beta, A* c, int64_t ldc) {
  GemmShape g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.trans_a = ta;
  g.trans_b = tb;
  g.lda = lda;
  g.ldb = ldb;
  g.ldc = ldc;
  gemm<A>(g, 1.f, a, b, beta, c);
}

// The dropout keep mask of one query row: keep[j] for keys [k0, k0 + n) of row `row_index`
// ((b H + h) Tq + i). Philox blocks are generated once per 4 consecutive counters' words.
struct DropoutMask {
  uint64_t seed, offset;
  float p;
  template <typename A>
  void apply(int64_t row_index, int64_t tk, int64_t k0, int64_t n, A* row, A inv_keep) const {
    uint64_t cached = ~uint64_t{0};
    U32x4 block{};
    for (int64_t j = 0; j < n; ++j) {
      const uint64_t idx = static_cast<uint64_t>(row_index) * static_cast<uint64_t>(tk) +
                           static_cast<uint64_t>(k0 + j);
      if (idx / 4 != cached) {
        cached = idx / 4;
        block = Philox4x32::generate(seed, offset + cached);
      }
      row[j] = uniform_float(block[static_cast<int>(idx % 4)]) >= p ? row[j] * inv_keep : A(0);
    }
  }
};

}  // namespace

template <typename T>
void attention_forward(const AttentionShape& s, const AttentionOptions& opt, const T* q, const T* k,
                       const T* v, T* o, compute_t<T>* lse) {
  using A = compute_t<T>;
  constexpr A kNegInf = -std::numeric_limits<A>::infinity();
  // Preconditions
  check_args("attention_forward", s, opt);
  const int64_t B = s.batch, H = s.heads, Tq = s.q_len, Tk = s.kv_len, D = s.head_dim;
  if (B * H * Tq == 0) return;
  TESSERA_CHECK(q && o && (Tk == 0 || (k && v)), "attention_forward: q, k, v, o must be non-null");
  const A scale = resolve_scale<A>(s, opt);
  const bool dropout = opt.dropout_p > 0.f;
  const DropoutMask drop{opt.seed, opt.offset, opt.dropout_p};
  const A inv_keep = A(1) / (A(1) - static_cast<A>(opt.dropout_p));
  const int64_t q_tiles = (Tq + kBq - 1) / kBq;
  const std::vector<int64_t> kv_end = key_ends(s, opt);
  const int64_t off = Tk - Tq;  // causal: row i sees keys j <= i + off

  parallel_for(B * H * q_tiles, 1, [&](int64_t t0, int64_t t1) {
    std::vector<A> qbuf, kbuf, vbuf;
    std::vector<A> sbuf(kBq * kBk), obuf(kBq * D), m(kBq), l(kBq);
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t bh = task / q_tiles, q0 = (task % q_tiles) * kBq;
      const int64_t b = bh / H, bq = std::min(kBq, Tq - q0);
      const bool* pad = opt.key_padding_mask ? opt.key_padding_mask + b * Tk : nullptr;
      // Causal: the tile's last row q0 + bq - 1 sees keys <= q0 + bq - 1 + off.
      const int64_t k_end =
          opt.causal ? std::clamp<int64_t>(q0 + bq + off, 0, kv_end[b]) : kv_end[b];
      const A* qt = as_acc<A>(q + (bh * Tq + q0) * D, bq * D, qbuf);  // (bq, D)
      std::fill(obuf.begin(), obuf.begin() + bq * D, A(0));
      std::fill(m.begin(), m.end(), kNegInf);
      std::fill(l.begin(), l.end(), A(0));
      for (int64_t k0 = 0; k0 < k_end; k0 += kBk) {
        const int64_t bk = std::min(kBk, k_end - k0);
        const A* kt = as_acc<A>(k + (bh * Tk + k0) * D, bk * D, kbuf);  // (bk, D)
        const A* vt = as_acc<A>(v + (bh * Tk + k0) * D, bk * D, vbuf);  // (bk, D)
        A* st = sbuf.data();                                            // (bq, bk)
        tile_gemm<A>(bq, bk, D, false, true, qt, D, kt, D, 0.f, st, bk);
        for (int64_t i = 0; i < bq; ++i) {
          A* row = st + i * bk;
          // Visible keys of this row in this tile: [0, n), less the padded ones.
          const int64_t n = visible_in_tile(opt.causal, q0 + i, off, k0, bk);
          if (pad) {
            const bool* pt = pad + k0;
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) row[j] = pt[j] ? kNegInf : row[j];
          }
          A mx = kNegInf;
#pragma omp simd reduction(max : mx)
          for (int64_t j = 0; j < n; ++j) mx = row[j] > mx ? row[j] : mx;  // see vec_math.h
          mx *= scale;  // scale >= 0 and rounding is monotonic: max(scale S) exactly
          const A mn = std::max(m[i], n > 0 ? mx : kNegInf);
          if (mn == kNegInf) {
            std::fill(row, row + bk, A(0));
            continue;
          }
          const A alpha = exp_fast(m[i] - mn);  // 0 when m was -inf
          A sum = 0;
#pragma omp simd reduction(+ : sum)
          for (int64_t j = 0; j < n; ++j) {
            row[j] = exp_fast(row[j] * scale - mn);
            sum += row[j];
          }
          std::fill(row + n, row + bk, A(0));
          l[i] = l[i] * alpha + sum;
          m[i] = mn;
          if (alpha != A(1)) {
            A* orow = obuf.data() + i * D;
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) orow[d] *= alpha;
          }
          if (dropout) drop.apply(bh * Tq + q0 + i, Tk, k0, n, row, inv_keep);
        }
        tile_gemm<A>(bq, D, bk, false, false, st, bk, vt, D, 1.f, obuf.data(), D);
      }
      for (int64_t i = 0; i < bq; ++i) {
        T* orow = o + (bh * Tq + q0 + i) * D;
        const A inv = l[i] > 0 ? A(1) / l[i] : A(0);  // no visible key: o = 0
        for (int64_t d = 0; d < D; ++d) orow[d] = static_cast<T>(obuf[i * D + d] * inv);
        if (lse) lse[bh * Tq + q0 + i] = l[i] > 0 ? m[i] + std::log(l[i]) : kNegInf;
      }
    }
  });
}

template <typename T>
void attention_backward(const AttentionShape& s, const AttentionOptions& opt, const T* q,
                        const T* k, const T* v, const T* o, const T* grad_o,
                        const compute_t<T>* lse, T* grad_q, T* grad_k, T* grad_v) {
  using A = compute_t<T>;
  constexpr A kNegInf = -std::numeric_limits<A>::infinity();
  // Preconditions
  check_args("attention_backward", s, opt);
  const int64_t B = s.batch, H = s.heads, Tq = s.q_len, Tk = s.kv_len, D = s.head_dim;
  if (B * H == 0) return;
  TESSERA_CHECK((Tq == 0 || (q && o && grad_o && lse)) && (Tk == 0 || (k && v)),
                "attention_backward: q, k, v, o, grad_o and lse must be non-null");
  const A scale = resolve_scale<A>(s, opt);
  const bool dropout = opt.dropout_p > 0.f;
  const DropoutMask drop{opt.seed, opt.offset, opt.dropout_p};
  const A inv_keep = A(1) / (A(1) - static_cast<A>(opt.dropout_p));
  const std::vector<int64_t> kv_end = key_ends(s, opt);
  const int64_t off = Tk - Tq;  // causal: row i sees keys j <= i + off

  parallel_for(B * H, 1, [&](int64_t t0, int64_t t1) {
    std::vector<A> qb, kb, vb, ob, gob;
    std::vector<A> dq(Tq * D), dk(kBk * D), dv(kBk * D), dvec(Tq);
    std::vector<A> pbuf(kBq * kBk), dpbuf(kBq * kBk);
    for (int64_t bh = t0; bh < t1; ++bh) {
      const int64_t b = bh / H;
      const int64_t kv_valid = kv_end[b];
      const bool* pad = opt.key_padding_mask ? opt.key_padding_mask + b * Tk : nullptr;
      const A* qa = as_acc<A>(q + bh * Tq * D, Tq * D, qb);         // (Tq, D)
      const A* ka = as_acc<A>(k + bh * Tk * D, Tk * D, kb);         // (Tk, D)
      const A* va = as_acc<A>(v + bh * Tk * D, Tk * D, vb);         // (Tk, D)
      const A* oa = as_acc<A>(o + bh * Tq * D, Tq * D, ob);         // (Tq, D)
      const A* goa = as_acc<A>(grad_o + bh * Tq * D, Tq * D, gob);  // (Tq, D)
      const A* lrow = lse + bh * Tq;                                // (Tq)
      for (int64_t i = 0; i < Tq; ++i) {
        A acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t d = 0; d < D; ++d) acc += goa[i * D + d] * oa[i * D + d];
        dvec[i] = acc;
      }
      std::fill(dq.begin(), dq.end(), A(0));
      for (int64_t k0 = 0; k0 < kv_valid; k0 += kBk) {
        const int64_t bk = std::min(kBk, kv_valid - k0);
        const A* kt = ka + k0 * D;  // (bk, D)
        const A* vt = va + k0 * D;  // (bk, D)
        std::fill(dk.begin(), dk.end(), A(0));
        std::fill(dv.begin(), dv.end(), A(0));
        // Causal: rows < k0 - off see nothing of this tile.
        const int64_t q_first = opt.causal ? (std::clamp<int64_t>(k0 - off, 0, Tq) / kBq) * kBq : 0;
        for (int64_t q0 = q_first; q0 < Tq; q0 += kBq) {
          const int64_t bq = std::min(kBq, Tq - q0);
          const A* qt = qa + q0 * D;    // (bq, D)
          const A* got = goa + q0 * D;  // (bq, D)
          A* p = pbuf.data();           // (bq, bk)
          A* dp = dpbuf.data();         // (bq, bk)
          tile_gemm<A>(bq, bk, D, false, true, qt, D, kt, D, 0.f, p, bk);
          tile_gemm<A>(bq, bk, D, false, true, got, D, vt, D, 0.f, dp, bk);
          for (int64_t i = 0; i < bq; ++i) {
            A* prow = p + i * bk;
            A* dprow = dp + i * bk;
            const A li = lrow[q0 + i];
            const int64_t n = li == kNegInf ? 0 : visible_in_tile(opt.causal, q0 + i, off, k0, bk);
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) prow[j] = exp_fast(prow[j] * scale - li);
            std::fill(prow + n, prow + bk, A(0));
            if (pad) {  // padded keys: P = 0, so dS, dV and dK get nothing from them
              const bool* pt = pad + k0;
#pragma omp simd
              for (int64_t j = 0; j < n; ++j) prow[j] = pt[j] ? A(0) : prow[j];
            }
            // dp holds dP' = dO V^T, the gradient of the dropped P' = P keep / (1 - p); the
            // gradient of P is dP' keep / (1 - p). D_i = rowsum(dO O) = rowsum(P' dP') still holds.
            if (dropout) drop.apply(bh * Tq + q0 + i, Tk, k0, n, dprow, inv_keep);
            const A di = dvec[q0 + i];
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) dprow[j] = prow[j] * (dprow[j] - di) * scale;
            std::fill(dprow + n, dprow + bk, A(0));
          }
          // dV_j += P'^T dO_i with P' the dropped probabilities.
          if (dropout) {
            for (int64_t i = 0; i < bq; ++i)
              drop.apply(bh * Tq + q0 + i, Tk, k0, bk, p + i * bk, inv_keep);
          }
          tile_gemm<A>(bk, D, bq, true, false, p, bk, got, D, 1.f, dv.data(), D);
          tile_gemm<A>(bq, D, bk, false, false, dp, bk, kt, D, 1.f, dq.data() + q0 * D, D);
          tile_gemm<A>(bk, D, bq, true, false, dp, bk, qt, D, 1.f, dk.data(), D);
        }
        for (int64_t i = 0; i < bk * D; ++i) {
          if (grad_k) grad_k[(bh * Tk + k0) * D + i] = static_cast<T>(dk[i]);
          if (grad_v) grad_v[(bh * Tk + k0) * D + i] = static_cast<T>(dv[i]);
        }
      }
      // Masked (padded) keys get no gradient.
      for (int64_t i = kv_valid * D; i < Tk * D; ++i) {
        if (grad_k) grad_k[bh * Tk * D + i] = static_cast<T>(A(0));
        if (grad_v) grad_v[bh * Tk * D + i] = static_cast<T>(A(0));
      }
      if (grad_q)
        for (int64_t i = 0; i < Tq * D; ++i) grad_q[bh * Tq * D + i] = static_cast<T>(dq[i]);
    }
  });
}

#define TESSERA_INSTANTIATE_ATTENTION(T)                                                           \
  template void attention_forward<T>(const AttentionShape&, const AttentionOptions&, const T*,     \
                                     const T*, const T*, T*, compute_t<T>*);                       \
  template void attention_backward<T>(const AttentionShape&, const AttentionOptions&, const T*,    \
                                      const T*, const T*, const T*, const T*, const compute_t<T>*, \
                                      T*, T*, T*);
TESSERA_INSTANTIATE_ATTENTION(float)
TESSERA_INSTANTIATE_ATTENTION(double)
TESSERA_INSTANTIATE_ATTENTION(BFloat16)
TESSERA_INSTANTIATE_ATTENTION(Float16)
#undef TESSERA_INSTANTIATE_ATTENTION

}  // namespace tessera::kernels::cpu
