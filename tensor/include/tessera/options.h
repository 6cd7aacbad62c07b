// SPDX-License-Identifier: Apache-2.0
/// @brief TensorOptions for creation functions: zeros({2, 3}, {.dtype = kFloat64, .device =
/// "cuda"}).
#pragma once

#include <tessera/device.h>
#include <tessera/dtype.h>

namespace tessera {

struct TensorOptions {
  DType dtype = kFloat32;
  Device device = kCPU;
  bool requires_grad = false;
};

}  // namespace tessera
