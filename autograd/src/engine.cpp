// SPDX-License-Identifier: Apache-2.0
/// @brief The backward engine: dependency counting over the reachable graph, then one pass.
///
/// 1. Discover every node reachable from the roots (iterative DFS) and count incoming edges.
/// 2. Seed the roots' input buffers with the given output gradients.
/// 3. Pop ready nodes (all contributions arrived) newest-first; fill missing output gradients with
///    zeros; apply(); check each returned gradient against the input's recorded shape, cast it to
///    the input's dtype and add it into the next node's buffer.
/// autograd::grad captures buffers of the requested tensors instead of running AccumulateGrad.
#include <tessera/autograd/engine.h>

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include <tessera/autograd/grad_mode.h>
#include <tessera/autograd/hooks.h>
#include <tessera/autograd/node.h>
#include <tessera/creation.h>
#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>

namespace tessera::autograd {
namespace {

struct NodeState {
  int64_t deps = 0;
  std::vector<Tensor> buffer;  // one per output of the node
};

void add_into(Tensor& slot, const Tensor& g) {
  if (!slot.defined())
    slot = g;
  else
    slot = native::add(slot, g);  // out of place: `slot` may alias a tensor handed elsewhere
}

/// Where a requested gradient is read from: buffer `output_nr` of `node` (non-leaf), or the leaf
/// itself (collected from every AccumulateGrad that points at it).
struct Capture {
  Node* node = nullptr;
  uint32_t output_nr = 0;
  TensorImpl* leaf = nullptr;
  Tensor value;
};

std::vector<Tensor> run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
                        bool retain_graph, std::vector<Capture>* captures) {
  TESSERA_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "backward: got ",
                grad_outputs.size(), " grad_outputs for ", outputs.size(), " outputs");
  NoGradGuard no_grad;
  std::vector<std::pair<Edge, Tensor>> roots;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    TESSERA_CHECK(out.defined(), "backward: output ", i, " is undefined");
    TESSERA_CHECK(out.requires_grad(), "backward: element ", i,
                  " of the outputs does not require "
                  "grad and does not have a grad_fn (",
                  describe(out), ")");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      TESSERA_CHECK(out.numel() == 1,
                    "backward: grad can be implicitly created only for outputs "
                    "with one element; pass a grad_output for ",
                    describe(out));
      g = ones_like(out);
    } else {
      TESSERA_CHECK(g.shape() == out.shape(), "backward: grad_output ", describe(g),
                    " does not match the output ", describe(out));
      g = native::to(g, out.dtype());
    }
    roots.emplace_back(gradient_edge(out), g);
  }

  // 1. Discover and count dependencies.
  std::unordered_map<Node*, NodeState> state;
  std::vector<Node*> stack;
  for (auto& [edge, g] : roots) {
    Node* n = edge.fn.get();
    if (state.emplace(n, NodeState{}).second) stack.push_back(n);
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges()) {
      if (!e.valid()) continue;
      auto [it, inserted] = state.emplace(e.fn.get(), NodeState{});
      it->second.deps += 1;
      if (inserted) stack.push_back(e.fn.get());
    }
  }

  // Gradient-ready hook (hooks.h): how many AccumulateGrad nodes (one per use) each leaf has left.
  const GradReadyFn* ready_hook = captures ? nullptr : GradReadyGuard::current();
  std::unordered_map<TensorImpl*, int64_t> leaf_uses;
  if (ready_hook) {
    for (const auto& [node, st] : state)
      if (auto* acc = dynamic_cast<AccumulateGrad*>(node))
        leaf_uses[acc->leaf().unsafe_impl()] += 1;
  }

  std::unordered_map<Node*, std::vector<Capture*>> node_captures;
  std::unordered_map<TensorImpl*, Capture*> leaf_captures;
  if (captures) {
    for (Capture& c : *captures) {
      if (c.leaf)
        leaf_captures[c.leaf] = &c;
      else
        node_captures[c.node].push_back(&c);
    }
  }

  // 2. Seed the roots.
  auto cmp = [](Node* a, Node* b) { return a->sequence_nr() < b->sequence_nr(); };
  std::priority_queue<Node*, std::vector<Node*>, decltype(cmp)> ready(cmp);
  std::unordered_set<Node*> seeded;
  for (auto& [edge, g] : roots) {
    NodeState& s = state[edge.fn.get()];
    s.buffer.resize(edge.fn->output_meta().size());
    add_into(s.buffer[edge.input_nr], g);
  }
  for (auto& [edge, g] : roots) {
    Node* n = edge.fn.get();
    if (state[n].deps == 0 && seeded.insert(n).second) ready.push(n);
  }

  // 3. Run.
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    NodeState& s = state[n];
    s.buffer.resize(n->output_meta().size());
    for (size_t i = 0; i < s.buffer.size(); ++i) {
      if (!s.buffer[i].defined()) {
        const TensorMeta& m = n->output_meta()[i];
        s.buffer[i] = zeros(m.shape, {.dtype = m.dtype, .device = m.device});
      }
    }
    if (captures) {
      if (auto it = node_captures.find(n); it != node_captures.end())
        for (Capture* c : it->second) c->value = s.buffer[c->output_nr];
      if (auto* acc = dynamic_cast<AccumulateGrad*>(n)) {
        auto it = leaf_captures.find(acc->leaf().unsafe_impl());
        if (it != leaf_captures.end()) add_into(it->second->value, s.buffer[0]);
        s.buffer.clear();
        continue;  // autograd::grad never touches .grad()
      }
    }
    std::vector<Tensor> grads = n->apply(std::move(s.buffer));
    s.buffer.clear();
    if (ready_hook) {
      auto* acc = dynamic_cast<AccumulateGrad*>(n);
      if (acc && --leaf_uses[acc->leaf().unsafe_impl()] == 0) (*ready_hook)(acc->leaf());
    }
    if (!retain_graph) n->release_saved();
    const auto& edges = n->next_edges();
    TESSERA_CHECK(grads.size() == edges.size() || (edges.empty() && grads.empty()), n->name(),
                  ": backward returned ", grads.size(), " gradients for ", edges.size(), " inputs");
    for (size_t i = 0; i < edges.size(); ++i) {
      const Edge& e = edges[i];
      if (!e.valid()) continue;
      NodeState& t = state[e.fn.get()];
      if (grads[i].defined()) {
        const TensorMeta& m = n->input_meta()[i];
        TESSERA_CHECK(grads[i].shape() == m.shape, n->name(), ": gradient for input ", i,
                      " has shape ", shape_str(grads[i].shape()), " but the input has shape ",
                      shape_str(m.shape));
        Tensor g = native::to(grads[i], m.dtype);
        t.buffer.resize(e.fn->output_meta().size());
        add_into(t.buffer[e.input_nr], g);
      }
      if (--t.deps == 0) ready.push(e.fn.get());
    }
  }
  std::vector<Tensor> result;
  if (captures)
    for (Capture& c : *captures) result.push_back(c.value);
  return result;
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool retain_graph) {
  run(outputs, grad_outputs, retain_graph, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph,
                         bool allow_unused) {
  std::vector<Capture> captures;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    TESSERA_CHECK(x.defined() && x.requires_grad(), "autograd::grad: input ", i,
                  " does not require grad (", describe(x), ")");
    Capture c;
    if (x.grad_fn()) {
      c.node = x.grad_fn().get();
      c.output_nr = x.autograd_meta_if_any()->output_nr;
    } else {
      c.leaf = x.unsafe_impl();
    }
    captures.push_back(c);
  }
  std::vector<Tensor> result = run(outputs, grad_outputs, retain_graph, &captures);
  for (size_t i = 0; i < result.size(); ++i) {
    TESSERA_CHECK(allow_unused || result[i].defined(), "autograd::grad: input ", i,
                  " was not used in the graph of the outputs (pass allow_unused=true)");
    if (result[i].defined() && result[i].dtype() != inputs[i].dtype())
      result[i] = native::to(result[i], inputs[i].dtype());
  }
  return result;
}

}  // namespace tessera::autograd

namespace tessera {

void backward(const Tensor& loss, const Tensor& grad_output, bool retain_graph) {
  autograd::backward({loss}, {grad_output}, retain_graph);
}

void zero_grad(const std::vector<Tensor>& tensors, bool set_to_none) {
  for (const Tensor& t : tensors) {
    if (!t.defined()) continue;
    Tensor g = t.grad();
    if (!g.defined()) continue;
    if (set_to_none)
      t.set_grad(Tensor());
    else
      native::zero_(g);
  }
}

}  // namespace tessera
