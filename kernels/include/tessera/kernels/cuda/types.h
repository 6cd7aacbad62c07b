// SPDX-License-Identifier: Apache-2.0
/// @brief Types shared by the CUDA kernel launchers: element types and strided operand layouts.
///
/// Kernels never see a Tensor (docs/architecture.md): the tensor library translates its DType and
/// (shape, strides, offset) into these plain structs. ScalarType's values equal tessera::DType's
/// (a static_assert in tensor/src/cuda/common.h keeps them in step).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace tessera::kernels::cuda {

enum class ScalarType : uint8_t { kBool, kInt32, kInt64, kBFloat16, kFloat16, kFloat32, kFloat64 };

inline constexpr int kMaxDims = 16;

/// Bytes of one element.
constexpr int scalar_size(ScalarType t) {
  switch (t) {
    case ScalarType::kBool:
      return 1;
    case ScalarType::kBFloat16:
    case ScalarType::kFloat16:
      return 2;
    case ScalarType::kInt32:
    case ScalarType::kFloat32:
      return 4;
    default:
      return 8;
  }
}

/// An iteration space of up to kMaxDims dims and the operands walking it: operand k's element at
/// multi-index i is data[k] + sum_d i_d * strides[k][d] (strides in elements, 0 = broadcast).
/// Operand 0 is the output. Dims are listed outermost first; callers coalesce dims first.
template <int N>
struct StridedLayout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
  void* data[N] = {};
  ScalarType dtype[N] = {};
};

}  // namespace tessera::kernels::cuda
