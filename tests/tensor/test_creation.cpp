// SPDX-License-Identifier: Apache-2.0
/// @brief Creation functions (zeros/ones/full/arange/linspace/eye/from_vector/tensor/*_like),
/// TensorOptions, item<T>(), to_vector, and tensor metadata (strides, contiguity, storage sharing,
/// version counters), against values computed in the test.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <tessera/allocator.h>
#include <tessera/creation.h>
#include <tessera/cuda.h>
#include <tessera/native.h>

#include "test_util.h"

using namespace tessera;
using namespace tessera::test;
namespace nt = tessera::native;
using Catch::Contains;

TEST_CASE("zeros, ones, full, empty and *_like", "[tensor][creation]") {
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16, kInt32, kInt64, kBool);
  const Shape shape =
      GENERATE(Shape{}, Shape{1}, Shape{3}, Shape{7, 17}, Shape{2, 0, 3}, Shape{129, 257});
  CAPTURE(dt, shape_str(shape));
  const Tensor z = zeros(shape, {.dtype = dt});
  CHECK(z.dtype() == dt);
  CHECK(z.shape() == shape);
  CHECK(z.is_contiguous());
  CHECK(z.numel() == numel_of(shape));
  CHECK(z.nbytes() == numel_of(shape) * static_cast<int64_t>(element_size(dt)));
  CHECK(z.offset() == 0);
  check_equal("zeros", z, Ref(shape));
  Ref one(shape);
  for (auto& v : one.v) v = 1;
  check_equal("ones", ones(shape, {.dtype = dt}), one);
  const double fill = dt == kBool ? 1 : is_integral(dt) ? -7 : -2.75;
  Ref filled(shape);
  for (auto& v : filled.v) v = fill;
  check_equal("full", full(shape, fill, {.dtype = dt}), filled);
  const Tensor e = empty(shape, {.dtype = dt});
  CHECK(e.shape() == shape);
  CHECK(e.dtype() == dt);
  const Tensor src = nt::transpose(ones({shape.empty() ? 1 : 2, 3}, {.dtype = dt}), 0, 1);
  CHECK(zeros_like(src).shape() == src.shape());
  CHECK(zeros_like(src).dtype() == dt);
  CHECK(zeros_like(src).is_contiguous());
  CHECK_FALSE(ones_like(src).shares_storage(src));
  check_equal("full_like", full_like(src, fill), [&] {
    Ref r(src.shape());
    for (auto& v : r.v) v = fill;
    return r;
  }());
  CHECK(empty_like(src).shape() == src.shape());
  // Strides are row-major.
  if (shape == Shape{7, 17}) CHECK(z.strides() == Shape{17, 1});
}

TEST_CASE("creation errors", "[tensor][creation][errors]") {
  REQUIRE_THROWS_WITH(zeros({2, -1}), Contains("[2, -1]"));
  REQUIRE_THROWS_WITH(empty({int64_t{1} << 40, int64_t{1} << 40}), Contains("overflow"));
  REQUIRE_THROWS_WITH(eye(-1), Contains("eye"));
  REQUIRE_THROWS_WITH(linspace(0, 1, -1), Contains("linspace"));
  REQUIRE_THROWS_WITH(linspace(0, 1, 3, {.dtype = kInt64}),
                      Contains("linspace") && Contains("int64"));
  REQUIRE_THROWS_WITH(from_vector(std::vector<float>{1, 2, 3}, {2, 2}),
                      Contains("from_vector") && Contains("[2, 2]"));
  REQUIRE_THROWS_WITH(zeros({2}, {.dtype = kInt64, .requires_grad = true}),
                      Contains("requires_grad"));
  // Without a CUDA backend (or device) a cuda tensor cannot be made; tests/cuda covers the backend.
  if (!cuda::is_available()) REQUIRE_THROWS_AS(zeros({2}, {.device = Device("cuda:0")}), Error);
  REQUIRE_THROWS_AS(Device("tpu"), Error);
}

