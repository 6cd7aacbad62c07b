// SPDX-License-Identifier: Apache-2.0
/// @brief Copies and conversions: copy_, contiguous, clone, to(dtype / device).
#pragma once

#include <tessera/tensor.h>

namespace tessera::native {

/// Copies src into self (broadcasting src to self's shape, converting dtype, across devices).
Tensor& copy_(Tensor& self, const Tensor& src);
/// self if already contiguous, else a contiguous copy.
Tensor contiguous(const Tensor& x);
/// A new contiguous tensor with the same values.
Tensor clone(const Tensor& x);
/// x converted to `dtype` (x itself when it already has it, unless copy).
Tensor to(const Tensor& x, DType dtype, bool copy = false);
Tensor to(const Tensor& x, Device device, bool copy = false);

}  // namespace tessera::native
