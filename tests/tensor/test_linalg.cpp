// SPDX-License-Identifier: Apache-2.0
/// @brief matmul / mm / bmm against a naive float64 triple loop: every torch.matmul rank
/// combination, broadcast batch dims, transposed/sliced/expanded operands, K = 0, M = 0, odd sizes,
/// float32/float64/bfloat16/float16, and shape errors.
///
/// Tolerance: a K-term dot product in precision u has error <= K u sum|a_i b_i| (standard bound);
/// with random signs the typical error is ~sqrt(K) u. We bound each output by
///   atol + rtol * |ref| + K_eff * u * sum_k |a_ik b_kj|,  K_eff = sqrt(K) * 4,
/// with u = 2^-24 for float32 (OpenBLAS sgemm, also for 16-bit inputs, which are staged in float32
/// and rounded once on output, adding the dtype's own rounding through rtol), 2^-53 for float64.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include <tessera/creation.h>
#include <tessera/native.h>

#include "test_util.h"

using namespace tessera;
using namespace tessera::test;
namespace nt = tessera::native;
using Catch::Contains;

namespace {

/// torch.matmul reference in float64; also returns sum |a b| per output for the error bound.
struct MatmulRef {
  Ref value, abs_sum;
};

MatmulRef matmul_ref(const Tensor& a, const Tensor& b) {
  const bool av = a.dim() == 1, bv = b.dim() == 1;
  Shape as = a.shape(), bs = b.shape();
  if (av) as.insert(as.begin(), 1);
  if (bv) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  REQUIRE(bs[bs.size() - 2] == k);
  const Shape abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
  const Shape batch = nt::broadcast_shapes(abatch, bbatch);
  Shape full = batch;
  full.push_back(m);
  full.push_back(n);
  Shape out = batch;
  if (!av) out.push_back(m);
  if (!bv) out.push_back(n);
  MatmulRef r{Ref(out), Ref(out)};
  auto a_at = [&](const Shape& bidx, int64_t i, int64_t kk) {
    Shape idx;
    const size_t lead = batch.size() - abatch.size();
    for (size_t d = 0; d < abatch.size(); ++d) idx.push_back(abatch[d] == 1 ? 0 : bidx[d + lead]);
    if (!av) idx.push_back(i);
    idx.push_back(kk);
    return get(a, idx);
  };
  auto b_at = [&](const Shape& bidx, int64_t kk, int64_t j) {
    Shape idx;
    const size_t lead = batch.size() - bbatch.size();
    for (size_t d = 0; d < bbatch.size(); ++d) idx.push_back(bbatch[d] == 1 ? 0 : bidx[d + lead]);
    idx.push_back(kk);
    if (!bv) idx.push_back(j);
    return get(b, idx);
  };
  for_each_index(full, [&](const Shape& fi) {
    const Shape bidx(fi.begin(), fi.end() - 2);
    const int64_t i = fi[fi.size() - 2], j = fi.back();
    double s = 0, sa = 0;
    for (int64_t kk = 0; kk < k; ++kk) {
      const double p = a_at(bidx, i, kk) * b_at(bidx, kk, j);
      s += p;
      sa += std::abs(p);
    }
    Shape o = bidx;
    if (!av) o.push_back(i);
    if (!bv) o.push_back(j);
    r.value.at(o) = s;
    r.abs_sum.at(o) = sa;
  });
  return r;
}

/// Checks out against the reference with the dot-product error bound described at the top.
void check_matmul(const Tensor& out, const Tensor& a, const Tensor& b) {
  const MatmulRef r = matmul_ref(a, b);
  REQUIRE(out.shape() == r.value.shape);
  const DType dt = out.dtype();
  const int64_t k = a.size(-1);
  const double u = dt == kFloat64 ? std::ldexp(1.0, -53) : std::ldexp(1.0, -24);
  const Tol base = tol_for(dt);
  double worst = 0;
  Shape worst_i;
  bool ok = true;
  for_each_index(r.value.shape, [&](const Shape& i) {
    const double got = get(out, i), ref = r.value.at(i);
    const double bound =
        base.atol + base.rtol * std::abs(ref) + 4 * std::sqrt(double(k) + 1) * u * r.abs_sum.at(i);
    const double err = std::abs(got - ref);
    if (!(err <= bound)) {
      ok = false;
      if (!(err / bound <= worst)) {
        worst = err / bound;
        worst_i = i;
      }
    }
  });
  if (!ok) {
    FAIL_CHECK("matmul " << describe(a) << " @ " << describe(b) << ": worst at "
                         << shape_str(worst_i) << " got " << get(out, worst_i) << " expected "
                         << r.value.at(worst_i) << " (error / bound = " << worst << ")");
  }
}

struct MatmulCase {
  Shape a, b;
};

}  // namespace

