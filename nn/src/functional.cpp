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

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& opts) {
  // The fused kernel covers (B, H, T, D) without an explicit mask; causal needs Tq == Tk there
  // (for Tq < Tk, as in KV-cached decoding, the composed path applies the bottom-right mask).
  const bool fusable =
      q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && !opts.attn_mask.defined() &&
      (!opts.causal || q.size(2) == k.size(2)) && k.shape() == v.shape() &&
      q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3) &&
      q.dtype() == k.dtype() && k.dtype() == v.dtype() &&
      native::scaled_dot_product_attention_fusable(q.device(), q.dtype(), q.size(-1));
  if (fusable) {
    return tessera::fused_attention(q, k, v, opts.causal, opts.scale ? *opts.scale : 0.0,
                                    opts.dropout_p, opts.gen);
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
  Tensor p = tessera::softmax(scores, -1);
  p = dropout(p, opts.dropout_p, opts.dropout_p > 0.0, opts.gen);
  return matmul(p, v);
}

}  // namespace tessera::nn::functional
