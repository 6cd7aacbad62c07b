// SPDX-License-Identifier: Apache-2.0
/// @brief Private helpers of the CUDA backend: dtype mapping, device guard, stream of a tensor,
/// strided layouts for the kernels, and the caching allocator's hook.
#pragma once

#include <cuda_runtime_api.h>

#include <initializer_list>

#include <tessera/allocator.h>
#include <tessera/cuda.h>
#include <tessera/kernels/cuda/check.h>
#include <tessera/kernels/cuda/types.h>
#include <tessera/tensor.h>

namespace tessera::cuda::detail {

using kernels::cuda::ScalarType;
using kernels::cuda::StridedLayout;

static_assert(static_cast<int>(ScalarType::kBool) == static_cast<int>(DType::Bool) &&
                  static_cast<int>(ScalarType::kInt32) == static_cast<int>(DType::Int32) &&
                  static_cast<int>(ScalarType::kInt64) == static_cast<int>(DType::Int64) &&
                  static_cast<int>(ScalarType::kBFloat16) == static_cast<int>(DType::BFloat16) &&
                  static_cast<int>(ScalarType::kFloat16) == static_cast<int>(DType::Float16) &&
                  static_cast<int>(ScalarType::kFloat32) == static_cast<int>(DType::Float32) &&
                  static_cast<int>(ScalarType::kFloat64) == static_cast<int>(DType::Float64),
              "kernels::cuda::ScalarType must mirror tessera::DType");

inline ScalarType scalar_type(DType t) { return static_cast<ScalarType>(static_cast<int>(t)); }

/// The caching allocator registered for DeviceType::CUDA (tensor/src/cuda/allocator.cpp).
Allocator& caching_allocator();

/// Throws a clear tessera::Error when there is no usable device.
void check_available(const char* what);

/// The current stream of `device` on this thread, as a cudaStream_t.
cudaStream_t stream_of(int device);

/// Makes `device` current for a scope (no-op when it already is).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

/// Checks that every defined tensor is on one CUDA device and returns it; an Error naming both
/// devices otherwise (e.g. "add: expected all tensors on one device, got cuda:0 and cpu").
Device common_device(const char* op, std::initializer_list<const Tensor*> ts);

/// Layout of N same-shaped operands (operand 0 first), dims coalesced where every operand is
/// contiguous across them, size-1 dims dropped.
template <int N>
StridedLayout<N> make_layout(const Shape& shape, const std::array<const Tensor*, N>& ops);

/// A host buffer in page-locked memory (cudaMallocHost), for staging transfers.
class PinnedBuffer {
 public:
  explicit PinnedBuffer(size_t nbytes);
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

/// This thread's staging buffer of at least `nbytes` (kept and grown, up to kMaxStagingBytes:
/// cudaMallocHost costs far more than a copy, so one buffer is reused). Valid until the next call
/// on this thread; callers synchronise their copy before returning. nullptr above the cap (then
/// the caller copies from pageable memory and the driver stages it).
void* staging_buffer(size_t nbytes);
inline constexpr size_t kMaxStagingBytes = size_t{64} << 20;

}  // namespace tessera::cuda::detail
