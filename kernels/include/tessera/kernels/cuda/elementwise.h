// SPDX-License-Identifier: Apache-2.0
/// @brief Launchers of the strided elementwise kernels (kernels/cuda/elementwise.cu).
///
/// `elementwise`: out = op(in1[, in2[, in3]]) over a StridedLayout<4> (operand 0 = out). Inputs
/// have the compute dtype (the caller converts first, as the CPU ops do); the output has the
/// compute dtype, or bool for predicates. 16-bit floats compute in float32 and round once.
/// `cast_copy`: out = convert(in) between any two dtypes, any strides (copy_, to(dtype)).
/// `fill`: every element of a contiguous buffer set to one `width`-byte pattern.
#pragma once

#include <tessera/kernels/cuda/ew_op.h>
#include <tessera/kernels/cuda/types.h>

namespace tessera::kernels::cuda {

struct EwParams {
  double p0 = 0, p1 = 0;
  /// Binary ops only: operand 2 is the immediate A(p0) instead of in2 (16-bit tensor-scalar ops
  /// keep the scalar in float32, the compute type); `reversed` computes op(scalar, in1).
  bool scalar_operand = false;
  bool reversed = false;
};

/// Number of tensor inputs op reads (1, 2 or 3), and whether its result is bool.
int ew_arity(EwOp op);
bool ew_bool_out(EwOp op);

/// out = op(inputs) over `layout` (numel elements). All inputs share layout.dtype[1]; the
/// output is that dtype or bool. Preconditions checked: ndim <= kMaxDims, dtypes consistent.
void elementwise(EwOp op, const StridedLayout<4>& layout, int64_t numel, const EwParams& params,
                 cudaStream_t stream);

/// out = convert(in) over a StridedLayout<2> (operand 0 = out), any dtypes.
void cast_copy(const StridedLayout<2>& layout, int64_t numel, cudaStream_t stream);

/// Writes `n` elements of `width` bytes (1, 2, 4, 8), each equal to the low `width` bytes of
/// `pattern`, to dst (contiguous).
void fill(void* dst, int64_t n, int width, uint64_t pattern, cudaStream_t stream);

/// Tests only: force the 64-bit index path of elementwise/cast_copy (normally taken only beyond
/// 2^31 elements, too large for a test). Returns the previous setting.
bool force_64bit_indexing_for_testing(bool force);

}  // namespace tessera::kernels::cuda
