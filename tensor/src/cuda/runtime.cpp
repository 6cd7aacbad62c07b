// SPDX-License-Identifier: Apache-2.0
/// @brief Device layer: availability, devices, per-thread current streams, events, layouts.
#include <algorithm>
#include <array>
#include <map>
#include <memory>

#include <tessera/error.h>

#include "cuda/common.h"

namespace tessera::cuda {
namespace {

/// cudaGetDeviceCount, with "no driver" and "no device" meaning zero devices. Cached: the
/// answer cannot change within a process.
int query_device_count() {
  int n = 0;
  const cudaError_t st = cudaGetDeviceCount(&n);
  if (st != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error so later calls are not poisoned
    return 0;
  }
  return n;
}

/// The calling thread's current stream per device (absent = legacy default stream).
std::map<int, cudaStream_t>& current_streams() {
  thread_local std::map<int, cudaStream_t> streams;
  return streams;
}

int resolve(int device) { return device < 0 ? current_device() : device; }

}  // namespace

int device_count() {
  static const int n = query_device_count();
  return n;
}
bool is_available() { return device_count() > 0; }
bool is_simulated() {
#if defined(TESSERA_CUDA_BACKEND_SIM)
  return true;
#else
  return false;
#endif
}

int current_device() {
  detail::check_available("current_device");
  int d = 0;
  TESSERA_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

void set_device(int index) {
  detail::check_available("set_device");
  TESSERA_CHECK(index >= 0 && index < device_count(), "cuda::set_device: device ", index,
                " does not exist (", device_count(), " device(s))");
  TESSERA_CUDA_CHECK(cudaSetDevice(index));
}

void synchronize(int index) {
  detail::DeviceGuard g(resolve(index));
  TESSERA_CUDA_CHECK(cudaDeviceSynchronize());
}

Stream Stream::create(int device) {
  const int d = resolve(device);
  detail::DeviceGuard g(d);
  cudaStream_t s = nullptr;
  TESSERA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return Stream(s, d);
}
void Stream::synchronize() const {
  TESSERA_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(handle_)));
}
bool Stream::query() const {
  const cudaError_t st = cudaStreamQuery(static_cast<cudaStream_t>(handle_));
  if (st == cudaErrorNotReady) return false;
  TESSERA_CUDA_CHECK(st);
  return true;
}

OwnedStream::~OwnedStream() {
  if (stream_.handle() == nullptr) return;
  TESSERA_CUDA_CHECK_PRINT(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_.handle())));
  // A stream still current on this thread would dangle: fall back to the default stream.
  auto& cur = current_streams();
  auto it = cur.find(stream_.device());
  if (it != cur.end() && it->second == stream_.handle()) cur.erase(it);
  TESSERA_CUDA_CHECK_PRINT(cudaStreamDestroy(static_cast<cudaStream_t>(stream_.handle())));
}

Stream current_stream(int device) {
  const int d = resolve(device);
  auto& cur = current_streams();
  auto it = cur.find(d);
  return Stream(it == cur.end() ? nullptr : it->second, d);
}

void set_current_stream(const Stream& s) {
  detail::check_available("set_current_stream");
  current_streams()[s.device()] = static_cast<cudaStream_t>(s.handle());
}

StreamGuard::StreamGuard(const Stream& s)
    : previous_(current_stream(s.device())), previous_device_(current_device()) {
  set_device(s.device());
  set_current_stream(s);
}
StreamGuard::~StreamGuard() {
  current_streams()[previous_.device()] = static_cast<cudaStream_t>(previous_.handle());
  TESSERA_CUDA_CHECK_PRINT(cudaSetDevice(previous_device_));
}

Event::Event() {
  detail::check_available("Event");
  cudaEvent_t e = nullptr;
  TESSERA_CUDA_CHECK(cudaEventCreate(&e));
  handle_ = e;
}
Event::~Event() {
  if (handle_) TESSERA_CUDA_CHECK_PRINT(cudaEventDestroy(static_cast<cudaEvent_t>(handle_)));
}
Event::Event(Event&& o) noexcept : handle_(o.handle_) { o.handle_ = nullptr; }
Event& Event::operator=(Event&& o) noexcept {
  std::swap(handle_, o.handle_);
  return *this;
}
void Event::record(const Stream& s) {
  TESSERA_CUDA_CHECK(
      cudaEventRecord(static_cast<cudaEvent_t>(handle_), static_cast<cudaStream_t>(s.handle())));
}
void Event::record() { record(current_stream()); }
void Event::synchronize() const {
  TESSERA_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(handle_)));
}
bool Event::query() const {
  const cudaError_t st = cudaEventQuery(static_cast<cudaEvent_t>(handle_));
  if (st == cudaErrorNotReady) return false;
  TESSERA_CUDA_CHECK(st);
  return true;
}
void Event::block(const Stream& s) const {
  TESSERA_CUDA_CHECK(cudaStreamWaitEvent(static_cast<cudaStream_t>(s.handle()),
                                         static_cast<cudaEvent_t>(handle_), 0));
}
float Event::elapsed_ms(const Event& start) const {
  float ms = 0;
  TESSERA_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start.handle_),
                                          static_cast<cudaEvent_t>(handle_)));
  return ms;
}

