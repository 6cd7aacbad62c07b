// SPDX-License-Identifier: Apache-2.0
/// @brief ZeroAdamW (see zero.h).
#include <tessera/parallel/zero.h>

#include <cmath>

#include <tessera/autograd/grad_mode.h>
#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/native/fused.h>

namespace tessera::parallel {

ZeroAdamW::ZeroAdamW(std::vector<nn::ParamGroup> groups, nn::AdamOptions opts,
                     std::shared_ptr<Communicator> dp)
    : nn::Optimizer(std::move(groups)), opts_(opts), dp_(std::move(dp)) {
  TESSERA_CHECK(dp_ != nullptr, "ZeroAdamW: null communicator");
  bool first = true;
  std::vector<size_t> group_of;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (const Tensor& p : groups_[g].params) {
      if (first) dtype_ = p.dtype();
      first = false;
      TESSERA_CHECK(p.dtype() == dtype_ && is_floating(p.dtype()) && p.is_contiguous(),
                    "ZeroAdamW: parameters must be contiguous and share one floating dtype (",
                    dtype_, "), got ", describe(p));
      offsets_.push_back(total_);
      group_of.push_back(g);
      total_ += p.numel();
    }
  }
  const int64_t n = dp_->size();
  shard_ = (total_ + n - 1) / n;
  const int64_t lo = shard_ * dp_->rank(), hi = std::min(total_, lo + shard_);
  const std::vector<Tensor> params = flat_params();
  for (size_t i = 0; i < params.size(); ++i) {
    const int64_t a = std::max(lo, offsets_[i]), b = std::min(hi, offsets_[i] + params[i].numel());
    if (a < b) segments_.push_back({i, group_of[i], a - offsets_[i], b - a, a - lo});
  }
  m_ = zeros({shard_}, {.dtype = dtype_});
  v_ = zeros({shard_}, {.dtype = dtype_});
  replicated_.assign(params.size(), false);
}

std::vector<Tensor> ZeroAdamW::flat_params() const {
  std::vector<Tensor> out;
  for (const auto& g : groups_)
    for (const Tensor& p : g.params) out.push_back(p);
  return out;
}

void ZeroAdamW::set_grad_clip(double max_norm, std::vector<bool> replicated,
                              std::shared_ptr<Communicator> tp) {
  TESSERA_CHECK(max_norm >= 0, "ZeroAdamW::set_grad_clip: max_norm must be >= 0, got ", max_norm);
  TESSERA_CHECK(replicated.empty() || replicated.size() == offsets_.size(),
                "ZeroAdamW::set_grad_clip: ", replicated.size(), " replicated flags for ",
                offsets_.size(), " parameters");
  max_norm_ = max_norm;
  if (!replicated.empty()) replicated_ = std::move(replicated);
  tp_ = std::move(tp);
}

void ZeroAdamW::step() {
  autograd::NoGradGuard no_grad;
  const std::vector<Tensor> params = flat_params();
  const int64_t n = dp_->size();
  // 1. Reduce-scatter the local gradients.
  Tensor flat = zeros({n * shard_}, {.dtype = dtype_});
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor g = params[i].grad();
    TESSERA_CHECK(
        g.defined(), "ZeroAdamW::step: parameter ", i, " (", describe(params[i]),
        ") has no gradient; every parameter needs one (the flat layout is shared by all ranks)");
    Tensor dst = native::narrow(flat, 0, offsets_[i], params[i].numel());
    native::copy_(dst, native::reshape(g, {params[i].numel()}));
  }
  Tensor grad = dp_->reduce_scatter(native::view(flat, {n, shard_}), ReduceOp::Avg);  // (S)
  // 2. Clip by the global norm.
  if (max_norm_ > 0) {
    const bool count_replicated = tp_ == nullptr || tp_->rank() == 0;
    double sq = 0;
    for (const Segment& s : segments_) {
      if (replicated_[s.param] && !count_replicated) continue;
      sq += native::sum(native::square(native::to(native::narrow(grad, 0, s.shard_offset, s.length),
                                                  kFloat64)))
                .item<double>();
    }
    Tensor total = scalar_tensor(sq, {.dtype = kFloat64});
    dp_->all_reduce(total, ReduceOp::Sum);
    if (tp_) tp_->all_reduce(total, ReduceOp::Sum);
    last_norm_ = std::sqrt(total.item<double>());
    const double coef = max_norm_ / (last_norm_ + 1e-6);
    if (coef < 1.0) native::mul_(grad, Scalar(coef));
  }
  // 3. AdamW on the owned slice: nn::Adam::step's computation, element for element.
  step_ += 1;
  const double t = static_cast<double>(step_);
  const double bc1 = 1.0 - std::pow(opts_.beta1, t), bc2 = 1.0 - std::pow(opts_.beta2, t);
  Tensor own = zeros({shard_}, {.dtype = dtype_});
  for (const Segment& s : segments_) {
    const nn::ParamGroup& grp = groups_[s.group];
    Tensor p = native::narrow(native::reshape(params[s.param], {params[s.param].numel()}), 0,
                              s.param_offset, s.length);
    const Tensor g = native::narrow(grad, 0, s.shard_offset, s.length);
    Tensor m = native::narrow(m_, 0, s.shard_offset, s.length);
    Tensor v = native::narrow(v_, 0, s.shard_offset, s.length);
    Tensor dst = native::narrow(own, 0, s.shard_offset, s.length);
    if (p.device().is_cpu() && p.is_contiguous() && g.is_contiguous() && g.dtype() == p.dtype() &&
        (p.dtype() == kFloat32 || p.dtype() == kFloat64)) {
      // The fused kernel, as nn::AdamW uses for such parameters: bit-identical updates.
      native::AdamWParams hp;
      hp.lr = grp.lr;
      hp.beta1 = opts_.beta1;
      hp.beta2 = opts_.beta2;
      hp.eps = opts_.eps;
      hp.weight_decay = grp.weight_decay;
      hp.step = step_;
      native::adamw_step_({p}, {g}, {m}, {v}, hp);
      native::copy_(dst, p);
      continue;
    }
    if (grp.weight_decay != 0.0) native::mul_(p, Scalar(1.0 - grp.lr * grp.weight_decay));
    native::mul_(m, Scalar(opts_.beta1));
    native::add_scaled_(m, g, Scalar(1.0 - opts_.beta1));
    native::mul_(v, Scalar(opts_.beta2));
    native::add_scaled_(v, native::square(g), Scalar(1.0 - opts_.beta2));
    const Tensor denom =
        native::add(native::div(native::sqrt(v), Scalar(std::sqrt(bc2))), Scalar(opts_.eps));
    native::add_scaled_(p, native::div(m, denom), Scalar(-grp.lr / bc1));
    native::copy_(dst, p);
  }
  // 4. All-gather the updated slices.
  const Tensor all = native::reshape(dp_->all_gather(own), {n * shard_});
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor p = params[i];
    native::copy_(p, native::reshape(native::narrow(all, 0, offsets_[i], p.numel()), p.shape()));
  }
}

