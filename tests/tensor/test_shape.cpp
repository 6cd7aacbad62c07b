// SPDX-License-Identifier: Apache-2.0
/// @brief Views and joins (tessera::native shape ops) against index-mapping references: every view
/// element is checked against the element of the base it must alias, on contiguous, transposed,
/// strided and broadcast inputs; views must share storage, copies must not.
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

const Layout kLayouts[] = {Layout::Contiguous, Layout::Transposed, Layout::Strided,
                           Layout::Broadcast};

/// Reference reshape: the row-major value sequence is unchanged.
void check_same_sequence(const Tensor& out, const Tensor& in, const Shape& shape) {
  REQUIRE(out.shape() == shape);
  check_equal("reshape", out, Ref(shape, values(in)));
}

}  // namespace

TEST_CASE("view and reshape keep the row-major sequence", "[tensor][shape]") {
  std::mt19937 rng(1);
  const Layout layout = GENERATE(from_range(std::begin(kLayouts), std::end(kLayouts)));
  CAPTURE(layout_name(layout));
  const Tensor x = random_tensor({4, 3, 6}, kFloat32, rng, layout);

  SECTION("reshape with -1 inference") {
    for (const Shape& s : std::vector<Shape>{{72},
                                             {-1},
                                             {4, 18},
                                             {4, -1},
                                             {-1, 6},
                                             {2, 2, 3, 6},
                                             {12, 6},
                                             {1, 72, 1},
                                             {3, -1, 2}}) {
      CAPTURE(shape_str(s));
      Shape expect = s;
      int64_t known = 1;
      for (int64_t v : s) known *= v == -1 ? 1 : v;
      for (auto& v : expect)
        if (v == -1) v = 72 / known;
      check_same_sequence(nt::reshape(x, s), x, expect);
    }
  }
  SECTION("view shares storage when the layout allows, reshape copies otherwise") {
    if (layout == Layout::Contiguous) {
      const Tensor v = nt::view(x, {12, -1});
      CHECK(v.shares_storage(x));
      check_same_sequence(v, x, {12, 6});
      CHECK(nt::reshape(x, {6, 12}).shares_storage(x));
    } else if (layout == Layout::Transposed) {
      // Reversed strides: merging the dims needs a copy.
      REQUIRE_THROWS_WITH(nt::view(x, {72}),
                          Contains("view") && Contains("[72]") && Contains("reshape"));
      const Tensor r = nt::reshape(x, {72});
      CHECK_FALSE(r.shares_storage(x));
      check_same_sequence(r, x, {72});
      // Splitting a dim is always a view.
      const Tensor v = nt::view(x, {2, 2, 3, 6});
      CHECK(v.shares_storage(x));
      check_same_sequence(v, x, {2, 2, 3, 6});
    } else if (layout == Layout::Strided) {
      // A stepped slice can split dims but not merge them.
      const Tensor v = nt::view(x, {4, 3, 2, 3});
      CHECK(v.shares_storage(x));
      check_same_sequence(v, x, {4, 3, 2, 3});
      REQUIRE_THROWS_AS(nt::view(x, {4, 18}), Error);
    }
  }
  SECTION("errors") {
    REQUIRE_THROWS_WITH(nt::reshape(x, {5, -1}), Contains("reshape") && Contains("[5, -1]"));
    REQUIRE_THROWS_WITH(nt::reshape(x, {-1, -1}), Contains("only one dimension can be -1"));
    REQUIRE_THROWS_WITH(nt::view(x, {7, 10}), Contains("view") && Contains("[7, 10]"));
    REQUIRE_THROWS_AS(nt::reshape(x, {-2, 36}), Error);
  }
}

TEST_CASE("view of 0-d and empty tensors", "[tensor][shape]") {
  const Tensor s = scalar_tensor(3.5);
  CHECK(nt::reshape(s, {1, 1}).shape() == Shape{1, 1});
  CHECK(nt::reshape(s, {}).dim() == 0);
  CHECK(nt::reshape(nt::reshape(s, {1}), {}).item<float>() == 3.5f);
  CHECK(nt::flatten(s).shape() == Shape{1});
  const Tensor e = zeros({0, 4});
  CHECK(nt::reshape(e, {4, 0, 3}).shape() == Shape{4, 0, 3});
  CHECK(nt::reshape(e, {2, -1}).shape() == Shape{2, 0});
  REQUIRE_THROWS_AS(nt::reshape(e, {0, -1}), Error);  // -1 is ambiguous with 0 elements
}

