// SPDX-License-Identifier: Apache-2.0
/// @brief Strided elementwise kernels: every unary/binary/comparison/where/clamp op, casts, fill.
///
// elementwise.cu: out[i] = op(in1[i], in2[i], in3[i]) over up to 16 broadcast (stride-0) dims.
// Shapes:  operands described by StridedLayout<4> (operand 0 = out), strides in elements.
// Mapping: grid-stride loop, one element per thread per step; the linear index is split into
//          coordinates innermost first and each operand's offset accumulated. 32-bit index
//          arithmetic when the host checked that numel and every operand's largest offset fit
//          in int32 (about 2x faster index math), else 64-bit.
// Design:  one kernel per *storage type* with the op as a runtime, warp-uniform switch: 7 kernel
//          instantiations instead of ops x dtypes, so nvcc and cudasim builds stay small. Inputs
//          arrive already converted to the compute dtype (the host does it, exactly like the CPU
//          ops), so the per-element arithmetic is the CPU's: 16-bit floats widen to float32,
//          compute, and round once (RNE) on store; integers compute in their own type.
// Cost:    memory-bound: (inputs + 1) x numel x sizeof(T) bytes, a few FLOP per element (the
//          transcendental ops are ~10-20 FLOP, still below the H100's ~20 FLOP/byte balance).
// Target:  >= 80% of the measured D2D copy bandwidth for contiguous f32/bf16 (benches/cuda).
// Tests:   tests/cuda/test_cuda_elementwise.cpp (CUDA vs CPU results)   Bench:
// benches/cuda/bench_cuda_ops.cpp
#include <tessera/kernels/cuda/compat.h>
#include <tessera/kernels/cuda/check.h>
#include <tessera/kernels/cuda/elementwise.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace tessera::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;  // grid-stride beyond this: ~30 resident blocks per SM

// ---- storage <-> compute conversions
// -------------------------------------------------------------
template <typename S>
struct Acc {
  using type = S;
};
template <>
struct Acc<__nv_bfloat16> {
  using type = float;
};
template <>
struct Acc<__half> {
  using type = float;
};
template <typename S>
using acc_t = typename Acc<S>::type;

template <typename S>
__device__ __forceinline__ acc_t<S> load(const void* p) {
  const S v = *static_cast<const S*>(p);
  if constexpr (std::is_same_v<S, __nv_bfloat16>)
    return __bfloat162float(v);
  else if constexpr (std::is_same_v<S, __half>)
    return __half2float(v);
  else
    return v;
}
template <typename S, typename V>
__device__ __forceinline__ void store(void* p, V v) {
  if constexpr (std::is_same_v<S, bool>)
    *static_cast<bool*>(p) = v != V(0);
  else if constexpr (std::is_same_v<S, __nv_bfloat16>)
    *static_cast<S*>(p) = __float2bfloat16_rn(static_cast<float>(v));
  else if constexpr (std::is_same_v<S, __half>)
    *static_cast<S*>(p) = __float2half_rn(static_cast<float>(v));
  else
    *static_cast<S*>(p) = static_cast<S>(v);
}

// ---- math with one spelling for float and double (device code has no std:: overloads) ----------
#define TESSERA_MATH(name, f32, f64)                                    \
  __device__ __forceinline__ float m_##name(float x) { return f32(x); } \
  __device__ __forceinline__ double m_##name(double x) { return f64(x); }
TESSERA_MATH(sqrt, sqrtf, sqrt)
TESSERA_MATH(exp, expf, exp)
TESSERA_MATH(log, logf, log)
TESSERA_MATH(log1p, log1pf, log1p)
TESSERA_MATH(expm1, expm1f, expm1)
TESSERA_MATH(sin, sinf, sin)
TESSERA_MATH(cos, cosf, cos)
TESSERA_MATH(tanh, tanhf, tanh)
TESSERA_MATH(erf, erff, erf)
TESSERA_MATH(floor, floorf, floor)
TESSERA_MATH(ceil, ceilf, ceil)
TESSERA_MATH(rint, rintf, rint)  // round half to even in the default mode, = std::nearbyint
TESSERA_MATH(trunc, truncf, trunc)
#undef TESSERA_MATH
__device__ __forceinline__ float m_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double m_pow(double x, double y) { return pow(x, y); }

template <typename A>
__device__ __forceinline__ bool is_nan(A v) {
  if constexpr (std::is_floating_point_v<A>)
    return v != v;
  else
    return false;
}

constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;

/// op applied to compute values; mirrors tensor/src/native/elementwise.cpp expression by
/// expression (bool computes as int, like C++'s promotion in the CPU lambdas).
template <typename A>
__device__ __forceinline__ A apply(EwOp op, A x, A y, A z, const EwParams& p, bool& pred) {
  switch (op) {
    case EwOp::kAdd:
      return x + y;
    case EwOp::kSub:
      return x - y;
    case EwOp::kMul:
      return x * y;
    case EwOp::kDiv:
      if constexpr (std::is_floating_point_v<A>)
        return x / y;
      else
        return A(0);  // unreachable: the host computes division in a floating dtype
    case EwOp::kPow:
      if constexpr (std::is_floating_point_v<A>) {
        return m_pow(x, y);
      } else {
        if (y < 0) return x == 1 ? A(1) : (x == -1 ? ((y & 1) ? A(-1) : A(1)) : A(0));
        using U = std::make_unsigned_t<A>;
        U r = 1;
        for (U base = static_cast<U>(x); y; y >>= 1, base *= base)
          if (y & 1) r *= base;
        return static_cast<A>(r);
      }
    case EwOp::kMaximum:
      if constexpr (std::is_floating_point_v<A>) {
        if (is_nan(x) || is_nan(y)) return A(NAN);
      }
      return x > y ? x : y;
    case EwOp::kMinimum:
      if constexpr (std::is_floating_point_v<A>) {
        if (is_nan(x) || is_nan(y)) return A(NAN);
      }
      return x < y ? x : y;
    case EwOp::kEq:
      pred = x == y;
      return A(0);
    case EwOp::kNe:
      pred = x != y;
      return A(0);
    case EwOp::kLt:
      pred = x < y;
      return A(0);
    case EwOp::kLe:
      pred = x <= y;
      return A(0);
    case EwOp::kGt:
      pred = x > y;
      return A(0);
    case EwOp::kGe:
      pred = x >= y;
      return A(0);
    case EwOp::kLogicalAnd:
      pred = (x != A(0)) && (y != A(0));
      return A(0);
    case EwOp::kLogicalOr:
      pred = (x != A(0)) || (y != A(0));
      return A(0);
    case EwOp::kLogicalXor:
      pred = (x != A(0)) != (y != A(0));
      return A(0);
    case EwOp::kLogicalNot:
      pred = !(x != A(0));
      return A(0);
    case EwOp::kNeg:
      return -x;
    case EwOp::kAbs:
      return x < A(0) ? A(-x) : (x == A(0) ? A(0) : x);
    case EwOp::kSign:
      return A((A(0) < x) - (x < A(0)));
    case EwOp::kSquare:
      return x * x;
    case EwOp::kRelu:
      return x > A(0) || x != x ? x : A(0);
    case EwOp::kIsNan:
      pred = is_nan(x);
      return A(0);
    case EwOp::kIsFinite:
      pred = x == x && x - x == A(0);
      return A(0);
    case EwOp::kAddScaled:
      return A(x + A(p.p0) * y);
    case EwOp::kClamp: {
      if (is_nan(x)) return x;
      const double d = static_cast<double>(x);
      if (d > p.p1) return A(p.p1);
      return d < p.p0 ? (p.p0 > p.p1 ? A(p.p1) : A(p.p0)) : x;
    }
    case EwOp::kWhere:
      return x != A(0) ? y : z;
    default:
      break;
  }
  if constexpr (std::is_floating_point_v<A>) {
    switch (op) {
      case EwOp::kSqrt:
        return m_sqrt(x);
      case EwOp::kRsqrt:
        return A(1) / m_sqrt(x);
      case EwOp::kReciprocal:
        return A(1) / x;
      case EwOp::kExp:
        return m_exp(x);
      case EwOp::kLog:
        return m_log(x);
      case EwOp::kLog1p:
        return m_log1p(x);
      case EwOp::kExpm1:
        return m_expm1(x);
      case EwOp::kSin:
        return m_sin(x);
      case EwOp::kCos:
        return m_cos(x);
      case EwOp::kTanh:
        return m_tanh(x);
      case EwOp::kErf:
        return m_erf(x);
      case EwOp::kSigmoid:
        return A(1) / (A(1) + m_exp(-x));
      case EwOp::kFloor:
        return m_floor(x);
      case EwOp::kCeil:
        return m_ceil(x);
      case EwOp::kRound:
        return m_rint(x);
      case EwOp::kTrunc:
        return m_trunc(x);
      case EwOp::kGelu:
        return A(0.5) * x * (A(1) + m_erf(x * A(kInvSqrt2)));
      case EwOp::kGeluTanh: {
        const A inner = A(kSqrt2OverPi) * (x + A(0.044715) * x * x * x);
        return A(0.5) * x * (A(1) + m_tanh(inner));
      }
      case EwOp::kGeluBackward: {  // x = grad, y = input
        const A cdf = A(0.5) * (A(1) + m_erf(y * A(kInvSqrt2)));
        const A pdf = A(kInvSqrt2Pi) * m_exp(A(-0.5) * y * y);
        return x * (cdf + y * pdf);
      }
      case EwOp::kGeluTanhBackward: {
        const A inner = A(kSqrt2OverPi) * (y + A(0.044715) * y * y * y);
        const A th = m_tanh(inner);
        const A dinner = A(kSqrt2OverPi) * (A(1) + A(3 * 0.044715) * y * y);
        return x * (A(0.5) * (A(1) + th) + A(0.5) * y * (A(1) - th * th) * dinner);
      }
      default:
        break;
    }
  }
  __trap();  // an op the host never sends for this dtype
  return A(0);
}