TEST_CASE("matmul follows torch.matmul for every rank combination", "[tensor][linalg]") {
  std::mt19937 rng(31);
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16);
  const MatmulCase c = GENERATE(values<MatmulCase>({
      {{7}, {7}},  // dot -> 0-d
      {{1}, {1}},
      {{5, 7}, {7}},  // matrix-vector
      {{7}, {7, 3}},  // vector-matrix
      {{1, 1}, {1, 1}},
      {{3, 17}, {17, 33}},
      {{33, 1}, {1, 17}},         // outer product (K = 1)
      {{4, 3, 7}, {4, 7, 5}},     // batched
      {{4, 3, 7}, {7, 5}},        // broadcast weight
      {{3, 7}, {4, 7, 5}},        // broadcast left
      {{2, 1, 3, 7}, {4, 7, 5}},  // (B, 1, M, K) x (H, K, N)
      {{2, 4, 3, 7}, {7}},        // batched matrix-vector
      {{7}, {2, 4, 7, 3}},        // vector-batched matrix
      {{1, 5, 7}, {3, 1, 7, 2}},
      {{129, 65}, {65, 31}},  // crosses BLAS blocking
      {{0, 7}, {7, 5}},       // M = 0
      {{3, 0}, {0, 5}},       // K = 0 -> zeros
      {{3, 7}, {7, 0}},       // N = 0
      {{0, 3, 4}, {4, 2}},    // batch 0
  }));
  CAPTURE(dt, shape_str(c.a), shape_str(c.b));
  const Tensor a = random_tensor(c.a, dt, rng, Layout::Contiguous, -1, 1);
  const Tensor b = random_tensor(c.b, dt, rng, Layout::Contiguous, -1, 1);
  const Tensor out = nt::matmul(a, b);
  CHECK(out.dtype() == dt);
  check_matmul(out, a, b);
  if (c.a.size() == 2 && c.b.size() == 2) check_matmul(nt::mm(a, b), a, b);
  if (c.a.size() == 3 && c.b.size() == 3 && c.a[0] == c.b[0]) check_matmul(nt::bmm(a, b), a, b);
}

TEST_CASE("matmul of transposed, sliced and expanded operands", "[tensor][linalg]") {
  std::mt19937 rng(32);
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16);
  const Layout la =
      GENERATE(Layout::Contiguous, Layout::Transposed, Layout::Strided, Layout::Broadcast);
  const Layout lb =
      GENERATE(Layout::Contiguous, Layout::Transposed, Layout::Strided, Layout::Broadcast);
  CAPTURE(dt, layout_name(la), layout_name(lb));
  SECTION("2-d") {
    const Tensor a = random_tensor({17, 33}, dt, rng, la, -1, 1);
    const Tensor b = random_tensor({33, 9}, dt, rng, lb, -1, 1);
    check_matmul(nt::matmul(a, b), a, b);
  }
  SECTION("batched") {
    const Tensor a = random_tensor({3, 5, 7}, dt, rng, la, -1, 1);
    const Tensor b = random_tensor({3, 7, 4}, dt, rng, lb, -1, 1);
    check_matmul(nt::matmul(a, b), a, b);
    check_matmul(nt::bmm(a, b), a, b);
  }
  SECTION("views made by the ops themselves") {
    const Tensor base = random_tensor({9, 20}, dt, rng, la, -1, 1);
    const Tensor at = nt::t(base);  // (20, 9) transpose view
    const Tensor bs = nt::slice(random_tensor({9, 12}, dt, rng, lb, -1, 1), 1, 1, 12, 2);  // (9, 6)
    check_matmul(nt::matmul(at, bs), at, bs);
    const Tensor col = nt::select(base, 1, 3);  // (9) strided vector
    check_matmul(nt::matmul(at, col), at, col);
    check_matmul(nt::matmul(col, bs), col, bs);
    const Tensor w = nt::expand(random_tensor({1, 9, 6}, dt, rng, lb, -1, 1), {4, 9, 6});
    const Tensor x = random_tensor({4, 3, 9}, dt, rng, la, -1, 1);
    check_matmul(nt::matmul(x, w), x, w);
  }
}

