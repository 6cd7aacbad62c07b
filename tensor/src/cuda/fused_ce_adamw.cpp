// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA implementations of the fused cross-entropy (forward, backward) and the
/// multi-tensor AdamW step (native/fused.h), on kernels/cuda/cross_entropy.cu and adamw.cu.
///
/// Targets are validated in full before any kernel runs, as on the CPU and in the index ops: they
/// are copied to the host (one synchronising transfer) and checked to lie in [0, vocab) unless
/// they equal ignore_index, so a bad target is a tessera::Error naming the value and row, never a
/// device fault; the same pass counts the rows that count (the mean's divisor).
#include <tessera/creation.h>
#include <tessera/kernels/cuda/adamw.h>
#include <tessera/kernels/cuda/cross_entropy.h>
#include <tessera/native/convert.h>
#include <tessera/native/fused.h>
#include <tessera/native/shape.h>

#include "cuda/common.h"
#include "cuda/ops.h"

namespace tessera::native::cuda_impl {
namespace {

namespace kc = kernels::cuda;
using cuda::detail::common_device;
using cuda::detail::DeviceGuard;
using cuda::detail::scalar_type;
using cuda::detail::stream_of;

DType stat_dtype(DType t) { return t == kFloat64 ? kFloat64 : kFloat32; }

/// Checks every target against [0, vocab) (or ignore_index) on the host; returns the count of
/// rows that are not ignored.
int64_t checked_count(const char* op, const Tensor& targets, int64_t vocab, int64_t ignore_index) {
  const Tensor host = contiguous(native::to(native::to(targets, kCPU), kInt64));
  const int64_t* p = static_cast<const int64_t*>(host.data_ptr());
  int64_t count = 0;
  for (int64_t r = 0; r < host.numel(); ++r) {
    if (p[r] == ignore_index) continue;
    TESSERA_CHECK(p[r] >= 0 && p[r] < vocab, op, ": target ", p[r], " at row ", r,
                  " is outside [0, vocab=", vocab, ") and is not ignore_index=", ignore_index,
                  " (targets ", describe(targets), ")");
    ++count;
  }
  return count;
}

void check_logits(const char* op, const Tensor& logits, const Tensor& targets) {
  TESSERA_CHECK(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0), op,
                ": expected logits (N, V) and targets (N), got ", describe(logits), " and ",
                describe(targets));
  TESSERA_CHECK(is_floating(logits.dtype()), op, ": logits must be floating, got ",
                describe(logits));
  TESSERA_CHECK(targets.dtype() == kInt64 || targets.dtype() == kInt32, op,
                ": targets must be int64 or int32, got ", describe(targets));
}

}  // namespace

CrossEntropyResult cross_entropy(const Tensor& logits_in, const Tensor& targets_in,
                                 int64_t ignore_index, double label_smoothing) {
  constexpr const char* kOp = "cross_entropy";
  const Device dev = common_device(kOp, {&logits_in, &targets_in});
  DeviceGuard guard(dev.index);
  check_logits(kOp, logits_in, targets_in);
  const Tensor logits = contiguous(logits_in), targets = contiguous(targets_in);
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  CrossEntropyResult r;
  r.count = checked_count(kOp, targets, vocab, ignore_index);
  const DType stat = stat_dtype(logits.dtype());
  r.lse = empty({rows}, {.dtype = stat, .device = dev});
  const Tensor row_loss = empty({rows}, {.dtype = stat, .device = dev});
  r.loss = empty({}, {.dtype = logits.dtype(), .device = dev});  // NaN when r.count == 0
  kc::cross_entropy_forward(scalar_type(logits.dtype()), scalar_type(targets.dtype()),
                            logits.data_ptr(), targets.data_ptr(), rows, vocab, ignore_index,
                            label_smoothing, r.count, row_loss.data_ptr(), r.lse.data_ptr(),
                            r.loss.data_ptr(), stream_of(dev.index));
  return r;
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& logits_in,
                              const Tensor& targets_in, const Tensor& lse_in, int64_t ignore_index,
                              double label_smoothing) {
  constexpr const char* kOp = "cross_entropy_backward";
  const Device dev = common_device(kOp, {&grad_loss, &logits_in, &targets_in, &lse_in});
  DeviceGuard guard(dev.index);
  check_logits(kOp, logits_in, targets_in);
  TESSERA_CHECK(grad_loss.numel() == 1, kOp, ": grad_loss must be a scalar, got ",
                describe(grad_loss));
  const DType stat = stat_dtype(logits_in.dtype());
  TESSERA_CHECK(lse_in.dim() == 1 && lse_in.size(0) == logits_in.size(0) && lse_in.dtype() == stat,
                kOp, ": lse must be (", logits_in.size(0), ") ", stat, " (the forward's), got ",
                describe(lse_in));
  const Tensor logits = contiguous(logits_in), targets = contiguous(targets_in);
  const Tensor lse = contiguous(lse_in), g = contiguous(native::to(grad_loss, kFloat32));
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  const int64_t count = checked_count(kOp, targets, vocab, ignore_index);
  Tensor grad = empty(logits.shape(), {.dtype = logits.dtype(), .device = dev});
  kc::cross_entropy_backward(
      scalar_type(logits.dtype()), scalar_type(targets.dtype()), logits.data_ptr(),
      targets.data_ptr(), lse.data_ptr(), rows, vocab, ignore_index, label_smoothing, count,
      static_cast<const float*>(g.data_ptr()), grad.data_ptr(), stream_of(dev.index));
  return grad;
}

