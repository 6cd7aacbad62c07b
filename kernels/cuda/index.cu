// SPDX-License-Identifier: Apache-2.0
/// @brief Integer indexing on CUDA: index_select/gather/embedding, scatter_add, embedding backward.
///
// index.cu
// Shapes:  out/index (sizes, contiguous); src/self strided (elements); indices int64, validated
//          on the host (tensor/src/cuda/index.cpp copies them to the host to check the range).
// Mapping: gather: one thread per output element (grid-stride), elements moved by byte width
//          (1/2/4/8) so one instantiation serves every dtype. scatter_add: one thread per line
//          along `dim`, walking the index in order. embedding_backward: one thread per column.
// Determinism: no atomics anywhere; every output element receives its additions in index order,
//          exactly the CPU's order, so CUDA and CPU scatter results are bit-identical for f32/f64.
// NOTE [embedding backward parallelism]: a thread per column does n x c adds with only c-way
//          parallelism (768 threads for GPT-2): ~n x 4 ns on an H100. A sort-by-index
//          segmented sum would restore full parallelism while staying deterministic; not done yet.
// Cost:    gather reads+writes numel x width bytes (+8 per index): bandwidth-bound.
// Tests:   tests/cuda/test_cuda_index.cpp
#include <tessera/kernels/cuda/compat.h>
#include <tessera/kernels/cuda/check.h>
#include <tessera/kernels/cuda/index.h>

#include <cstdint>
#include <type_traits>

namespace tessera::kernels::cuda {
namespace {

constexpr int kThreads = 256;

struct Dims {
  int ndim;
  int dim;
  int64_t sizes[kMaxDims];
  int64_t a[kMaxDims];  // first operand's strides
  int64_t b[kMaxDims];  // second operand's strides
};

Dims make_dims(int ndim, int dim, const int64_t* sizes, const int64_t* a, const int64_t* b) {
  TESSERA_CHECK(ndim >= 0 && ndim <= kMaxDims, "cuda index: ", ndim, " dims > ", kMaxDims);
  Dims d{};
  d.ndim = ndim;
  d.dim = dim;
  for (int k = 0; k < ndim; ++k) {
    d.sizes[k] = sizes[k];
    d.a[k] = a ? a[k] : 0;
    d.b[k] = b ? b[k] : 0;
  }
  return d;
}

unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 4096 ? (blocks < 1 ? 1 : blocks) : 4096);
}

template <typename W>
__global__ void __launch_bounds__(kThreads)
    gather_kernel(W* __restrict__ out, const W* __restrict__ src, const int64_t* __restrict__ index,
                  Dims D, int64_t n, bool per_position) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t rem = i, off = 0;
    for (int d = D.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % D.sizes[d];
      rem /= D.sizes[d];
      const int64_t cc = d == D.dim ? (per_position ? index[c] : index[i]) : c;
      off += cc * D.a[d];
    }
    out[i] = src[off];
  }
}

template <typename S>
__device__ __forceinline__ S add(S a, S b) {
  if constexpr (std::is_same_v<S, bool>)
    return a || b;
  else if constexpr (std::is_same_v<S, __nv_bfloat16>)
    return __float2bfloat16_rn(__bfloat162float(a) + __bfloat162float(b));
  else if constexpr (std::is_same_v<S, __half>)
    return __float2half_rn(__half2float(a) + __half2float(b));
  else
    return static_cast<S>(a + b);
}

/// Lines: every multi-index of `sizes` with c[dim] = 0. D.a = self strides, D.b = src strides.
template <typename S>
__global__ void __launch_bounds__(kThreads)
    scatter_add_kernel(S* self, const S* __restrict__ src, const int64_t* __restrict__ index,
                       Dims D, int64_t lines) {
  const int64_t len = D.sizes[D.dim];
  for (int64_t l = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; l < lines;
       l += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t rem = l, self_off = 0, src_off = 0, idx_off = 0, idx_stride = 1, line_stride = 0;
    for (int d = D.ndim - 1; d >= 0; --d) {
      if (d == D.dim) {
        line_stride = idx_stride;
      } else {
        const int64_t c = rem % D.sizes[d];
        rem /= D.sizes[d];
        self_off += c * D.a[d];
        src_off += c * D.b[d];
        idx_off += c * idx_stride;
      }
      idx_stride *= D.sizes[d];
    }
    for (int64_t k = 0; k < len; ++k) {
      const int64_t target = index[idx_off + k * line_stride];
      S& dst = self[self_off + target * D.a[D.dim]];
      dst = add(dst, src[src_off + k * D.b[D.dim]]);
    }
  }
}

