// SPDX-License-Identifier: Apache-2.0
/// @brief Differentiable elementwise ops. Forward: native::*. Backward: native::* over saved
/// tensors, reduced to each input's shape with sum_to (NOTE [saved tensors] in node.h).
#include <tessera/autograd/elementwise.h>

#include <cmath>

#include <tessera/autograd/function.h>
#include <tessera/autograd/shape.h>
#include <tessera/creation.h>
#include <tessera/native/convert.h>
#include <tessera/native/shape.h>

namespace tessera {
namespace {

using autograd::AutogradContext;
using autograd::record1;
using Grads = std::vector<Tensor>;

/// Records a unary op y = f(x) with backward g -> fn(g, saved...). `save` picks what to keep.
template <typename Backward>
Tensor unary(const char* name, const Tensor& x, Tensor y, std::vector<Tensor> save, Backward bw) {
  return record1(
      name, {x}, y,
      [bw](AutogradContext& ctx, const Grads& g) -> Grads { return {bw(g[0], ctx.saved())}; },
      [&save](AutogradContext& ctx) { ctx.save_for_backward(save); });
}

Tensor where_zero(const Tensor& mask, const Tensor& g) {
  return native::where(mask, g, Scalar(0.0));
}

}  // namespace

// ---- binary tensor-tensor
// ------------------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b) {
  const Shape sa = a.shape(), sb = b.shape();
  return record1("AddBackward", {a, b}, native::add(a, b),
                 [sa, sb](AutogradContext& ctx, const Grads& g) -> Grads {
                   return {ctx.needs_input_grad(0) ? sum_to(g[0], sa) : Tensor(),
                           ctx.needs_input_grad(1) ? sum_to(g[0], sb) : Tensor()};
                 });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  const Shape sa = a.shape(), sb = b.shape();
  return record1("SubBackward", {a, b}, native::sub(a, b),
                 [sa, sb](AutogradContext& ctx, const Grads& g) -> Grads {
                   return {ctx.needs_input_grad(0) ? sum_to(g[0], sa) : Tensor(),
                           ctx.needs_input_grad(1) ? sum_to(native::neg(g[0]), sb) : Tensor()};
                 });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  return record1(
      "MulBackward", {a, b}, native::mul(a, b),
      [](AutogradContext& ctx, const Grads& g) -> Grads {
        const auto s = ctx.saved();
        return {ctx.needs_input_grad(0) ? sum_to(native::mul(g[0], s[1]), s[0].shape()) : Tensor(),
                ctx.needs_input_grad(1) ? sum_to(native::mul(g[0], s[0]), s[1].shape()) : Tensor()};
      },
      [&](AutogradContext& ctx) {
        ctx.save_for_backward({a, b});
      });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = native::div(a, b);
  return record1(
      "DivBackward", {a, b}, out,
      [](AutogradContext& ctx, const Grads& g) -> Grads {
        const auto s = ctx.saved();  // a, b, out
        Tensor ga, gb;
        if (ctx.needs_input_grad(0)) ga = sum_to(native::div(g[0], s[1]), s[0].shape());
        if (ctx.needs_input_grad(1))
          gb = sum_to(native::neg(native::div(native::mul(g[0], s[2]), s[1])), s[1].shape());
        return {ga, gb};
      },
      [&](AutogradContext& ctx) {
        ctx.save_for_backward({a, b, out});
      });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = native::pow(a, b);
  return record1(
      "PowBackward", {a, b}, out,
      [](AutogradContext& ctx, const Grads& g) -> Grads {
        const auto s = ctx.saved();  // a, b, out
        Tensor ga, gb;
        if (ctx.needs_input_grad(0)) {
          // b * a^(b-1); where b == 0 the gradient is 0 (also at a == 0), as in PyTorch.
          Tensor d = native::mul(s[1], native::pow(s[0], native::sub(s[1], Scalar(1.0))));
          d = where_zero(native::ne(s[1], Scalar(0.0)), d);
          ga = sum_to(native::mul(g[0], d), s[0].shape());
        }
        if (ctx.needs_input_grad(1))
          gb = sum_to(native::mul(g[0], native::mul(s[2], native::log(s[0]))), s[1].shape());
        return {ga, gb};
      },
      [&](AutogradContext& ctx) {
        ctx.save_for_backward({a, b, out});
      });
}

