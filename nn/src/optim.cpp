// SPDX-License-Identifier: Apache-2.0
/// @brief Optimizer base (groups, state_dict), SGD, Adam/AdamW, gradient clipping.
#include <tessera/nn/optim.h>

#include <tessera/native/fused.h>

#include <array>
#include <cmath>
#include <set>

#include <tessera/autograd/engine.h>
#include <tessera/autograd/grad_mode.h>
#include <tessera/creation.h>
#include <tessera/native.h>

namespace tessera::nn {

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  size_t n = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    auto& grp = groups_[g];
    if (grp.initial_lr < 0) grp.initial_lr = grp.lr;
    for (const Tensor& p : grp.params) {
      TESSERA_CHECK(p.defined() && p.is_leaf() && is_floating(p.dtype()), "optimizer: parameter ",
                    n, " of group ", g, " must be a floating-point leaf tensor, got ", describe(p));
      ++n;
    }
  }
  state_.resize(n);
}

template <typename Fn>
void Optimizer::for_each_param(Fn&& f) {
  autograd::NoGradGuard guard;
  size_t i = 0;
  for (auto& grp : groups_) {
    for (Tensor& p : grp.params) {
      Tensor g = p.grad();
      if (g.defined()) f(grp, p, g, state_[i]);
      ++i;
    }
  }
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& grp : groups_) tessera::zero_grad(grp.params, set_to_none);
}

void Optimizer::scale_lr(double factor) {
  for (auto& grp : groups_) grp.lr = grp.initial_lr * factor;
}

TensorDict Optimizer::state_dict() const {
  TensorDict d;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string k = "group." + std::to_string(g) + ".";
    d[k + "lr"] = scalar_tensor(groups_[g].lr, {.dtype = kFloat64});
    d[k + "initial_lr"] = scalar_tensor(groups_[g].initial_lr, {.dtype = kFloat64});
    d[k + "weight_decay"] = scalar_tensor(groups_[g].weight_decay, {.dtype = kFloat64});
  }
  for (size_t i = 0; i < state_.size(); ++i) {
    const std::string k = "state." + std::to_string(i) + ".";
    d[k + "step"] = scalar_tensor(state_[i].step, {.dtype = kInt64});
    for (const auto& [n, t] : state_[i].buffers) d[k + n] = t;
  }
  return d;
}

struct Optimizer::Loaded {
  std::vector<ParamState> state;
  std::vector<std::array<double, 3>> groups;  // lr, initial_lr, weight_decay
};

Optimizer::Loaded Optimizer::parse_state_dict(const TensorDict& dict) const {
  std::set<std::string> expected;
  std::vector<const Tensor*> params;
  for (const auto& grp : groups_)
    for (const Tensor& p : grp.params) params.push_back(&p);
  auto need = [&](const std::string& key, DType dtype, const Shape& shape) -> const Tensor& {
    expected.insert(key);
    auto it = dict.find(key);
    TESSERA_CHECK(it != dict.end(), "optimizer load_state_dict: missing key '", key, "'");
    TESSERA_CHECK(it->second.dtype() == dtype && it->second.shape() == shape,
                  "optimizer load_state_dict: '", key, "' is ", describe(it->second),
                  ", expected dtype ", dtype, " shape ", shape_str(shape));
    return it->second;
  };
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string k = "group." + std::to_string(g) + ".";
    for (const char* f : {"lr", "initial_lr", "weight_decay"}) need(k + f, kFloat64, {});
  }
  std::vector<ParamState> loaded(state_.size());
  for (size_t i = 0; i < state_.size(); ++i) {
    const std::string k = "state." + std::to_string(i) + ".";
    loaded[i].step = need(k + "step", kInt64, {}).item<int64_t>();
    TESSERA_CHECK(loaded[i].step >= 0, "optimizer load_state_dict: negative step for parameter ",
                  i);
    for (const std::string& b : buffer_names()) {
      if (!dict.count(k + b)) continue;  // a parameter that never stepped has no buffers
      // A copy on the parameter's device (a CPU checkpoint resumes on CUDA and vice versa).
      loaded[i].buffers[b] = native::to(need(k + b, params[i]->dtype(), params[i]->shape()),
                                        params[i]->device(), true);
    }
  }
  for (const auto& [key, t] : dict)
    TESSERA_CHECK(expected.count(key), "optimizer load_state_dict: unexpected key '", key, "'");
  Loaded out;
  out.state = std::move(loaded);
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string k = "group." + std::to_string(g) + ".";
    out.groups.push_back({dict.at(k + "lr").item<double>(),
                          dict.at(k + "initial_lr").item<double>(),
                          dict.at(k + "weight_decay").item<double>()});
  }
  return out;
}