TEST_CASE("flatten, permute, transpose, t", "[tensor][shape]") {
  std::mt19937 rng(2);
  const Layout layout = GENERATE(from_range(std::begin(kLayouts), std::end(kLayouts)));
  CAPTURE(layout_name(layout));
  const Tensor x = random_tensor({3, 1, 5, 2}, kFloat64, rng, layout);

  SECTION("flatten") {
    check_same_sequence(nt::flatten(x), x, {30});
    check_same_sequence(nt::flatten(x, 1, 2), x, {3, 5, 2});
    check_same_sequence(nt::flatten(x, -2), x, {3, 1, 10});
    check_same_sequence(nt::flatten(x, 2, 2), x, {3, 1, 5, 2});
    REQUIRE_THROWS_WITH(nt::flatten(x, 2, 1), Contains("flatten"));
  }
  SECTION("permute maps out[i] = x[i[perm^-1]]") {
    const Shape perm = {2, 0, 3, 1};
    const Tensor p = nt::permute(x, perm);
    CHECK(p.shares_storage(x));
    REQUIRE(p.shape() == Shape{5, 3, 2, 1});
    Ref ref(p.shape());
    for_each_index(p.shape(), [&](const Shape& i) {
      Shape src(4);
      for (int d = 0; d < 4; ++d) src[perm[d]] = i[d];
      ref.at(i) = get(x, src);
    });
    check_equal("permute", p, ref);
    check_equal("permute negative dims", nt::permute(x, {-2, 0, -1, 1}), ref);
    REQUIRE_THROWS_WITH(nt::permute(x, {0, 0, 1, 2}), Contains("permute") && Contains("repeated"));
    REQUIRE_THROWS_WITH(nt::permute(x, {0, 1}), Contains("permute"));
    REQUIRE_THROWS_WITH(nt::permute(x, {0, 1, 2, 4}), Contains("out of range"));
  }
  SECTION("transpose and t") {
    const Tensor tr = nt::transpose(x, 0, -1);
    REQUIRE(tr.shape() == Shape{2, 1, 5, 3});
    Ref ref(tr.shape());
    for_each_index(tr.shape(), [&](const Shape& i) {
      ref.at(i) = get(x, {i[3], i[1], i[2], i[0]});
    });
    check_equal("transpose", tr, ref);
    CHECK(tr.shares_storage(x));
    const Tensor m = nt::select(nt::select(x, 1, 0), 2, 1);  // (3, 5)
    const Tensor mt = nt::t(m);
    REQUIRE(mt.shape() == Shape{5, 3});
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 3; ++j) CHECK(get(mt, {i, j}) == get(x, {j, 0, i, 1}));
    CHECK(nt::t(nt::select(m, 0, 0)).shape() == Shape{5});
    REQUIRE_THROWS_WITH(nt::t(x), Contains("t:") && Contains("[3, 1, 5, 2]"));
  }
}

