// SPDX-License-Identifier: Apache-2.0
/// @brief Dispatch of the fused ops (native/fused.h) to the CPU kernels in kernels/cpu.
///
/// Each op checks shapes, dtypes and devices, makes its inputs contiguous, allocates outputs and
/// calls one kernel. The kernels own the algorithms (docs/kernels.md); this file owns the Tensor
/// contract.
#include <tessera/native/fused.h>

#include <cmath>
#include <limits>

#include <tessera/creation.h>
#include <tessera/kernels/cpu/adamw.h>
#include <tessera/kernels/cpu/attention.h>
#include <tessera/kernels/cpu/cross_entropy.h>
#include <tessera/kernels/cpu/layer_norm.h>
#include <tessera/kernels/cpu/softmax.h>
#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>
#include <tessera/native/reduce.h>
#include <tessera/native/shape.h>

#include "cuda/dispatch.h"
#include "iter.h"

namespace tessera::native {
namespace {

/// Calls f.template operator()<T>() for the floating dtypes the fused kernels support.
template <typename F>
void visit_float(const char* op, DType t, F&& f) {
  switch (t) {
    case DType::Float32:
      return f.template operator()<float>();
    case DType::Float64:
      return f.template operator()<double>();
    case DType::BFloat16:
      return f.template operator()<BFloat16>();
    case DType::Float16:
      return f.template operator()<Float16>();
    default:
      TESSERA_FAIL(op, ": needs a floating tensor, got dtype ", t);
  }
}

DType stat_dtype(DType t) { return t == kFloat64 ? kFloat64 : kFloat32; }

template <typename T>
T* ptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.data_ptr()) : nullptr;
}

void same_dtype(const char* op, const Tensor& ref, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    TESSERA_CHECK(t->dtype() == ref.dtype(), op, ": dtype mismatch: ", describe(*t), " vs ",
                  describe(ref));
  }
}

}  // namespace

LayerNormResult layer_norm(const Tensor& x_in, const Tensor& weight, const Tensor& bias,
                           double eps) {
  TESSERA_CHECK(x_in.dim() >= 1, "layer_norm: needs at least one dim, got ", describe(x_in));
  const int64_t cols = x_in.size(-1), rows = cols == 0 ? 0 : x_in.numel() / cols;
  for (const Tensor* p : {&weight, &bias}) {
    TESSERA_CHECK(!p->defined() || (p->dim() == 1 && p->size(0) == cols),
                  "layer_norm: weight/bias ", describe(*p), " must be (", cols, ") for input ",
                  describe(x_in));
  }
  same_dtype("layer_norm", x_in, {&weight, &bias});
  TESSERA_CUDA_DISPATCH(cuda_impl::layer_norm(x_in, weight, bias, eps), x_in, weight, bias);
  detail::check_cpu("layer_norm", {&x_in, &weight, &bias});
  const Tensor x = contiguous(x_in), w = weight.defined() ? contiguous(weight) : weight,
               b = bias.defined() ? contiguous(bias) : bias;
  LayerNormResult r;
  r.y = empty(x.shape(), {.dtype = x.dtype()});
  r.mean = empty({rows}, {.dtype = stat_dtype(x.dtype())});
  r.rstd = empty({rows}, {.dtype = stat_dtype(x.dtype())});
  visit_float("layer_norm", x.dtype(), [&]<typename T>() {
    using A = kernels::cpu::compute_t<T>;
    kernels::cpu::layer_norm_forward<T>(ptr<T>(x), ptr<T>(w), ptr<T>(b), ptr<T>(r.y),
                                        ptr<A>(r.mean), ptr<A>(r.rstd), rows, cols,
                                        static_cast<float>(eps));
  });
  return r;
}

LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x_in, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, bool want_x,
                                   bool want_weight, bool want_bias) {
  TESSERA_CHECK(grad_y.shape() == x_in.shape(), "layer_norm_backward: grad ", describe(grad_y),
                " does not match input ", describe(x_in));
  TESSERA_CUDA_DISPATCH(cuda_impl::layer_norm_backward(grad_y, x_in, weight, mean, rstd, want_x,
                                                       want_weight, want_bias),
                        grad_y, x_in, weight, mean, rstd);
  detail::check_cpu("layer_norm_backward", {&grad_y, &x_in, &weight, &mean, &rstd});
  const int64_t cols = x_in.size(-1), rows = cols == 0 ? 0 : x_in.numel() / cols;
  const Tensor x = contiguous(x_in), g = contiguous(to(grad_y, x_in.dtype()));
  const Tensor w = weight.defined() ? contiguous(weight) : weight;
  LayerNormGrads r;
  if (want_x) r.grad_x = empty(x.shape(), {.dtype = x.dtype()});
  if (want_weight) r.grad_weight = zeros({cols}, {.dtype = x.dtype()});
  if (want_bias) r.grad_bias = zeros({cols}, {.dtype = x.dtype()});
  visit_float("layer_norm_backward", x.dtype(), [&]<typename T>() {
    using A = kernels::cpu::compute_t<T>;
    kernels::cpu::layer_norm_backward<T>(ptr<T>(g), ptr<T>(x), ptr<T>(w), ptr<A>(mean),
                                         ptr<A>(rstd), nullptr, ptr<T>(r.grad_x),
                                         ptr<T>(r.grad_weight), ptr<T>(r.grad_bias), rows, cols);
  });
  return r;
}

namespace {
/// Runs a last-dim softmax-family backward on (rows, cols) after moving `dim` last.
template <typename Kernel>
Tensor softmax_family_backward(const char* op, const Tensor& y, const Tensor& grad_y, int64_t dim,
                               Kernel kernel) {
  detail::check_cpu(op, {&y, &grad_y});
  TESSERA_CHECK(y.shape() == grad_y.shape(), op, ": grad ", describe(grad_y), " does not match ",
                describe(y));
  const int64_t d = wrap_dim(dim, y.dim(), op);
  const int64_t last = std::max<int64_t>(y.dim() - 1, 0);
  const Tensor yt = contiguous(transpose(y, d, last));
  const Tensor gt = contiguous(transpose(to(grad_y, y.dtype()), d, last));
  const int64_t cols = y.dim() == 0 ? 1 : yt.size(-1), rows = cols == 0 ? 0 : yt.numel() / cols;
  Tensor gx = empty(yt.shape(), {.dtype = y.dtype()});
  visit_float(op, y.dtype(),
              [&]<typename T>() { kernel(ptr<T>(yt), ptr<T>(gt), ptr<T>(gx), rows, cols); });
  return transpose(gx, d, last);
}
}  // namespace

Tensor softmax_backward(const Tensor& y, const Tensor& grad_y, int64_t dim) {
  TESSERA_CUDA_DISPATCH(cuda_impl::softmax_backward(y, grad_y, dim, false), y, grad_y);
  if (!y.device().is_cpu()) {  // other devices: composed from their dispatched ops
    const Tensor dot = sum(mul(grad_y, y), {dim}, true);
    return mul(y, sub(grad_y, dot));
  }
  return softmax_family_backward(
      "softmax_backward", y, grad_y, dim,
      []<typename T>(const T* yy, const T* g, T* gx, int64_t r, int64_t c) {
        kernels::cpu::softmax_backward<T>(yy, g, gx, r, c);
      });
}

Tensor log_softmax_backward(const Tensor& y, const Tensor& grad_y, int64_t dim) {
  TESSERA_CUDA_DISPATCH(cuda_impl::softmax_backward(y, grad_y, dim, true), y, grad_y);
  if (!y.device().is_cpu()) return sub(grad_y, mul(exp(y), sum(grad_y, {dim}, true)));
  return softmax_family_backward(
      "log_softmax_backward", y, grad_y, dim,
      []<typename T>(const T* yy, const T* g, T* gx, int64_t r, int64_t c) {
        kernels::cpu::log_softmax_backward<T>(yy, g, gx, r, c);
      });
}

