// SPDX-License-Identifier: Apache-2.0
/// @brief Module: the base of every layer. Owns named parameters, buffers and child modules;
/// gives recursive dotted names ("h.0.attn.c_attn.weight"), state_dict / load_state_dict,
/// train/eval, dtype/device moves and zero_grad.
///
/// Modules are plain std::shared_ptr objects. A subclass registers its tensors and children in its
/// constructor and keeps the returned handles as members: registration stores the *same* tensor
/// (shared handle), and to()/load_state_dict() update tensors in place, so members stay valid.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <tessera/io.h>
#include <tessera/tensor.h>

namespace tessera::nn {

/// Name -> tensor, sorted by name (tessera::TensorDict, so it can be passed to tessera::save).
using StateDict = TensorDict;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Type name for printing and errors ("Linear").
  virtual std::string name() const { return "Module"; }
  /// The single-tensor forward used by Sequential; modules with other signatures throw.
  virtual Tensor forward(const Tensor& x);

  /// Registers a parameter (a leaf; requires_grad as given). Names must be unique and dot-free.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  /// Registers a buffer (state that is saved but not trained, e.g. running statistics).
  Tensor register_buffer(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

  /// Recursive, in registration order: own entries first, then each child's with "child." prefix.
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const {
    return children_;
  }
  /// This module ("") and every descendant with its dotted path.
  std::vector<std::pair<std::string, Module*>> named_modules();

  /// Sets training mode on this module and all descendants.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Converts every floating parameter and buffer in place (handles stay valid; grads dropped).
  void to(DType dtype);
  void to(Device device);

  /// Parameters and buffers by dotted name (tensors share storage with the module).
  StateDict state_dict() const;
  /// Copies values in. Every check runs before any copy, so a failed load changes nothing. With
  /// strict, missing and unexpected keys are errors; a shape or dtype mismatch always is (after
  /// conversion of floating dtypes, which is allowed). The error lists every offending key.
  void load_state_dict(const StateDict& dict, bool strict = true);
  /// The checks of load_state_dict without copying (throws the same errors).
  void check_state_dict(const StateDict& dict, bool strict = true) const;

  /// Clears (set_to_none) or zeroes the gradients of all parameters.
  void zero_grad(bool set_to_none = true);
  int64_t num_parameters() const;

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> m);

 private:
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool params, bool recurse,
               std::vector<std::pair<std::string, Tensor>>& out) const;

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

/// Applies child modules in order (each must implement forward(Tensor)).
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  std::string name() const override { return "Sequential"; }
  void push_back(std::shared_ptr<Module> m);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return named_children().size(); }

 private:
  std::vector<std::shared_ptr<Module>> seq_;
};

/// A list of children named "0", "1", ... (no forward of its own).
template <typename M = Module>
class ModuleList : public Module {
 public:
  std::string name() const override { return "ModuleList"; }
  void push_back(std::shared_ptr<M> m) {
    add_child(std::to_string(items_.size()), m);
    items_.push_back(std::move(m));
  }
  size_t size() const { return items_.size(); }
  const std::shared_ptr<M>& operator[](size_t i) const { return items_.at(i); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace tessera::nn
