// SPDX-License-Identifier: Apache-2.0
/// @brief The backward graph: Node (one recorded op), Edge, SavedTensor and the AccumulateGrad
/// leaf.
///
/// A recorded op's outputs point (AutogradMeta::grad_fn, output_nr) at a Node; the Node's next
/// edges point at the Nodes that produced its inputs, or at an AccumulateGrad node for a leaf that
/// requires grad, or are empty for inputs that need no gradient. Nodes hold their inputs' graph
/// strongly and never their outputs, so the graph is a DAG owned by the tensors that reach it.
///
/// NOTE [saved tensors]: a Node saves tensors as data-only aliases (same storage, no autograd
/// data), so saving an op's own output creates no reference cycle. Saving records the storage's
/// version; unpacking checks it and throws if an in-place op wrote the storage in between.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tessera/tensor.h>

namespace tessera::autograd {

class Node;

/// Points at input `input_nr` of `fn`; an empty edge means "no gradient wanted here".
struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
  bool valid() const { return fn != nullptr; }
};

/// Shape, dtype and device of a tensor, kept so the engine can check and cast gradients and make
/// zeros for outputs that received no gradient.
struct TensorMeta {
  Shape shape;
  DType dtype = kFloat32;
  Device device = kCPU;
  static TensorMeta of(const Tensor& t) { return {t.shape(), t.dtype(), t.device()}; }
};

/// A tensor a Node keeps for its backward (see NOTE [saved tensors]).
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  /// The saved data; throws if it was modified in place since it was saved. `node` names the op.
  Tensor unpack(const std::string& node) const;
  void reset() { data_ = Tensor(); }
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;
  uint64_t version_ = 0;
};

/// A tensor with the same storage, shape, strides and dtype as `t` but no autograd data.
Tensor data_alias(const Tensor& t);

/// One recorded operation in the backward graph.
class Node {
 public:
  Node();
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// Op name for errors and printing ("MulBackward").
  virtual std::string name() const = 0;
  /// Gradients w.r.t. this node's inputs from gradients w.r.t. its outputs. The engine passes one
  /// defined tensor per output (zeros where none arrived) and expects one entry per next edge
  /// (undefined allowed where the edge is invalid or the gradient is zero).
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) = 0;
  /// Drops saved tensors after a backward pass without retain_graph.
  virtual void release_saved() {}

  const std::vector<Edge>& next_edges() const { return next_edges_; }
  const std::vector<TensorMeta>& input_meta() const { return input_meta_; }
  const std::vector<TensorMeta>& output_meta() const { return output_meta_; }
  /// Creation order; later nodes run first when several are ready.
  uint64_t sequence_nr() const { return sequence_nr_; }
  bool released() const { return released_; }
  void mark_released() { released_ = true; }

  // Filled in when the node is recorded (see function.h).
  std::vector<Edge> next_edges_;
  std::vector<TensorMeta> input_meta_;   ///< one per next edge
  std::vector<TensorMeta> output_meta_;  ///< one per forward output

 private:
  uint64_t sequence_nr_;
  bool released_ = false;
};

/// The sink for a leaf that requires grad: adds the incoming gradient into leaf.grad().
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(Tensor leaf);
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) override;
  const Tensor& leaf() const { return leaf_; }

 private:
  Tensor leaf_;
};

/// The edge a recorded op should point at for input `t`: its grad_fn, a fresh AccumulateGrad for a
/// leaf that requires grad, or an empty edge.
Edge gradient_edge(const Tensor& t);

}  // namespace tessera::autograd
