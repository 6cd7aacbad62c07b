// SPDX-License-Identifier: Apache-2.0
/// @brief Tensor and TensorImpl: metadata, element access, autograd data.
#include <tessera/tensor.h>

#include <sstream>

#include <tessera/native/convert.h>
#include <tessera/native/shape.h>

namespace tessera {

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "undefined tensor";
  std::ostringstream os;
  os << "tensor(shape=" << shape_str(t.shape()) << ", dtype=" << t.dtype()
     << ", device=" << t.device() << ")";
  return os.str();
}

TensorImpl::TensorImpl(Storage storage_, Shape shape_, Shape strides_, int64_t offset_,
                       DType dtype_)
    : storage(std::move(storage_)),
      shape(std::move(shape_)),
      strides(std::move(strides_)),
      offset(offset_),
      dtype(dtype_) {
  TESSERA_ASSERT(shape.size() == strides.size());
}

TensorImpl::~TensorImpl() = default;

int64_t Tensor::size(int64_t d) const { return shape()[native::wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[native::wrap_dim(d, dim(), "stride")]; }

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : shape()) n *= s;
  return n;
}

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // as PyTorch: no element, no layout
  int64_t expected = 1;
  const auto& sh = shape();
  const auto& st = strides();
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (sh[d] == 1) continue;  // a size-1 dim's stride never matters
    if (st[d] != expected) return false;
    expected *= sh[d];
  }
  return true;
}

void* Tensor::data_ptr() const {
  return static_cast<char*>(storage()->data()) + offset() * static_cast<int64_t>(element_size());
}

template <typename T>
T Tensor::item() const {
  TESSERA_CHECK(numel() == 1, "item(): expected a tensor with one element, got ", describe(*this));
  Tensor c = native::to(*this, kCPU);
  return visit_dtype(c.dtype(), [&]<typename S>() -> T {
    const S v = *static_cast<const S*>(c.data_ptr());
    if constexpr (std::is_same_v<T, bool>)
      return static_cast<float>(v) != 0.0f;
    else if constexpr (std::is_same_v<S, BFloat16> || std::is_same_v<S, Float16>)
      return static_cast<T>(static_cast<float>(v));
    else
      return static_cast<T>(v);
  });
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template int32_t Tensor::item<int32_t>() const;
template bool Tensor::item<bool>() const;

// ---- autograd data ------------------------------------------------------------------------------
AutogradMeta& Tensor::autograd_meta() const {
  auto& a = impl().autograd;
  if (!a) a = std::make_unique<AutogradMeta>();
  return *a;
}

bool Tensor::requires_grad() const {
  const AutogradMeta* m = autograd_meta_if_any();
  return m != nullptr && (m->requires_grad || m->grad_fn != nullptr);
}

Tensor& Tensor::requires_grad_(bool value) {
  TESSERA_CHECK(is_leaf(),
                "requires_grad_(): can only be changed on a leaf tensor; this one was "
                "produced by an operation (use detach() to get a leaf)");
  TESSERA_CHECK(!value || is_floating(dtype()),
                "requires_grad_(): only floating-point tensors "
                "can require gradients, got dtype ",
                dtype());
  autograd_meta().requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  const AutogradMeta* m = autograd_meta_if_any();
  return m ? m->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined()) {
    TESSERA_CHECK(g.shape() == shape() && g.dtype() == dtype() && g.device() == device(),
                  "set_grad: gradient ", describe(g), " does not match ", describe(*this));
  }
  autograd_meta().grad = g;
}

bool Tensor::is_leaf() const {
  const AutogradMeta* m = autograd_meta_if_any();
  return m == nullptr || m->grad_fn == nullptr;
}

const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<autograd::Node> kNone;
  const AutogradMeta* m = autograd_meta_if_any();
  return m ? m->grad_fn : kNone;
}

}  // namespace tessera