CrossEntropyResult cross_entropy(const Tensor& logits_in, const Tensor& targets_in,
                                 int64_t ignore_index, double label_smoothing) {
  TESSERA_CHECK(
      logits_in.dim() == 2 && targets_in.dim() == 1 && targets_in.size(0) == logits_in.size(0),
      "cross_entropy: expected logits (N, V) and targets (N), got ", describe(logits_in), " and ",
      describe(targets_in));
  TESSERA_CHECK(targets_in.dtype() == kInt64 || targets_in.dtype() == kInt32,
                "cross_entropy: targets must be int64 or int32, got ", describe(targets_in));
  TESSERA_CHECK(label_smoothing >= 0 && label_smoothing <= 1,
                "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  TESSERA_CUDA_DISPATCH(
      cuda_impl::cross_entropy(logits_in, targets_in, ignore_index, label_smoothing), logits_in,
      targets_in);
  detail::check_cpu("cross_entropy", {&logits_in, &targets_in});
  const Tensor logits = contiguous(logits_in), targets = contiguous(to(targets_in, kInt64));
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  CrossEntropyResult r;
  r.lse = empty({rows}, {.dtype = stat_dtype(logits.dtype())});
  Tensor row_loss = empty({rows}, {.dtype = stat_dtype(logits.dtype())});
  kernels::cpu::CrossEntropyOptions o;
  o.ignore_index = ignore_index;
  o.label_smoothing = label_smoothing;
  double loss = 0;
  visit_float("cross_entropy", logits.dtype(), [&]<typename T>() {
    using A = kernels::cpu::compute_t<T>;
    loss = kernels::cpu::cross_entropy_forward<T, int64_t>(
        ptr<T>(logits), ptr<int64_t>(targets), rows, vocab, o, ptr<A>(row_loss), ptr<A>(r.lse));
  });
  const int64_t* tp = ptr<int64_t>(targets);
  for (int64_t i = 0; i < rows; ++i) r.count += tp[i] != ignore_index;
  // Every row ignored: the mean is 0/0, NaN as in PyTorch (the kernel's gradient is zero).
  if (r.count == 0) loss = std::numeric_limits<double>::quiet_NaN();
  r.loss = scalar_tensor(loss, {.dtype = logits.dtype()});
  return r;
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& logits_in,
                              const Tensor& targets_in, const Tensor& lse, int64_t ignore_index,
                              double label_smoothing) {
  TESSERA_CHECK(grad_loss.numel() == 1, "cross_entropy_backward: grad_loss must be a scalar, got ",
                describe(grad_loss));
  TESSERA_CUDA_DISPATCH(cuda_impl::cross_entropy_backward(grad_loss, logits_in, targets_in, lse,
                                                          ignore_index, label_smoothing),
                        grad_loss, logits_in, targets_in, lse);
  detail::check_cpu("cross_entropy_backward", {&grad_loss, &logits_in, &targets_in, &lse});
  const Tensor logits = contiguous(logits_in), targets = contiguous(to(targets_in, kInt64));
  const Tensor l = contiguous(lse);
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  Tensor grad = empty(logits.shape(), {.dtype = logits.dtype()});
  kernels::cpu::CrossEntropyOptions o;
  o.ignore_index = ignore_index;
  o.label_smoothing = label_smoothing;
  const float g = grad_loss.item<float>();
  visit_float("cross_entropy_backward", logits.dtype(), [&]<typename T>() {
    using A = kernels::cpu::compute_t<T>;
    kernels::cpu::cross_entropy_backward<T, int64_t>(ptr<T>(logits), ptr<int64_t>(targets),
                                                     ptr<A>(l), rows, vocab, o, &g, ptr<T>(grad));
  });
  return grad;
}