/// Offsets (in elements) of every operand for the linear index `i`.
template <int N, typename I>
__device__ __forceinline__ void offsets(const StridedLayout<N>& L, I i, I (&off)[N]) {
  if (L.ndim == 1) {  // dense or tensor-scalar ops after coalescing: no division
    for (int k = 0; k < N; ++k) off[k] = i * static_cast<I>(L.strides[k][0]);
    return;
  }
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = L.ndim - 1; d >= 0; --d) {
    const I size = static_cast<I>(L.sizes[d]);
    const I c = i % size;
    i /= size;
    for (int k = 0; k < N; ++k) off[k] += c * static_cast<I>(L.strides[k][d]);
  }
}

template <typename S, typename I>
__global__ void __launch_bounds__(kThreads)
    elementwise_strided(EwOp op, StridedLayout<4> L, I n, EwParams p, int arity, bool bool_out) {
  using A0 = acc_t<S>;
  using A = std::conditional_t<std::is_same_v<A0, bool>, int, A0>;
  constexpr int kSize = sizeof(S);
  const int out_size = bool_out ? 1 : kSize;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    I off[4];
    offsets<4, I>(L, i, off);
    // kWhere's condition is bool storage; its values are S.
    A x, y = A(0), z = A(0);
    const char* b1 = static_cast<const char*>(L.data[1]);
    if (op == EwOp::kWhere) {
      x = A(*reinterpret_cast<const bool*>(b1 + off[1]));
      y = A(load<S>(static_cast<const char*>(L.data[2]) + off[2] * kSize));
      z = A(load<S>(static_cast<const char*>(L.data[3]) + off[3] * kSize));
    } else {
      x = A(load<S>(b1 + off[1] * kSize));
      if (arity >= 2) {
        y = p.scalar_operand ? A(p.p0)
                             : A(load<S>(static_cast<const char*>(L.data[2]) + off[2] * kSize));
        if (p.reversed) {
          const A t = x;
          x = y;
          y = t;
        }
      }
    }
    bool pred = false;
    const A r = apply<A>(op, x, y, z, p, pred);
    char* o = static_cast<char*>(L.data[0]) + off[0] * out_size;
    if (bool_out)
      *reinterpret_cast<bool*>(o) = pred;
    else
      store<S>(o, r);
  }
}

// ---- casts
// ---------------------------------------------------------------------------------------
/// A value of any dtype without loss: integers (and bool) as int64, floating types as double.
struct Wide {
  int64_t i;
  double d;
  bool is_int;
};

__device__ __forceinline__ Wide load_wide(const char* p, ScalarType t) {
  switch (t) {
    case ScalarType::kBool:
      return {*reinterpret_cast<const bool*>(p) ? 1 : 0, 0, true};
    case ScalarType::kInt32:
      return {*reinterpret_cast<const int32_t*>(p), 0, true};
    case ScalarType::kInt64:
      return {*reinterpret_cast<const int64_t*>(p), 0, true};
    case ScalarType::kBFloat16:
      return {0, load<__nv_bfloat16>(p), false};
    case ScalarType::kFloat16:
      return {0, load<__half>(p), false};
    case ScalarType::kFloat32:
      return {0, *reinterpret_cast<const float*>(p), false};
    default:
      return {0, *reinterpret_cast<const double*>(p), false};
  }
}

