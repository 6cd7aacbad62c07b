// SPDX-License-Identifier: Apache-2.0
/// @brief Launchers of the deterministic row/column reductions (kernels/cuda/reduce.cu).
#pragma once

#include <tessera/kernels/cuda/types.h>

namespace tessera::kernels::cuda {

enum class ReduceOp : uint8_t {
  kSum,     ///< sum (float64 for floating inputs, int64 for integers/bool)
  kMean,    ///< sum / inner (float64)
  kProd,    ///< product (float64 / int64)
  kMax,     ///< max; NaN wins (float64 / int64)
  kMin,     ///< min; NaN wins
  kArgMax,  ///< max and the first index reaching it; NaN wins (first NaN)
  kArgMin,
  kVar,        ///< sum (x - mean)^2 / (inner - correction), two passes (float64)
  kLogSumExp,  ///< max + log(sum exp(x - max)) (float64)
};

/// Reduces each row of a contiguous (outer, inner) matrix `x` of dtype `t` to out[row].
/// `out` is float64 for floating inputs and int64 for integer/bool inputs (the caller casts to
/// the result dtype); for kArgMax/kArgMin `index` (int64, outer) receives the index.
/// One block per row, a fixed reduction tree: bit-identical results on every run. `workspace`
/// must hold reduce_rows_workspace(op, outer, inner) bytes (8-byte aligned; may be null when 0).
void reduce_rows(ReduceOp op, ScalarType t, const void* x, int64_t outer, int64_t inner, void* out,
                 int64_t* index, int64_t correction, void* workspace, cudaStream_t stream);

/// Scratch bytes reduce_rows needs (non-zero only for sums of a few very long rows, which are
/// split across blocks).
size_t reduce_rows_workspace(ReduceOp op, int64_t outer, int64_t inner);

/// Column sums of a contiguous (rows, cols) matrix: out[j] = sum_i x[i, j] (float64 / int64
/// as above; divided by rows when `mean`). One thread per column, rows in order.
void reduce_columns(ScalarType t, const void* x, int64_t rows, int64_t cols, void* out, bool mean,
                    cudaStream_t stream);

}  // namespace tessera::kernels::cuda
