// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA reductions vs the CPU: every reduction, dims/keepdim, odd and long rows, the column
/// path, NaN and ties, determinism.
#include <catch2/catch.hpp>

#include <functional>

#include "cuda/cuda_test_util.h"

using namespace tessera;
using namespace tessera::test;

namespace {

using Reduce = std::function<Tensor(const Tensor&, const Shape&, bool)>;

/// Summation order differs (blocks of 2^15 on the CPU, a 256-way tree here), both in float64:
/// the results agree to about one rounding of the output dtype.
Tol reduce_tol(DType t) {
  Tol tol = cuda_tol(t);
  if (t == kFloat32) tol = {1e-5, 1e-5};
  return tol;
}

}  // namespace

TEST_CASE("cuda reductions match the CPU over any dims", "[cuda][reduce]") {
  std::mt19937 rng(5);
  const std::vector<std::pair<std::string, Reduce>> ops = {
      {"sum", [](auto& x, auto& d, bool k) { return native::sum(x, d, k); }},
      {"mean", [](auto& x, auto& d, bool k) { return native::mean(x, d, k); }},
      {"prod", [](auto& x, auto& d, bool k) { return native::prod(x, d, k); }},
      {"amax", [](auto& x, auto& d, bool k) { return native::amax(x, d, k); }},
      {"amin", [](auto& x, auto& d, bool k) { return native::amin(x, d, k); }},
      {"var", [](auto& x, auto& d, bool k) { return native::var(x, d, 1, k); }},
      {"std", [](auto& x, auto& d, bool k) { return native::std(x, d, 0, k); }},
      {"logsumexp", [](auto& x, auto& d, bool k) { return native::logsumexp(x, d, k); }},
  };
  const std::vector<Shape> dim_sets = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {0, 1}};
  for (const auto& [name, f] : ops) {
    for (DType t : {kFloat32, kBFloat16, kFloat16, kFloat64, kInt32, kInt64, kBool}) {
      if (!is_floating(t) && (name == "var" || name == "std")) continue;
      if (t == kBool && name == "prod") continue;
      for (Layout l : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
        const Tensor x = random_tensor({6, 5, 37}, t, rng, l, name == "prod" ? 0.8 : -2,
                                       name == "prod" ? 1.2 : 2);
        for (const Shape& dims : dim_sets) {
          for (bool keep : {false, true}) {
            INFO(name << " " << dtype_name(t) << " " << layout_name(l) << " dims "
                      << shape_str(dims) << " keepdim " << keep);
            CHECK(check_cuda(name, f(to_cuda_view(x), dims, keep), f(x, dims, keep),
                             reduce_tol(f(x, dims, keep).dtype())));
          }
        }
      }
    }
  }
}

TEST_CASE("cuda reductions: long rows, column path, empty and 0-d inputs", "[cuda][reduce]") {
  std::mt19937 rng(6);
  // Rows longer than the block (threads stride), and a row of one.
  // Sums of rows longer than 2^17 are split across blocks (NOTE [split rows] in reduce.cu).
  for (DType t : {kFloat32, kInt32, kBFloat16}) {
    const Tensor x = random_tensor({2, 200003}, t, rng);
    const Tensor xd = native::to(x, kCuda);
    INFO(t);
    CHECK(check_cuda("split sum", native::sum(xd, {1}), native::sum(x, {1}),
                     reduce_tol(native::sum(x, {1}).dtype())));
    CHECK(check_cuda("split mean", native::mean(xd, {1}), native::mean(x, {1}),
                     reduce_tol(native::mean(x, {1}).dtype())));
    CHECK(check_cuda("split full sum", native::sum(xd), native::sum(x),
                     reduce_tol(native::sum(x).dtype())));
    CHECK(bitwise_equal(to_cpu(native::sum(xd)), to_cpu(native::sum(xd))));
  }
  for (const Shape& shape : std::vector<Shape>{{3, 5001}, {2000, 1}, {1, 1}, {7}}) {
    const Tensor x = random_tensor(shape, kFloat32, rng);
    CHECK(check_cuda("sum", native::sum(to_cuda_view(x), {-1}), native::sum(x, {-1}),
                     reduce_tol(kFloat32)));
    CHECK(check_cuda("logsumexp", native::logsumexp(to_cuda_view(x), {-1}),
                     native::logsumexp(x, {-1})));
    CHECK(check_cuda("var", native::var(to_cuda_view(x), {-1}, 0), native::var(x, {-1}, 0)));
  }
  // Column path: contiguous input reduced over its leading dims (bias gradients).
  for (DType t : {kFloat32, kBFloat16, kInt32}) {
    const Tensor x = random_tensor({33, 4, 9}, t, rng);
    CHECK(check_cuda("sum cols", native::sum(native::to(x, kCuda), {0}), native::sum(x, {0}),
                     reduce_tol(native::sum(x, {0}).dtype())));
    CHECK(check_cuda("sum cols2", native::sum(native::to(x, kCuda), {0, 1}), native::sum(x, {0, 1}),
                     reduce_tol(native::sum(x, {0}).dtype())));
    CHECK(check_cuda("mean cols", native::mean(native::to(x, kCuda), {0}), native::mean(x, {0}),
                     reduce_tol(native::mean(x, {0}).dtype())));
  }
  // Empty reductions: sum 0, prod 1, mean NaN, logsumexp -inf; amax of an empty dim is an error.
  const Tensor e = zeros({3, 0});
  const Tensor ed = native::to(e, kCuda);
  CHECK(check_cuda("sum empty", native::sum(ed, {1}), native::sum(e, {1})));
  CHECK(check_cuda("prod empty", native::prod(ed, {1}), native::prod(e, {1})));
  CHECK(check_cuda("mean empty", native::mean(ed, {1}), native::mean(e, {1})));
  CHECK(check_cuda("logsumexp empty", native::logsumexp(ed, {1}), native::logsumexp(e, {1})));
  CHECK_THROWS_WITH(native::amax(ed, {1}), Catch::Contains("empty dimension"));
  const Tensor s = scalar_tensor(3.5);
  CHECK(check_cuda("sum 0-d", native::sum(native::to(s, kCuda)), native::sum(s)));
  // Mean of integers is float32 (sum in int64, divide in float64).
  const Tensor big = full({5}, int64_t{1} << 40, {.dtype = kInt64});
  CHECK(check_cuda("mean int", native::mean(native::to(big, kCuda)), native::mean(big)));
  CHECK(check_cuda("sum int", native::sum(native::to(big, kCuda)), native::sum(big)));
}