/// convert<To>(From) of tensor/src/native/convert.cpp: 16-bit via float32, bool as != 0.
template <typename To>
__device__ __forceinline__ To narrow(const Wide& w) {
  if constexpr (std::is_same_v<To, bool>)
    return w.is_int ? w.i != 0 : w.d != 0.0;
  else if constexpr (std::is_same_v<To, __nv_bfloat16>)
    return __float2bfloat16_rn(w.is_int ? static_cast<float>(w.i) : static_cast<float>(w.d));
  else if constexpr (std::is_same_v<To, __half>)
    return __float2half_rn(w.is_int ? static_cast<float>(w.i) : static_cast<float>(w.d));
  else
    return w.is_int ? static_cast<To>(w.i) : static_cast<To>(w.d);
}

__device__ __forceinline__ void store_wide(char* p, ScalarType t, const Wide& w) {
  switch (t) {
    case ScalarType::kBool:
      *reinterpret_cast<bool*>(p) = narrow<bool>(w);
      break;
    case ScalarType::kInt32:
      *reinterpret_cast<int32_t*>(p) = narrow<int32_t>(w);
      break;
    case ScalarType::kInt64:
      *reinterpret_cast<int64_t*>(p) = narrow<int64_t>(w);
      break;
    case ScalarType::kBFloat16:
      *reinterpret_cast<__nv_bfloat16*>(p) = narrow<__nv_bfloat16>(w);
      break;
    case ScalarType::kFloat16:
      *reinterpret_cast<__half*>(p) = narrow<__half>(w);
      break;
    case ScalarType::kFloat32:
      *reinterpret_cast<float*>(p) = narrow<float>(w);
      break;
    default:
      *reinterpret_cast<double*>(p) = narrow<double>(w);
      break;
  }
}

template <typename I>
__global__ void __launch_bounds__(kThreads)
    cast_strided(StridedLayout<2> L, I n, int out_size, int in_size) {
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    I off[2];
    offsets<2, I>(L, i, off);
    const Wide w = load_wide(static_cast<const char*>(L.data[1]) + off[1] * in_size, L.dtype[1]);
    store_wide(static_cast<char*>(L.data[0]) + off[0] * out_size, L.dtype[0], w);
  }
}

template <typename W>
__global__ void __launch_bounds__(kThreads) fill_contiguous(W* dst, int64_t n, W value) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = value;
}

unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < kMaxBlocks ? (blocks < 1 ? 1 : blocks) : kMaxBlocks);
}

std::atomic<bool>& force_64bit() {
  static std::atomic<bool> force{false};
  return force;
}

/// True when numel and every operand's largest element offset fit in int32.
template <int N>
bool fits_int32(const StridedLayout<N>& L, int64_t n) {
  constexpr int64_t kLimit = int64_t{1} << 31;
  if (n >= kLimit || force_64bit().load(std::memory_order_relaxed)) return false;
  for (int k = 0; k < N; ++k) {
    int64_t last = 0;
    for (int d = 0; d < L.ndim; ++d) last += (L.sizes[d] - 1) * L.strides[k][d];
    if (last >= kLimit) return false;
  }
  return true;
}

template <typename S>
void launch_typed(EwOp op, const StridedLayout<4>& L, int64_t n, const EwParams& p,
                  cudaStream_t stream) {
  const int arity = ew_arity(op);
  const bool bool_out = ew_bool_out(op);
  if (fits_int32(L, n)) {
    TESSERA_LAUNCH((elementwise_strided<S, uint32_t>), grid_for(n), kThreads, 0, stream)
    (op, L, static_cast<uint32_t>(n), p, arity, bool_out);
  } else {
    TESSERA_LAUNCH((elementwise_strided<S, int64_t>), grid_for(n), kThreads, 0, stream)
    (op, L, n, p, arity, bool_out);
  }
}

}  // namespace

bool force_64bit_indexing_for_testing(bool force) { return force_64bit().exchange(force); }

int ew_arity(EwOp op) {
  switch (op) {
    case EwOp::kAdd:
    case EwOp::kSub:
    case EwOp::kMul:
    case EwOp::kDiv:
    case EwOp::kPow:
    case EwOp::kMaximum:
    case EwOp::kMinimum:
    case EwOp::kEq:
    case EwOp::kNe:
    case EwOp::kLt:
    case EwOp::kLe:
    case EwOp::kGt:
    case EwOp::kGe:
    case EwOp::kLogicalAnd:
    case EwOp::kLogicalOr:
    case EwOp::kLogicalXor:
    case EwOp::kGeluBackward:
    case EwOp::kGeluTanhBackward:
    case EwOp::kAddScaled:
      return 2;
    case EwOp::kWhere:
      return 3;
    default:
      return 1;
  }
}