TEST_CASE("arange", "[tensor][creation][arange]") {
  SECTION("integer arguments give int64") {
    const Tensor a = arange(5);
    CHECK(a.dtype() == kInt64);
    check_equal("arange(5)", a, Ref({5}, {0, 1, 2, 3, 4}));
    check_equal("arange(2, 11, 3)", arange(2, 11, 3), Ref({3}, {2, 5, 8}));
    check_equal("arange(10, 0, -3)", arange(10, 0, -3), Ref({4}, {10, 7, 4, 1}));
    check_equal("arange(-3, 3)", arange(-3, 3), Ref({6}, {-3, -2, -1, 0, 1, 2}));
    CHECK(arange(4, 4).numel() == 0);
    CHECK(arange(0, 5, 1, {.dtype = kInt32}).dtype() == kInt32);
    // Exact beyond 2^53: integer steps must not go through double.
    const int64_t big = (int64_t{1} << 60) + 1;
    const Tensor b = arange(big, big + 3);
    REQUIRE(b.numel() == 3);
    CHECK(get_i64(b, {0}) == big);
    CHECK(get_i64(b, {2}) == big + 2);
  }
  SECTION("floating arguments give float32") {
    const Tensor f = arange(0.0, 1.0, 0.25);
    CHECK(f.dtype() == kFloat32);
    check_equal("arange(0, 1, .25)", f, Ref({4}, {0, 0.25, 0.5, 0.75}));
    check_equal("arange(1, -1, -0.5)", arange(1.0, -1.0, -0.5), Ref({4}, {1, 0.5, 0, -0.5}));
    CHECK(arange(2.5).dtype() == kFloat32);
    check_equal("arange(2.5)", arange(2.5), Ref({3}, {0, 1, 2}));
    // Length is ceil((end - start) / step), as torch: arange(0, 1, 0.3) has 4 elements.
    CHECK(arange(0.0, 1.0, 0.3).numel() == 4);
    const Tensor d = arange(0.0, 1.0, 0.1, {.dtype = kFloat64});
    CHECK(d.numel() == 10);
    for (int64_t i = 0; i < 10; ++i) CHECK(get(d, {i}) == 0.1 * static_cast<double>(i));
  }
  SECTION("errors") {
    REQUIRE_THROWS_WITH(arange(0, 5, 0), Contains("arange") && Contains("step"));
    REQUIRE_THROWS_WITH(arange(0, 5, -1), Contains("arange") && Contains("sign"));
    REQUIRE_THROWS_WITH(arange(5, 0, 1), Contains("arange") && Contains("sign"));
    REQUIRE_THROWS_WITH(arange(0.0, std::numeric_limits<double>::infinity(), 1.0),
                        Contains("arange"));
    REQUIRE_THROWS_WITH(arange(0.0, std::nan(""), 1.0), Contains("arange"));
  }
}

TEST_CASE("linspace hits both ends exactly", "[tensor][creation][linspace]") {
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16);
  const int64_t steps = GENERATE(0, 1, 2, 3, 7, 100, 1001);
  CAPTURE(dt, steps);
  const double a = -1.3, b = 2.9;
  const Tensor l = linspace(a, b, steps, {.dtype = dt});
  REQUIRE(l.shape() == Shape{steps});
  CHECK(l.dtype() == dt);
  if (steps == 0) return;
  CHECK(get(l, {0}) == round_to(dt, a));  // torch.linspace(a, b, 1) == [a]
  if (steps > 1) CHECK(get(l, {steps - 1}) == round_to(dt, b));
  Ref ref(Shape{steps});
  for (int64_t i = 0; i < steps; ++i)
    ref.v[i] = round_to(
        dt, steps == 1 ? a : a + (b - a) * static_cast<double>(i) / static_cast<double>(steps - 1));
  check_close("linspace", l, ref, Tol{1e-12 + tol_for(dt).atol, tol_for(dt).rtol});
}

TEST_CASE("eye", "[tensor][creation]") {
  const DType dt = GENERATE(kFloat32, kInt64, kBool, kBFloat16);
  for (int64_t n : {0, 1, 5}) {
    const Tensor e = eye(n, {.dtype = dt});
    REQUIRE(e.shape() == Shape{n, n});
    Ref ref(Shape{n, n});
    for (int64_t i = 0; i < n; ++i) ref.at({i, i}) = 1;
    check_equal("eye", e, ref);
  }
}