namespace detail {

void check_available(const char* what) {
  TESSERA_CHECK(is_available(), "cuda::", what,
                ": CUDA is not available (no CUDA driver or no CUDA device was found)");
}

cudaStream_t stream_of(int device) {
  auto& cur = current_streams();
  auto it = cur.find(device);
  return it == cur.end() ? nullptr : it->second;
}

DeviceGuard::DeviceGuard(int device) {
  check_available("DeviceGuard");
  int cur = 0;
  TESSERA_CUDA_CHECK(cudaGetDevice(&cur));
  if (cur != device) {
    TESSERA_CHECK(device >= 0 && device < device_count(), "cuda: device ", device,
                  " does not exist (", device_count(), " device(s))");
    TESSERA_CUDA_CHECK(cudaSetDevice(device));
    previous_ = cur;
  }
}
DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) TESSERA_CUDA_CHECK_PRINT(cudaSetDevice(previous_));
}

Device common_device(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    if (!first) {
      first = t;
      continue;
    }
    TESSERA_CHECK(t->device() == first->device(), op, ": expected all tensors on one device, got ",
                  first->device(), " and ", t->device(), " (", describe(*first), " and ",
                  describe(*t), "); move one with to(device)");
  }
  TESSERA_ASSERT(first != nullptr);
  TESSERA_CHECK(first->device().is_cuda(), op, ": internal dispatch error, tensor on ",
                first->device());
  TESSERA_CHECK(first->dim() <= kernels::cuda::kMaxDims, op, ": at most ", kernels::cuda::kMaxDims,
                " dims are supported on CUDA, got ", describe(*first));
  return first->device();
}

template <int N>
StridedLayout<N> make_layout(const Shape& shape, const std::array<const Tensor*, N>& ops) {
  // Drop size-1 dims, then merge dim d into d+1 when stride[d] == size[d+1] * stride[d+1] for
  // every operand (then the pair walks memory like one dim).
  std::vector<int64_t> sizes;
  std::vector<std::array<int64_t, N>> strides;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    std::array<int64_t, N> s{};
    for (int k = 0; k < N; ++k) s[k] = ops[k]->strides()[d];
    if (!sizes.empty()) {
      bool merge = true;
      for (int k = 0; k < N; ++k) merge = merge && strides.back()[k] == shape[d] * s[k];
      if (merge) {
        sizes.back() *= shape[d];
        strides.back() = s;
        continue;
      }
    }
    sizes.push_back(shape[d]);
    strides.push_back(s);
  }
  TESSERA_CHECK(sizes.size() <= static_cast<size_t>(kernels::cuda::kMaxDims),
                "cuda: too many dims (", sizes.size(), ")");
  StridedLayout<N> L;
  L.ndim = static_cast<int>(sizes.size());
  for (int d = 0; d < L.ndim; ++d) {
    L.sizes[d] = sizes[d];
    for (int k = 0; k < N; ++k) L.strides[k][d] = strides[d][k];
  }
  for (int k = 0; k < N; ++k) {
    L.data[k] = ops[k]->data_ptr();
    L.dtype[k] = scalar_type(ops[k]->dtype());
  }
  return L;
}
template StridedLayout<2> make_layout<2>(const Shape&, const std::array<const Tensor*, 2>&);
template StridedLayout<4> make_layout<4>(const Shape&, const std::array<const Tensor*, 4>&);

PinnedBuffer::PinnedBuffer(size_t nbytes) : size_(nbytes == 0 ? 1 : nbytes) {
  TESSERA_CUDA_CHECK(cudaMallocHost(&data_, size_));
}

void* staging_buffer(size_t nbytes) {
  if (nbytes > kMaxStagingBytes) return nullptr;
  thread_local std::unique_ptr<PinnedBuffer> buffer;
  if (!buffer || buffer->size() < nbytes) {
    buffer.reset();  // free first: the old one may be most of the cap
    buffer = std::make_unique<PinnedBuffer>(std::max(nbytes, size_t{1} << 20));
  }
  return buffer->data();
}
PinnedBuffer::~PinnedBuffer() { TESSERA_CUDA_CHECK_PRINT(cudaFreeHost(data_)); }

}  // namespace detail
}  // namespace tessera::cuda