bool ew_bool_out(EwOp op) {
  switch (op) {
    case EwOp::kEq:
    case EwOp::kNe:
    case EwOp::kLt:
    case EwOp::kLe:
    case EwOp::kGt:
    case EwOp::kGe:
    case EwOp::kLogicalAnd:
    case EwOp::kLogicalOr:
    case EwOp::kLogicalXor:
    case EwOp::kLogicalNot:
    case EwOp::kIsNan:
    case EwOp::kIsFinite:
      return true;
    default:
      return false;
  }
}

void elementwise(EwOp op, const StridedLayout<4>& L, int64_t n, const EwParams& p,
                 cudaStream_t stream) {
  // Preconditions
  TESSERA_CHECK(static_cast<int>(op) < kEwOpCount, "cuda elementwise: invalid op ",
                static_cast<int>(op));
  TESSERA_CHECK(L.ndim >= 0 && L.ndim <= kMaxDims, "cuda elementwise: ", L.ndim, " dims > ",
                kMaxDims);
  const ScalarType in = op == EwOp::kWhere ? L.dtype[2] : L.dtype[1];
  TESSERA_CHECK(L.dtype[0] == (ew_bool_out(op) ? ScalarType::kBool : in),
                "cuda elementwise: output dtype does not match the op");
  if (n == 0) return;
  switch (in) {
    case ScalarType::kBool:
      return launch_typed<bool>(op, L, n, p, stream);
    case ScalarType::kInt32:
      return launch_typed<int32_t>(op, L, n, p, stream);
    case ScalarType::kInt64:
      return launch_typed<int64_t>(op, L, n, p, stream);
    case ScalarType::kBFloat16:
      return launch_typed<__nv_bfloat16>(op, L, n, p, stream);
    case ScalarType::kFloat16:
      return launch_typed<__half>(op, L, n, p, stream);
    case ScalarType::kFloat32:
      return launch_typed<float>(op, L, n, p, stream);
    case ScalarType::kFloat64:
      return launch_typed<double>(op, L, n, p, stream);
  }
}

void cast_copy(const StridedLayout<2>& L, int64_t n, cudaStream_t stream) {
  TESSERA_CHECK(L.ndim >= 0 && L.ndim <= kMaxDims, "cuda cast_copy: ", L.ndim, " dims > ",
                kMaxDims);
  if (n == 0) return;
  const int out_size = scalar_size(L.dtype[0]), in_size = scalar_size(L.dtype[1]);
  if (fits_int32(L, n)) {
    TESSERA_LAUNCH(cast_strided<uint32_t>, grid_for(n), kThreads, 0, stream)
    (L, static_cast<uint32_t>(n), out_size, in_size);
  } else {
    TESSERA_LAUNCH(cast_strided<int64_t>, grid_for(n), kThreads, 0, stream)
    (L, n, out_size, in_size);
  }
}

void fill(void* dst, int64_t n, int width, uint64_t pattern, cudaStream_t stream) {
  if (n == 0) return;
  switch (width) {
    case 1:
      TESSERA_LAUNCH(fill_contiguous<uint8_t>, grid_for(n), kThreads, 0, stream)
      (static_cast<uint8_t*>(dst), n, static_cast<uint8_t>(pattern));
      break;
    case 2:
      TESSERA_LAUNCH(fill_contiguous<uint16_t>, grid_for(n), kThreads, 0, stream)
      (static_cast<uint16_t*>(dst), n, static_cast<uint16_t>(pattern));
      break;
    case 4:
      TESSERA_LAUNCH(fill_contiguous<uint32_t>, grid_for(n), kThreads, 0, stream)
      (static_cast<uint32_t*>(dst), n, static_cast<uint32_t>(pattern));
      break;
    case 8:
      TESSERA_LAUNCH(fill_contiguous<uint64_t>, grid_for(n), kThreads, 0, stream)
      (static_cast<uint64_t*>(dst), n, pattern);
      break;
    default:
      TESSERA_FAIL("cuda fill: element width must be 1, 2, 4 or 8, got ", width);
  }
}

}  // namespace tessera::kernels::cuda
