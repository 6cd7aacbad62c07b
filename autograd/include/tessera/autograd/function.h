// SPDX-License-Identifier: Apache-2.0
/// @brief Recording differentiable ops: the custom-function API (Function / AutogradContext) and
/// the `record` helper every built-in op uses. Both create the same FunctionNode.
///
/// A custom op (e.g. a fused kernel) is one node:
///
///   struct ScaledSquare {
///     static Tensor forward(AutogradContext& ctx, const Tensor& x, double s) {
///       ctx.save_for_backward({x});
///       ctx.set("s", s);
///       return native::mul(native::square(x), s);
///     }
///     static std::vector<Tensor> backward(AutogradContext& ctx, const std::vector<Tensor>& g) {
///       const Tensor x = ctx.saved()[0];
///       return {native::mul(native::mul(g[0], x), 2.0 * ctx.get<double>("s"))};
///     }
///   };
///   Tensor y = autograd::Function<ScaledSquare>::apply(x, 3.0);
///
/// An optional `static const char* name()` names the node (errors, printing); otherwise the
/// mangled type name is used. forward runs with gradient recording off; backward returns one entry
/// per Tensor argument of forward (in order; undefined where ctx.needs_input_grad(i) is false).
/// Backward is computed with native (non-recording) ops: create_graph / double backward is not
/// supported (docs/autograd.md).
#pragma once

#include <any>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <tessera/autograd/grad_mode.h>
#include <tessera/autograd/node.h>

namespace tessera::autograd {

/// What a backward function sees: saved tensors (version-checked), which inputs need gradients,
/// and arbitrary non-tensor values.
class AutogradContext {
 public:
  void save_for_backward(const std::vector<Tensor>& tensors);
  /// The saved tensors; throws if any was modified in place after it was saved.
  std::vector<Tensor> saved() const;
  /// Whether input i (the i-th Tensor argument) needs a gradient (ATen's grad_input_mask).
  bool needs_input_grad(size_t i) const {
    return i < needs_input_grad_.size() && needs_input_grad_[i];
  }
  const std::vector<bool>& needs_input_grad() const { return needs_input_grad_; }

  template <typename T>
  void set(const std::string& key, T value) {
    data_[key] = std::move(value);
  }
  template <typename T>
  T get(const std::string& key) const {
    auto it = data_.find(key);
    TESSERA_CHECK(it != data_.end(), "AutogradContext::get: no value saved under '", key, "'");
    const T* v = std::any_cast<T>(&it->second);
    TESSERA_CHECK(v != nullptr, "AutogradContext::get: value '", key, "' has another type");
    return *v;
  }

  // Engine-side (set by FunctionNode).
  std::string node_name_;
  std::vector<bool> needs_input_grad_;
  void release() {
    saved_.clear();
    data_.clear();
  }

 private:
  std::vector<SavedTensor> saved_;
  std::map<std::string, std::any> data_;
};

using BackwardFn = std::function<std::vector<Tensor>(AutogradContext& ctx,
                                                     const std::vector<Tensor>& grad_outputs)>;

/// A node that runs a backward function over its context.
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, BackwardFn backward);
  std::string name() const override { return name_; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) override;
  void release_saved() override;
  AutogradContext& ctx() { return ctx_; }

 private:
  std::string name_;
  BackwardFn backward_;
  AutogradContext ctx_;
};

/// True when grad mode is on and some input requires grad: the op must be recorded.
bool any_requires_grad(const std::vector<Tensor>& inputs);

/// Records `outputs` (computed by the caller without recording) as produced from `inputs` by one
/// node called `name`. `prepare` runs only when recording (to save tensors / values into ctx).
/// Floating outputs get grad_fn set; integer/bool outputs stay non-differentiable. Returns nothing:
/// outputs are modified in place (their autograd data). No-op when !any_requires_grad(inputs).
void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            BackwardFn backward, const std::function<void(AutogradContext&)>& prepare = {});

/// Convenience for the common one-output case.
inline Tensor record1(const char* name, const std::vector<Tensor>& inputs, Tensor output,
                      BackwardFn backward,
                      const std::function<void(AutogradContext&)>& prepare = {}) {
  record(name, inputs, {output}, std::move(backward), prepare);
  return output;
}

/// Custom differentiable function (see the file comment). F provides static forward/backward.
template <typename F>
struct Function {
  template <typename... Args>
  static auto apply(Args&&... args) {
    std::vector<Tensor> inputs;
    (collect(inputs, args), ...);
    auto ctx = std::make_shared<AutogradContext>();
    const bool recording = any_requires_grad(inputs);
    for (const Tensor& t : inputs) ctx->needs_input_grad_.push_back(recording && t.requires_grad());
    using Result = decltype(F::forward(*ctx, std::forward<Args>(args)...));
    Result result;
    {
      NoGradGuard guard;
      result = F::forward(*ctx, std::forward<Args>(args)...);
    }
    std::vector<Tensor> outputs;
    if constexpr (std::is_same_v<Result, Tensor>)
      outputs = {result};
    else
      outputs = result;
    if (recording) {
      // The forward's ctx (saved tensors and values) moves into the node.
      record(
          node_name(), inputs, outputs,
          [](AutogradContext& c, const std::vector<Tensor>& g) { return F::backward(c, g); },
          [ctx](AutogradContext& node_ctx) {
            auto needs = std::move(node_ctx.needs_input_grad_);
            auto name = std::move(node_ctx.node_name_);
            node_ctx = std::move(*ctx);
            node_ctx.needs_input_grad_ = std::move(needs);
            node_ctx.node_name_ = std::move(name);
          });
    }
    return result;
  }

 private:
  /// F::name() when F provides it (static, returning something convertible to const char*).
  static const char* node_name() {
    if constexpr (requires { F::name(); })
      return F::name();
    else
      return typeid(F).name();
  }
  template <typename A>
  static void collect(std::vector<Tensor>& v, const A& a) {
    if constexpr (std::is_same_v<std::decay_t<A>, Tensor>) v.push_back(a);
  }
};

}  // namespace tessera::autograd
