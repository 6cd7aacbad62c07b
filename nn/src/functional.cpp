// SPDX-License-Identifier: Apache-2.0
/// @brief Functional layers composed from differentiable primitives (fused kernels come later and
/// will plug in as one autograd node each).
#include <tessera/nn/functional.h>

#include <cmath>

#include <tessera/native/fused.h>
#include <tessera/ops.h>

namespace tessera::nn::functional {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  TESSERA_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1),
                "linear: expected x (..., ", weight.dim() == 2 ? weight.size(1) : -1,
                ") and weight (out, in), got x ", describe(x), " and weight ", describe(weight));
  TESSERA_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)),
                "linear: bias must be (", weight.size(0), "), got ", describe(bias));
  // Flatten leading dims so the weight gradient is one GEMM, not a batched one plus a reduction.
  Shape out_shape = x.shape();
  out_shape.back() = weight.size(0);
  const Tensor x2 = x.dim() == 2 ? x : reshape(x, {-1, x.size(-1)});
  Tensor y = matmul(x2, t(weight));
  if (bias.defined()) y = add(y, bias);
  return x.dim() == 2 ? y : reshape(y, out_shape);
}

Tensor layer_norm(const Tensor& x, int64_t nd, const Tensor& weight, const Tensor& bias,
                  double eps) {
  // The common case (normalise the last dim) is one fused node; the rest composes primitives.
  if (nd == 1 && x.dim() >= 1 && (x.device().is_cpu() || x.device().is_cuda()) &&
      (!weight.defined() || weight.shape() == Shape{x.size(-1)}) &&
      (!bias.defined() || bias.shape() == Shape{x.size(-1)}))
    return tessera::layer_norm(x, weight, bias, eps);
  return layer_norm_reference(x, nd, weight, bias, eps);
}

