// SPDX-License-Identifier: Apache-2.0
/// @brief Fused scaled-dot-product attention (FlashAttention-2 style) forward and backward, CPU.
///
/// Shapes (row-major, contiguous): q, o, grad_q, grad_o (B, H, Tq, D); k, v, grad_k, grad_v
/// (B, H, Tk, D); lse (B, H, Tq) compute_t<T>; key_lengths (B) int64 or null; key_padding_mask
/// (B, Tk) bool or null.
///   S = scale * q k^T,  S[i, j] = -inf where masked,  P = softmax_j(S),  o = P v,
///   lse[i] = log sum_j exp(S[i, j])   (the backward recomputes P from q, k and lse).
/// Masks (any combination):
///   key lengths (varlen): key j of batch b is masked when j >= key_lengths[b];
///   key padding mask: key j of batch b is masked when key_padding_mask[b * Tk + j] is true
///        (nn's key_padding_mask convention: true = padding);
///   causal, bottom-right aligned (FlashAttention's convention, the one KV-cached decoding needs):
///        query i sees keys j <= i + (Tk - Tq). For Tq == Tk this is the usual lower triangle
///        (PyTorch's is_causal); for Tq < Tk the queries are the last Tq positions of the key
///        sequence; for Tq > Tk the first Tq - Tk queries see no key.
/// A query that sees no key (key length 0, all keys padded, or causal with Tq > Tk) gets o = 0
/// and lse = -inf, and zero gradients: never NaN. Masked keys get zero grad_k and grad_v.
/// Dropout (dropout_p > 0): each probability P[b, h, i, j] is kept with probability 1 - p and
/// scaled by 1 / (1 - p); the keep decision is uniform_float(word) >= p where word is
///   Philox4x32::word(seed, offset, ((b * H + h) * Tq + i) * Tk + j)
/// (tessera's stream layout, philox.h), so backward regenerates the same mask from (seed, offset).
/// lse is that of the undropped P. Backward takes the same options.
/// T is float, double, BFloat16 or Float16 (16-bit types compute in float).
/// Backward assigns (=) grad_q, grad_k, grad_v; any of them may be null (not wanted).
/// Results are bit-identical for any OpenMP thread count.
#pragma once

#include <cstdint>

#include <tessera/half.h>
#include <tessera/kernels/cpu/compute_type.h>

namespace tessera::kernels::cpu {

struct AttentionShape {
  int64_t batch = 0, heads = 0, q_len = 0, kv_len = 0, head_dim = 0;
};

struct AttentionOptions {
  double scale = 0;  ///< 0 means 1 / sqrt(head_dim); double so float64 keeps a custom scale exact
  bool causal = false;
  const int64_t* key_lengths = nullptr;    ///< (B), each in [0, kv_len]; null = no padding
  float dropout_p = 0.f;                   ///< in [0, 1)
  uint64_t seed = 0, offset = 0;           ///< Philox stream of the dropout mask
  const bool* key_padding_mask = nullptr;  ///< (B, Tk), true = padding; null = none
};

template <typename T>
void attention_forward(const AttentionShape& shape, const AttentionOptions& opt, const T* q,
                       const T* k, const T* v, T* o, compute_t<T>* lse);

template <typename T>
void attention_backward(const AttentionShape& shape, const AttentionOptions& opt, const T* q,
                        const T* k, const T* v, const T* o, const T* grad_o,
                        const compute_t<T>* lse, T* grad_q, T* grad_k, T* grad_v);

}  // namespace tessera::kernels::cpu