TEST_CASE("cuda max/min/argmax/argmin: first index on ties, NaN wins", "[cuda][reduce]") {
  std::mt19937 rng(7);
  for (DType t : {kFloat32, kBFloat16, kInt64, kInt32}) {
    // Small integers give many ties.
    const Tensor x = random_tensor({9, 300, 4}, t, rng, Layout::Transposed, -3, 3);
    for (int64_t dim : {0, 1, 2, -1}) {
      for (bool keep : {false, true}) {
        INFO(dtype_name(t) << " dim " << dim << " keepdim " << keep);
        const auto [v, i] = native::max(x, dim, keep);
        const auto [vd, id] = native::max(to_cuda_view(x), dim, keep);
        CHECK(check_cuda("max values", vd, v));
        CHECK(check_cuda("max indices", id, i));
        const auto [v2, i2] = native::min(x, dim, keep);
        const auto [vd2, id2] = native::min(to_cuda_view(x), dim, keep);
        CHECK(check_cuda("min values", vd2, v2));
        CHECK(check_cuda("min indices", id2, i2));
        CHECK(check_cuda("argmax", native::argmax(to_cuda_view(x), dim, keep),
                         native::argmax(x, dim, keep)));
        CHECK(check_cuda("argmin", native::argmin(to_cuda_view(x), dim, keep),
                         native::argmin(x, dim, keep)));
      }
    }
  }
  const Tensor n = tensor({1.0f, NAN, 5.0f, NAN, -INFINITY});
  const Tensor nd = native::to(n, kCuda);
  CHECK(native::argmax(nd, 0).item<int64_t>() == 1);
  CHECK(native::argmin(nd, 0).item<int64_t>() == 1);
  CHECK(std::isnan(native::amax(nd).item<double>()));
  CHECK(check_cuda("logsumexp nan", native::logsumexp(nd, {0}), native::logsumexp(n, {0})));
  const Tensor inf = tensor({-INFINITY, -INFINITY});
  CHECK(check_cuda("logsumexp -inf", native::logsumexp(native::to(inf, kCuda), {0}),
                   native::logsumexp(inf, {0})));
}

TEST_CASE("cuda softmax and log_softmax (composed of dispatched ops) match the CPU",
          "[cuda][reduce]") {
  std::mt19937 rng(8);
  for (DType t : {kFloat32, kBFloat16, kFloat16}) {
    const Tensor x = random_tensor({4, 3, 50}, t, rng, Layout::Strided, -8, 8);
    for (int64_t dim : {0, 2}) {
      INFO(dtype_name(t) << " dim " << dim);
      CHECK(check_cuda("softmax", native::softmax(to_cuda_view(x), dim), native::softmax(x, dim)));
      CHECK(check_cuda("log_softmax", native::log_softmax(to_cuda_view(x), dim),
                       native::log_softmax(x, dim)));
    }
  }
}

TEST_CASE("cuda reductions are bit-identical from run to run", "[cuda][reduce][determinism]") {
  std::mt19937 rng(9);
  const Tensor x =
      native::to(random_tensor({17, 4099}, kFloat32, rng, Layout::Contiguous, -1e3, 1e3), kCuda);
  const Tensor a = to_cpu(native::sum(x, {1})), b = to_cpu(native::sum(x, {1}));
  CHECK(bitwise_equal(a, b));
  const Tensor c = to_cpu(native::var(x, {0})), d = to_cpu(native::var(x, {0}));
  CHECK(bitwise_equal(c, d));
}
