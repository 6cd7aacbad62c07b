// SPDX-License-Identifier: Apache-2.0
/// @brief Integer indexing (index_select, gather, scatter_add(_), embedding and its backward,
/// one_hot) against naive loops over multi-indices, on strided inputs and indices, with repeated
/// indices, every dtype, and errors for out-of-range and wrong-dtype indices.
#include <catch2/catch.hpp>

#include <random>

#include <tessera/creation.h>
#include <tessera/native.h>

#include "test_util.h"

using namespace tessera;
using namespace tessera::test;
namespace nt = tessera::native;
using Catch::Contains;

namespace {

Tensor random_index(const Shape& shape, int64_t bound, DType dt, std::mt19937& rng, Layout layout) {
  return random_tensor(shape, dt, rng, layout, 0, static_cast<double>(bound - 1));
}

}  // namespace

TEST_CASE("index_select", "[tensor][index]") {
  std::mt19937 rng(41);
  const DType dt = GENERATE(kFloat32, kBFloat16, kInt64, kBool, kFloat64);
  const DType it = GENERATE(kInt64, kInt32);
  const Layout layout = GENERATE(Layout::Contiguous, Layout::Transposed, Layout::Strided);
  CAPTURE(dt, it, layout_name(layout));
  const Tensor x = random_tensor({5, 7, 3}, dt, rng, layout, -9, 9);
  for (int64_t dim : {0, 1, 2, -1}) {
    CAPTURE(dim);
    const int64_t d = dim < 0 ? dim + 3 : dim;
    const Tensor idx = random_index({11}, x.size(d), it, rng, Layout::Strided);  // repeats likely
    const Tensor out = nt::index_select(x, dim, idx);
    Shape expect = x.shape();
    expect[d] = 11;
    REQUIRE(out.shape() == expect);
    CHECK(out.dtype() == dt);
    Ref ref(expect);
    for_each_index(expect, [&](const Shape& i) {
      Shape src = i;
      src[d] = static_cast<int64_t>(get(idx, {i[d]}));
      ref.at(i) = get(x, src);
    });
    check_equal("index_select", out, ref);
  }
  const Tensor e = nt::index_select(x, 1, zeros({0}, {.dtype = kInt64}));
  CHECK(e.shape() == Shape{5, 0, 3});
  CHECK(nt::index_select(x, 0, scalar_tensor(int64_t{4}, {.dtype = kInt64})).shape() ==
        Shape{1, 7, 3});
  REQUIRE_THROWS_WITH(nt::index_select(x, 1, tensor({0, 7})),
                      Contains("index_select") && Contains("7") && Contains("[0, 7)"));
  REQUIRE_THROWS_WITH(nt::index_select(x, 1, tensor({-1})),
                      Contains("index_select") && Contains("-1"));
  REQUIRE_THROWS_WITH(nt::index_select(x, 1, tensor({0.0f})),
                      Contains("index_select") && Contains("float32"));
  REQUIRE_THROWS_WITH(nt::index_select(x, 1, zeros({2, 2}, {.dtype = kInt64})),
                      Contains("index_select"));
  REQUIRE_THROWS_WITH(nt::index_select(x, 3, tensor({0})),
                      Contains("index_select") && Contains("out of range"));
}