Device first_cuda_device(std::initializer_list<const std::vector<Tensor>*> lists) {
  for (const std::vector<Tensor>* l : lists)
    for (const Tensor& t : *l)
      if (is_cuda(t)) return t.device();
  return kCPU;
}

void adamw_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                 const AdamWParams& p) {
  constexpr const char* kOp = "adamw_step_";
  const size_t n = params.size();
  TESSERA_CHECK(grads.size() == n && exp_avgs.size() == n && exp_avg_sqs.size() == n, kOp,
                ": expected as many grads and states as params (", n, ")");
  const Device dev = first_cuda_device({&params, &grads, &exp_avgs, &exp_avg_sqs});
  TESSERA_CHECK(dev.is_cuda(), kOp, ": internal dispatch error, no CUDA tensor");
  if (n == 0) return;
  const DType dt = params[0].dtype();
  TESSERA_CHECK(dt == kFloat32 || dt == kFloat64, kOp, ": float32 or float64 parameters, got ", dt);
  for (size_t i = 0; i < n; ++i) {
    for (const Tensor* t : {&params[i], &grads[i], &exp_avgs[i], &exp_avg_sqs[i]}) {
      TESSERA_CHECK(t->defined() && t->device() == dev, kOp,
                    ": expected all tensors on one device, got ", dev, " and ",
                    t->defined() ? t->device() : kCPU, " (tensor ", i, ": ", describe(*t),
                    "); move one with to(device)");
      TESSERA_CHECK(t->dtype() == dt && t->is_contiguous() && t->numel() == params[i].numel(), kOp,
                    ": tensor ", i, " must be contiguous ", dt, " like its parameter ",
                    describe(params[i]), ", got ", describe(*t));
    }
  }
  DeviceGuard guard(dev.index);
  kc::AdamWHyper h;
  h.lr = p.lr;
  h.beta1 = p.beta1;
  h.beta2 = p.beta2;
  h.eps = p.eps;
  h.weight_decay = p.weight_decay;
  h.step = p.step;
  auto run = [&]<typename T>() {
    std::vector<kc::AdamWTensor<T>> list(n);
    for (size_t i = 0; i < n; ++i) {
      list[i] = {static_cast<T*>(params[i].data_ptr()), static_cast<const T*>(grads[i].data_ptr()),
                 static_cast<T*>(exp_avgs[i].data_ptr()),
                 static_cast<T*>(exp_avg_sqs[i].data_ptr()), params[i].numel()};
    }
    const size_t ws_bytes = kc::adamw_workspace_bytes<T>(list.data(), static_cast<int64_t>(n));
    Tensor ws;  // the chunk table on the device; freed in stream order after the launch
    if (ws_bytes > 0)
      ws = empty({static_cast<int64_t>((ws_bytes + 7) / 8)}, {.dtype = kInt64, .device = dev});
    kc::adamw_step<T>(list.data(), static_cast<int64_t>(n), h,
                      ws_bytes > 0 ? ws.data_ptr() : nullptr, stream_of(dev.index));
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

}  // namespace tessera::native::cuda_impl