Tensor layer_norm_reference(const Tensor& x, int64_t nd, const Tensor& weight, const Tensor& bias,
                            double eps) {
  TESSERA_CHECK(nd >= 1 && nd <= x.dim(), "layer_norm: normalized_ndim ", nd, " invalid for ",
                describe(x));
  Shape dims;
  for (int64_t d = x.dim() - nd; d < x.dim(); ++d) dims.push_back(d);
  const Shape norm_shape(x.shape().end() - nd, x.shape().end());
  TESSERA_CHECK(!weight.defined() || weight.shape() == norm_shape, "layer_norm: weight ",
                describe(weight), " does not match normalized shape ", shape_str(norm_shape));
  TESSERA_CHECK(!bias.defined() || bias.shape() == norm_shape, "layer_norm: bias ", describe(bias),
                " does not match normalized shape ", shape_str(norm_shape));
  const Tensor mu = mean(x, dims, true);
  const Tensor xc = sub(x, mu);
  const Tensor var_ = mean(square(xc), dims, true);
  Tensor y = mul(xc, rsqrt(add(var_, Scalar(eps))));
  if (weight.defined()) y = mul(y, weight);
  if (bias.defined()) y = add(y, bias);
  return y;
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  TESSERA_CHECK(p >= 0.0 && p <= 1.0, "dropout: p must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, Scalar(0.0));
  const Tensor keep =
      bernoulli(1.0 - p, x.shape(), {.dtype = x.dtype(), .device = x.device()}, gen);
  return mul(x, native::mul(keep, Scalar(1.0 / (1.0 - p))));
}

Tensor gelu(const Tensor& x, bool tanh_approx) { return tessera::gelu(x, tanh_approx); }
Tensor relu(const Tensor& x) { return tessera::relu(x); }
Tensor softmax(const Tensor& x, int64_t dim) { return tessera::softmax(x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return tessera::log_softmax(x, dim); }

Tensor causal_mask(int64_t tq, int64_t tk, Device device) {
  // j <= i + (tk - tq)  <=>  (j - i) <= tk - tq
  const Tensor i =
      native::reshape(arange(Scalar(int64_t{0}), Scalar(tq), Scalar(int64_t{1})), {tq, 1});
  const Tensor j =
      native::reshape(arange(Scalar(int64_t{0}), Scalar(tk), Scalar(int64_t{1})), {1, tk});
  Tensor m = native::le(native::sub(j, i), Scalar(tk - tq));
  return device == kCPU ? m : native::to(m, device);
}

namespace {
/// An attn_mask that only masks keys -- bool, shape (Tk), (1, Tk), ..., (B or 1, 1, 1, Tk) -- as a
/// (B, Tk) key padding mask (true = padding); undefined when attn_mask has another form.
Tensor attn_mask_as_key_padding(const Tensor& m, int64_t b, int64_t tk) {
  if (m.dtype() != kBool || m.dim() < 1 || m.dim() > 4 || m.size(-1) != tk) return {};
  for (int64_t d = 0; d + 1 < m.dim(); ++d) {
    const bool batch_dim = m.dim() == 4 && d == 0;
    if (m.size(d) != 1 && !(batch_dim && m.size(d) == b)) return {};
  }
  const int64_t mb = m.dim() == 4 ? m.size(0) : 1;
  const Tensor pad = native::logical_not(native::reshape(m, {mb, tk}));
  return mb == b ? pad : native::expand(pad, {b, tk});
}
}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& opts) {
  // The fused CPU kernel covers (B, H, T, D) with causal for any Tq, Tk (bottom-right: KV-cached
  // decoding) and key padding (key_padding_mask, key_lengths, or a keys-only attn_mask). The CUDA
  // kernel takes the plain case only (no masks; causal with Tq == Tk, see
  // native::scaled_dot_product_attention_fusable for its dtypes and head dims); the other cases go
  // to the reference composition.
  const bool shapes_ok = q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && k.shape() == v.shape() &&
                         q.size(0) == k.size(0) && q.size(1) == k.size(1) &&
                         q.size(3) == k.size(3) && q.dtype() == k.dtype() &&
                         k.dtype() == v.dtype() && is_floating(q.dtype());
  const bool plain = !opts.attn_mask.defined() && !opts.key_padding_mask.defined() &&
                     !opts.key_lengths.defined() && (!opts.causal || q.size(2) == k.size(2));
  const bool fusable =
      shapes_ok && (q.device().is_cpu() || (plain && native::scaled_dot_product_attention_fusable(
                                                         q.device(), q.dtype(), q.size(-1))));
  if (fusable) {
    Tensor pad = opts.key_padding_mask;
    bool ok = true;
    if (opts.attn_mask.defined()) {
      const Tensor m = attn_mask_as_key_padding(opts.attn_mask, q.size(0), k.size(2));
      ok = m.defined();
      if (ok) pad = pad.defined() ? native::logical_or(pad, m) : m;
    }
    if (ok) {
      return tessera::fused_attention(q, k, v, opts.causal, opts.scale ? *opts.scale : 0.0,
                                      opts.dropout_p, opts.gen, opts.key_lengths, pad);
    }
  }
  return scaled_dot_product_attention_reference(q, k, v, opts);
}

Tensor scaled_dot_product_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                              const AttentionOptions& opts) {
  TESSERA_CHECK(q.dim() >= 2 && k.dim() == q.dim() && v.dim() == q.dim() &&
                    q.size(-1) == k.size(-1) && k.size(-2) == v.size(-2),
                "scaled_dot_product_attention: expected q (..., Tq, D), k (..., Tk, D), v (..., "
                "Tk, Dv), got q ",
                describe(q), ", k ", describe(k), ", v ", describe(v));
  const double scale = opts.scale ? *opts.scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  Tensor scores = mul(matmul(q, transpose(k, -2, -1)), Scalar(scale));  // (..., Tq, Tk)
  const double neg_inf = -std::numeric_limits<double>::infinity();
  if (opts.causal) {
    const Tensor allowed = causal_mask(q.size(-2), k.size(-2), q.device());
    scores = masked_fill(scores, native::logical_not(allowed), Scalar(neg_inf));
  }
  if (opts.attn_mask.defined()) {
    TESSERA_CHECK(opts.attn_mask.dtype() == kBool,
                  "scaled_dot_product_attention: attn_mask must be bool, got ",
                  describe(opts.attn_mask));
    scores = masked_fill(scores, native::logical_not(opts.attn_mask), Scalar(neg_inf));
  }
  // Key padding: a (B, Tk) mask, broadcast as (B, 1, ..., 1, Tk) over scores (B, ..., Tq, Tk).
  const int64_t tk = k.size(-2);
  TESSERA_CHECK(q.dim() >= 3 || (!opts.key_padding_mask.defined() && !opts.key_lengths.defined()),
                "scaled_dot_product_attention: key_padding_mask / key_lengths need batched q (B, "
                "..., Tq, D), got ",
                describe(q));
  Shape kp_shape(q.dim(), 1);
  kp_shape.front() = q.size(0);
  kp_shape.back() = tk;
  if (opts.key_padding_mask.defined()) {
    const Tensor& m = opts.key_padding_mask;
    TESSERA_CHECK(m.dtype() == kBool && m.dim() == 2 && m.size(0) == q.size(0) && m.size(1) == tk,
                  "scaled_dot_product_attention: key_padding_mask must be bool (B, Tk) = (",
                  q.size(0), ", ", tk, "), got ", describe(m));
    scores = masked_fill(scores, native::reshape(m, kp_shape), Scalar(neg_inf));
  }
  if (opts.key_lengths.defined()) {
    const Tensor& l = opts.key_lengths;
    TESSERA_CHECK(
        (l.dtype() == kInt64 || l.dtype() == kInt32) && l.dim() == 1 && l.size(0) == q.size(0),
        "scaled_dot_product_attention: key_lengths must be int64/int32 (", q.size(0), "), got ",
        describe(l));
    const Tensor j = native::to(
        native::reshape(arange(Scalar(int64_t{0}), Scalar(tk), Scalar(int64_t{1})), {1, tk}),
        q.device());
    const Tensor padded = native::ge(j, native::reshape(native::to(l, kInt64), {q.size(0), 1}));
    scores = masked_fill(scores, native::reshape(padded, kp_shape), Scalar(neg_inf));
  }
  Tensor p = tessera::softmax(scores, -1);
  p = dropout(p, opts.dropout_p, opts.dropout_p > 0.0, opts.gen);
  return matmul(p, v);
}

}  // namespace tessera::nn::functional
