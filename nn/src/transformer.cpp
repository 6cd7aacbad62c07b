// SPDX-License-Identifier: Apache-2.0
/// @brief FeedForward and Transformer encoder/decoder layers (see transformer.h).
#include <tessera/nn/transformer.h>

#include <tessera/nn/functional.h>
#include <tessera/ops.h>

namespace tessera::nn {

FeedForward::FeedForward(int64_t dim, int64_t hidden, double dropout, bool tanh, DType dtype,
                         Generator* gen, bool bias)
    : gelu_tanh(tanh) {
  c_fc = register_module("c_fc", std::make_shared<Linear>(dim, hidden, bias, dtype, gen));
  drop = register_module("drop", std::make_shared<Dropout>(dropout, gen));
  c_proj = register_module("c_proj", std::make_shared<Linear>(hidden, dim, bias, dtype, gen));
}

Tensor FeedForward::forward(const Tensor& x) {
  return c_proj->forward(drop->forward(F::gelu(c_fc->forward(x), gelu_tanh)));
}

namespace {
MultiHeadAttentionOptions attn_opts(const TransformerLayerOptions& o, bool fused) {
  MultiHeadAttentionOptions a;
  a.embed_dim = o.d_model;
  a.num_heads = o.num_heads;
  a.dropout = o.dropout;
  a.fused_qkv = fused;
  a.dtype = o.dtype;
  a.gen = o.gen;
  return a;
}
int64_t ff_dim(const TransformerLayerOptions& o) {
  return o.dim_feedforward > 0 ? o.dim_feedforward : 4 * o.d_model;
}
}  // namespace

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerLayerOptions& o) : opts(o) {
  ln_1 = register_module(
      "ln_1", std::make_shared<LayerNorm>(o.d_model, o.layer_norm_eps, true, true, o.dtype));
  attn = register_module("attn", std::make_shared<MultiHeadAttention>(attn_opts(o, true)));
  ln_2 = register_module(
      "ln_2", std::make_shared<LayerNorm>(o.d_model, o.layer_norm_eps, true, true, o.dtype));
  mlp = register_module("mlp", std::make_shared<FeedForward>(o.d_model, ff_dim(o), o.dropout,
                                                             o.gelu_tanh, o.dtype, o.gen));
  drop = register_module("drop", std::make_shared<Dropout>(o.dropout, o.gen));
}

Tensor TransformerEncoderLayer::forward(const Tensor& x, const Tensor& kpm, bool causal) {
  auto sa = [&](const Tensor& h) { return drop->forward(attn->forward(h, h, h, causal, kpm)); };
  auto ff = [&](const Tensor& h) { return drop->forward(mlp->forward(h)); };
  if (opts.norm_first) {
    Tensor h = add(x, sa(ln_1->forward(x)));
    return add(h, ff(ln_2->forward(h)));
  }
  Tensor h = ln_1->forward(add(x, sa(x)));
  return ln_2->forward(add(h, ff(h)));
}

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerLayerOptions& o) : opts(o) {
  ln_1 = register_module(
      "ln_1", std::make_shared<LayerNorm>(o.d_model, o.layer_norm_eps, true, true, o.dtype));
  self_attn =
      register_module("self_attn", std::make_shared<MultiHeadAttention>(attn_opts(o, true)));
  ln_2 = register_module(
      "ln_2", std::make_shared<LayerNorm>(o.d_model, o.layer_norm_eps, true, true, o.dtype));
  cross_attn =
      register_module("cross_attn", std::make_shared<MultiHeadAttention>(attn_opts(o, false)));
  ln_3 = register_module(
      "ln_3", std::make_shared<LayerNorm>(o.d_model, o.layer_norm_eps, true, true, o.dtype));
  mlp = register_module("mlp", std::make_shared<FeedForward>(o.d_model, ff_dim(o), o.dropout,
                                                             o.gelu_tanh, o.dtype, o.gen));
  drop = register_module("drop", std::make_shared<Dropout>(o.dropout, o.gen));
}

Tensor TransformerDecoderLayer::forward(const Tensor& x, const Tensor& memory,
                                        const Tensor& mem_kpm, const Tensor& tgt_kpm,
                                        KVCache* cache) {
  auto sa = [&](const Tensor& h) {
    return drop->forward(self_attn->forward(h, h, h, true, tgt_kpm, cache));
  };
  auto ca = [&](const Tensor& h) {
    return drop->forward(cross_attn->forward(h, memory, memory, false, mem_kpm));
  };
  auto ff = [&](const Tensor& h) { return drop->forward(mlp->forward(h)); };
  if (opts.norm_first) {
    Tensor h = add(x, sa(ln_1->forward(x)));
    h = add(h, ca(ln_2->forward(h)));
    return add(h, ff(ln_3->forward(h)));
  }
  Tensor h = ln_1->forward(add(x, sa(x)));
  h = ln_2->forward(add(h, ca(h)));
  return ln_3->forward(add(h, ff(h)));
}

}  // namespace tessera::nn