TEST_CASE("narrow, slice and select", "[tensor][shape]") {
  std::mt19937 rng(3);
  const Layout layout = GENERATE(from_range(std::begin(kLayouts), std::end(kLayouts)));
  CAPTURE(layout_name(layout));
  const Tensor x = random_tensor({7, 9}, kInt64, rng, layout, -100, 100);

  SECTION("narrow") {
    const Tensor n = nt::narrow(x, 1, 2, 5);
    REQUIRE(n.shape() == Shape{7, 5});
    CHECK(n.shares_storage(x));
    for_each_index(n.shape(), [&](const Shape& i) {
      CHECK(get(n, i) == get(x, {i[0], i[1] + 2}));
    });
    const Tensor neg = nt::narrow(x, 0, -3, 2);  // start counts from the end
    for_each_index(neg.shape(), [&](const Shape& i) {
      CHECK(get(neg, i) == get(x, {i[0] + 4, i[1]}));
    });
    CHECK(nt::narrow(x, 0, 7, 0).numel() == 0);
    REQUIRE_THROWS_WITH(nt::narrow(x, 1, 6, 4), Contains("narrow") && Contains("[7, 9]"));
  }
  SECTION("slice matches Python's x[start:end:step]") {
    struct Case {
      int64_t start, end, step;
    };
    for (const Case c : {Case{0, 9, 1}, Case{1, 8, 2}, Case{0, 9, 3}, Case{-4, 9, 1},
                         Case{-100, 100, 4}, Case{5, 2, 1}, Case{2, -1, 2}, Case{9, 20, 1},
                         Case{-1, INT64_MAX, 1}, Case{INT64_MIN, 3, 1}, Case{0, 9, 100}}) {
      CAPTURE(c.start, c.end, c.step);
      // Python's slice.indices for positive steps.
      auto norm = [](int64_t i) {
        if (i < 0) i = i + 9 < 0 ? 0 : i + 9;
        return std::min<int64_t>(i, 9);
      };
      const int64_t s = c.start == INT64_MIN ? 0 : norm(c.start), e = norm(c.end);
      std::vector<int64_t> cols;
      for (int64_t j = s; j < e; j += c.step) cols.push_back(j);
      const Tensor sl = nt::slice(x, 1, c.start, c.end, c.step);
      REQUIRE(sl.shape() == Shape{7, static_cast<int64_t>(cols.size())});
      CHECK(sl.shares_storage(x));
      for_each_index(sl.shape(), [&](const Shape& i) {
        CHECK(get(sl, i) == get(x, {i[0], cols[i[1]]}));
      });
    }
    REQUIRE_THROWS_WITH(nt::slice(x, 0, 0, 3, 0), Contains("slice") && Contains("step"));
    REQUIRE_THROWS_WITH(nt::slice(x, 2, 0, 3, 1), Contains("slice") && Contains("out of range"));
  }
  SECTION("select, including negative indices") {
    for (int64_t idx : {0, 4, 8, -1, -9}) {
      const Tensor s = nt::select(x, 1, idx);
      REQUIRE(s.shape() == Shape{7});
      for (int64_t i = 0; i < 7; ++i) CHECK(get(s, {i}) == get(x, {i, idx < 0 ? idx + 9 : idx}));
    }
    const Tensor s0 = nt::select(nt::select(x, 0, 6), 0, 8);
    CHECK(s0.dim() == 0);
    CHECK(s0.item<int64_t>() == get_i64(x, {6, 8}));
    REQUIRE_THROWS_WITH(nt::select(x, 1, 9), Contains("select") && Contains("index 9"));
    REQUIRE_THROWS_WITH(nt::select(x, 0, -8), Contains("select"));
    REQUIRE_THROWS_WITH(nt::select(s0, 0, 0), Contains("select") && Contains("0-d"));
  }
}

TEST_CASE("expand, squeeze, unsqueeze", "[tensor][shape]") {
  std::mt19937 rng(4);
  const Tensor x = random_tensor({3, 1, 4}, kFloat32, rng, Layout::Strided);
  SECTION("expand") {
    const Tensor e = nt::expand(x, {2, 3, 5, -1});
    REQUIRE(e.shape() == Shape{2, 3, 5, 4});
    CHECK(e.shares_storage(x));
    CHECK(e.strides()[0] == 0);
    CHECK(e.strides()[2] == 0);
    for_each_index(e.shape(), [&](const Shape& i) { CHECK(get(e, i) == get(x, {i[1], 0, i[3]})); });
    CHECK(nt::expand(x, {3, 2, 4}).strides()[1] == 0);
    REQUIRE_THROWS_WITH(nt::expand(x, {2, 1, 4}), Contains("expand") && Contains("[3, 1, 4]"));
    REQUIRE_THROWS_WITH(nt::expand(x, {1, 4}), Contains("expand"));
    REQUIRE_THROWS_WITH(nt::expand(x, {-1, 3, 1, 4}), Contains("expand"));
    REQUIRE_THROWS_WITH(nt::expand(x, {3, -2, 4}), Contains("expand"));
    CHECK(nt::expand(scalar_tensor(2.0), {2, 2}).strides() == Shape{0, 0});
  }
  SECTION("squeeze and unsqueeze") {
    CHECK(nt::squeeze(x).shape() == Shape{3, 4});
    CHECK(nt::squeeze(x, 1).shape() == Shape{3, 4});
    CHECK(nt::squeeze(x, -2).shape() == Shape{3, 4});
    CHECK(nt::squeeze(x, 0).shape() == Shape{3, 1, 4});  // size 3: unchanged
    CHECK(nt::squeeze(x).shares_storage(x));
    for (int64_t d : {0, 1, 2, 3, -1, -4}) {
      const Tensor u = nt::unsqueeze(x, d);
      const int64_t w = d < 0 ? d + 4 : d;
      Shape expect = x.shape();
      expect.insert(expect.begin() + w, 1);
      REQUIRE(u.shape() == expect);
      check_equal("unsqueeze", u, Ref(expect, values(x)));
      // The new dim's stride keeps the tensor's contiguity status (contiguous stays contiguous).
      CHECK(nt::unsqueeze(nt::contiguous(x), d).is_contiguous());
    }
    REQUIRE_THROWS_WITH(nt::unsqueeze(x, 4), Contains("unsqueeze") && Contains("out of range"));
    CHECK(nt::squeeze(scalar_tensor(1.0)).dim() == 0);
    CHECK(nt::unsqueeze(scalar_tensor(1.0), 0).shape() == Shape{1});
  }
}