TEST_CASE("matmul accuracy on larger sizes", "[tensor][linalg]") {
  std::mt19937 rng(33);
  const int64_t n = TESSERA_TEST_BIG(257, 65);
  const Tensor a = random_tensor({n, n + 3}, kFloat32, rng, Layout::Transposed, -1, 1);
  const Tensor b = random_tensor({n + 3, n - 1}, kFloat32, rng, Layout::Strided, -1, 1);
  check_matmul(nt::matmul(a, b), a, b);
  const Tensor ad = nt::to(a, kFloat64), bd = nt::to(b, kFloat64);
  check_matmul(nt::matmul(ad, bd), ad, bd);
}

TEST_CASE("matmul shape and dtype errors", "[tensor][linalg][errors]") {
  const Tensor a = ones({3, 4}), b = ones({5, 2});
  REQUIRE_THROWS_WITH(nt::matmul(a, b),
                      Contains("matmul") && Contains("[3, 4]") && Contains("[5, 2]"));
  REQUIRE_THROWS_WITH(nt::matmul(ones({4}), ones({5})), Contains("matmul") && Contains("[4]"));
  REQUIRE_THROWS_WITH(nt::matmul(scalar_tensor(1.0), ones({2})),
                      Contains("matmul") && Contains("1 dim"));
  REQUIRE_THROWS_WITH(nt::matmul(ones({2, 3, 4}), ones({3, 4, 5})),
                      Contains("matmul") && Contains("batch"));
  REQUIRE_THROWS_WITH(nt::mm(ones({2, 3, 4}), ones({4, 5})),
                      Contains("mm") && Contains("[2, 3, 4]"));
  REQUIRE_THROWS_WITH(nt::bmm(ones({2, 3, 4}), ones({3, 4, 5})),
                      Contains("bmm") && Contains("[3, 4, 5]"));
  REQUIRE_THROWS_WITH(nt::bmm(ones({3, 4}), ones({4, 5})), Contains("bmm"));
  REQUIRE_THROWS_WITH(nt::matmul(ones({2, 2}, {.dtype = kInt64}), ones({2, 2}, {.dtype = kInt64})),
                      Contains("matmul") && Contains("floating"));
  // Mixed dtypes promote.
  CHECK(nt::matmul(ones({2, 2}), ones({2, 2}, {.dtype = kFloat64})).dtype() == kFloat64);
  CHECK(nt::matmul(ones({2, 2}, {.dtype = kBFloat16}), ones({2, 2}, {.dtype = kFloat16})).dtype() ==
        kFloat32);
}

TEST_CASE("matmul results are the same on 1 and 3 threads", "[tensor][linalg][determinism]") {
  std::mt19937 rng(34);
  const Tensor a = random_tensor({4, 33, 65}, kFloat32, rng, Layout::Transposed, -1, 1);
  const Tensor b = random_tensor({65, 17}, kFloat32, rng, Layout::Contiguous, -1, 1);
  Tensor r1, r3;
  {
    ThreadCount tc(1);
    r1 = nt::matmul(a, b);
  }
  {
    ThreadCount tc(3);
    r3 = nt::matmul(a, b);
  }
  // OpenBLAS's sgemm splits work by output tiles (no split-K at these sizes), so results match.
  CHECK(bitwise_equal(r1, r3));
}
