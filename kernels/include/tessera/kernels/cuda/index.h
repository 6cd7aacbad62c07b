// SPDX-License-Identifier: Apache-2.0
/// @brief Launchers of the integer-indexing kernels (kernels/cuda/index.cu).
///
/// Indices are int64, already validated by the caller (in [0, bound)): the kernels do not check.
#pragma once

#include <tessera/kernels/cuda/types.h>

namespace tessera::kernels::cuda {

/// Gathers `width`-byte elements into the contiguous `out` of shape sizes[0..ndim):
///   out[c] = src[c with c[dim] replaced by idx],  idx = index[c[dim]] (per_position, index_select,
///   embedding) or index[linear(c)] (gather: index contiguous with out's shape).
/// src_strides are in elements.
void index_gather(int width, void* out, const void* src, const int64_t* index, int ndim,
                  const int64_t* sizes, const int64_t* src_strides, int dim, bool per_position,
                  cudaStream_t stream);

/// self[c with c[dim] = index[c]] += src[c] for every c in index's shape (sizes), deterministic:
/// one thread per line along `dim`, additions in index order (the CPU's order per element).
/// self and src have dtype t (strided, elements); index is contiguous with shape sizes.
void scatter_add(ScalarType t, void* self, const int64_t* self_strides, const void* src,
                 const int64_t* src_strides, const int64_t* index, int ndim, const int64_t* sizes,
                 int dim, cudaStream_t stream);

/// grad_weight[index[i], j] += grad[i, j] for i in order (grad (n, c) contiguous, grad_weight
/// (num_weights, c) contiguous and zeroed by the caller). One thread per column: deterministic
/// and equal to the CPU's order, but only c-way parallel (see the NOTE in index.cu).
void embedding_backward(ScalarType t, const void* grad, const int64_t* index, int64_t n, int64_t c,
                        void* grad_weight, cudaStream_t stream);

}  // namespace tessera::kernels::cuda