TEST_CASE("gather", "[tensor][index]") {
  std::mt19937 rng(42);
  const DType dt = GENERATE(kFloat32, kFloat16, kInt32, kFloat64);
  const Layout lx = GENERATE(Layout::Contiguous, Layout::Transposed, Layout::Strided);
  const Layout li = GENERATE(Layout::Contiguous, Layout::Transposed);
  CAPTURE(dt, layout_name(lx), layout_name(li));
  const Tensor x = random_tensor({4, 6, 5}, dt, rng, lx, -9, 9);
  for (int64_t dim : {0, 1, 2, -2}) {
    CAPTURE(dim);
    const int64_t d = dim < 0 ? dim + 3 : dim;
    Shape ishape = {3, 4, 2};  // smaller than x in the other dims, arbitrary along d
    ishape[d] = 9;
    const Tensor idx = random_index(ishape, x.size(d), kInt64, rng, li);
    const Tensor out = nt::gather(x, dim, idx);
    REQUIRE(out.shape() == ishape);
    Ref ref(ishape);
    for_each_index(ishape, [&](const Shape& i) {
      Shape src = i;
      src[d] = get_i64(idx, i);
      ref.at(i) = get(x, src);
    });
    check_equal("gather", out, ref);
  }
  REQUIRE_THROWS_WITH(nt::gather(x, 1, zeros({4, 2}, {.dtype = kInt64})),
                      Contains("gather") && Contains("dims"));
  REQUIRE_THROWS_WITH(nt::gather(x, 1, zeros({5, 2, 2}, {.dtype = kInt64})),
                      Contains("gather") && Contains("larger"));
  REQUIRE_THROWS_WITH(nt::gather(x, 1, full({1, 1, 1}, 6, {.dtype = kInt64})),
                      Contains("gather") && Contains("6"));
  REQUIRE_THROWS_WITH(nt::gather(x, 1, zeros({1, 1, 1})),
                      Contains("gather") && Contains("float32"));
}

TEST_CASE("scatter_add and scatter_add_ with repeated indices", "[tensor][index]") {
  std::mt19937 rng(43);
  const DType dt = GENERATE(kFloat32, kFloat64, kInt64, kBFloat16);
  const Layout ls = GENERATE(Layout::Contiguous, Layout::Strided);
  CAPTURE(dt, layout_name(ls));
  for (int64_t dim : {0, 1, -1}) {
    CAPTURE(dim);
    const int64_t d = dim < 0 ? dim + 2 : dim;
    const Tensor self = random_tensor({5, 6}, dt, rng, Layout::Contiguous, -4, 4);
    const Tensor src = random_tensor({7, 8}, dt, rng, ls, -4, 4);
    Shape ishape = {4, 5};
    ishape[d] = 7;  // 7 > self.size(d): repeated targets are certain along d (pigeonhole)
    const Tensor idx = random_index(ishape, self.size(d), kInt64, rng, Layout::Transposed);
    Ref ref = Ref::of(self);
    // Additions in index order, each rounded to the dtype (as a 16-bit accumulator would).
    for_each_index(ishape, [&](const Shape& i) {
      Shape dst = i;
      dst[d] = get_i64(idx, i);
      ref.at(dst) = round_to(dt, ref.at(dst) + get(src, i));
    });
    const Tensor out = nt::scatter_add(self, dim, idx, src);
    CHECK_FALSE(out.shares_storage(self));
    check_close("scatter_add", out, ref);
    // In place through a transposed view of a base: writes land in the base.
    Tensor base = nt::clone(nt::transpose(self, 0, 1));  // (6, 5)
    Tensor view = nt::transpose(base, 0, 1);             // (5, 6) view
    const uint64_t v0 = base.version();
    nt::scatter_add_(view, dim, idx, src);
    CHECK(base.version() > v0);
    check_close("scatter_add_ through a view", view, ref);
  }
  const Tensor self = zeros({3, 4});
  REQUIRE_THROWS_WITH(nt::scatter_add(self, 0, full({1, 1}, 3, {.dtype = kInt64}), ones({1, 1})),
                      Contains("scatter_add") && Contains("3"));
  REQUIRE_THROWS_WITH(nt::scatter_add(self, 0, zeros({2, 5}, {.dtype = kInt64}), ones({2, 5})),
                      Contains("scatter_add") && Contains("[2, 5]"));
  REQUIRE_THROWS_WITH(nt::scatter_add(self, 0, zeros({2, 2}, {.dtype = kInt64}), ones({1, 2})),
                      Contains("scatter_add"));
  Tensor ex = nt::expand(zeros({1, 4}), {3, 4});
  REQUIRE_THROWS_WITH(nt::scatter_add_(ex, 0, zeros({1, 1}, {.dtype = kInt64}), ones({1, 1})),
                      Contains("scatter_add_") && Contains("expanded"));
}

