// SPDX-License-Identifier: Apache-2.0
/// @brief AutogradContext, FunctionNode and `record`: how every differentiable op joins the graph.
#include <tessera/autograd/function.h>

namespace tessera::autograd {

void AutogradContext::save_for_backward(const std::vector<Tensor>& tensors) {
  saved_.clear();
  saved_.reserve(tensors.size());
  for (const Tensor& t : tensors) saved_.emplace_back(t);
}

std::vector<Tensor> AutogradContext::saved() const {
  std::vector<Tensor> out;
  out.reserve(saved_.size());
  for (const SavedTensor& s : saved_) out.push_back(s.unpack(node_name_));
  return out;
}

FunctionNode::FunctionNode(std::string name, BackwardFn backward)
    : name_(std::move(name)), backward_(std::move(backward)) {
  ctx_.node_name_ = name_;
}

std::vector<Tensor> FunctionNode::apply(std::vector<Tensor>&& grad_outputs) {
  TESSERA_CHECK(!released(),
                "Trying to backward through the graph a second time (or directly "
                "access saved tensors after they have already been freed) in ",
                name_,
                ": saved tensors are freed after backward; pass retain_graph=true to the first "
                "backward if you need to backward twice");
  return backward_(ctx_, grad_outputs);
}

void FunctionNode::release_saved() {
  ctx_.release();
  mark_released();
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            BackwardFn backward, const std::function<void(AutogradContext&)>& prepare) {
  if (!any_requires_grad(inputs)) return;
  auto node = std::make_shared<FunctionNode>(name, std::move(backward));
  node->next_edges_.reserve(inputs.size());
  node->input_meta_.reserve(inputs.size());
  std::vector<bool> needs;
  for (const Tensor& t : inputs) {
    Edge e = gradient_edge(t);
    needs.push_back(e.valid());
    node->next_edges_.push_back(std::move(e));
    node->input_meta_.push_back(t.defined() ? TensorMeta::of(t) : TensorMeta{});
  }
  node->ctx().needs_input_grad_ = needs;
  if (prepare) prepare(node->ctx());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    node->output_meta_.push_back(TensorMeta::of(out));
    if (!is_floating(out.dtype())) continue;
    for (const Tensor& in : inputs) {
      TESSERA_CHECK(!in.defined() || !out.is_same(in), name,
                    ": a recorded op must return a new "
                    "tensor, not one of its inputs (return autograd::data_alias(x) instead)");
    }
    AutogradMeta& m = out.autograd_meta();
    TESSERA_CHECK(m.grad_fn == nullptr && !m.requires_grad, name, ": output ", i,
                  " already belongs to a graph");
    m.grad_fn = node;
    m.output_nr = static_cast<uint32_t>(i);
  }
}

}  // namespace tessera::autograd
