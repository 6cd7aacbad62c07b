// SPDX-License-Identifier: Apache-2.0
/// @brief copy_ and to(device) for CUDA tensors: host<->device transfers through pinned staging
/// buffers, device<->device memcpy, and the strided cast kernel for everything else.
///
/// Transfers: the source is made contiguous on its own device first (a kernel on CUDA, the CPU
/// copy on the host), then one cudaMemcpyAsync moves the bytes through this thread's page-locked
/// staging buffer (reused; up to 64 MiB, larger transfers go from pageable memory) on the current
/// stream of the CUDA side, which is synchronised before the buffer can be reused.
/// So a copy to the CPU is synchronous (the data is ready when it returns), as in PyTorch.
#include <cstring>

#include <tessera/creation.h>
#include <tessera/kernels/cuda/elementwise.h>
#include <tessera/native/convert.h>
#include <tessera/native/shape.h>

#include "cuda/common.h"
#include "cuda/ops.h"
#include "native/iter.h"

namespace tessera::native::cuda_impl {
namespace {

namespace kc = kernels::cuda;
using cuda::detail::DeviceGuard;
using cuda::detail::stream_of;

Tensor host_to_device(const Tensor& x, Device device) {
  const Tensor c = contiguous(x);
  DeviceGuard guard(device.index);
  Tensor out = empty(c.shape(), {.dtype = c.dtype(), .device = device});
  const size_t n = static_cast<size_t>(c.nbytes());
  if (n == 0) return out;
  cudaStream_t s = stream_of(device.index);
  void* staging = cuda::detail::staging_buffer(n);
  if (staging) std::memcpy(staging, c.data_ptr(), n);
  TESSERA_CUDA_CHECK(cudaMemcpyAsync(out.data_ptr(), staging ? staging : c.data_ptr(), n,
                                     cudaMemcpyHostToDevice, s));
  TESSERA_CUDA_CHECK(cudaStreamSynchronize(s));  // before the staging buffer is reused
  return out;
}

Tensor device_to_host(const Tensor& x) {
  DeviceGuard guard(x.device().index);
  const Tensor c = contiguous(x);
  Tensor out = empty(c.shape(), {.dtype = c.dtype(), .device = kCPU});
  const size_t n = static_cast<size_t>(c.nbytes());
  if (n == 0) return out;
  cudaStream_t s = stream_of(x.device().index);
  void* staging = cuda::detail::staging_buffer(n);
  TESSERA_CUDA_CHECK(cudaMemcpyAsync(staging ? staging : out.data_ptr(), c.data_ptr(), n,
                                     cudaMemcpyDeviceToHost, s));
  TESSERA_CUDA_CHECK(cudaStreamSynchronize(s));
  if (staging) std::memcpy(out.data_ptr(), staging, n);
  return out;
}

Tensor device_to_device(const Tensor& x, Device device) {
  Tensor c;
  {
    DeviceGuard guard(x.device().index);
    c = contiguous(x);
    TESSERA_CUDA_CHECK(cudaStreamSynchronize(stream_of(x.device().index)));
  }
  DeviceGuard guard(device.index);
  Tensor out = empty(c.shape(), {.dtype = c.dtype(), .device = device});
  const size_t n = static_cast<size_t>(c.nbytes());
  if (n == 0) return out;
  cudaStream_t s = stream_of(device.index);
  TESSERA_CUDA_CHECK(cudaMemcpyAsync(out.data_ptr(), c.data_ptr(), n, cudaMemcpyDeviceToDevice, s));
  TESSERA_CUDA_CHECK(cudaStreamSynchronize(s));  // `c` may be freed on return
  return out;
}

}  // namespace

Tensor to(const Tensor& x, Device device, bool copy) {
  if (x.device() == device) return copy ? clone(x) : x;
  if (x.device().is_cpu()) return host_to_device(x, device);
  if (device.is_cpu()) return device_to_host(x);
  return device_to_device(x, device);
}

Tensor& copy_(Tensor& self, const Tensor& src) {
  detail::check_writable("copy_", self);
  if (self.device().is_cpu()) {  // from a CUDA tensor: fetch it, then the CPU copy (casts, layout)
    const Tensor host = to(src, kCPU, false);
    return native::copy_(self, host);
  }
  const Tensor s = src.device() == self.device() ? src : to(src, self.device(), false);
  DeviceGuard guard(self.device().index);
  const Tensor esrc = expand(s, self.shape());
  if (self.numel() == 0) return self;
  cudaStream_t stream = stream_of(self.device().index);
  if (self.dtype() == s.dtype() && self.is_contiguous() && esrc.is_contiguous()) {
    TESSERA_CUDA_CHECK(cudaMemcpyAsync(self.data_ptr(), esrc.data_ptr(),
                                       static_cast<size_t>(self.nbytes()), cudaMemcpyDeviceToDevice,
                                       stream));
  } else {
    const auto L = cuda::detail::make_layout<2>(self.shape(), {&self, &esrc});
    kc::cast_copy(L, self.numel(), stream);
  }
  self.bump_version();
  return self;
}

}  // namespace tessera::native::cuda_impl