void Optimizer::check_state_dict(const TensorDict& dict) const { parse_state_dict(dict); }

void Optimizer::load_state_dict(const TensorDict& dict) {
  // Everything is validated first: a failed load leaves the optimizer untouched.
  Loaded in = parse_state_dict(dict);
  for (size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].lr = in.groups[g][0];
    groups_[g].initial_lr = in.groups[g][1];
    groups_[g].weight_decay = in.groups[g][2];
  }
  state_ = std::move(in.state);
}

// ---- SGD
// -----------------------------------------------------------------------------------------
namespace {
std::vector<ParamGroup> one_group(std::vector<Tensor> params, double lr, double wd) {
  return {ParamGroup{std::move(params), lr, wd}};
}
}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions opts)
    : Optimizer(std::move(groups)), opts_(opts) {
  TESSERA_CHECK(!opts.nesterov || (opts.momentum > 0 && opts.dampening == 0),
                "SGD: Nesterov momentum requires momentum > 0 and dampening = 0");
}
SGD::SGD(std::vector<Tensor> params, SGDOptions opts)
    : SGD(one_group(std::move(params), opts.lr, opts.weight_decay), opts) {}

void SGD::step() {
  for_each_param([&](ParamGroup& grp, Tensor& p, Tensor g, ParamState& st) {
    if (grp.weight_decay != 0.0) g = native::add(g, native::mul(p, Scalar(grp.weight_decay)));
    if (opts_.momentum != 0.0) {
      auto it = st.buffers.find("momentum_buffer");
      if (it == st.buffers.end()) {
        it = st.buffers.emplace("momentum_buffer", native::clone(g)).first;
      } else {
        Tensor& buf = it->second;
        native::mul_(buf, Scalar(opts_.momentum));
        native::add_scaled_(buf, g, Scalar(1.0 - opts_.dampening));
      }
      g = opts_.nesterov ? native::add(g, native::mul(it->second, Scalar(opts_.momentum)))
                         : it->second;
    }
    native::add_scaled_(p, g, Scalar(-grp.lr));
    st.step += 1;
  });
}

// ---- Adam / AdamW
// --------------------------------------------------------------------------------
Adam::Adam(std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled)
    : Optimizer(std::move(groups)), opts_(opts), decoupled_(decoupled) {
  TESSERA_CHECK(
      opts.beta1 >= 0 && opts.beta1 < 1 && opts.beta2 >= 0 && opts.beta2 < 1 && opts.eps >= 0,
      "Adam: invalid betas (", opts.beta1, ", ", opts.beta2, ") or eps ", opts.eps);
}
Adam::Adam(std::vector<Tensor> params, AdamOptions opts, bool decoupled)
    : Adam(one_group(std::move(params), opts.lr, opts.weight_decay), opts, decoupled) {}

