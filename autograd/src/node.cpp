// SPDX-License-Identifier: Apache-2.0
/// @brief Node bookkeeping, saved-tensor version checks and gradient accumulation into leaves.
#include <tessera/autograd/node.h>

#include <atomic>

#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>

namespace tessera::autograd {
namespace {
std::atomic<uint64_t> g_next_sequence_nr{0};
}

Tensor data_alias(const Tensor& t) {
  if (!t.defined()) return t;
  return Tensor(
      std::make_shared<TensorImpl>(t.storage(), t.shape(), t.strides(), t.offset(), t.dtype()));
}

SavedTensor::SavedTensor(const Tensor& t)
    : data_(data_alias(t)), version_(t.defined() ? t.version() : 0) {}

Tensor SavedTensor::unpack(const std::string& node) const {
  TESSERA_CHECK(!data_.defined() || data_.version() == version_,
                "one of the variables needed for gradient computation has been modified by an "
                "inplace operation: ",
                describe(data_), " saved by ", node, " is at version ", data_.version(),
                "; expected version ", version_,
                " instead. Use the out-of-place op or clone() before modifying it.");
  return data_;
}

Node::Node() : sequence_nr_(g_next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

AccumulateGrad::AccumulateGrad(Tensor leaf) : leaf_(std::move(leaf)) {
  input_meta_.clear();
  output_meta_ = {TensorMeta::of(leaf_)};
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grad_outputs) {
  TESSERA_ASSERT(grad_outputs.size() == 1);
  const Tensor& g = grad_outputs[0];
  TESSERA_CHECK(g.shape() == leaf_.shape(), "AccumulateGrad: gradient ", describe(g),
                " does not match the leaf ", describe(leaf_));
  Tensor current = leaf_.grad();
  if (!current.defined()) {
    // Nothing else can see g (this call holds the only reference to it and to its storage), and it
    // is dense, spans its whole storage and needs no cast: adopt it instead of copying (the copies
    // were ~0.6% of a small GPT's training step). create_graph gradients are never adopted.
    if (g.use_count() == 1 && g.storage().use_count() == 1 && !g.requires_grad() &&
        g.is_contiguous() && g.offset() == 0 && g.dtype() == leaf_.dtype() &&
        g.device() == leaf_.device() && g.storage()->nbytes() == static_cast<size_t>(g.nbytes())) {
      leaf_.set_grad(g);
      return {};
    }
    // Otherwise a fresh, contiguous buffer in the leaf's dtype: never alias a gradient another node
    // may still hand out (e.g. the same tensor flowing to two leaves).
    Tensor fresh = native::to(g, leaf_.dtype(), /*copy=*/true);
    if (!fresh.is_contiguous()) fresh = native::contiguous(fresh);
    leaf_.set_grad(fresh);
  } else {
    native::add_(current, g);
  }
  return {};
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  const auto& fn = t.grad_fn();
  if (fn) return {fn, t.autograd_meta_if_any()->output_nr};
  return {std::make_shared<AccumulateGrad>(t), 0};
}

}  // namespace tessera::autograd