TensorDict ZeroAdamW::full_state_dict() const {
  TensorDict d;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string k = "group." + std::to_string(g) + ".";
    d[k + "lr"] = scalar_tensor(groups_[g].lr, {.dtype = kFloat64});
    d[k + "initial_lr"] = scalar_tensor(groups_[g].initial_lr, {.dtype = kFloat64});
    d[k + "weight_decay"] = scalar_tensor(groups_[g].weight_decay, {.dtype = kFloat64});
  }
  const int64_t n = dp_->size();
  Tensor m_all, v_all;
  if (step_ > 0) {
    m_all = native::reshape(dp_->all_gather(m_), {n * shard_});
    v_all = native::reshape(dp_->all_gather(v_), {n * shard_});
  }
  const std::vector<Tensor> params = flat_params();
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string k = "state." + std::to_string(i) + ".";
    d[k + "step"] = scalar_tensor(step_, {.dtype = kInt64});
    if (step_ == 0) continue;  // as nn::Adam: no buffers before the first step
    d[k + "exp_avg"] = native::clone(native::reshape(
        native::narrow(m_all, 0, offsets_[i], params[i].numel()), params[i].shape()));
    d[k + "exp_avg_sq"] = native::clone(native::reshape(
        native::narrow(v_all, 0, offsets_[i], params[i].numel()), params[i].shape()));
  }
  return d;
}

void ZeroAdamW::load_full_state_dict(const TensorDict& dict) {
  nn::AdamW check(groups_, opts_);  // validates keys, shapes and dtypes without touching anything
  check.check_state_dict(dict);
  const std::vector<Tensor> params = flat_params();
  int64_t step = params.empty() ? 0 : dict.at("state.0.step").item<int64_t>();
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string k = "state." + std::to_string(i) + ".";
    TESSERA_CHECK(dict.at(k + "step").item<int64_t>() == step,
                  "ZeroAdamW: parameters at different "
                  "steps (",
                  step, " and ", dict.at(k + "step").item<int64_t>(), ") cannot share one update");
    TESSERA_CHECK((dict.count(k + "exp_avg") != 0) == (step > 0), "ZeroAdamW: state of parameter ",
                  i, " has buffers inconsistent with its step ", step);
  }
  Tensor m = zeros({shard_}, {.dtype = dtype_}), v = zeros({shard_}, {.dtype = dtype_});
  if (step > 0) {
    for (const Segment& s : segments_) {
      const std::string k = "state." + std::to_string(s.param) + ".";
      Tensor md = native::narrow(m, 0, s.shard_offset, s.length),
             vd = native::narrow(v, 0, s.shard_offset, s.length);
      native::copy_(
          md, native::narrow(native::reshape(dict.at(k + "exp_avg"), {params[s.param].numel()}), 0,
                             s.param_offset, s.length));
      native::copy_(
          vd, native::narrow(native::reshape(dict.at(k + "exp_avg_sq"), {params[s.param].numel()}),
                             0, s.param_offset, s.length));
    }
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string k = "group." + std::to_string(g) + ".";
    groups_[g].lr = dict.at(k + "lr").item<double>();
    groups_[g].initial_lr = dict.at(k + "initial_lr").item<double>();
    groups_[g].weight_decay = dict.at(k + "weight_decay").item<double>();
  }
  m_ = m;
  v_ = v;
  step_ = step;
}

double clip_grad_norm_tp(const std::vector<Tensor>& params, const std::vector<bool>& replicated,
                         double max_norm, Communicator& tp) {
  TESSERA_CHECK(replicated.size() == params.size(), "clip_grad_norm_tp: ", replicated.size(),
                " replicated flags for ", params.size(), " parameters");
  autograd::NoGradGuard no_grad;
  double sq = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor g = params[i].grad();
    if (!g.defined() || (replicated[i] && tp.rank() != 0)) continue;
    sq += native::sum(native::square(native::to(g, kFloat64))).item<double>();
  }
  Tensor total = scalar_tensor(sq, {.dtype = kFloat64});
  tp.all_reduce(total, ReduceOp::Sum);
  const double norm = std::sqrt(total.item<double>());
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      if (g.defined()) native::mul_(g, Scalar(coef));
    }
  }
  return norm;
}

}  // namespace tessera::parallel
