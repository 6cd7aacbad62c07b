// SPDX-License-Identifier: Apache-2.0
/// @brief MultiHeadAttention (see attention.h): projections, head split, SDPA, merge, output proj.
#include <tessera/nn/attention.h>

#include <tessera/nn/functional.h>
#include <tessera/ops.h>

namespace tessera::nn {
namespace {
/// (B, T, C) -> (B, H, T, C/H)
Tensor split_heads(const Tensor& x, int64_t h) {
  const int64_t b = x.size(0), t = x.size(1), c = x.size(2);
  return transpose(reshape(x, {b, t, h, c / h}), 1, 2);
}
/// (B, H, T, D) -> (B, T, H*D)
Tensor merge_heads(const Tensor& x) {
  const int64_t b = x.size(0), h = x.size(1), t = x.size(2), d = x.size(3);
  return reshape(transpose(x, 1, 2), {b, t, h * d});
}
}  // namespace

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionOptions& o) : opts(o) {
  const int64_t c = o.embed_dim;
  TESSERA_CHECK(c > 0 && o.num_heads > 0 && c % o.num_heads == 0, "MultiHeadAttention: embed_dim ",
                c, " must be a positive multiple of num_heads ", o.num_heads);
  if (o.fused_qkv) {
    c_attn = register_module("c_attn", std::make_shared<Linear>(c, 3 * c, o.bias, o.dtype, o.gen));
  } else {
    q_proj = register_module("q_proj", std::make_shared<Linear>(c, c, o.bias, o.dtype, o.gen));
    k_proj = register_module("k_proj", std::make_shared<Linear>(c, c, o.bias, o.dtype, o.gen));
    v_proj = register_module("v_proj", std::make_shared<Linear>(c, c, o.bias, o.dtype, o.gen));
  }
  c_proj = register_module("c_proj", std::make_shared<Linear>(c, c, o.bias, o.dtype, o.gen));
}

Tensor MultiHeadAttention::forward(const Tensor& x) { return forward(x, x, x, opts.causal); }

Tensor MultiHeadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   bool causal, const Tensor& key_padding_mask, KVCache* cache) {
  const int64_t c = opts.embed_dim, h = opts.num_heads;
  TESSERA_CHECK(query.dim() == 3 && key.dim() == 3 && value.dim() == 3 && query.size(2) == c &&
                    key.size(2) == c && value.size(2) == c && key.size(1) == value.size(1) &&
                    key.size(0) == query.size(0) && value.size(0) == query.size(0),
                "MultiHeadAttention: expected query (B, Tq, ", c, "), key/value (B, Tk, ", c,
                "), got ", describe(query), ", ", describe(key), ", ", describe(value));
  const bool self = query.is_same(key) && key.is_same(value);
  Tensor q, k, v;
  if (opts.fused_qkv) {
    TESSERA_CHECK(self,
                  "MultiHeadAttention: fused_qkv supports self-attention only (query, key and "
                  "value must be the same tensor)");
    auto qkv = split(c_attn->forward(query), c, 2);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    q = q_proj->forward(query), k = k_proj->forward(key), v = v_proj->forward(value);
  }
  q = split_heads(q, h);
  k = split_heads(k, h);
  v = split_heads(v, h);
  if (cache) {
    TESSERA_CHECK(self, "MultiHeadAttention: a KV cache needs self-attention");
    TESSERA_CHECK(!key_padding_mask.defined(),
                  "MultiHeadAttention: key_padding_mask with a KV cache "
                  "is not supported");
    if (cache->length() > 0) {
      TESSERA_CHECK(cache->k.size(0) == k.size(0) && cache->k.size(1) == h,
                    "MultiHeadAttention: KV cache ", describe(cache->k),
                    " does not match batch/heads of ", describe(k));
      k = cat({cache->k, k}, 2);
      v = cat({cache->v, v}, 2);
    }
    // The cache keeps data only: a later step must not backprop into earlier steps' graphs.
    cache->k = detach(k);
    cache->v = detach(v);
  }
  F::AttentionOptions ao;
  ao.causal = causal;
  ao.dropout_p = is_training() ? opts.dropout : 0.0;
  ao.gen = opts.gen;
  if (key_padding_mask.defined()) {
    TESSERA_CHECK(key_padding_mask.dtype() == kBool && key_padding_mask.dim() == 2 &&
                      key_padding_mask.size(0) == k.size(0) &&
                      key_padding_mask.size(1) == k.size(2),
                  "MultiHeadAttention: key_padding_mask must be bool (B, Tk) = (", k.size(0), ", ",
                  k.size(2), "), got ", describe(key_padding_mask));
    ao.key_padding_mask = key_padding_mask;  // (B, Tk) true = pad: fused kernel on CPU
  }
  const Tensor y = F::scaled_dot_product_attention(q, k, v, ao);
  return c_proj->forward(merge_heads(y));
}

}  // namespace tessera::nn
