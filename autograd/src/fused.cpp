// SPDX-License-Identifier: Apache-2.0
/// @brief Autograd nodes for the fused kernels: LayerNorm, cross-entropy, attention.
#include <tessera/autograd/fused.h>

#include <tessera/autograd/function.h>
#include <tessera/native/convert.h>
#include <tessera/native/fused.h>
#include <tessera/native/shape.h>

namespace tessera {

using Grads = std::vector<Tensor>;
using autograd::record1;

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  native::LayerNormResult r = native::layer_norm(x, weight, bias, eps);
  return record1(
      "LayerNormBackward", {x, weight, bias}, r.y,
      [](autograd::AutogradContext& ctx, const Grads& g) -> Grads {
        const auto s = ctx.saved();  // x, weight, mean, rstd
        native::LayerNormGrads lg =
            native::layer_norm_backward(g[0], s[0], s[1], s[2], s[3], ctx.needs_input_grad(0),
                                        ctx.needs_input_grad(1), ctx.needs_input_grad(2));
        return {lg.grad_x, lg.grad_weight, lg.grad_bias};
      },
      [&](autograd::AutogradContext& ctx) {
        ctx.save_for_backward({x, weight, r.mean, r.rstd});
      });
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                     double label_smoothing) {
  native::CrossEntropyResult r =
      native::cross_entropy(logits, targets, ignore_index, label_smoothing);
  return record1(
      "CrossEntropyBackward", {logits}, r.loss,
      [ignore_index, label_smoothing](autograd::AutogradContext& ctx, const Grads& g) -> Grads {
        const auto s = ctx.saved();  // logits, targets, lse
        return {
            native::cross_entropy_backward(g[0], s[0], s[1], s[2], ignore_index, label_smoothing)};
      },
      [&](autograd::AutogradContext& ctx) {
        ctx.save_for_backward({logits, targets, r.lse});
      });
}

Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale,
                       double dropout_p, Generator* gen, const Tensor& key_lengths,
                       const Tensor& key_padding_mask) {
  native::AttentionParams p;
  p.causal = causal;
  p.scale = scale;
  p.dropout_p = dropout_p;
  p.key_lengths = key_lengths;  // integer / bool: never part of the graph
  p.key_padding_mask = key_padding_mask;
  if (dropout_p > 0) {
    Generator& g = gen ? *gen : default_generator();
    const uint64_t n = static_cast<uint64_t>(q.size(0) * q.size(1) * q.size(2) * k.size(2));
    p.seed = g.seed();
    p.offset = g.advance((n + 3) / 4);
  }
  // The kernels read dense (B, H, T, D) operands, and q, k, v are usually head-split views of the
  // fused QKV projection. Densify them once here and save the dense copies, so that backward does
  // not copy them a second time (perf: those copies were ~3% of a small GPT's training step).
  // Memory is unchanged: the saved views kept the whole projection output alive.
  const Tensor qd = native::contiguous(q), kd = native::contiguous(k), vd = native::contiguous(v);
  native::AttentionResult r = native::scaled_dot_product_attention(qd, kd, vd, p);
  return record1(
      "FusedAttentionBackward", {q, k, v}, r.out,
      [p](autograd::AutogradContext& ctx, const Grads& g) -> Grads {
        const auto s = ctx.saved();  // q, k, v, out, lse
        native::AttentionGrads ag =
            native::scaled_dot_product_attention_backward(g[0], s[0], s[1], s[2], s[3], s[4], p);
        return {ag.grad_q, ag.grad_k, ag.grad_v};
      },
      [&](autograd::AutogradContext& ctx) {
        ctx.save_for_backward({qd, kd, vd, r.out, r.lse});
      });
}

}  // namespace tessera
