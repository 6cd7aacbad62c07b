// SPDX-License-Identifier: Apache-2.0
/// @brief copy_ (broadcast + cast + any layout), contiguous, clone, to(dtype), to(device).
#include <tessera/native/convert.h>

#include <cstring>

#include <tessera/creation.h>
#include <tessera/native/shape.h>

#include "cuda/dispatch.h"
#include "iter.h"

namespace tessera::native {

namespace {

template <typename To, typename From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>)
    return v;
  else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (std::is_same_v<From, BFloat16> || std::is_same_v<From, Float16>)
      return static_cast<float>(v) != 0.0f;
    else
      return v != From(0);
  } else if constexpr (std::is_same_v<From, BFloat16> || std::is_same_v<From, Float16>)
    return To(static_cast<float>(v));
  else if constexpr (std::is_same_v<To, BFloat16> || std::is_same_v<To, Float16>)
    return To(static_cast<float>(v));
  else
    return static_cast<To>(v);
}

}  // namespace

Tensor& copy_(Tensor& self, const Tensor& src) {
  TESSERA_CUDA_DISPATCH(cuda_impl::copy_(self, src), self, src);
  detail::check_cpu("copy_", {&self, &src});
  detail::check_writable("copy_", self);
  const Tensor esrc = expand(src, self.shape());
  if (self.numel() == 0) return self;
  // Same dtype, both dense and identically laid out: one memcpy.
  if (self.dtype() == src.dtype() && self.is_contiguous() && esrc.is_contiguous()) {
    std::memmove(self.data_ptr(), esrc.data_ptr(), static_cast<size_t>(self.nbytes()));
    self.bump_version();
    return self;
  }
  auto loop = detail::make_loop<2>(self.shape(), {&self, &esrc});
  visit_dtype(self.dtype(), [&]<typename To>() {
    visit_dtype(src.dtype(), [&]<typename From>() {
      kernels::cpu::for_each<2>(std::move(loop), [](int64_t n, char** p, const int64_t* s) {
        if (s[0] == sizeof(To) && s[1] == sizeof(From)) {
          To* o = reinterpret_cast<To*>(p[0]);
          const From* a = reinterpret_cast<const From*>(p[1]);
          for (int64_t i = 0; i < n; ++i) o[i] = convert<To>(a[i]);
        } else {
          for (int64_t i = 0; i < n; ++i)
            *reinterpret_cast<To*>(p[0] + i * s[0]) =
                convert<To>(*reinterpret_cast<const From*>(p[1] + i * s[1]));
        }
      });
    });
  });
  self.bump_version();
  return self;
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }

Tensor clone(const Tensor& x) {
  Tensor out = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
  return copy_(out, x);
}

Tensor to(const Tensor& x, DType dtype, bool copy) {
  if (x.dtype() == dtype && !copy) return x;
  Tensor out = empty(x.shape(), {.dtype = dtype, .device = x.device()});
  return copy_(out, x);
}

Tensor to(const Tensor& x, Device device, bool copy) {
  if (x.device() == device && !copy) return x;
  TESSERA_CUDA_DISPATCH(cuda_impl::to(x, device, copy), x, device);
  TESSERA_CHECK(device.is_cpu() && x.device().is_cpu(), "to: cannot move ", describe(x), " to ",
                device, ": this build of tessera has no CUDA backend");
  return clone(x);
}

}  // namespace tessera::native
