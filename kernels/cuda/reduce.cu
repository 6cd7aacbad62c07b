// SPDX-License-Identifier: Apache-2.0
/// @brief Deterministic reductions over the rows (or columns) of a contiguous matrix.
///
// reduce.cu: out[r] = reduce_i x[r, i] for sum/mean/prod/max/min/argmax/argmin/var/logsumexp,
//            and column sums out[j] = sum_i x[i, j].
// Shapes:  x (outer, inner) row-major contiguous, any dtype; out (outer) float64 for floating
//          inputs, int64 for integers and bool (the CPU's accumulators); index (outer) int64.
// Mapping: one block per row (threads = the next power of two >= inner, 32..256); thread t
//          accumulates x[r, t], x[r, t + T], ... in order, then a fixed shared-memory tree combines
//          the T partials. Sums of a few rows longer than 2^17 are split into 2^16-element chunks,
//          one block each, and the partials summed in chunk order (NOTE [split rows]).
//          Column case: one thread per column walks the rows in order.
// Design:  no atomics and no dependence on scheduling, so results are bit-identical run to run
//          (docs/architecture.md, Determinism). Accumulation in float64 matches the CPU's; the
//          summation *order* differs from the CPU's (2^15-element blocks), so CUDA and CPU agree
//          to rounding, not bitwise. var and logsumexp make two passes over the row inside the
//          block (mean / max first), like the CPU.
// Cost:    one read of x (two for var/logsumexp): bandwidth-bound. float64 adds are ~1/2 the FP32
//          rate on H100 (67 TFLOP/s), far above what the bytes allow. A row shorter than 256
//          elements leaves threads idle: (outer >> 1, inner small) is the slow shape.
// Tests:   tests/cuda/test_cuda_reduce.cpp   Bench: benches/cuda/bench_cuda_ops.cpp
#include <tessera/kernels/cuda/compat.h>
#include <tessera/kernels/cuda/check.h>
#include <tessera/kernels/cuda/reduce.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace tessera::kernels::cuda {
namespace {

constexpr int kMaxThreads = 256;
constexpr int64_t kNoIndex = INT64_MAX;
constexpr int64_t kChunk = 1 << 16;  // elements per block when a long row is split

template <typename S>
__device__ __forceinline__ auto widen(S v) {
  if constexpr (std::is_same_v<S, __nv_bfloat16>)
    return static_cast<double>(__bfloat162float(v));
  else if constexpr (std::is_same_v<S, __half>)
    return static_cast<double>(__half2float(v));
  else if constexpr (std::is_floating_point_v<S>)
    return static_cast<double>(v);
  else
    return static_cast<int64_t>(v);
}
/// The accumulator of S: int64 for integers and bool, double otherwise (a trait, not decltype of
/// widen(): host code may not name a __device__ function's result).
template <typename S>
using Wide = std::conditional_t<std::is_integral_v<S>, int64_t, double>;

template <typename R>
__device__ __forceinline__ bool is_nan(R v) {
  if constexpr (std::is_floating_point_v<R>)
    return v != v;
  else
    return false;
}
template <typename R>
__device__ __forceinline__ R lowest() {
  if constexpr (std::is_floating_point_v<R>)
    return -INFINITY;
  else
    return INT64_MIN;
}
template <typename R>
__device__ __forceinline__ R highest() {
  if constexpr (std::is_floating_point_v<R>)
    return INFINITY;
  else
    return INT64_MAX;
}

/// NaN-propagating max/min, as the CPU's extreme().
template <typename R>
__device__ __forceinline__ R pick(R a, R b, bool is_max) {
  if (is_nan(a)) return a;
  if (is_nan(b)) return b;
  return is_max ? (a > b ? a : b) : (a < b ? a : b);
}

/// (value, index) pairs: NaN wins (earliest NaN), else the extreme value, ties to the lower index.
template <typename R>
__device__ __forceinline__ void pick_arg(R& va, int64_t& ia, R vb, int64_t ib, bool is_max) {
  if (ib == kNoIndex) return;
  bool take;
  if (ia == kNoIndex)
    take = true;
  else if (is_nan(va))
    take = is_nan(vb) && ib < ia;
  else if (is_nan(vb))
    take = true;
  else
    take = (is_max ? vb > va : vb < va) || (vb == va && ib < ia);
  if (take) {
    va = vb;
    ia = ib;
  }
}

/// Combines the block's partials in a fixed tree; every thread gets the result.
template <typename R, typename F>
__device__ R block_reduce(R v, R* sh, F combine) {
  const int t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] = combine(sh[t], sh[t + s]);
    __syncthreads();
  }
  const R r = sh[0];
  __syncthreads();  // sh is reused by the next call
  return r;
}

