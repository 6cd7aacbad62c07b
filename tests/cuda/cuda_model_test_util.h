// SPDX-License-Identifier: Apache-2.0
/// @brief Comparing the parameters of a model trained on CUDA with the same model trained on the
/// CPU (tests/cuda/test_cuda_gpt.cpp, test_cuda_translation.cpp).
///
/// NOTE [key bias]: the attention key bias b_k has a gradient of exactly zero in exact arithmetic
/// (it adds q . b_k to every score of a row, and softmax ignores a per-row constant), so its float
/// gradient is rounding noise (~1e-9) that differs between devices. Adam divides by sqrt(v) + eps
/// and turns that noise into steps of up to lr in either direction, so these entries are only
/// bounded by 2 * lr * steps; every other entry must match to `tol`.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_test_util.h"

namespace tessera::test {

/// Checks one parameter (`dev` on any device, `ref` on any device) named `name`; see NOTE [key
/// bias] for `key_bias_bound`.
inline bool check_trained_param(const std::string& name, const Tensor& dev, const Tensor& ref,
                                Tol tol, double key_bias_bound) {
  const Tensor a = to_cpu(dev), b = to_cpu(ref);
  const Tol loose{key_bias_bound, 0};
  if (name.ends_with("k_proj.bias")) return check_close(name, a, Ref::of(b), loose);
  if (name.ends_with("c_attn.bias")) {  // fused (3C): q | k | v
    const int64_t c = a.size(0) / 3;
    bool ok = check_close(name + " q", native::narrow(a, 0, 0, c),
                          Ref::of(native::narrow(b, 0, 0, c)), tol);
    ok &= check_close(name + " k", native::narrow(a, 0, c, c), Ref::of(native::narrow(b, 0, c, c)),
                      loose);
    ok &= check_close(name + " v", native::narrow(a, 0, 2 * c, c),
                      Ref::of(native::narrow(b, 0, 2 * c, c)), tol);
    return ok;
  }
  return check_close(name, a, Ref::of(b), tol);
}

/// Every named parameter of `a` against the same-named one of `b`.
inline void check_trained_params(const std::string& what,
                                 const std::vector<std::pair<std::string, Tensor>>& a,
                                 const std::vector<std::pair<std::string, Tensor>>& b, Tol tol,
                                 double key_bias_bound) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(what << ": " << a[i].first);
    CHECK(a[i].first == b[i].first);
    CHECK(check_trained_param(what + " " + a[i].first, a[i].second, b[i].second, tol,
                              key_bias_bound));
  }
}

}  // namespace tessera::test
