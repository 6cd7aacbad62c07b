// SPDX-License-Identifier: Apache-2.0
/// @brief Private helpers shared by the CPU op implementations: device checks, the strided loop
/// built from tensors, and output allocation.
#pragma once

#include <array>
#include <initializer_list>

#include <tessera/creation.h>
#include <tessera/kernels/cpu/strided_loop.h>
#include <tessera/native/shape.h>
#include <tessera/tensor.h>

namespace tessera::native::detail {

inline constexpr int kMaxDims = 16;

/// Every defined tensor is on the same device; only CPU is implemented in this build.
inline void check_cpu(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    TESSERA_CHECK(t->device().is_cpu(), op, ": tensor on ", t->device(),
                  " but this operation runs on the CPU only in this build (got ", describe(*t),
                  ")");
    TESSERA_CHECK(t->dim() <= kMaxDims, op, ": at most ", kMaxDims, " dims are supported, got ",
                  describe(*t));
  }
}

/// Strided loop over operands that all have the iteration shape `shape` (inputs already expanded).
template <int N>
kernels::cpu::StridedLoop<N> make_loop(const Shape& shape,
                                       const std::array<const Tensor*, N>& ops) {
  kernels::cpu::StridedLoop<N> loop;
  loop.sizes = shape;
  for (int k = 0; k < N; ++k) {
    const Tensor& t = *ops[k];
    TESSERA_ASSERT(t.shape() == shape);
    loop.data[k] = static_cast<char*>(t.data_ptr());
    loop.strides[k].resize(shape.size());
    for (size_t d = 0; d < shape.size(); ++d)
      loop.strides[k][d] = t.strides()[d] * static_cast<int64_t>(t.element_size());
  }
  return loop;
}

/// Elements of a contiguous run: operand k's pointer p[k] as T.
template <typename T>
inline T* at(char* p) {
  return reinterpret_cast<T*>(p);
}

/// Writes that go through self (an in-place op on a view) must not alias a broadcast dim.
inline void check_writable(const char* op, const Tensor& self) {
  for (int64_t d = 0; d < self.dim(); ++d) {
    TESSERA_CHECK(self.strides()[d] != 0 || self.shape()[d] <= 1, op,
                  ": cannot write in place into an expanded tensor (dim ", d,
                  " has stride 0): ", describe(self), "; call contiguous() first");
  }
}

}  // namespace tessera::native::detail