template <typename S>
__global__ void __launch_bounds__(kMaxThreads)
    reduce_rows_kernel(ReduceOp op, const S* __restrict__ x, int64_t outer, int64_t inner,
                       void* out_raw, int64_t* __restrict__ index, int64_t correction) {
  // out is Wide<S>, passed untyped: nvcc's host stubs cannot spell a decltype parameter type.
  using R = Wide<S>;
  R* __restrict__ out = static_cast<R*>(out_raw);
  __shared__ __align__(16) R sh[kMaxThreads];
  __shared__ __align__(16) int64_t sh_index[kMaxThreads];
  const int t = threadIdx.x, nt = blockDim.x;
  for (int64_t r = blockIdx.x; r < outer; r += gridDim.x) {
    const S* row = x + r * inner;  // (inner)
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kMean: {
        R a = 0;
        for (int64_t i = t; i < inner; i += nt) a += widen(row[i]);
        a = block_reduce<R>(a, sh, [](R u, R v) { return u + v; });
        if (t == 0) {
          if (op == ReduceOp::kMean) {
            if constexpr (std::is_floating_point_v<R>) out[r] = a / static_cast<double>(inner);
          } else {
            out[r] = a;
          }
        }
        break;
      }
      case ReduceOp::kProd: {
        R a = 1;
        for (int64_t i = t; i < inner; i += nt) a *= widen(row[i]);
        a = block_reduce<R>(a, sh, [](R u, R v) { return u * v; });
        if (t == 0) out[r] = a;
        break;
      }
      case ReduceOp::kMax:
      case ReduceOp::kMin: {
        const bool is_max = op == ReduceOp::kMax;
        R a = is_max ? lowest<R>() : highest<R>();
        for (int64_t i = t; i < inner; i += nt) a = pick(a, widen(row[i]), is_max);
        a = block_reduce<R>(a, sh, [is_max](R u, R v) { return pick(u, v, is_max); });
        if (t == 0) out[r] = a;
        break;
      }
      case ReduceOp::kArgMax:
      case ReduceOp::kArgMin: {
        const bool is_max = op == ReduceOp::kArgMax;
        R a = 0;
        int64_t ia = kNoIndex;
        for (int64_t i = t; i < inner; i += nt) pick_arg(a, ia, widen(row[i]), i, is_max);
        sh[t] = a;
        sh_index[t] = ia;
        __syncthreads();
        for (int s = nt / 2; s > 0; s >>= 1) {
          if (t < s) pick_arg(sh[t], sh_index[t], sh[t + s], sh_index[t + s], is_max);
          __syncthreads();
        }
        if (t == 0) {
          out[r] = sh[0];
          index[r] = sh_index[0];
        }
        __syncthreads();
        break;
      }
      case ReduceOp::kVar: {
        if constexpr (std::is_floating_point_v<R>) {
          R a = 0;
          for (int64_t i = t; i < inner; i += nt) a += widen(row[i]);
          const R mean =
              block_reduce<R>(a, sh, [](R u, R v) { return u + v; }) / static_cast<double>(inner);
          R ss = 0;
          for (int64_t i = t; i < inner; i += nt) {
            const R dv = widen(row[i]) - mean;
            ss += dv * dv;
          }
          ss = block_reduce<R>(ss, sh, [](R u, R v) { return u + v; });
          const double denom = static_cast<double>(inner - correction);
          if (t == 0) out[r] = denom > 0 ? ss / denom : NAN;
        }
        break;
      }
      case ReduceOp::kLogSumExp: {
        if constexpr (std::is_floating_point_v<R>) {
          R m = -INFINITY;
          for (int64_t i = t; i < inner; i += nt) m = pick(m, widen(row[i]), true);
          m = block_reduce<R>(m, sh, [](R u, R v) { return pick(u, v, true); });
          R s = 0;
          if (m == m && m != INFINITY && m != -INFINITY) {
            for (int64_t i = t; i < inner; i += nt) s += exp(widen(row[i]) - m);
            s = block_reduce<R>(s, sh, [](R u, R v) { return u + v; });
          }
          // all -inf (or empty) -> -inf; any +inf -> +inf; NaN -> NaN (the CPU's rules)
          if (t == 0) out[r] = (m == m && m != INFINITY && m != -INFINITY) ? m + log(s) : m;
        }
        break;
      }
    }
  }
}

template <typename S>
__global__ void __launch_bounds__(kMaxThreads)
    reduce_columns_kernel(const S* __restrict__ x, int64_t rows, int64_t cols, void* out_raw,
                          bool mean) {
  using R = Wide<S>;
  R* __restrict__ out = static_cast<R*>(out_raw);
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < cols;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    R a = 0;
    for (int64_t i = 0; i < rows; ++i) a += widen(x[i * cols + j]);  // coalesced across j
    if constexpr (std::is_floating_point_v<R>) {
      if (mean) a = a / static_cast<double>(rows);
    }
    out[j] = a;
  }
}