void Adam::step() {
  // Fusable parameters are batched by (hyper-parameters, step, device, dtype): one multi-tensor
  // call (one kernel launch on CUDA) per batch after the loop; the update is elementwise, so the
  // result is the same as one call per parameter.
  struct Batch {
    native::AdamWParams hp;
    Device device;
    DType dtype;
    std::vector<Tensor> p, g, m, v;
  };
  std::vector<Batch> batches;
  for_each_param([&](ParamGroup& grp, Tensor& p, Tensor g, ParamState& st) {
    // AdamW on dense float32/float64 CPU or CUDA parameters: the fused multi-tensor kernel (one
    // pass over p, g, m, v instead of ~10 elementwise ops), PyTorch's formula
    // (tessera/native/fused.h).
    const bool fusable = decoupled_ && (p.device().is_cpu() || p.device().is_cuda()) &&
                         p.device() == g.device() && p.is_contiguous() && g.is_contiguous() &&
                         g.dtype() == p.dtype() && (p.dtype() == kFloat32 || p.dtype() == kFloat64);
    if (fusable) {
      if (!st.buffers.count("exp_avg")) {
        st.buffers["exp_avg"] = zeros_like(p);
        st.buffers["exp_avg_sq"] = zeros_like(p);
      }
      st.step += 1;
      native::AdamWParams hp;
      hp.lr = grp.lr;
      hp.beta1 = opts_.beta1;
      hp.beta2 = opts_.beta2;
      hp.eps = opts_.eps;
      hp.weight_decay = grp.weight_decay;
      hp.step = st.step;
      Batch* b = nullptr;
      for (Batch& c : batches) {
        if (c.hp.lr == hp.lr && c.hp.weight_decay == hp.weight_decay && c.hp.step == hp.step &&
            c.device == p.device() && c.dtype == p.dtype())
          b = &c;
      }
      if (!b) b = &batches.emplace_back(Batch{hp, p.device(), p.dtype(), {}, {}, {}, {}});
      b->p.push_back(p);
      b->g.push_back(g);
      b->m.push_back(st.buffers["exp_avg"]);
      b->v.push_back(st.buffers["exp_avg_sq"]);
      return;
    }
    if (grp.weight_decay != 0.0) {
      if (decoupled_)
        native::mul_(p, Scalar(1.0 - grp.lr * grp.weight_decay));
      else
        g = native::add(g, native::mul(p, Scalar(grp.weight_decay)));
    }
    if (!st.buffers.count("exp_avg")) {
      st.buffers["exp_avg"] = zeros_like(p);
      st.buffers["exp_avg_sq"] = zeros_like(p);
    }
    Tensor& m = st.buffers["exp_avg"];
    Tensor& v = st.buffers["exp_avg_sq"];
    st.step += 1;
    native::mul_(m, Scalar(opts_.beta1));
    native::add_scaled_(m, g, Scalar(1.0 - opts_.beta1));
    native::mul_(v, Scalar(opts_.beta2));
    native::add_scaled_(v, native::square(g), Scalar(1.0 - opts_.beta2));
    const double t = static_cast<double>(st.step);
    const double bc1 = 1.0 - std::pow(opts_.beta1, t);
    const double bc2 = 1.0 - std::pow(opts_.beta2, t);
    const Tensor denom =
        native::add(native::div(native::sqrt(v), Scalar(std::sqrt(bc2))), Scalar(opts_.eps));
    native::add_scaled_(p, native::div(m, denom), Scalar(-grp.lr / bc1));
  });
  autograd::NoGradGuard guard;
  for (const Batch& b : batches) native::adamw_step_(b.p, b.g, b.m, b.v, b.hp);
}

// ---- utilities
// -------------------------------------------------------------------------------------
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm) {
  autograd::NoGradGuard guard;
  // The sum of squares stays a float64 scalar on the gradients' device: one synchronisation in
  // all, not one per tensor (same additions in the same order as a host loop, so the same bits).
  Tensor sq;
  for (const Tensor& p : params) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const Tensor s = native::sum(native::square(native::to(g, kFloat64)));
    sq = sq.defined() ? native::add(sq, native::to(s, sq.device())) : s;
  }
  const double norm = sq.defined() ? std::sqrt(sq.item<double>()) : 0.0;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      if (g.defined()) native::mul_(g, Scalar(coef));
    }
  }
  return norm;
}

std::vector<ParamGroup> decay_groups(const std::vector<std::pair<std::string, Tensor>>& named,
                                     double lr, double weight_decay) {
  ParamGroup decay{{}, lr, weight_decay}, no_decay{{}, lr, 0.0};
  for (const auto& [n, p] : named) (p.dim() >= 2 ? decay : no_decay).params.push_back(p);
  return {decay, no_decay};
}

}  // namespace tessera::nn
