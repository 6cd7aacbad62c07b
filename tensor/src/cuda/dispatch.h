// SPDX-License-Identifier: Apache-2.0
/// @brief TESSERA_CUDA_DISPATCH: the one line at the top of a native op that sends CUDA tensors to
/// the CUDA backend (docs/cuda.md, "How an op dispatches").
///
///   Tensor add(const Tensor& a, const Tensor& b) {
///     const DType t = promote_types(a.dtype(), b.dtype());
///     TESSERA_CUDA_DISPATCH(cuda_impl::binary(EwOp::kAdd, "add", a, b, t), a, b);
///     return binary("add", a, b, t, ...);   // the CPU path, unchanged
///   }
///
/// When any listed tensor is on a CUDA device, the op returns `call`. In builds without a CUDA
/// backend the line compiles to nothing (and `call` is never named), so the CPU path's
/// check_cpu() rejects CUDA tensors with a clear error, as before.
#pragma once

#if defined(TESSERA_CUDA_BACKEND)
#include "cuda/ops.h"
#define TESSERA_CUDA_DISPATCH(call, ...) \
  if (::tessera::native::cuda_impl::any_cuda(__VA_ARGS__)) return call
#else
#define TESSERA_CUDA_DISPATCH(call, ...) \
  do {                                   \
  } while (0)
#endif