/// Pass 1 of a split row: block (c, r) sums chunk c of row r into partial[r * chunks + c].
template <typename S>
__global__ void __launch_bounds__(kMaxThreads)
    partial_sums_kernel(const S* __restrict__ x, int64_t outer, int64_t inner, int64_t chunk,
                        void* partial_raw) {
  using R = Wide<S>;
  __shared__ __align__(16) R sh[kMaxThreads];
  R* __restrict__ partial = static_cast<R*>(partial_raw);
  const int64_t chunks = gridDim.x;
  for (int64_t r = blockIdx.y; r < outer; r += gridDim.y) {
    const int64_t begin = blockIdx.x * chunk;
    const int64_t end = begin + chunk < inner ? begin + chunk : inner;
    const S* row = x + r * inner;  // (inner)
    R a = 0;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) a += widen(row[i]);
    a = block_reduce<R>(a, sh, [](R u, R v) { return u + v; });
    if (threadIdx.x == 0) partial[r * chunks + blockIdx.x] = a;
  }
}

__global__ void divide_kernel(double* out, int64_t n, double divisor) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = out[i] / divisor;
}

bool split_rows(ReduceOp op, int64_t outer, int64_t inner) {
  return (op == ReduceOp::kSum || op == ReduceOp::kMean) && inner > 2 * kChunk && outer < 1024;
}

template <typename S>
void launch_rows(ReduceOp op, const void* x, int64_t outer, int64_t inner, void* out,
                 int64_t* index, int64_t correction, void* workspace, cudaStream_t stream) {
  // NOTE [split rows]: one block per row leaves the GPU idle when there are few long rows (a
  // full sum is one row). Sums of rows longer than kChunk are split into fixed chunks (pass 1,
  // one block each), whose partials pass 2 sums in chunk order: still deterministic, since the
  // chunking depends only on the shape.
  if (split_rows(op, outer, inner)) {
    using R = Wide<S>;
    const int64_t chunks = (inner + kChunk - 1) / kChunk;
    TESSERA_CHECK(workspace != nullptr, "cuda reduce_rows: this shape needs a workspace");
    R* partial = static_cast<R*>(workspace);  // (outer, chunks)
    const dim3 grid(static_cast<unsigned>(chunks),
                    static_cast<unsigned>(outer < 65535 ? outer : 65535));
    TESSERA_LAUNCH(partial_sums_kernel<S>, grid, kMaxThreads, 0, stream)
    (static_cast<const S*>(x), outer, inner, kChunk, static_cast<void*>(partial));
    launch_rows<R>(ReduceOp::kSum, partial, outer, chunks, out, nullptr, 0, nullptr, stream);
    if constexpr (std::is_floating_point_v<R>) {
      if (op == ReduceOp::kMean) {
        const unsigned g = static_cast<unsigned>((outer + kMaxThreads - 1) / kMaxThreads);
        TESSERA_LAUNCH(divide_kernel, g, kMaxThreads, 0, stream)
        (static_cast<double*>(out), outer, static_cast<double>(inner));
      }
    }
    return;
  }
  int threads = 32;
  while (threads < kMaxThreads && threads < inner) threads *= 2;
  const unsigned grid = static_cast<unsigned>(outer < 65535 ? outer : 65535);
  TESSERA_LAUNCH(reduce_rows_kernel<S>, grid, threads, 0, stream)
  (op, static_cast<const S*>(x), outer, inner, out, index, correction);
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

size_t reduce_rows_workspace(ReduceOp op, int64_t outer, int64_t inner) {
  if (!split_rows(op, outer, inner)) return 0;
  return static_cast<size_t>(outer * ((inner + kChunk - 1) / kChunk)) * 8;  // double or int64
}

void reduce_rows(ReduceOp op, ScalarType t, const void* x, int64_t outer, int64_t inner, void* out,
                 int64_t* index, int64_t correction, void* workspace, cudaStream_t stream) {
  // Preconditions
  TESSERA_CHECK(outer >= 0 && inner >= 0, "cuda reduce_rows: bad shape (", outer, ", ", inner, ")");
  TESSERA_CHECK((op != ReduceOp::kArgMax && op != ReduceOp::kArgMin) || (index && inner > 0),
                "cuda reduce_rows: arg reductions need an index buffer and a non-empty row");
  if (outer == 0) return;
  visit(t, [&]<typename S>() {
    launch_rows<S>(op, x, outer, inner, out, index, correction, workspace, stream);
  });
}

void reduce_columns(ScalarType t, const void* x, int64_t rows, int64_t cols, void* out, bool mean,
                    cudaStream_t stream) {
  TESSERA_CHECK(rows >= 0 && cols >= 0, "cuda reduce_columns: bad shape (", rows, ", ", cols, ")");
  if (cols == 0) return;
  const int64_t blocks = (cols + kMaxThreads - 1) / kMaxThreads;
  const unsigned grid = static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
  visit(t, [&]<typename S>() {
    TESSERA_LAUNCH(reduce_columns_kernel<S>, grid, kMaxThreads, 0, stream)
    (static_cast<const S*>(x), rows, cols, out, mean);
  });
}

}  // namespace tessera::kernels::cuda
