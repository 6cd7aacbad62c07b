// SPDX-License-Identifier: Apache-2.0
/// @brief Module registration, recursive naming, state_dict / load_state_dict, dtype/device moves.
#include <tessera/nn/module.h>

#include <set>
#include <sstream>

#include <tessera/autograd/engine.h>
#include <tessera/autograd/grad_mode.h>
#include <tessera/native/convert.h>

namespace tessera::nn {

Tensor Module::forward(const Tensor&) {
  TESSERA_FAIL(name(), ": this module has no single-tensor forward(x)");
}

void Module::check_new_name(const std::string& name) const {
  TESSERA_CHECK(!name.empty() && name.find('.') == std::string::npos, this->name(),
                ": invalid name '", name, "' (must be non-empty without '.')");
  auto taken = [&](const auto& v) {
    for (const auto& [n, _] : v)
      if (n == name) return true;
    return false;
  };
  TESSERA_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), this->name(), ": '", name,
                "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_new_name(name);
  TESSERA_CHECK(t.defined(), this->name(), ": parameter '", name, "' is undefined");
  TESSERA_CHECK(t.is_leaf(), this->name(), ": parameter '", name,
                "' must be a leaf (detach() it first)");
  if (requires_grad) t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name);
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name(name);
  TESSERA_CHECK(m != nullptr, this->name(), ": child module '", name, "' is null");
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool params, bool recurse,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [n, t] : params ? params_ : buffers_) out.emplace_back(prefix + n, t);
  if (!recurse) return;
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", params, true, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", true, recurse, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", false, recurse, out);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (auto& [n, c] : children_)
    for (auto& [sub, m] : c->named_modules()) out.emplace_back(sub.empty() ? n : n + "." + sub, m);
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

namespace {
/// Replaces t's data in place (TensorImpl fields) so every handle to t sees the new tensor.
void assign_impl(const Tensor& t, const Tensor& src) {
  TensorImpl* impl = t.unsafe_impl();
  impl->storage = src.storage();
  impl->shape = src.shape();
  impl->strides = src.strides();
  impl->offset = src.offset();
  impl->dtype = src.dtype();
  if (impl->autograd) impl->autograd->grad = Tensor();
}
}  // namespace

void Module::to(DType dtype) {
  for (auto* list : {&params_, &buffers_})
    for (auto& [n, t] : *list)
      if (is_floating(t.dtype()) && t.dtype() != dtype) assign_impl(t, native::to(t, dtype, true));
  for (auto& [n, c] : children_) c->to(dtype);
}

void Module::to(Device device) {
  for (auto* list : {&params_, &buffers_})
    for (auto& [n, t] : *list)
      if (t.device() != device) assign_impl(t, native::to(t, device, true));
  for (auto& [n, c] : children_) c->to(device);
}

StateDict Module::state_dict() const {
  StateDict d;
  for (auto& [n, t] : named_parameters()) d[n] = t;
  for (auto& [n, t] : named_buffers()) d[n] = t;
  return d;
}

void Module::check_state_dict(const StateDict& dict, bool strict) const {
  const StateDict own = state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [n, t] : own) {
    auto it = dict.find(n);
    if (it == dict.end()) {
      missing.push_back(n);
      continue;
    }
    const Tensor& src = it->second;
    const bool dtype_ok =
        src.dtype() == t.dtype() || (is_floating(src.dtype()) && is_floating(t.dtype()));
    if (!src.defined() || src.shape() != t.shape() || !dtype_ok) {
      std::ostringstream os;
      os << n << " (expected " << describe(t) << ", got " << describe(src) << ")";
      mismatched.push_back(os.str());
    }
  }
  for (const auto& [n, t] : dict)
    if (!own.count(n)) unexpected.push_back(n);
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  const bool bad = !mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()));
  TESSERA_CHECK(!bad, name(), ".load_state_dict: ",
                missing.empty() || !strict ? "" : "missing keys: [" + join(missing) + "] ",
                unexpected.empty() || !strict ? "" : "unexpected keys: [" + join(unexpected) + "] ",
                mismatched.empty() ? "" : "mismatched: [" + join(mismatched) + "]");
}

void Module::load_state_dict(const StateDict& dict, bool strict) {
  check_state_dict(dict, strict);
  const StateDict own = state_dict();
  autograd::NoGradGuard guard;
  for (auto& [n, t] : own) {
    auto it = dict.find(n);
    if (it == dict.end()) continue;
    Tensor dst = t;
    native::copy_(dst, it->second);
  }
}

void Module::zero_grad(bool set_to_none) { tessera::zero_grad(parameters(), set_to_none); }

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) push_back(std::move(m));
}

void Sequential::push_back(std::shared_ptr<Module> m) {
  add_child(std::to_string(seq_.size()), m);
  seq_.push_back(std::move(m));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& m : seq_) h = m->forward(h);
  return h;
}

}  // namespace tessera::nn