template <typename S>
__global__ void __launch_bounds__(kThreads)
    embedding_backward_kernel(const S* __restrict__ grad, const int64_t* __restrict__ index,
                              int64_t n, int64_t c, S* __restrict__ grad_weight) {
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < c;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    for (int64_t i = 0; i < n; ++i) {
      S& dst = grad_weight[index[i] * c + j];
      dst = add(dst, grad[i * c + j]);
    }
  }
}

template <typename F>
void visit(ScalarType t, F&& f) {
  switch (t) {
    case ScalarType::kBool:
      return f.template operator()<bool>();
    case ScalarType::kInt32:
      return f.template operator()<int32_t>();
    case ScalarType::kInt64:
      return f.template operator()<int64_t>();
    case ScalarType::kBFloat16:
      return f.template operator()<__nv_bfloat16>();
    case ScalarType::kFloat16:
      return f.template operator()<__half>();
    case ScalarType::kFloat32:
      return f.template operator()<float>();
    case ScalarType::kFloat64:
      return f.template operator()<double>();
  }
}

}  // namespace

void index_gather(int width, void* out, const void* src, const int64_t* index, int ndim,
                  const int64_t* sizes, const int64_t* src_strides, int dim, bool per_position,
                  cudaStream_t stream) {
  const Dims D = make_dims(ndim, dim, sizes, src_strides, nullptr);
  int64_t n = 1;
  for (int k = 0; k < ndim; ++k) n *= sizes[k];
  if (n == 0) return;
  switch (width) {
    case 1:
      TESSERA_LAUNCH(gather_kernel<uint8_t>, grid_for(n), kThreads, 0, stream)
      (static_cast<uint8_t*>(out), static_cast<const uint8_t*>(src), index, D, n, per_position);
      break;
    case 2:
      TESSERA_LAUNCH(gather_kernel<uint16_t>, grid_for(n), kThreads, 0, stream)
      (static_cast<uint16_t*>(out), static_cast<const uint16_t*>(src), index, D, n, per_position);
      break;
    case 4:
      TESSERA_LAUNCH(gather_kernel<uint32_t>, grid_for(n), kThreads, 0, stream)
      (static_cast<uint32_t*>(out), static_cast<const uint32_t*>(src), index, D, n, per_position);
      break;
    case 8:
      TESSERA_LAUNCH(gather_kernel<uint64_t>, grid_for(n), kThreads, 0, stream)
      (static_cast<uint64_t*>(out), static_cast<const uint64_t*>(src), index, D, n, per_position);
      break;
    default:
      TESSERA_FAIL("cuda index_gather: element width must be 1, 2, 4 or 8, got ", width);
  }
}

void scatter_add(ScalarType t, void* self, const int64_t* self_strides, const void* src,
                 const int64_t* src_strides, const int64_t* index, int ndim, const int64_t* sizes,
                 int dim, cudaStream_t stream) {
  const Dims D = make_dims(ndim, dim, sizes, self_strides, src_strides);
  TESSERA_CHECK(dim >= 0 && dim < (ndim > 0 ? ndim : 1), "cuda scatter_add: bad dim ", dim);
  if (ndim == 0) return;
  int64_t lines = 1;
  for (int k = 0; k < ndim; ++k) lines *= k == dim ? 1 : sizes[k];
  if (lines == 0 || sizes[dim] == 0) return;
  visit(t, [&]<typename S>() {
    TESSERA_LAUNCH(scatter_add_kernel<S>, grid_for(lines), kThreads, 0, stream)
    (static_cast<S*>(self), static_cast<const S*>(src), index, D, lines);
  });
}

void embedding_backward(ScalarType t, const void* grad, const int64_t* index, int64_t n, int64_t c,
                        void* grad_weight, cudaStream_t stream) {
  if (c == 0 || n == 0) return;
  visit(t, [&]<typename S>() {
    TESSERA_LAUNCH(embedding_backward_kernel<S>, grid_for(c), kThreads, 0, stream)
    (static_cast<const S*>(grad), index, n, c, static_cast<S*>(grad_weight));
  });
}

}  // namespace tessera::kernels::cuda