namespace {
/// maximum/minimum backward: `pick_a` marks where a wins strictly; ties split the gradient.
Tensor extremum(const char* name, const Tensor& a, const Tensor& b, Tensor out, bool is_max) {
  return record1(
      name, {a, b}, out,
      [is_max](AutogradContext& ctx, const Grads& g) -> Grads {
        const auto s = ctx.saved();
        const Tensor tie = native::eq(s[0], s[1]);
        const Tensor a_wins = is_max ? native::gt(s[0], s[1]) : native::lt(s[0], s[1]);
        const Tensor b_wins = is_max ? native::lt(s[0], s[1]) : native::gt(s[0], s[1]);
        const Tensor half = native::mul(g[0], Scalar(0.5));
        Tensor ga, gb;
        if (ctx.needs_input_grad(0))
          ga = sum_to(native::where(a_wins, g[0], where_zero(tie, half)), s[0].shape());
        if (ctx.needs_input_grad(1))
          gb = sum_to(native::where(b_wins, g[0], where_zero(tie, half)), s[1].shape());
        return {ga, gb};
      },
      [&](AutogradContext& ctx) {
        ctx.save_for_backward({a, b});
      });
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return extremum("MaximumBackward", a, b, native::maximum(a, b), true);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return extremum("MinimumBackward", a, b, native::minimum(a, b), false);
}

// ---- binary tensor-scalar ---------------------------------------------------------------------
Tensor add(const Tensor& a, Scalar b) {
  return unary("AddBackward", a, native::add(a, b), {},
               [](const Tensor& g, const Grads&) { return g; });
}
Tensor sub(const Tensor& a, Scalar b) {
  return unary("SubBackward", a, native::sub(a, b), {},
               [](const Tensor& g, const Grads&) { return g; });
}
Tensor rsub(const Tensor& a, Scalar b) {
  return unary("RsubBackward", a, native::rsub(a, b), {},
               [](const Tensor& g, const Grads&) { return native::neg(g); });
}
Tensor mul(const Tensor& a, Scalar b) {
  return unary("MulBackward", a, native::mul(a, b), {},
               [b](const Tensor& g, const Grads&) { return native::mul(g, b); });
}
Tensor div(const Tensor& a, Scalar b) {
  return unary("DivBackward", a, native::div(a, b), {},
               [b](const Tensor& g, const Grads&) { return native::div(g, b); });
}
Tensor rdiv(const Tensor& a, Scalar b) {
  Tensor out = native::rdiv(a, b);
  // d(b/a)/da = -b/a^2 = -out/a
  return unary("RdivBackward", a, out, {a, out}, [](const Tensor& g, const Grads& s) {
    return native::neg(native::div(native::mul(g, s[1]), s[0]));
  });
}
Tensor pow(const Tensor& a, Scalar e) {
  return unary("PowBackward", a, native::pow(a, e), {a}, [e](const Tensor& g, const Grads& s) {
    if (e.to_double() == 0.0) return native::mul(g, Scalar(0.0));
    return native::mul(g, native::mul(native::pow(s[0], Scalar(e.to_double() - 1.0)), e));
  });
}

// ---- unary
// ----------------------------------------------------------------------------------------
Tensor neg(const Tensor& x) {
  return unary("NegBackward", x, native::neg(x), {},
               [](const Tensor& g, const Grads&) { return native::neg(g); });
}
Tensor abs(const Tensor& x) {
  return unary("AbsBackward", x, native::abs(x), {x},
               [](const Tensor& g, const Grads& s) { return native::mul(g, native::sign(s[0])); });
}
Tensor square(const Tensor& x) {
  return unary("SquareBackward", x, native::square(x), {x}, [](const Tensor& g, const Grads& s) {
    return native::mul(native::mul(g, s[0]), Scalar(2.0));
  });
}
Tensor sqrt(const Tensor& x) {
  Tensor y = native::sqrt(x);
  return unary("SqrtBackward", x, y, {y}, [](const Tensor& g, const Grads& s) {
    return native::div(native::mul(g, Scalar(0.5)), s[0]);
  });
}
Tensor rsqrt(const Tensor& x) {
  Tensor y = native::rsqrt(x);
  return unary("RsqrtBackward", x, y, {y}, [](const Tensor& g, const Grads& s) {
    return native::mul(native::mul(g, native::pow(s[0], Scalar(3.0))), Scalar(-0.5));
  });
}
Tensor reciprocal(const Tensor& x) {
  Tensor y = native::reciprocal(x);
  return unary("ReciprocalBackward", x, y, {y}, [](const Tensor& g, const Grads& s) {
    return native::neg(native::mul(g, native::square(s[0])));
  });
}
Tensor exp(const Tensor& x) {
  Tensor y = native::exp(x);
  return unary("ExpBackward", x, y, {y},
               [](const Tensor& g, const Grads& s) { return native::mul(g, s[0]); });
}
Tensor log(const Tensor& x) {
  return unary("LogBackward", x, native::log(x), {x},
               [](const Tensor& g, const Grads& s) { return native::div(g, s[0]); });
}
Tensor log1p(const Tensor& x) {
  return unary("Log1pBackward", x, native::log1p(x), {x}, [](const Tensor& g, const Grads& s) {
    return native::div(g, native::add(s[0], Scalar(1.0)));
  });
}
Tensor sin(const Tensor& x) {
  return unary("SinBackward", x, native::sin(x), {x},
               [](const Tensor& g, const Grads& s) { return native::mul(g, native::cos(s[0])); });
}
Tensor cos(const Tensor& x) {
  return unary("CosBackward", x, native::cos(x), {x}, [](const Tensor& g, const Grads& s) {
    return native::neg(native::mul(g, native::sin(s[0])));
  });
}
Tensor tanh(const Tensor& x) {
  Tensor y = native::tanh(x);
  return unary("TanhBackward", x, y, {y}, [](const Tensor& g, const Grads& s) {
    return native::mul(g, native::rsub(native::square(s[0]), Scalar(1.0)));
  });
}
Tensor sigmoid(const Tensor& x) {
  Tensor y = native::sigmoid(x);
  return unary("SigmoidBackward", x, y, {y}, [](const Tensor& g, const Grads& s) {
    return native::mul(native::mul(g, s[0]), native::rsub(s[0], Scalar(1.0)));
  });
}
Tensor relu(const Tensor& x) {
  Tensor y = native::relu(x);
  return unary("ReluBackward", x, y, {y}, [](const Tensor& g, const Grads& s) {
    return where_zero(native::gt(s[0], Scalar(0.0)), g);
  });
}
Tensor gelu(const Tensor& x, bool tanh_approx) {
  return unary("GeluBackward", x, native::gelu(x, tanh_approx), {x},
               [tanh_approx](const Tensor& g, const Grads& s) {
                 return native::gelu_backward(g, s[0], tanh_approx);
               });
}

// ---- selection ----------------------------------------------------------------------------------
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const Shape sa = a.shape(), sb = b.shape();
  return record1(
      "WhereBackward", {a, b}, native::where(cond, a, b),
      [sa, sb](AutogradContext& ctx, const Grads& g) -> Grads {
        const Tensor c = ctx.saved()[0];
        Tensor ga, gb;
        if (ctx.needs_input_grad(0)) ga = sum_to(where_zero(c, g[0]), sa);
        if (ctx.needs_input_grad(1)) gb = sum_to(where_zero(native::logical_not(c), g[0]), sb);
        return {ga, gb};
      },
      [&](AutogradContext& ctx) { ctx.save_for_backward({cond}); });
}

