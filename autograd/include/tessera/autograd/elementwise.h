// SPDX-License-Identifier: Apache-2.0
/// @brief Differentiable elementwise ops (tessera::add, mul, exp, gelu, where, ...) and operators.
///
/// Same semantics as tessera::native (broadcasting, promotion); when grad mode is on and an input
/// requires grad, each op records one node whose backward reduces gradients to each input's shape
/// (summing over broadcast dims). Gradients never flow to integer/bool inputs.
#pragma once

#include <optional>

#include <tessera/native/elementwise.h>
#include <tessera/scalar.h>
#include <tessera/tensor.h>

namespace tessera {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
/// a^b; the gradient w.r.t. b uses log(a) (NaN for a < 0, as in PyTorch).
Tensor pow(const Tensor& a, const Tensor& b);
/// Ties send half the gradient to each side (PyTorch).
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, Scalar b);
Tensor sub(const Tensor& a, Scalar b);
Tensor rsub(const Tensor& a, Scalar b);  ///< b - a
Tensor mul(const Tensor& a, Scalar b);
Tensor div(const Tensor& a, Scalar b);
Tensor rdiv(const Tensor& a, Scalar b);  ///< b / a
Tensor pow(const Tensor& a, Scalar exponent);

Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);  ///< gradient sign(x) (0 at 0)
Tensor square(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);  ///< gradient 0 at 0
Tensor gelu(const Tensor& x, bool tanh_approx = false);

/// cond ? a : b (cond bool, not differentiable).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, Scalar b);
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value);
/// Gradient passes where lo <= x <= hi.
Tensor clamp(const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi);

// Non-differentiable ops, re-exported so user code needs one namespace.
using native::allclose;
using native::eq;
using native::equal;
using native::ge;
using native::gt;
using native::isfinite;
using native::isnan;
using native::le;
using native::logical_and;
using native::logical_not;
using native::logical_or;
using native::lt;
using native::ne;
using native::sign;

// ---- in place: only on tensors that need no gradient (see docs/autograd.md) --------------------
/// These throw when grad mode is on and self or other requires grad: in-place differentiable ops
/// are not supported (a leaf that requires grad must never be modified in place while recording,
/// as in PyTorch). Under NoGradGuard they work on anything (optimizer updates) and bump the
/// version counter, so a graph that saved `self` fails loudly at backward.
Tensor& add_(Tensor& self, const Tensor& other);
Tensor& sub_(Tensor& self, const Tensor& other);
Tensor& mul_(Tensor& self, const Tensor& other);
Tensor& div_(Tensor& self, const Tensor& other);
Tensor& add_(Tensor& self, Scalar other);
Tensor& mul_(Tensor& self, Scalar other);
Tensor& fill_(Tensor& self, Scalar value);
Tensor& zero_(Tensor& self);
Tensor& copy_(Tensor& self, const Tensor& src);
Tensor& masked_fill_(Tensor& self, const Tensor& mask, Scalar value);

// ---- operators -----------------------------------------------------------------------------
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, Scalar b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, Scalar b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, Scalar b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, Scalar b) { return div(a, b); }
inline Tensor operator+(Scalar a, const Tensor& b) { return add(b, a); }
inline Tensor operator-(Scalar a, const Tensor& b) { return rsub(b, a); }
inline Tensor operator*(Scalar a, const Tensor& b) { return mul(b, a); }
inline Tensor operator/(Scalar a, const Tensor& b) { return rdiv(b, a); }
inline Tensor operator-(const Tensor& x) { return neg(x); }

}  // namespace tessera
