// SPDX-License-Identifier: Apache-2.0
/// @brief Elementwise ops with NumPy broadcasting and type promotion (no gradient recording).
///
/// Binary ops broadcast both operands to a common shape and compute in promote_types(a, b)
/// (docs/tensor.md). A Scalar operand is "weak": it does not widen a tensor's dtype within its
/// category (float32 tensor + 2.5 stays float32), but an integer tensor with a floating scalar
/// gives float32. 16-bit float inputs compute in float32 and round once on store.
#pragma once

#include <optional>

#include <tessera/scalar.h>
#include <tessera/tensor.h>

namespace tessera::native {

// ---- binary arithmetic ------------------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
/// True division: integer inputs give float32.
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, Scalar b);
Tensor sub(const Tensor& a, Scalar b);
Tensor rsub(const Tensor& a, Scalar b);  ///< b - a
Tensor mul(const Tensor& a, Scalar b);
Tensor div(const Tensor& a, Scalar b);
Tensor rdiv(const Tensor& a, Scalar b);  ///< b / a
Tensor pow(const Tensor& a, Scalar exponent);

// ---- comparisons and logic (bool results) -----------------------------------------------------
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, Scalar b);
Tensor ne(const Tensor& a, Scalar b);
Tensor lt(const Tensor& a, Scalar b);
Tensor le(const Tensor& a, Scalar b);
Tensor gt(const Tensor& a, Scalar b);
Tensor ge(const Tensor& a, Scalar b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
/// True where all elements of a and b are within atol + rtol * |b| (NaN != NaN).
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
/// Same shape and exactly equal values (after promotion).
bool equal(const Tensor& a, const Tensor& b);

// ---- unary math (floating; integer inputs give float32 except neg/abs/sign/square) -----------
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor square(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
/// GELU: exact 0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation when `tanh_approx`.
Tensor gelu(const Tensor& x, bool tanh_approx = false);
/// d gelu(x) / dx * grad.
Tensor gelu_backward(const Tensor& grad, const Tensor& x, bool tanh_approx = false);
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);  ///< half to even, like torch.round
Tensor trunc(const Tensor& x);
Tensor isnan(const Tensor& x);
Tensor isfinite(const Tensor& x);

// ---- selection ----------------------------------------------------------------------------------
/// cond ? a : b, all three broadcast; cond must be bool.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, Scalar b);
/// x with `value` where mask (bool, broadcastable to x) is true.
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value);
/// Clamps to [lo, hi]; either bound may be absent.
Tensor clamp(const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi);

// ---- in place (the result keeps self's dtype; `other` broadcasts to self's shape) ------------
Tensor& add_(Tensor& self, const Tensor& other);
Tensor& sub_(Tensor& self, const Tensor& other);
Tensor& mul_(Tensor& self, const Tensor& other);
Tensor& div_(Tensor& self, const Tensor& other);
Tensor& add_(Tensor& self, Scalar other);
Tensor& mul_(Tensor& self, Scalar other);
/// self += alpha * other (axpy).
Tensor& add_scaled_(Tensor& self, const Tensor& other, Scalar alpha);
Tensor& clamp_(Tensor& self, std::optional<Scalar> lo, std::optional<Scalar> hi);
Tensor& masked_fill_(Tensor& self, const Tensor& mask, Scalar value);
Tensor& fill_(Tensor& self, Scalar value);
Tensor& zero_(Tensor& self);

}  // namespace tessera::native
