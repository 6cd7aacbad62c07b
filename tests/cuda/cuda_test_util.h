// SPDX-License-Identifier: Apache-2.0
/// @brief Helpers for the CUDA backend tests: move a tensor to CUDA keeping its exact layout, and
/// compare a CUDA result with the CPU op's result under a per-dtype tolerance.
///
/// The CPU ops are themselves tested against float64 references (tests/tensor); here the CPU result
/// is the reference for the CUDA one, computed from the same inputs.
#pragma once

#include <memory>
#include <string>

#include <tessera/cuda.h>
#include <tessera/native.h>

#include "test_util.h"

namespace tessera::test {

inline const Device kCuda{DeviceType::CUDA, 0};

/// `x` on CUDA with the same shape, strides and offset (its whole storage is copied), so
/// non-contiguous and broadcast (stride-0) views reach the CUDA kernels as views.
inline Tensor to_cuda_view(const Tensor& x) {
  const int64_t n = static_cast<int64_t>(x.storage()->nbytes() / x.element_size());
  const Tensor flat(std::make_shared<TensorImpl>(x.storage(), Shape{n}, Shape{1}, 0, x.dtype()));
  const Tensor dev = native::to(flat, kCuda);
  return Tensor(
      std::make_shared<TensorImpl>(dev.storage(), x.shape(), x.strides(), x.offset(), x.dtype()));
}

inline Tensor to_cpu(const Tensor& x) { return native::to(x, kCPU); }

/// CUDA results agree with the CPU's to rounding (different libm / summation order on a GPU;
/// under cudasim most are bit-identical). float32 elementwise: ~1e-6 relative.
inline Tol cuda_tol(DType t) {
  switch (t) {
    case kFloat64:
      return {1e-12, 1e-10};
    case kFloat32:
      return {1e-6, 2e-6};
    case kFloat16:
      return {1e-3, 2e-3};
    case kBFloat16:
      return {1e-2, 1.6e-2};
    default:
      return {0, 0};
  }
}

/// Checks a CUDA result against the CPU result: device, dtype, shape, values.
inline bool check_cuda(const std::string& what, const Tensor& cuda_result, const Tensor& cpu_result,
                       Tol tol) {
  CHECK(cuda_result.device() == kCuda);
  CHECK(cuda_result.dtype() == cpu_result.dtype());
  return check_close(what, to_cpu(cuda_result), Ref::of(cpu_result), tol);
}
inline bool check_cuda(const std::string& what, const Tensor& cuda_result,
                       const Tensor& cpu_result) {
  return check_cuda(what, cuda_result, cpu_result, cuda_tol(cpu_result.dtype()));
}

}  // namespace tessera::test
