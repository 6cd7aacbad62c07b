// SPDX-License-Identifier: Apache-2.0
/// @brief Launchers of the fused scaled-dot-product attention kernels (kernels/cuda/attention.cu).
///
/// o = softmax(scale q k^T (+ causal mask)) v without writing the (Tq, Tk) matrix to global memory
/// (FlashAttention-2 tiling), and its backward. Same contract as the CPU kernel
/// (tessera/kernels/cpu/attention.h): top-left causal, rows that see no key give o = 0 and
/// lse = -inf, dropout on the probabilities with the same Philox element layout, so CUDA and CPU
/// make the same keep/drop decision for every (b, h, i, j).
#pragma once

#include <cstddef>
#include <cstdint>

#include <tessera/kernels/cuda/types.h>

namespace tessera::kernels::cuda {

struct AttentionShape {
  int64_t batch = 0, heads = 0, q_len = 0, kv_len = 0, head_dim = 0;
};

struct AttentionConfig {
  float scale = 0.f;    ///< 0 = 1 / sqrt(head_dim)
  bool causal = false;  ///< top-left: query i sees keys j <= i (callers require Tq == Tk)
  float dropout_p =
      0.f;  ///< in [0, 1); keep mask from Philox (seed, offset + idx / 4), word idx % 4
  uint64_t seed = 0, offset = 0;  ///< idx = ((b H + h) Tq + i) Tk + j
  bool force_simt = false;        ///< tests: run the SIMT kernel for 16-bit types too
};

/// True when the kernels cover dtype `t` (float32, float64, bfloat16, float16) and `head_dim`
/// (32, 64, 128); callers compose the op from matmul/softmax otherwise.
bool attention_supported(ScalarType t, int64_t head_dim);

/// q, out (B, H, Tq, D); k, v (B, H, Tk, D), all contiguous of dtype `t`; lse (B, H, Tq) float32
/// (float64 for float64 input). bfloat16/float16 use tensor cores (mma.sync m16n8k16) when the
/// pointers are 16-byte aligned, float32/float64 a SIMT kernel. Deterministic.
void attention_forward(ScalarType t, const AttentionShape& s, const AttentionConfig& c,
                       const void* q, const void* k, const void* v, void* out, void* lse,
                       cudaStream_t stream);

/// Bytes of scratch attention_backward needs (D_i = rowsum(dO * O), B*H*Tq accumulators).
size_t attention_backward_workspace(ScalarType t, const AttentionShape& s);

/// grad_q (B, H, Tq, D), grad_k, grad_v (B, H, Tk, D) (assigned, not accumulated) from q, k, v,
/// the forward's out and lse, and grad_out (dtype `t`). Recomputes P per tile (no (Tq, Tk)
/// buffer); no atomics: dK/dV by one block per key tile, dQ by one block per query tile.
void attention_backward(ScalarType t, const AttentionShape& s, const AttentionConfig& c,
                        const void* q, const void* k, const void* v, const void* out,
                        const void* grad_out, const void* lse, void* grad_q, void* grad_k,
                        void* grad_v, void* workspace, cudaStream_t stream);

}  // namespace tessera::kernels::cuda