TEST_CASE("as_strided is checked against the storage size", "[tensor][shape]") {
  const Tensor x = arange(0, 12);
  const Tensor w = nt::as_strided(x, {3, 3}, {3, 1}, 2);
  for_each_index(w.shape(),
                 [&](const Shape& i) { CHECK(get(w, i) == double(2 + 3 * i[0] + i[1])); });
  const Tensor sliding = nt::as_strided(x, {10, 3}, {1, 1}, 0);  // overlapping windows are allowed
  CHECK(get(sliding, {9, 2}) == 11);
  CHECK(nt::as_strided(x, {0, 5}, {100, 100}, 12).numel() == 0);
  REQUIRE_THROWS_WITH(nt::as_strided(x, {4, 3}, {3, 1}, 1),
                      Contains("as_strided") && Contains("beyond the storage"));
  REQUIRE_THROWS_AS(nt::as_strided(x, {2}, {-1}, 5), Error);
  REQUIRE_THROWS_AS(nt::as_strided(x, {2}, {1}, -1), Error);
  REQUIRE_THROWS_AS(nt::as_strided(x, {2, 2}, {1}, 0), Error);
}

TEST_CASE("contiguous and clone", "[tensor][shape][convert]") {
  std::mt19937 rng(5);
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16, kInt32, kInt64, kBool);
  const Layout layout = GENERATE(from_range(std::begin(kLayouts), std::end(kLayouts)));
  CAPTURE(dt, layout_name(layout));
  const Tensor x = random_tensor({5, 1, 7}, dt, rng, layout);
  const Tensor c = nt::contiguous(x);
  CHECK(c.is_contiguous());
  CHECK(c.shares_storage(x) == (layout == Layout::Contiguous));
  check_equal("contiguous", c, Ref::of(x));
  const Tensor cl = nt::clone(x);
  CHECK_FALSE(cl.shares_storage(x));
  CHECK(cl.is_contiguous());
  check_equal("clone", cl, Ref::of(x));
  // Large enough to cross the parallel grain, in every layout.
  const Tensor big = random_tensor({129, 3, 259}, dt, rng, layout);
  check_equal("clone (large)", nt::clone(big), Ref::of(big));
}

TEST_CASE("cat and stack", "[tensor][shape]") {
  std::mt19937 rng(6);
  const Tensor a = random_tensor({2, 3, 4}, kFloat32, rng, Layout::Transposed);
  const Tensor b = random_tensor({2, 1, 4}, kFloat32, rng, Layout::Strided);
  const Tensor c = random_tensor({2, 5, 4}, kFloat64, rng);
  SECTION("cat along dim 1 with promotion") {
    const Tensor out = nt::cat({a, b, c}, -2);
    REQUIRE(out.shape() == Shape{2, 9, 4});
    CHECK(out.dtype() == kFloat64);
    for_each_index(out.shape(), [&](const Shape& i) {
      const int64_t j = i[1];
      const double expect = j < 3   ? get(a, {i[0], j, i[2]})
                            : j < 4 ? get(b, {i[0], j - 3, i[2]})
                                    : get(c, {i[0], j - 4, i[2]});
      CHECK(get(out, i) == expect);
    });
  }
  SECTION("cat with empty pieces") {
    const Tensor e = zeros({2, 0, 4});
    const Tensor out = nt::cat({e, a, e}, 1);
    check_equal("cat empty", out, Ref::of(a));
  }
  SECTION("stack") {
    const Tensor a2 = random_tensor({2, 3, 4}, kFloat32, rng);
    for (int64_t d : {0, 1, 3, -1}) {
      const Tensor s = nt::stack({a, a2}, d);
      const int64_t w = d < 0 ? d + 4 : d;
      Shape expect = {2, 3, 4};
      expect.insert(expect.begin() + w, 2);
      REQUIRE(s.shape() == expect);
      for_each_index(s.shape(), [&](const Shape& i) {
        Shape src = i;
        src.erase(src.begin() + w);
        CHECK(get(s, i) == get(i[w] == 0 ? a : a2, src));
      });
    }
  }
  SECTION("errors") {
    REQUIRE_THROWS_WITH(nt::cat({a, random_tensor({3, 3, 4}, kFloat32, rng)}, 1),
                        Contains("cat") && Contains("[3, 3, 4]") && Contains("[2, 3, 4]"));
    REQUIRE_THROWS_WITH(nt::cat({}, 0), Contains("cat"));
    REQUIRE_THROWS_WITH(nt::cat({scalar_tensor(1.0)}, 0), Contains("cat") && Contains("zero-dim"));
    REQUIRE_THROWS_WITH(nt::stack({a, b}, 0), Contains("stack") && Contains("[2, 1, 4]"));
    REQUIRE_THROWS_WITH(nt::cat({a, b}, 3), Contains("cat") && Contains("out of range"));
  }
}

