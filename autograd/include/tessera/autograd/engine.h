// SPDX-License-Identifier: Apache-2.0
/// @brief The backward pass: tessera::backward (accumulates into leaves) and autograd::grad
/// (returns gradients without touching .grad()).
///
/// The engine walks the graph once: it counts, for every node reachable from the roots, how many
/// edges point at it, then runs a node when all its gradient contributions have arrived (ready
/// nodes run newest-first). Gradients arriving at one node input are summed. Cost: one apply() per
/// reachable node plus one addition per extra contribution. Single-threaded.
#pragma once

#include <vector>

#include <tessera/tensor.h>

namespace tessera::autograd {

/// Runs backward from `outputs` seeded with `grad_outputs` (same count; an undefined entry means
/// ones for a one-element output and is an error otherwise). Leaves that require grad accumulate
/// into .grad() (adding across calls). Unless retain_graph, saved tensors are freed and a second
/// backward through the same nodes throws.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false);

/// Gradients of `outputs` w.r.t. `inputs` (leaves or intermediate tensors), returned instead of
/// accumulated; leaves' .grad() are untouched. An input the outputs do not depend on gets an
/// undefined tensor when allow_unused, else an error.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool allow_unused = false);

}  // namespace tessera::autograd

namespace tessera {

/// loss.backward(): `grad_output` may be omitted for a one-element `loss`.
void backward(const Tensor& loss, const Tensor& grad_output = {}, bool retain_graph = false);

/// Sets .grad() of each tensor to undefined (set_to_none) or to zeros.
void zero_grad(const std::vector<Tensor>& tensors, bool set_to_none = true);

}  // namespace tessera
