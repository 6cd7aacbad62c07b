// SPDX-License-Identifier: Apache-2.0
/// @brief Tensor: shared storage + shape + strides + offset + dtype (+ autograd data).
///
/// A Tensor is a cheap handle (one shared_ptr). Copies share data, like torch::Tensor; use
/// `clone()` for a deep copy. Views (reshape, permute, narrow, expand, ...) share storage and
/// differ only in shape, strides and offset. The math lives in free functions: tessera::native::*
/// (this library: no gradient recording) and tessera::* (tessera::autograd: the same ops,
/// differentiable).
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <tessera/dtype.h>
#include <tessera/device.h>
#include <tessera/error.h>
#include <tessera/storage.h>

namespace tessera {

using Shape = std::vector<int64_t>;

namespace autograd {
class Node;
}
struct AutogradMeta;

/// "[2, 3, 4]"
std::string shape_str(const Shape& s);

class TensorImpl {
 public:
  TensorImpl(Storage storage, Shape shape, Shape strides, int64_t offset, DType dtype);
  ~TensorImpl();

  Storage storage;
  Shape shape;
  Shape strides;       ///< in elements, may be 0 (expanded) but never negative
  int64_t offset = 0;  ///< in elements
  DType dtype;
  std::unique_ptr<AutogradMeta> autograd;  ///< null until requires_grad/grad_fn are set
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& sizes() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  /// Size / stride of one dim; negative dims count from the end.
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t numel() const;
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  size_t element_size() const { return tessera::element_size(dtype()); }
  int64_t nbytes() const { return numel() * static_cast<int64_t>(element_size()); }
  bool is_contiguous() const;
  const Storage& storage() const { return impl().storage; }

  /// Pointer to the first element (storage + offset). Raw access: no dtype check.
  void* data_ptr() const;
  /// Typed pointer to the first element; throws unless T matches dtype().
  template <typename T>
  T* data() const {
    TESSERA_CHECK(dtype_of<T>() == dtype(), "Tensor::data<", dtype_name(dtype_of<T>()),
                  ">() called on a tensor of dtype ", dtype());
    return static_cast<T*>(data_ptr());
  }
  /// The value of a one-element tensor (any device), converted to T.
  template <typename T>
  T item() const;

  /// Identity of the underlying object (not of the data).
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  bool shares_storage(const Tensor& other) const { return storage() == other.storage(); }
  TensorImpl* unsafe_impl() const { return impl_.get(); }
  long use_count() const { return impl_.use_count(); }

  /// Version counter shared with every view of the same storage (bumped by in-place ops).
  uint64_t version() const { return storage()->version(); }
  void bump_version() const { storage()->bump_version(); }

  // ---- autograd data (the engine lives in tessera::autograd) -----------------------------------
  bool requires_grad() const;
  /// Marks a leaf as requiring gradients; throws on a non-leaf (as PyTorch does).
  Tensor& requires_grad_(bool value = true);
  /// The accumulated gradient of a leaf (undefined until a backward pass reaches it).
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  /// Leaf: created by the user, not by a recorded op.
  bool is_leaf() const;
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  /// Autograd bookkeeping, created on first use. For tessera::autograd.
  AutogradMeta& autograd_meta() const;
  AutogradMeta* autograd_meta_if_any() const { return impl().autograd.get(); }

  /// PyTorch-style text: values (truncated with ... beyond 1000 elements), dtype, device, grad_fn.
  std::string to_string() const;

 private:
  TensorImpl& impl() const {
    TESSERA_CHECK(impl_ != nullptr, "operation on an undefined Tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

/// Gradient bookkeeping held by a tensor. Defined here so that tensor needs nothing from autograd;
/// only tessera::autograd creates Nodes.
struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<autograd::Node> grad_fn;  ///< null for leaves
  uint32_t output_nr = 0;                   ///< which output of grad_fn this tensor is
  bool retains_grad = false;                ///< a non-leaf that keeps .grad (retain_grad())
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

/// "tensor(shape=[2, 3], dtype=float32, device=cpu)": for error messages.
std::string describe(const Tensor& t);

}  // namespace tessera