TEST_CASE("split, split_with_sizes and chunk follow torch", "[tensor][shape]") {
  auto sizes_of = [](const std::vector<Tensor>& parts, int64_t dim) {
    Shape s;
    for (const Tensor& p : parts) s.push_back(p.size(dim));
    return s;
  };
  const Tensor x5 = arange(0, 5);
  CHECK(sizes_of(nt::chunk(x5, 3), 0) == Shape{2, 2, 1});
  CHECK(sizes_of(nt::chunk(arange(0, 6), 4), 0) == Shape{2, 2, 2});  // torch.chunk(6, 4): 3 pieces
  CHECK(sizes_of(nt::chunk(arange(0, 6), 6), 0) == Shape{1, 1, 1, 1, 1, 1});
  CHECK(sizes_of(nt::chunk(arange(0, 3), 5), 0) == Shape{1, 1, 1});
  CHECK(sizes_of(nt::chunk(arange(0, 17), 4), 0) == Shape{5, 5, 5, 2});
  CHECK(sizes_of(nt::split(x5, 2), 0) == Shape{2, 2, 1});
  CHECK(sizes_of(nt::split(x5, 5), 0) == Shape{5});
  CHECK(sizes_of(nt::split(x5, 7), 0) == Shape{5});
  // torch.chunk of an empty dim returns `chunks` empty pieces; split returns one.
  CHECK(sizes_of(nt::chunk(zeros({0, 2}), 3), 0) == Shape{0, 0, 0});
  CHECK(sizes_of(nt::split(zeros({0, 2}), 2), 0) == Shape{0});

  std::mt19937 rng(7);
  const Tensor x = random_tensor({4, 10, 3}, kFloat32, rng, Layout::Transposed);
  const auto parts = nt::split_with_sizes(x, {3, 0, 6, 1}, -2);
  REQUIRE(sizes_of(parts, 1) == Shape{3, 0, 6, 1});
  int64_t pos = 0;
  for (const Tensor& p : parts) {
    CHECK(p.shares_storage(x));
    for_each_index(p.shape(), [&](const Shape& i) {
      CHECK(get(p, i) == get(x, {i[0], i[1] + pos, i[2]}));
    });
    pos += p.size(1);
  }
  // The pieces of chunk cover the tensor in order.
  const auto ch = nt::chunk(x, 3, 1);
  REQUIRE(sizes_of(ch, 1) == Shape{4, 4, 2});
  check_equal("chunk round trip", nt::cat(ch, 1), Ref::of(x));

  REQUIRE_THROWS_WITH(nt::split_with_sizes(x, {3, 3}, 1),
                      Contains("split_with_sizes") && Contains("[3, 3]") && Contains("10"));
  REQUIRE_THROWS_WITH(nt::split(x, 0, 1), Contains("split"));
  REQUIRE_THROWS_WITH(nt::chunk(x, 0, 1), Contains("chunk"));
  REQUIRE_THROWS_WITH(nt::chunk(scalar_tensor(1.0), 2), Contains("chunk") && Contains("0-d"));
}

TEST_CASE("broadcast_shapes and wrap_dim", "[tensor][shape]") {
  CHECK(nt::broadcast_shapes({3, 1, 5}, {4, 1}) == Shape{3, 4, 5});
  CHECK(nt::broadcast_shapes({}, {2, 3}) == Shape{2, 3});
  CHECK(nt::broadcast_shapes({0, 1}, {1, 7}) == Shape{0, 7});
  REQUIRE_THROWS_WITH(nt::broadcast_shapes({3, 2}, {3}, "myop"),
                      Contains("myop") && Contains("[3, 2]") && Contains("[3]"));
  CHECK(nt::wrap_dim(-1, 3) == 2);
  CHECK(nt::wrap_dim(0, 0) == 0);
  CHECK(nt::wrap_dim(-1, 0) == 0);
  REQUIRE_THROWS_WITH(nt::wrap_dim(3, 3, "myop"), Contains("myop") && Contains("3"));
  REQUIRE_THROWS_AS(nt::wrap_dim(-4, 3), Error);
}