TEST_CASE("embedding and embedding_backward", "[tensor][index][embedding]") {
  std::mt19937 rng(44);
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16);
  const DType it = GENERATE(kInt64, kInt32);
  CAPTURE(dt, it);
  const int64_t V = 11, C = 7;
  const Tensor w = random_tensor({V, C}, dt, rng, Layout::Transposed, -1, 1);
  const Tensor ids = random_index({3, 17}, V, it, rng, Layout::Strided);  // 51 ids over 11 rows
  const Tensor out = nt::embedding(w, ids);
  REQUIRE(out.shape() == Shape{3, 17, C});
  Ref ref(out.shape());
  for_each_index(out.shape(), [&](const Shape& i) {
    ref.at(i) = get(w, {static_cast<int64_t>(get(ids, {i[0], i[1]})), i[2]});
  });
  check_equal("embedding", out, ref);

  const Tensor g = random_tensor({3, 17, C}, dt, rng, Layout::Transposed, -1, 1);
  const Tensor gw = nt::embedding_backward(g, ids, V);
  REQUIRE(gw.shape() == Shape{V, C});
  CHECK(gw.dtype() == dt);
  Ref gref(Shape{V, C});
  for_each_index(g.shape(), [&](const Shape& i) {
    gref.at({static_cast<int64_t>(get(ids, {i[0], i[1]})), i[2]}) += get(g, i);
  });
  for (double& v : gref.v) v = round_to(dt, v);
  check_close("embedding_backward", gw, gref);

  // Deterministic whatever the thread count: a wide C crosses the column grain.
  const Tensor wide = random_tensor({64, 300}, kFloat32, rng, Layout::Contiguous, -1, 1);
  const Tensor wids = random_index({64}, 5, kInt64, rng, Layout::Contiguous);
  Tensor g1, g3;
  {
    ThreadCount tc(1);
    g1 = nt::embedding_backward(wide, wids, 5);
  }
  {
    ThreadCount tc(3);
    g3 = nt::embedding_backward(wide, wids, 5);
  }
  CHECK(bitwise_equal(g1, g3));

  REQUIRE_THROWS_WITH(nt::embedding(w, tensor({0, 11})), Contains("embedding") && Contains("11"));
  REQUIRE_THROWS_WITH(nt::embedding(w, tensor({0.0f})),
                      Contains("embedding") && Contains("float32"));
  REQUIRE_THROWS_WITH(nt::embedding(nt::select(w, 0, 0), tensor({0})),
                      Contains("embedding") && Contains("weight"));
  REQUIRE_THROWS_WITH(nt::embedding_backward(g, ids, 5), Contains("embedding_backward"));
  REQUIRE_THROWS_WITH(nt::embedding_backward(nt::narrow(g, 1, 0, 16), ids, V),
                      Contains("embedding_backward") && Contains("[3, 16, 7]"));
  REQUIRE_THROWS_WITH(nt::embedding_backward(nt::select(g, 2, 0), ids, V),
                      Contains("embedding_backward"));
}

TEST_CASE("one_hot", "[tensor][index]") {
  const Tensor ids = from_vector(std::vector<int64_t>{2, 0, 4, 4, 1, 0}, {2, 3});
  const Tensor oh = nt::one_hot(nt::transpose(ids, 0, 1), 5);  // strided indices
  REQUIRE(oh.shape() == Shape{3, 2, 5});
  CHECK(oh.dtype() == kInt64);
  Ref ref(oh.shape());
  for_each_index(oh.shape(), [&](const Shape& i) {
    ref.at(i) = get_i64(ids, {i[1], i[0]}) == i[2] ? 1 : 0;
  });
  check_equal("one_hot", oh, ref);
  CHECK(nt::one_hot(scalar_tensor(int64_t{1}, {.dtype = kInt64}), 3).shape() == Shape{3});
  CHECK(nt::one_hot(zeros({0}, {.dtype = kInt64}), 3).shape() == Shape{0, 3});
  REQUIRE_THROWS_WITH(nt::one_hot(ids, 4), Contains("one_hot") && Contains("4"));
  REQUIRE_THROWS_WITH(nt::one_hot(ids, 0), Contains("one_hot"));
  REQUIRE_THROWS_WITH(nt::one_hot(tensor({1.0f}), 3), Contains("one_hot") && Contains("float32"));
}
