// SPDX-License-Identifier: Apache-2.0
/// @brief Elementwise ops on CPU: broadcasting, type promotion, in-place variants.
///
/// Every op here is one call of `map<N>`: inputs are converted to the compute dtype, expanded to
/// the broadcast shape, and a per-element functor runs inside the strided loop
/// (tessera/kernels/cpu/strided_loop.h). The functor sees the compute type widened to acc_t
/// (float for 16-bit floats) and its result is narrowed once on store. The contiguous case is a
/// plain indexed loop so the compiler vectorises it.
#include <tessera/native/elementwise.h>

#include <cmath>
#include <limits>
#include <type_traits>

#include <tessera/creation.h>
#include <tessera/kernels/cpu/gelu.h>
#include <tessera/native/convert.h>
#include <tessera/native/reduce.h>
#include <tessera/native/shape.h>

#include "cuda/dispatch.h"
#include "iter.h"

namespace tessera::native {
namespace {

using detail::check_cpu;
using kernels::cpu::for_each;

/// out[i] = f(in[0][i], ..., in[N-2][i]); inputs have dtype Tin, output Tout, all shaped like out.
template <typename Tin, typename Tout, int N, typename F>
void map_typed(const std::array<const Tensor*, N>& ops, F f) {
  auto loop = detail::make_loop<N>(ops[0]->shape(), ops);
  using A = acc_t<Tin>;
  for_each<N>(std::move(loop), [&](int64_t n, char** p, const int64_t* s) {
    Tout* o = reinterpret_cast<Tout*>(p[0]);
    bool contiguous = s[0] == sizeof(Tout);
    for (int k = 1; k < N; ++k) contiguous = contiguous && s[k] == sizeof(Tin);
    if constexpr (N == 2) {
      const Tin* a = reinterpret_cast<const Tin*>(p[1]);
      if (contiguous) {
        for (int64_t i = 0; i < n; ++i) o[i] = Tout(f(A(a[i])));
      } else {
        for (int64_t i = 0; i < n; ++i)
          *reinterpret_cast<Tout*>(p[0] + i * s[0]) =
              Tout(f(A(*reinterpret_cast<const Tin*>(p[1] + i * s[1]))));
      }
    } else if constexpr (N == 3) {
      const Tin* a = reinterpret_cast<const Tin*>(p[1]);
      const Tin* b = reinterpret_cast<const Tin*>(p[2]);
      if (contiguous) {
        for (int64_t i = 0; i < n; ++i) o[i] = Tout(f(A(a[i]), A(b[i])));
      } else if (s[0] == sizeof(Tout) && s[1] == sizeof(Tin) && s[2] == 0) {
        const A bv = A(b[0]);  // a tensor-scalar op: keep the vectorisable loop
        for (int64_t i = 0; i < n; ++i) o[i] = Tout(f(A(a[i]), bv));
      } else {
        for (int64_t i = 0; i < n; ++i)
          *reinterpret_cast<Tout*>(p[0] + i * s[0]) =
              Tout(f(A(*reinterpret_cast<const Tin*>(p[1] + i * s[1])),
                     A(*reinterpret_cast<const Tin*>(p[2] + i * s[2]))));
      }
    } else {
      static_assert(N == 4);
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<Tout*>(p[0] + i * s[0]) =
            Tout(f(A(*reinterpret_cast<const Tin*>(p[1] + i * s[1])),
                   A(*reinterpret_cast<const Tin*>(p[2] + i * s[2])),
                   A(*reinterpret_cast<const Tin*>(p[3] + i * s[3]))));
    }
  });
}

/// Converts x to dtype and expands it to shape (both no-ops when already so).
Tensor prepare(const Tensor& x, DType dtype, const Shape& shape) {
  return expand(to(x, dtype), shape);
}

/// Calls f.template operator()<T>() for T the storage type of a floating dtype; throws otherwise.
template <typename F>
void visit_floating(const char* op, DType t, F&& f) {
  switch (t) {
    case DType::BFloat16:
      return f.template operator()<BFloat16>();
    case DType::Float16:
      return f.template operator()<Float16>();
    case DType::Float32:
      return f.template operator()<float>();
    case DType::Float64:
      return f.template operator()<double>();
    default:
      TESSERA_FAIL(op, ": needs a floating dtype, got ", t);
  }
}

/// Which dtype family an op instantiates its functor for (fewer instantiations, faster builds).
enum class Family { All, Floating };

template <Family fam, typename F>
void visit_family(const char* op, DType t, F&& f) {
  if constexpr (fam == Family::Floating)
    visit_floating(op, t, std::forward<F>(f));
  else
    visit_dtype(t, std::forward<F>(f));
}

/// Binary op with promotion: inputs computed in `compute`; the result has dtype `compute`, or
/// bool when `bool_out` (comparisons).
template <Family fam = Family::All, bool bool_out = false, typename F>
Tensor binary(const char* op, const Tensor& a, const Tensor& b, DType compute, F f) {
  check_cpu(op, {&a, &b});
  TESSERA_CHECK(a.device() == b.device(), op, ": operands on different devices: ", describe(a),
                " and ", describe(b));
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(shape, {.dtype = bool_out ? kBool : compute, .device = a.device()});
  const Tensor ea = prepare(a, compute, shape), eb = prepare(b, compute, shape);
  visit_family<fam>(op, compute, [&]<typename Tin>() {
    map_typed<Tin, std::conditional_t<bool_out, bool, Tin>, 3>({&out, &ea, &eb}, f);
  });
  return out;
}

/// Unary op computed in `compute`; the result has dtype `compute`, or bool when `bool_out`.
template <Family fam = Family::All, bool bool_out = false, typename F>
Tensor unary(const char* op, const Tensor& x, DType compute, F f) {
  check_cpu(op, {&x});
  Tensor out = empty(x.shape(), {.dtype = bool_out ? kBool : compute, .device = x.device()});
  const Tensor ex = to(x, compute);
  visit_family<fam>(op, compute, [&]<typename Tin>() {
    map_typed<Tin, std::conditional_t<bool_out, bool, Tin>, 2>({&out, &ex}, f);
  });
  return out;
}

/// torch.can_cast: an in-place result may not move to a lower category (floating -> integer,
/// anything -> bool).
bool can_cast(DType from, DType to) {
  if (is_floating(from) && !is_floating(to)) return false;
  if (from != kBool && to == kBool) return false;
  return true;
}

void check_inplace_cast(const char* op, const Tensor& self, DType result) {
  TESSERA_CHECK(can_cast(result, self.dtype()), op, ": result type ", result,
                " can't be cast to the in-place target ", describe(self));
}

/// In place: self = f(self, other) with other broadcast to self's shape. Computed in
/// promote_types(self, other) and rounded once into self (as PyTorch), so float16 += float32 does
/// not round the addend to 16 bits first.
template <typename F>
Tensor& binary_inplace(const char* op, Tensor& self, const Tensor& other, F f) {
  check_cpu(op, {&self, &other});
  detail::check_writable(op, self);
  const Shape shape = broadcast_shapes(self.shape(), other.shape(), op);
  TESSERA_CHECK(shape == self.shape(), op, ": the result shape ", shape_str(shape),
                " does not match the in-place target ", describe(self));
  const DType compute = promote_types(self.dtype(), other.dtype());
  check_inplace_cast(op, self, compute);
  if (compute != self.dtype()) {
    const Tensor r = binary(op, self, other, compute, f);
    return copy_(self, r);  // bumps the version
  }
  const Tensor eo = prepare(other, self.dtype(), shape);
  visit_dtype(self.dtype(), [&]<typename T>() { map_typed<T, T, 3>({&self, &self, &eo}, f); });
  self.bump_version();
  return self;
}

DType float_or(DType t) { return is_floating(t) ? t : kFloat32; }

/// The dtype of `a op scalar`: the scalar does not widen a's category (docs/tensor.md).
DType weak_promote(DType t, const Scalar& s) {
  if (s.kind() == Scalar::Kind::Float) return is_floating(t) ? t : kFloat32;
  if (s.kind() == Scalar::Kind::Int) return t == kBool ? kInt64 : t;
  return t;
}

Tensor wrap(const Tensor& like, const Scalar& s) {
  return scalar_tensor(s, {.dtype = weak_promote(like.dtype(), s), .device = like.device()});
}

void no_bool(const char* op, DType t) {
  TESSERA_CHECK(t != kBool, op, ": not supported for bool tensors (convert with to() first)");
}

}  // namespace

// ---- binary arithmetic ------------------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b) {
  const DType t = promote_types(a.dtype(), b.dtype());
  TESSERA_CUDA_DISPATCH(cuda_impl::binary(cuda_impl::EwOp::kAdd, "add", a, b, t), a, b);
  return binary("add", a, b, t, [](auto x, auto y) { return x + y; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  const DType t = promote_types(a.dtype(), b.dtype());
  no_bool("sub", t);
  TESSERA_CUDA_DISPATCH(cuda_impl::binary(cuda_impl::EwOp::kSub, "sub", a, b, t), a, b);
  return binary("sub", a, b, t, [](auto x, auto y) { return x - y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  const DType t = promote_types(a.dtype(), b.dtype());
  TESSERA_CUDA_DISPATCH(cuda_impl::binary(cuda_impl::EwOp::kMul, "mul", a, b, t), a, b);
  return binary("mul", a, b, t, [](auto x, auto y) { return x * y; });
}
Tensor div(const Tensor& a, const Tensor& b) {
  const DType t = float_or(promote_types(a.dtype(), b.dtype()));
  TESSERA_CUDA_DISPATCH(cuda_impl::binary(cuda_impl::EwOp::kDiv, "div", a, b, t), a, b);
  return binary<Family::Floating>("div", a, b, t, [](auto x, auto y) { return x / y; });
}
Tensor pow(const Tensor& a, const Tensor& b) {
  const DType t = promote_types(a.dtype(), b.dtype());
  no_bool("pow", t);
  TESSERA_CUDA_DISPATCH(cuda_impl::binary(cuda_impl::EwOp::kPow, "pow", a, b, t), a, b);
  return binary("pow", a, b, t, []<typename A>(A x, A y) -> A {
    if constexpr (std::is_same_v<A, bool>) {
      return x || !y;  // unreachable (no_bool), keeps the instantiation warning-free
    } else if constexpr (std::is_integral_v<A>) {
      if (y < 0) return x == 1 ? 1 : (x == -1 ? ((y & 1) ? -1 : 1) : 0);
      // Exact power by squaring in unsigned arithmetic: wraps modulo 2^bits (like PyTorch)
      // instead of signed-overflow UB.
      using U = std::make_unsigned_t<A>;
      U r = 1;
      for (U base = static_cast<U>(x); y; y >>= 1, base *= base)
        if (y & 1) r *= base;
      return static_cast<A>(r);
    } else {
      return std::pow(x, y);
    }
  });
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  const DType t = promote_types(a.dtype(), b.dtype());
  TESSERA_CUDA_DISPATCH(cuda_impl::binary(cuda_impl::EwOp::kMaximum, "maximum", a, b, t), a, b);
  return binary("maximum", a, b, t, []<typename A>(A x, A y) -> A {
    if constexpr (std::is_floating_point_v<A>) {
      if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<A>::quiet_NaN();
    }
    return x > y ? x : y;
  });
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  const DType t = promote_types(a.dtype(), b.dtype());
  TESSERA_CUDA_DISPATCH(cuda_impl::binary(cuda_impl::EwOp::kMinimum, "minimum", a, b, t), a, b);
  return binary("minimum", a, b, t, []<typename A>(A x, A y) -> A {
    if constexpr (std::is_floating_point_v<A>) {
      if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<A>::quiet_NaN();
    }
    return x < y ? x : y;
  });
}
namespace {
bool is_16bit(DType t) { return t == kBFloat16 || t == kFloat16; }

/// `a op s` (or `s op a` when `reversed`) for a 16-bit tensor a: the scalar stays in float32, the
/// compute type, instead of being rounded to 16 bits first (PyTorch's opmath scalar path), so
/// x * 0.1 rounds once.
template <typename F>
Tensor scalar_16bit(const char* op, const Tensor& a, const Scalar& s, bool reversed, F f) {
  TESSERA_CUDA_DISPATCH(cuda_impl::scalar_16bit(op, a, s, reversed), a);
  const double sv = s.to_double();
  return unary<Family::Floating>(op, a, a.dtype(), [sv, reversed, f]<typename A>(A v) -> A {
    const A c = static_cast<A>(sv);
    return reversed ? f(c, v) : f(v, c);
  });
}
}  // namespace

Tensor add(const Tensor& a, Scalar b) {
  if (is_16bit(a.dtype()))
    return scalar_16bit("add", a, b, false, [](auto x, auto y) { return x + y; });
  return add(a, wrap(a, b));
}
Tensor sub(const Tensor& a, Scalar b) {
  if (is_16bit(a.dtype()))
    return scalar_16bit("sub", a, b, false, [](auto x, auto y) { return x - y; });
  return sub(a, wrap(a, b));
}
Tensor rsub(const Tensor& a, Scalar b) {
  if (is_16bit(a.dtype()))
    return scalar_16bit("rsub", a, b, true, [](auto x, auto y) { return x - y; });
  return sub(wrap(a, b), a);
}
Tensor mul(const Tensor& a, Scalar b) {
  if (is_16bit(a.dtype()))
    return scalar_16bit("mul", a, b, false, [](auto x, auto y) { return x * y; });
  return mul(a, wrap(a, b));
}
Tensor div(const Tensor& a, Scalar b) {
  if (is_16bit(a.dtype()))
    return scalar_16bit("div", a, b, false, [](auto x, auto y) { return x / y; });
  return div(a, wrap(a, b));
}
Tensor rdiv(const Tensor& a, Scalar b) {
  if (is_16bit(a.dtype()))
    return scalar_16bit("rdiv", a, b, true, [](auto x, auto y) { return x / y; });
  return div(wrap(a, b), a);
}
Tensor pow(const Tensor& a, Scalar e) { return pow(a, wrap(a, e)); }

// ---- comparisons and logic ----------------------------------------------------------------------
#define TESSERA_COMPARISON(name, expr)                                                 \
  Tensor name(const Tensor& a, const Tensor& b) {                                      \
    TESSERA_CUDA_DISPATCH(cuda_impl::binary(cuda_impl::op_named(#name), #name, a, b,   \
                                            promote_types(a.dtype(), b.dtype())),      \
                          a, b);                                                       \
    return binary<Family::All, true>(#name, a, b, promote_types(a.dtype(), b.dtype()), \
                                     [](auto x, auto y) { return expr; });             \
  }                                                                                    \
  Tensor name(const Tensor& a, Scalar b) { return name(a, wrap(a, b)); }
TESSERA_COMPARISON(eq, x == y)
TESSERA_COMPARISON(ne, x != y)
TESSERA_COMPARISON(lt, x < y)
TESSERA_COMPARISON(le, x <= y)
TESSERA_COMPARISON(gt, x > y)
TESSERA_COMPARISON(ge, x >= y)
#undef TESSERA_COMPARISON

Tensor logical_and(const Tensor& a, const Tensor& b) {
  TESSERA_CUDA_DISPATCH(cuda_impl::binary(cuda_impl::EwOp::kLogicalAnd, "logical_and", to(a, kBool),
                                          to(b, kBool), kBool),
                        a, b);
  return binary("logical_and", to(a, kBool), to(b, kBool), kBool,
                [](bool x, bool y) { return x && y; });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  TESSERA_CUDA_DISPATCH(cuda_impl::binary(cuda_impl::EwOp::kLogicalOr, "logical_or", to(a, kBool),
                                          to(b, kBool), kBool),
                        a, b);
  return binary("logical_or", to(a, kBool), to(b, kBool), kBool,
                [](bool x, bool y) { return x || y; });
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
  TESSERA_CUDA_DISPATCH(cuda_impl::binary(cuda_impl::EwOp::kLogicalXor, "logical_xor", to(a, kBool),
                                          to(b, kBool), kBool),
                        a, b);
  return binary("logical_xor", to(a, kBool), to(b, kBool), kBool,
                [](bool x, bool y) { return x != y; });
}
Tensor logical_not(const Tensor& a) {
  TESSERA_CUDA_DISPATCH(
      cuda_impl::unary(cuda_impl::EwOp::kLogicalNot, "logical_not", to(a, kBool), kBool), a);
  return unary("logical_not", to(a, kBool), kBool, [](bool x) { return !x; });
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  TESSERA_CUDA_DISPATCH(cuda_impl::allclose(a, b, rtol, atol), a, b);
  const Tensor close =
      binary<Family::Floating, true>("allclose", a, b, kFloat64, [=](double x, double y) {
        if (x == y) return true;                           // equal infinities
        if (std::isinf(x) || std::isinf(y)) return false;  // else inf <= rtol * inf would hold
        return std::abs(x - y) <= atol + rtol * std::abs(y);
      });
  return close.numel() == 0 || amin(to(close, kInt32)).item<int64_t>() == 1;
}

bool equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const Tensor same = eq(a, b);
  return same.numel() == 0 || amin(to(same, kInt32)).item<int64_t>() == 1;
}

// ---- unary math ---------------------------------------------------------------------------------
#define TESSERA_FLOAT_UNARY(name, expr)                                                     \
  Tensor name(const Tensor& x) {                                                            \
    const DType t = float_or(x.dtype());                                                    \
    TESSERA_CUDA_DISPATCH(cuda_impl::unary(cuda_impl::op_named(#name), #name, x, t), x);    \
    return unary<Family::Floating>(#name, x, t, []<typename A>(A v) -> A { return expr; }); \
  }
TESSERA_FLOAT_UNARY(sqrt, std::sqrt(v))
TESSERA_FLOAT_UNARY(rsqrt, A(1) / std::sqrt(v))
TESSERA_FLOAT_UNARY(reciprocal, A(1) / v)
TESSERA_FLOAT_UNARY(exp, std::exp(v))
TESSERA_FLOAT_UNARY(log, std::log(v))
TESSERA_FLOAT_UNARY(log1p, std::log1p(v))
TESSERA_FLOAT_UNARY(expm1, std::expm1(v))
TESSERA_FLOAT_UNARY(sin, std::sin(v))
TESSERA_FLOAT_UNARY(cos, std::cos(v))
TESSERA_FLOAT_UNARY(tanh, std::tanh(v))
TESSERA_FLOAT_UNARY(erf, std::erf(v))
TESSERA_FLOAT_UNARY(sigmoid, A(1) / (A(1) + std::exp(-v)))
TESSERA_FLOAT_UNARY(floor, std::floor(v))
TESSERA_FLOAT_UNARY(ceil, std::ceil(v))
TESSERA_FLOAT_UNARY(round, std::nearbyint(v))
TESSERA_FLOAT_UNARY(trunc, std::trunc(v))
#undef TESSERA_FLOAT_UNARY

Tensor neg(const Tensor& x) {
  no_bool("neg", x.dtype());
  TESSERA_CUDA_DISPATCH(cuda_impl::unary(cuda_impl::EwOp::kNeg, "neg", x, x.dtype()), x);
  return unary("neg", x, x.dtype(), [](auto v) { return -v; });
}
Tensor abs(const Tensor& x) {
  TESSERA_CUDA_DISPATCH(cuda_impl::unary(cuda_impl::EwOp::kAbs, "abs", x, x.dtype()), x);
  return unary("abs", x, x.dtype(), []<typename A>(A v) -> A {
    if constexpr (std::is_same_v<A, bool>)
      return v;
    else
      return v < A(0) ? A(-v) : (v == A(0) ? A(0) : v);
  });
}
Tensor sign(const Tensor& x) {
  TESSERA_CUDA_DISPATCH(cuda_impl::unary(cuda_impl::EwOp::kSign, "sign", x, x.dtype()), x);
  return unary("sign", x, x.dtype(),
               []<typename A>(A v) -> A { return A((A(0) < v) - (v < A(0))); });
}
Tensor square(const Tensor& x) {
  const DType t = x.dtype() == kBool ? kInt64 : x.dtype();
  TESSERA_CUDA_DISPATCH(cuda_impl::unary(cuda_impl::EwOp::kSquare, "square", x, t), x);
  return unary("square", x, t, [](auto v) { return v * v; });
}
Tensor relu(const Tensor& x) {
  no_bool("relu", x.dtype());
  TESSERA_CUDA_DISPATCH(cuda_impl::unary(cuda_impl::EwOp::kRelu, "relu", x, x.dtype()), x);
  return unary("relu", x, x.dtype(),
               []<typename A>(A v) -> A { return v > A(0) || v != v ? v : A(0); });  // NaN stays
}

namespace {
constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1 / sqrt(2 pi)
}  // namespace

Tensor gelu(const Tensor& x, bool tanh_approx) {
  // Dense float32/float64: the vectorised kernel (a polynomial exp instead of libm's scalar calls).
  if (x.device().is_cpu() && x.is_contiguous() &&
      (x.dtype() == kFloat32 || x.dtype() == kFloat64)) {
    Tensor out = empty(x.shape(), {.dtype = x.dtype()});
    const auto approx = tanh_approx ? kernels::cpu::GeluApproximation::kTanh
                                    : kernels::cpu::GeluApproximation::kNone;
    if (x.dtype() == kFloat32)
      kernels::cpu::gelu_forward<float>(x.data<float>(), out.data<float>(), x.numel(), approx);
    else
      kernels::cpu::gelu_forward<double>(x.data<double>(), out.data<double>(), x.numel(), approx);
    return out;
  }
  const DType t = float_or(x.dtype());
  TESSERA_CUDA_DISPATCH(
      cuda_impl::unary(tanh_approx ? cuda_impl::EwOp::kGeluTanh : cuda_impl::EwOp::kGelu, "gelu", x,
                       t),
      x);
  if (tanh_approx) {
    return unary<Family::Floating>("gelu", x, t, []<typename A>(A v) -> A {
      const A inner = A(kSqrt2OverPi) * (v + A(0.044715) * v * v * v);
      return A(0.5) * v * (A(1) + std::tanh(inner));
    });
  }
  return unary<Family::Floating>("gelu", x, t, []<typename A>(A v) -> A {
    return A(0.5) * v * (A(1) + std::erf(v * A(kInvSqrt2)));
  });
}

Tensor gelu_backward(const Tensor& grad, const Tensor& x, bool tanh_approx) {
  if (x.device().is_cpu() && grad.device().is_cpu() && x.is_contiguous() && grad.is_contiguous() &&
      x.shape() == grad.shape() && x.dtype() == grad.dtype() &&
      (x.dtype() == kFloat32 || x.dtype() == kFloat64)) {
    Tensor out = empty(x.shape(), {.dtype = x.dtype()});
    const auto approx = tanh_approx ? kernels::cpu::GeluApproximation::kTanh
                                    : kernels::cpu::GeluApproximation::kNone;
    if (x.dtype() == kFloat32)
      kernels::cpu::gelu_backward<float>(grad.data<float>(), x.data<float>(), out.data<float>(),
                                         x.numel(), approx);
    else
      kernels::cpu::gelu_backward<double>(grad.data<double>(), x.data<double>(), out.data<double>(),
                                          x.numel(), approx);
    return out;
  }
  const DType t = float_or(promote_types(grad.dtype(), x.dtype()));
  TESSERA_CUDA_DISPATCH(cuda_impl::binary(tanh_approx ? cuda_impl::EwOp::kGeluTanhBackward
                                                      : cuda_impl::EwOp::kGeluBackward,
                                          "gelu_backward", grad, x, t),
                        grad, x);
  if (tanh_approx) {
    return binary<Family::Floating>("gelu_backward", grad, x, t, []<typename A>(A g, A v) -> A {
      const A inner = A(kSqrt2OverPi) * (v + A(0.044715) * v * v * v);
      const A th = std::tanh(inner);
      const A dinner = A(kSqrt2OverPi) * (A(1) + A(3 * 0.044715) * v * v);
      return g * (A(0.5) * (A(1) + th) + A(0.5) * v * (A(1) - th * th) * dinner);
    });
  }
  return binary<Family::Floating>("gelu_backward", grad, x, t, []<typename A>(A g, A v) -> A {
    const A cdf = A(0.5) * (A(1) + std::erf(v * A(kInvSqrt2)));
    const A pdf = A(kInvSqrt2Pi) * std::exp(A(-0.5) * v * v);
    return g * (cdf + v * pdf);
  });
}

Tensor isnan(const Tensor& x) {
  if (!is_floating(x.dtype())) return zeros(x.shape(), {.dtype = kBool, .device = x.device()});
  TESSERA_CUDA_DISPATCH(cuda_impl::unary(cuda_impl::EwOp::kIsNan, "isnan", x, x.dtype()), x);
  return unary<Family::Floating, true>("isnan", x, x.dtype(), [](auto v) { return std::isnan(v); });
}
Tensor isfinite(const Tensor& x) {
  if (!is_floating(x.dtype())) return ones(x.shape(), {.dtype = kBool, .device = x.device()});
  TESSERA_CUDA_DISPATCH(cuda_impl::unary(cuda_impl::EwOp::kIsFinite, "isfinite", x, x.dtype()), x);
  return unary<Family::Floating, true>("isfinite", x, x.dtype(),
                                       [](auto v) { return std::isfinite(v); });
}

// ---- selection ----------------------------------------------------------------------------------
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  TESSERA_CUDA_DISPATCH(cuda_impl::where(cond, a, b, promote_types(a.dtype(), b.dtype())), cond, a,
                        b);
  check_cpu("where", {&cond, &a, &b});
  TESSERA_CHECK(cond.dtype() == kBool, "where: condition must be bool, got ", describe(cond));
  const DType t = promote_types(a.dtype(), b.dtype());
  const Shape shape =
      broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = empty(shape, {.dtype = t, .device = a.device()});
  const Tensor ec = expand(cond, shape), ea = prepare(a, t, shape), eb = prepare(b, t, shape);
  visit_dtype(t, [&]<typename T>() {
    auto loop = detail::make_loop<4>(shape, {&out, &ec, &ea, &eb});
    for_each<4>(std::move(loop), [](int64_t n, char** p, const int64_t* s) {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<T*>(p[0] + i * s[0]) = *reinterpret_cast<const bool*>(p[1] + i * s[1])
                                                     ? *reinterpret_cast<const T*>(p[2] + i * s[2])
                                                     : *reinterpret_cast<const T*>(p[3] + i * s[3]);
    });
  });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, Scalar b) { return where(cond, a, wrap(a, b)); }

Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
  TESSERA_CHECK(mask.dtype() == kBool, "masked_fill: mask must be bool, got ", describe(mask));
  const Shape shape = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  TESSERA_CHECK(shape == x.shape(), "masked_fill: mask ", describe(mask),
                " does not broadcast to the input ", describe(x));
  return where(mask, scalar_tensor(value, {.dtype = x.dtype(), .device = x.device()}), x);
}

Tensor clamp(const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  no_bool("clamp", x.dtype());
  DType t = x.dtype();
  if (lo) t = weak_promote(t, *lo);
  if (hi) t = weak_promote(t, *hi);
  const double l = lo ? lo->to_double() : -std::numeric_limits<double>::infinity();
  const double h = hi ? hi->to_double() : std::numeric_limits<double>::infinity();
  TESSERA_CUDA_DISPATCH(cuda_impl::clamp(x, t, l, h), x);
  return unary("clamp", x, t, [l, h]<typename A>(A v) -> A {
    if constexpr (std::is_floating_point_v<A>) {
      if (std::isnan(v)) return v;
    }
    // min(max(v, lo), hi): with lo > hi every element becomes hi, as torch.clamp documents.
    const double d = static_cast<double>(v);
    if (d > h) return A(h);
    return d < l ? (l > h ? A(h) : A(l)) : v;
  });
}

// ---- in place
// -------------------------------------------------------------------------------------
Tensor& add_(Tensor& self, const Tensor& other) {
  TESSERA_CUDA_DISPATCH(cuda_impl::binary_inplace(cuda_impl::EwOp::kAdd, "add_", self, other, 0),
                        self, other);
  return binary_inplace("add_", self, other, [](auto x, auto y) { return x + y; });
}
Tensor& sub_(Tensor& self, const Tensor& other) {
  no_bool("sub_", self.dtype());
  TESSERA_CUDA_DISPATCH(cuda_impl::binary_inplace(cuda_impl::EwOp::kSub, "sub_", self, other, 0),
                        self, other);
  return binary_inplace("sub_", self, other, [](auto x, auto y) { return x - y; });
}
Tensor& mul_(Tensor& self, const Tensor& other) {
  TESSERA_CUDA_DISPATCH(cuda_impl::binary_inplace(cuda_impl::EwOp::kMul, "mul_", self, other, 0),
                        self, other);
  return binary_inplace("mul_", self, other, [](auto x, auto y) { return x * y; });
}
Tensor& div_(Tensor& self, const Tensor& other) {
  TESSERA_CHECK(is_floating(self.dtype()), "div_: true division needs a floating tensor, got ",
                describe(self));
  TESSERA_CUDA_DISPATCH(cuda_impl::binary_inplace(cuda_impl::EwOp::kDiv, "div_", self, other, 0),
                        self, other);
  return binary_inplace("div_", self, other, [](auto x, auto y) { return x / y; });
}
Tensor& add_(Tensor& self, Scalar other) {
  check_inplace_cast("add_", self, weak_promote(self.dtype(), other));
  return add_(self, scalar_tensor(other, {.dtype = self.dtype(), .device = self.device()}));
}
Tensor& mul_(Tensor& self, Scalar other) {
  check_inplace_cast("mul_", self, weak_promote(self.dtype(), other));
  return mul_(self, scalar_tensor(other, {.dtype = self.dtype(), .device = self.device()}));
}
Tensor& add_scaled_(Tensor& self, const Tensor& other, Scalar alpha) {
  TESSERA_CHECK(!alpha.is_floating() || is_floating(promote_types(self.dtype(), other.dtype())),
                "add_scaled_: a floating alpha (", alpha, ") needs floating tensors, got ",
                describe(self), " and ", describe(other));
  const double al = alpha.to_double();
  TESSERA_CUDA_DISPATCH(
      cuda_impl::binary_inplace(cuda_impl::EwOp::kAddScaled, "add_scaled_", self, other, al), self,
      other);
  return binary_inplace("add_scaled_", self, other,
                        [al]<typename A>(A x, A y) -> A { return A(x + A(al) * y); });
}
Tensor& clamp_(Tensor& self, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  if (lo) check_inplace_cast("clamp_", self, weak_promote(self.dtype(), *lo));
  if (hi) check_inplace_cast("clamp_", self, weak_promote(self.dtype(), *hi));
  Tensor r = clamp(self, lo, hi);
  return copy_(self, r);
}
Tensor& masked_fill_(Tensor& self, const Tensor& mask, Scalar value) {
  Tensor r = masked_fill(self, mask, value);
  return copy_(self, r);
}
Tensor& fill_(Tensor& self, Scalar value) {
  TESSERA_CUDA_DISPATCH(cuda_impl::fill_(self, value), self);
  return copy_(self, scalar_tensor(value, {.dtype = self.dtype(), .device = self.device()}));
}
Tensor& zero_(Tensor& self) { return fill_(self, 0); }

}  // namespace tessera::native