namespace {
kernels::cpu::AttentionShape attention_shape(const char* op, const Tensor& q, const Tensor& k,
                                             const Tensor& v, const AttentionParams& p) {
  TESSERA_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && q.size(0) == k.size(0) &&
                    q.size(1) == k.size(1) && k.shape() == v.shape() && q.size(3) == k.size(3),
                op, ": expected q (B, H, Tq, D), k and v (B, H, Tk, D), got ", describe(q), ", ",
                describe(k), ", ", describe(v));
  same_dtype(op, q, {&k, &v});
  const int64_t B = q.size(0), Tq = q.size(2), Tk = k.size(2);
  if (p.key_lengths.defined()) {
    TESSERA_CHECK((p.key_lengths.dtype() == kInt64 || p.key_lengths.dtype() == kInt32) &&
                      p.key_lengths.dim() == 1 && p.key_lengths.size(0) == B &&
                      p.key_lengths.device() == q.device(),
                  op, ": key_lengths must be int64/int32 (", B, ") on ", q.device(), ", got ",
                  describe(p.key_lengths));
  }
  if (p.key_padding_mask.defined()) {
    TESSERA_CHECK(p.key_padding_mask.dtype() == kBool && p.key_padding_mask.dim() == 2 &&
                      p.key_padding_mask.size(0) == B && p.key_padding_mask.size(1) == Tk &&
                      p.key_padding_mask.device() == q.device(),
                  op, ": key_padding_mask must be bool (B, Tk) = (", B, ", ", Tk, ") on ",
                  q.device(), ", got ", describe(p.key_padding_mask));
  }
  // Bottom-right causal for Tq != Tk and key padding are CPU-kernel features: other devices' fused
  // kernels take Tq == Tk causal without masks (checked here, before any device dispatch).
  if (!q.device().is_cpu()) {
    TESSERA_CHECK(!p.causal || Tq == Tk, op, ": causal with Tq != Tk (Tq=", Tq, ", Tk=", Tk,
                  ") is supported by the CPU kernel only, got ", describe(q));
    TESSERA_CHECK(!p.key_lengths.defined() && !p.key_padding_mask.defined(), op,
                  ": key_lengths / key_padding_mask are supported by the CPU kernel only, got ",
                  describe(q));
  }
  return {B, q.size(1), Tq, Tk, q.size(3)};
}

/// The kernel's options; `lengths` and `pad` keep contiguous int64 / bool copies of the masks
/// alive.
kernels::cpu::AttentionOptions attention_options(const AttentionParams& p, Tensor& lengths,
                                                 Tensor& pad) {
  kernels::cpu::AttentionOptions o;
  o.scale = p.scale;
  o.causal = p.causal;
  o.dropout_p = static_cast<float>(p.dropout_p);
  o.seed = p.seed;
  o.offset = p.offset;
  if (p.key_lengths.defined()) {
    lengths = contiguous(to(p.key_lengths, kInt64));
    o.key_lengths = ptr<int64_t>(lengths);
  }
  if (p.key_padding_mask.defined()) {
    pad = contiguous(p.key_padding_mask);
    o.key_padding_mask = ptr<bool>(pad);
  }
  return o;
}
}  // namespace

AttentionResult scaled_dot_product_attention(const Tensor& q_in, const Tensor& k_in,
                                             const Tensor& v_in, const AttentionParams& p) {
  const auto shape = attention_shape("scaled_dot_product_attention", q_in, k_in, v_in, p);
  TESSERA_CUDA_DISPATCH(cuda_impl::scaled_dot_product_attention(q_in, k_in, v_in, p), q_in, k_in,
                        v_in);
  detail::check_cpu("scaled_dot_product_attention", {&q_in, &k_in, &v_in});
  const Tensor q = contiguous(q_in), k = contiguous(k_in), v = contiguous(v_in);
  AttentionResult r;
  r.out = empty(q.shape(), {.dtype = q.dtype()});
  r.lse = empty({shape.batch, shape.heads, shape.q_len}, {.dtype = stat_dtype(q.dtype())});
  Tensor lengths, pad;
  const auto opt = attention_options(p, lengths, pad);
  visit_float("scaled_dot_product_attention", q.dtype(), [&]<typename T>() {
    using A = kernels::cpu::compute_t<T>;
    kernels::cpu::attention_forward<T>(shape, opt, ptr<T>(q), ptr<T>(k), ptr<T>(v), ptr<T>(r.out),
                                       ptr<A>(r.lse));
  });
  return r;
}

