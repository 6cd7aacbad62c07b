// SPDX-License-Identifier: Apache-2.0
/// @brief gradcheck: random projections of the outputs, one backward each, vs central differences.
#include <tessera/autograd/gradcheck.h>

#include <cmath>
#include <sstream>

#include <tessera/autograd/engine.h>
#include <tessera/autograd/grad_mode.h>
#include <tessera/autograd/node.h>
#include <tessera/creation.h>
#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>
#include <tessera/native/reduce.h>
#include <tessera/random.h>

namespace tessera::autograd {
namespace {

/// <r_k, f(x)> for each projection k, in float64.
std::vector<double> project(const std::vector<Tensor>& outs,
                            const std::vector<std::vector<Tensor>>& r) {
  std::vector<double> v(r.size(), 0.0);
  for (size_t k = 0; k < r.size(); ++k) {
    for (size_t j = 0; j < outs.size(); ++j) {
      if (!r[k][j].defined()) continue;
      const Tensor prod = native::mul(native::to(outs[j], kFloat64), r[k][j]);
      v[k] += native::sum(prod).item<double>();
    }
  }
  return v;
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, double eps,
                          double atol, double rtol, int num_projections) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.requires_grad()) continue;
    TESSERA_CHECK(x.dtype() == kFloat64 && x.is_contiguous() && x.is_leaf(), "gradcheck: input ", i,
                  " must be a contiguous float64 leaf, got ", describe(x));
  }
  // Detached copies that we perturb: fn sees fresh leaves so the perturbation never affects
  // a graph recorded through the caller's tensors.
  std::vector<Tensor> leaves;
  for (const Tensor& x : inputs) {
    if (!x.defined()) {
      leaves.push_back(x);
      continue;
    }
    Tensor c = native::clone(x);
    if (x.requires_grad()) c.requires_grad_(true);
    leaves.push_back(c);
  }
  std::vector<Tensor> outs = fn(leaves);
  Generator gen(0x9e3779b97f4a7c15ULL);
  std::vector<std::vector<Tensor>> r(num_projections);
  for (int k = 0; k < num_projections; ++k) {
    for (const Tensor& o : outs) {
      r[k].push_back(o.defined() && is_floating(o.dtype()) && o.requires_grad()
                         ? randn(o.shape(), {.dtype = kFloat64}, &gen)
                         : Tensor());
    }
  }
  // Analytic: one autograd::grad per projection.
  std::vector<size_t> checked;
  std::vector<Tensor> grad_inputs;
  for (size_t i = 0; i < leaves.size(); ++i)
    if (leaves[i].defined() && leaves[i].requires_grad()) {
      checked.push_back(i);
      grad_inputs.push_back(leaves[i]);
    }
  std::vector<std::vector<Tensor>> analytic(num_projections);
  for (int k = 0; k < num_projections; ++k) {
    std::vector<Tensor> roots, seeds;
    for (size_t j = 0; j < outs.size(); ++j) {
      if (!r[k][j].defined()) continue;
      roots.push_back(outs[j]);
      seeds.push_back(native::to(r[k][j], outs[j].dtype()));
    }
    if (roots.empty()) {
      for (size_t c = 0; c < checked.size(); ++c) analytic[k].push_back(Tensor());
      continue;
    }
    analytic[k] = grad(roots, grad_inputs, seeds, /*retain_graph=*/true, /*allow_unused=*/true);
  }
  // Numeric.
  GradcheckResult res;
  NoGradGuard no_grad;
  double worst_excess = -1.0;
  for (size_t c = 0; c < checked.size(); ++c) {
    const size_t i = checked[c];
    Tensor x = leaves[i];
    double* p = x.data<double>();
    std::vector<std::vector<double>> an_vals(num_projections);
    for (int k = 0; k < num_projections; ++k) {
      const Tensor& ga = analytic[k][c];
      an_vals[k] = ga.defined() ? to_vector<double>(native::to(ga, kFloat64))
                                : std::vector<double>(x.numel(), 0.0);
    }
    for (int64_t e = 0; e < x.numel(); ++e) {
      const double orig = p[e];
      p[e] = orig + eps;
      const auto plus = project(fn(leaves), r);
      p[e] = orig - eps;
      const auto minus = project(fn(leaves), r);
      p[e] = orig;
      for (int k = 0; k < num_projections; ++k) {
        const double numeric = (plus[k] - minus[k]) / (2 * eps);
        const double an = an_vals[k][e];
        const double err = std::abs(an - numeric);
        const double excess = err - (atol + rtol * std::abs(numeric));
        if (err > res.max_abs_error) res.max_abs_error = err;
        if (excess > worst_excess) {
          worst_excess = excess;
          res.worst_input = static_cast<int64_t>(i);
          res.worst_element = e;
          res.worst_analytic = an;
          res.worst_numeric = numeric;
        }
      }
    }
  }
  res.ok = worst_excess <= 0.0;
  std::ostringstream os;
  os << (res.ok ? "gradcheck passed" : "gradcheck FAILED") << ": worst element "
     << res.worst_element << " of input " << res.worst_input << ": analytic " << res.worst_analytic
     << ", numeric " << res.worst_numeric << " (max abs error " << res.max_abs_error << ", atol "
     << atol << ", rtol " << rtol << ")";
  res.message = os.str();
  return res;
}

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  return gradcheck([&fn](const std::vector<Tensor>& xs) { return std::vector<Tensor>{fn(xs)}; },
                   inputs, eps, atol, rtol, 2);
}

}  // namespace tessera::autograd
