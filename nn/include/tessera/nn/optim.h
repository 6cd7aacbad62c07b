// SPDX-License-Identifier: Apache-2.0
/// @brief Optimizers: SGD (momentum, Nesterov, weight decay), Adam (L2 decay), AdamW (decoupled
/// decay), with parameter groups, zero_grad and state in state_dict form.
///
/// Updates run under NoGradGuard with native ops, in each parameter's dtype. A parameter whose
/// .grad() is undefined is skipped (its state does not advance), as in PyTorch.
/// state_dict keys: "state.<i>.step", "state.<i>.exp_avg", "state.<i>.exp_avg_sq",
/// "state.<i>.momentum_buffer" (i = parameter index over all groups in order), and
/// "group.<g>.lr", "group.<g>.weight_decay" as 0-d float64 tensors.
#pragma once

#include <map>
#include <vector>

#include <tessera/io.h>
#include <tessera/tensor.h>

namespace tessera::nn {

struct ParamGroup {
  std::vector<Tensor> params;
  double lr = 1e-3;
  double weight_decay = 0.0;
  double initial_lr = -1.0;  ///< lr at construction (schedules scale it); set by the optimizer
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual void step() = 0;
  void zero_grad(bool set_to_none = true);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  /// Sets every group's lr to initial_lr * factor (used by schedules).
  void scale_lr(double factor);
  TensorDict state_dict() const;
  /// Validates every key, shape and dtype against this optimizer's parameters before changing
  /// anything; extra or missing keys throw.
  void load_state_dict(const TensorDict& dict);
  /// The checks of load_state_dict without changing anything (throws the same errors).
  void check_state_dict(const TensorDict& dict) const;

 protected:
  struct ParamState {
    int64_t step = 0;
    std::map<std::string, Tensor> buffers;  // exp_avg, exp_avg_sq, momentum_buffer
  };
  struct Loaded;
  Loaded parse_state_dict(const TensorDict& dict) const;
  /// Calls f(group, param, grad, state) for each parameter with a gradient.
  template <typename Fn>
  void for_each_param(Fn&& f);
  /// Buffer names this optimizer keeps per parameter (for load validation).
  virtual std::vector<std::string> buffer_names() const = 0;

  std::vector<ParamGroup> groups_;
  std::vector<ParamState> state_;  // one per parameter over all groups
};

struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

/// PyTorch's SGD: g += wd * p; buf = momentum * buf + (1 - dampening) * g (buf = g on the first
/// step); g = nesterov ? g + momentum * buf : buf; p -= lr * g.
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SGDOptions opts);
  SGD(std::vector<Tensor> params, SGDOptions opts);
  void step() override;

 private:
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }
  SGDOptions opts_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

/// Adam (decoupled = false: g += wd * p) and AdamW (decoupled = true: p *= 1 - lr * wd first).
///   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
///   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled_weight_decay = false);
  Adam(std::vector<Tensor> params, AdamOptions opts, bool decoupled_weight_decay = false);
  void step() override;

 private:
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  AdamOptions opts_;
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamOptions opts) : Adam(std::move(groups), opts, true) {}
  AdamW(std::vector<Tensor> params, AdamOptions opts) : Adam(std::move(params), opts, true) {}
};

/// Scales all gradients so that their global L2 norm is at most max_norm; returns the norm
/// before clipping (float64 accumulation). Parameters without a gradient are skipped.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm);

/// Splits named parameters into two groups: decayed (dim >= 2: weights, embeddings) and not
/// decayed (biases, norm gains), the usual GPT recipe.
std::vector<ParamGroup> decay_groups(const std::vector<std::pair<std::string, Tensor>>& named,
                                     double lr, double weight_decay);

}  // namespace tessera::nn