AttentionGrads scaled_dot_product_attention_backward(const Tensor& grad_out, const Tensor& q_in,
                                                     const Tensor& k_in, const Tensor& v_in,
                                                     const Tensor& out, const Tensor& lse,
                                                     const AttentionParams& p) {
  const auto shape = attention_shape("scaled_dot_product_attention_backward", q_in, k_in, v_in, p);
  TESSERA_CUDA_DISPATCH(
      cuda_impl::scaled_dot_product_attention_backward(grad_out, q_in, k_in, v_in, out, lse, p),
      grad_out, q_in, k_in, v_in, out, lse);
  detail::check_cpu("scaled_dot_product_attention_backward",
                    {&grad_out, &q_in, &k_in, &v_in, &out, &lse});
  const Tensor q = contiguous(q_in), k = contiguous(k_in), v = contiguous(v_in);
  const Tensor o = contiguous(out), g = contiguous(to(grad_out, q.dtype())), l = contiguous(lse);
  AttentionGrads r;
  r.grad_q = empty(q.shape(), {.dtype = q.dtype()});
  r.grad_k = empty(k.shape(), {.dtype = q.dtype()});
  r.grad_v = empty(v.shape(), {.dtype = q.dtype()});
  Tensor lengths, pad;
  const auto opt = attention_options(p, lengths, pad);
  visit_float("scaled_dot_product_attention_backward", q.dtype(), [&]<typename T>() {
    using A = kernels::cpu::compute_t<T>;
    kernels::cpu::attention_backward<T>(shape, opt, ptr<T>(q), ptr<T>(k), ptr<T>(v), ptr<T>(o),
                                        ptr<T>(g), ptr<A>(l), ptr<T>(r.grad_q), ptr<T>(r.grad_k),
                                        ptr<T>(r.grad_v));
  });
  return r;
}

bool scaled_dot_product_attention_fusable(Device device, DType dtype, int64_t head_dim) {
  if (!is_floating(dtype)) return false;
  if (device.is_cpu()) return true;
#if defined(TESSERA_CUDA_BACKEND)
  if (device.is_cuda()) return cuda_impl::attention_supported(dtype, head_dim);
#endif
  (void)head_dim;
  return false;
}

void adamw_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                 const AdamWParams& p) {
  const size_t n = params.size();
  TESSERA_CHECK(grads.size() == n && exp_avgs.size() == n && exp_avg_sqs.size() == n,
                "adamw_step_: expected as many grads and states as params (", n, ")");
  if (n == 0) return;
  const DType dt = params[0].dtype();
  TESSERA_CHECK(dt == kFloat32 || dt == kFloat64,
                "adamw_step_: float32 or float64 parameters, got ", dt);
  TESSERA_CUDA_DISPATCH(cuda_impl::adamw_step_(params, grads, exp_avgs, exp_avg_sqs, p),
                        cuda_impl::first_cuda_device({&params, &grads, &exp_avgs, &exp_avg_sqs}));
  for (size_t i = 0; i < n; ++i) {
    for (const Tensor* t : {&params[i], &grads[i], &exp_avgs[i], &exp_avg_sqs[i]}) {
      detail::check_cpu("adamw_step_", {t});
      TESSERA_CHECK(t->dtype() == dt && t->is_contiguous() && t->numel() == params[i].numel(),
                    "adamw_step_: tensor ", i, " must be contiguous ", dt, " like its parameter ",
                    describe(params[i]), ", got ", describe(*t));
    }
  }
  kernels::cpu::AdamWHyper h;
  h.lr = p.lr;
  h.beta1 = p.beta1;
  h.beta2 = p.beta2;
  h.eps = p.eps;
  h.weight_decay = p.weight_decay;
  h.step = p.step;
  auto run = [&]<typename T>() {
    std::vector<kernels::cpu::AdamWTensor<T>> list(n);
    for (size_t i = 0; i < n; ++i)
      list[i] = {ptr<T>(params[i]), ptr<T>(grads[i]), ptr<T>(exp_avgs[i]), ptr<T>(exp_avg_sqs[i]),
                 params[i].numel()};
    kernels::cpu::adamw_step<T>(list.data(), static_cast<int64_t>(n), h);
  };
  if (dt == kFloat32)
    run.template operator()<float>();
  else
    run.template operator()<double>();
  for (size_t i = 0; i < n; ++i) {
    params[i].bump_version();
    exp_avgs[i].bump_version();
    exp_avg_sqs[i].bump_version();
  }
}

}  // namespace tessera::native