TEST_CASE("from_vector, tensor() and to_vector", "[tensor][creation]") {
  const Tensor f = tensor({1.5f, -2.f, 3.25f});
  CHECK(f.dtype() == kFloat32);
  check_equal("tensor(float)", f, Ref({3}, {1.5, -2, 3.25}));
  CHECK(tensor({1.0, 2.0}).dtype() == kFloat64);
  CHECK(tensor({1, 2}).dtype() == kInt64);
  CHECK(tensor({int64_t{1}, int64_t{2}}).dtype() == kInt64);
  CHECK(tensor({true, false}).dtype() == kBool);
  CHECK(tensor({1, 2}, {.dtype = kFloat16}).dtype() == kFloat16);
  CHECK(tensor({1.5f}, {.dtype = kFloat64}).item<double>() == 1.5);
  const Tensor m = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(m.shape() == Shape{2, 3});
  CHECK(get(m, {1, 0}) == 4);
  const Tensor c = from_vector(std::vector<int32_t>{7, 8}, {2}, {.dtype = kFloat32});
  CHECK(c.dtype() == kFloat32);
  CHECK(from_vector(std::vector<bool>{true, false, true}).dtype() == kBool);
  CHECK(from_vector(std::vector<float>{}).shape() == Shape{0});
  CHECK(from_vector(std::vector<float>{4}, {}).dim() == 0);

  // to_vector reads any layout in row-major order, converting.
  const Tensor t = nt::transpose(m, 0, 1);
  CHECK(to_vector<double>(t) == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(to_vector<int64_t>(nt::mul(t, 1.5)) == std::vector<int64_t>{1, 6, 3, 7, 4, 9});
  CHECK(to_vector<bool>(nt::gt(t, 2.5)) == std::vector<bool>{false, true, false, true, true, true});
  CHECK(to_vector<float>(nt::slice(m, 1, 0, 3, 2)) == std::vector<float>{1, 3, 4, 6});
  const auto h = to_vector<BFloat16>(tensor({1.0f, 3.0f}));
  CHECK(static_cast<float>(h[1]) == 3.0f);
}

TEST_CASE("item<T>() converts a one-element tensor of any dtype", "[tensor][creation][item]") {
  CHECK(scalar_tensor(2.75).item<float>() == 2.75f);
  CHECK(scalar_tensor(2.75, {.dtype = kFloat64}).item<double>() == 2.75);
  CHECK(scalar_tensor(2.75, {.dtype = kBFloat16}).item<double>() == 2.75);
  CHECK(scalar_tensor(-3, {.dtype = kInt32}).item<int32_t>() == -3);
  CHECK(scalar_tensor(-3.9).item<int64_t>() == -3);
  CHECK(scalar_tensor(true, {.dtype = kBool}).item<bool>());
  CHECK(scalar_tensor(0.25).item<bool>());
  CHECK_FALSE(scalar_tensor(0, {.dtype = kFloat16}).item<bool>());
  CHECK(ones({1, 1, 1}, {.dtype = kInt64}).item<int64_t>() == 1);
  const int64_t big = (int64_t{1} << 62) + 3;
  CHECK(full({1}, big, {.dtype = kInt64}).item<int64_t>() == big);
  REQUIRE_THROWS_WITH(ones({2}).item<float>(), Contains("item") && Contains("[2]"));
  REQUIRE_THROWS_WITH(zeros({0}).item<float>(), Contains("item"));
}

TEST_CASE("tensor metadata, data<T>(), storage and versions", "[tensor][core]") {
  const Tensor x = zeros({2, 3, 4});
  CHECK(x.size(-1) == 4);
  CHECK(x.stride(0) == 12);
  CHECK(x.dim() == 3);
  CHECK(x.element_size() == 4);
  CHECK(x.device() == kCPU);
  REQUIRE_THROWS_WITH(x.size(3), Contains("size") && Contains("out of range"));
  REQUIRE_THROWS_WITH(x.data<double>(), Contains("data<float64>") && Contains("float32"));
  CHECK(x.data<float>() == x.data_ptr());
  const Tensor n = nt::narrow(x, 2, 1, 2);
  CHECK(static_cast<char*>(n.data_ptr()) - static_cast<char*>(x.data_ptr()) == 4);
  CHECK_FALSE(n.is_contiguous());
  CHECK(nt::narrow(x, 0, 1, 1).is_contiguous());
  CHECK(nt::unsqueeze(nt::select(x, 2, 0), 2).shape() == Shape{2, 3, 1});
  CHECK(n.shares_storage(x));
  CHECK_FALSE(n.is_same(x));
  const Tensor copy = x;  // handle copy
  CHECK(copy.is_same(x));
  CHECK(zeros({3, 0}).is_contiguous());
  CHECK(nt::expand(zeros({1}), {0}).is_contiguous());
  CHECK(describe(x) == "tensor(shape=[2, 3, 4], dtype=float32, device=cpu)");
  CHECK(describe(Tensor()) == "undefined tensor");
  REQUIRE_THROWS_WITH(Tensor().dim(), Contains("undefined"));
  const uint64_t v0 = x.version();
  Tensor w = nt::select(x, 0, 1);
  nt::fill_(w, 3);
  CHECK(x.version() > v0);
  CHECK(nt::sum(x).item<float>() == 36);
  // Allocator statistics see live bytes.
  const int64_t before = memory_stats().allocated;
  {
    const Tensor big = empty({1000, 1000});
    CHECK(memory_stats().allocated >= before + 4000000);
  }
  CHECK(memory_stats().allocated == before);
}

TEST_CASE("Device parsing", "[tensor][core]") {
  CHECK(Device("cpu") == kCPU);
  CHECK(Device("cuda").is_cuda());
  CHECK(Device("cuda:1").index == 1);
  CHECK(Device("cuda:1").str() == "cuda:1");
  CHECK(kCPU.str() == "cpu");
  REQUIRE_THROWS_AS(Device("cuda:"), Error);
  REQUIRE_THROWS_AS(Device("cuda:-1"), Error);
  REQUIRE_THROWS_AS(Device("cuda:1x"), Error);
}

TEST_CASE("toolchain: constant initialiser lists survive vectorisation", "[tensor][toolchain]") {
  // GCC 12.2 with -march=native on AVX-512 stored {2, 2, 2, 2} for this list (SLP vectoriser bug);
  // cmake/TesseraOptions.cmake turns the SLP vectoriser off for GCC < 13. This guards the flag.
  const std::vector<double> v{2, 2, 0, 0};
  CHECK(v == std::vector<double>{2, 2, 0, 0});
  CHECK(v[2] == 0.0);
  CHECK(v[3] == 0.0);
  const Tensor t = from_vector(std::vector<float>{1, 1, 1, 0});
  CHECK(get(t, {3}) == 0.0);
}