Tensor where(const Tensor& cond, const Tensor& a, Scalar b) {
  const Shape sa = a.shape();
  return record1(
      "WhereBackward", {a}, native::where(cond, a, b),
      [sa](AutogradContext& ctx, const Grads& g) -> Grads {
        return {sum_to(where_zero(ctx.saved()[0], g[0]), sa)};
      },
      [&](AutogradContext& ctx) { ctx.save_for_backward({cond}); });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
  const Shape sx = x.shape();
  return record1(
      "MaskedFillBackward", {x}, native::masked_fill(x, mask, value),
      [sx](AutogradContext& ctx, const Grads& g) -> Grads {
        return {sum_to(native::masked_fill(g[0], ctx.saved()[0], Scalar(0.0)), sx)};
      },
      [&](AutogradContext& ctx) { ctx.save_for_backward({mask}); });
}

Tensor clamp(const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  return unary("ClampBackward", x, native::clamp(x, lo, hi), {x},
               [lo, hi](const Tensor& g, const Grads& s) {
                 Tensor keep;
                 if (lo) keep = native::ge(s[0], *lo);
                 if (hi) {
                   const Tensor below = native::le(s[0], *hi);
                   keep = keep.defined() ? native::logical_and(keep, below) : below;
                 }
                 return keep.defined() ? where_zero(keep, g) : g;
               });
}

// ---- in place
// ------------------------------------------------------------------------------------
namespace {
void check_inplace(const char* op, const Tensor& self, const Tensor* other = nullptr) {
  if (!GradMode::is_enabled()) return;
  TESSERA_CHECK(!(self.requires_grad() && self.is_leaf()), op,
                ": a leaf tensor that requires grad "
                "cannot be modified in place while recording (wrap the update in NoGradGuard)");
  TESSERA_CHECK(!self.requires_grad() && !(other && other->defined() && other->requires_grad()), op,
                ": in-place ops on tensors that require grad are not supported by the "
                "autograd; use the out-of-place op");
}
}  // namespace

Tensor& add_(Tensor& self, const Tensor& other) {
  check_inplace("add_", self, &other);
  return native::add_(self, other);
}
Tensor& sub_(Tensor& self, const Tensor& other) {
  check_inplace("sub_", self, &other);
  return native::sub_(self, other);
}
Tensor& mul_(Tensor& self, const Tensor& other) {
  check_inplace("mul_", self, &other);
  return native::mul_(self, other);
}
Tensor& div_(Tensor& self, const Tensor& other) {
  check_inplace("div_", self, &other);
  return native::div_(self, other);
}
Tensor& add_(Tensor& self, Scalar other) {
  check_inplace("add_", self);
  return native::add_(self, other);
}
Tensor& mul_(Tensor& self, Scalar other) {
  check_inplace("mul_", self);
  return native::mul_(self, other);
}
Tensor& fill_(Tensor& self, Scalar value) {
  check_inplace("fill_", self);
  return native::fill_(self, value);
}
Tensor& zero_(Tensor& self) {
  check_inplace("zero_", self);
  return native::zero_(self);
}
Tensor& copy_(Tensor& self, const Tensor& src) {
  check_inplace("copy_", self, &src);
  return native::copy_(self, src);
}
Tensor& masked_fill_(Tensor& self, const Tensor& mask, Scalar value) {
  check_inplace("masked_fill_", self);
  return native::masked_fill_(self, mask, value);
}

}  // namespace tessera
