// SPDX-License-Identifier: Apache-2.0
/// @brief Every Communicator collective against its definition, computed in float64 from all
/// ranks' inputs (each rank regenerates every other rank's input from the shared seed): dtypes
/// bool/int32/int64/bf16/f16/f32/f64, sizes 0, 1, odd and > 1000, contiguous, transposed and
/// strided inputs. Run under mpirun -np 2 and -np 4 (tests/parallel/CMakeLists.txt).
#include <catch2/catch.hpp>

#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/parallel/communicator.h>

#include "mpi_world.h"
#include "test_util.h"

using namespace tessera;
using namespace tessera::parallel;
using tessera::test::Layout;
using tessera::test::Ref;

namespace {

const std::vector<DType> kAllTypes = {kBool,    kInt32,   kInt64,  kBFloat16,
                                      kFloat16, kFloat32, kFloat64};

/// Rank r's input for case `seed`: small integers for integer dtypes, floats in [-2, 2).
Tensor input_of(int r, uint64_t seed, const Shape& shape, DType dtype, Layout layout) {
  std::mt19937 rng(static_cast<unsigned>(seed * 7919u + static_cast<unsigned>(r)));
  return test::random_tensor(shape, dtype, rng, layout, dtype == kBool ? 0 : -50, 50);
}
Tensor float_input_of(int r, uint64_t seed, const Shape& shape, DType dtype, Layout layout) {
  std::mt19937 rng(static_cast<unsigned>(seed * 7919u + static_cast<unsigned>(r)));
  return test::random_tensor(shape, dtype, rng, layout);
}

/// Tolerance of a reduction over p ranks: the wire sums in float32 (16-bit) or the dtype, then
/// rounds once to the dtype.
test::Tol reduce_tol(DType t, int p) {
  switch (t) {
    case kFloat64:
      return {1e-13 * p, 1e-13 * p};
    case kFloat32:
      return {1e-6 * p, 1e-6 * p};
    case kFloat16:
      return {2e-3, 1e-3};
    case kBFloat16:
      return {1.6e-2, 8e-3};
    default:
      return {0, 0};
  }
}

Ref reduce_ref(const std::vector<Ref>& in, DType dtype, ReduceOp op) {
  Ref out = in[0];
  for (size_t i = 0; i < out.v.size(); ++i) {
    double acc = in[0].v[i];
    for (size_t r = 1; r < in.size(); ++r) {
      const double x = in[r].v[i];
      if (dtype == kBool)
        acc = (acc != 0 || x != 0) ? 1 : 0;
      else if (op == ReduceOp::Max)
        acc = std::max(acc, x);
      else
        acc += x;
    }
    if (op == ReduceOp::Avg) acc /= static_cast<double>(in.size());
    out.v[i] = test::round_to(dtype, acc);
  }
  return out;
}

std::string label(const char* what, DType t, const Shape& s, Layout l, ReduceOp op) {
  std::ostringstream os;
  os << what << " " << reduce_op_name(op) << " " << t << " " << shape_str(s) << " "
     << test::layout_name(l) << " rank " << test::world()->rank();
  return os.str();
}

const std::vector<Shape> kShapes = {{0}, {1}, {7}, {3, 5}, {1031}};
const std::vector<Layout> kLayouts = {Layout::Contiguous, Layout::Transposed, Layout::Strided};

}  // namespace

TEST_CASE("all_reduce sum / avg / max matches its definition", "[parallel][collectives]") {
  Communicator& c = *test::world();
  const int p = c.size();
  uint64_t seed = 1;
  for (DType dtype : kAllTypes)
    for (const Shape& shape : kShapes)
      for (Layout layout : kLayouts)
        for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max}) {
          ++seed;
          if (op == ReduceOp::Avg && !is_floating(dtype)) continue;
          const bool fl = is_floating(dtype);
          std::vector<Ref> in;
          for (int r = 0; r < p; ++r)
            in.push_back(Ref::of(fl ? float_input_of(r, seed, shape, dtype, layout)
                                    : input_of(r, seed, shape, dtype, layout)));
          Tensor mine = fl ? float_input_of(c.rank(), seed, shape, dtype, layout)
                           : input_of(c.rank(), seed, shape, dtype, layout);
          c.all_reduce(mine, op);
          test::check_close(label("all_reduce", dtype, shape, layout, op), mine,
                            reduce_ref(in, dtype, op), reduce_tol(dtype, p));
        }
}

TEST_CASE("all_reduce through a strided view leaves the elements between untouched",
          "[parallel][collectives]") {
  Communicator& c = *test::world();
  Tensor base = full({9}, Scalar(-7.0), {.dtype = kFloat32});
  Tensor view = native::slice(base, 0, 1, 9, 2);  // elements 1, 3, 5, 7
  native::fill_(view, Scalar(static_cast<double>(c.rank() + 1)));
  c.all_reduce(view, ReduceOp::Sum);
  const double expect = c.size() * (c.size() + 1) / 2.0;
  for (int64_t i = 0; i < 9; ++i) CHECK(test::get(base, {i}) == (i % 2 == 1 ? expect : -7.0));
}

TEST_CASE("all_reduce_async completes on wait and on test", "[parallel][collectives]") {
  Communicator& c = *test::world();
  Tensor a = full({5}, Scalar(static_cast<double>(c.rank())), {.dtype = kFloat64});
  Tensor b = full({3}, Scalar(1.0), {.dtype = kFloat32});
  auto wa = c.all_reduce_async(a, ReduceOp::Sum);
  auto wb = c.all_reduce_async(b, ReduceOp::Avg);
  while (!wb->test()) {
  }
  wa->wait();
  CHECK(test::values(a) == std::vector<double>(5, c.size() * (c.size() - 1) / 2.0));
  CHECK(test::values(b) == std::vector<double>(3, 1.0));
}

TEST_CASE("broadcast copies the root's tensor", "[parallel][collectives]") {
  Communicator& c = *test::world();
  uint64_t seed = 1000;
  for (DType dtype : kAllTypes)
    for (const Shape& shape : kShapes)
      for (Layout layout : kLayouts)
        for (int root = 0; root < c.size(); root += std::max(1, c.size() - 1)) {
          ++seed;
          const Ref expect = Ref::of(input_of(root, seed, shape, dtype, layout));
          Tensor mine = input_of(c.rank(), seed, shape, dtype, layout);
          c.broadcast(mine, root);
          test::check_equal(label("broadcast", dtype, shape, layout, ReduceOp::Sum), mine, expect);
        }
}

TEST_CASE("all_gather stacks every rank's tensor", "[parallel][collectives]") {
  Communicator& c = *test::world();
  uint64_t seed = 2000;
  for (DType dtype : kAllTypes)
    for (const Shape& shape : kShapes)
      for (Layout layout : kLayouts) {
        ++seed;
        Shape out_shape = shape;
        out_shape.insert(out_shape.begin(), c.size());
        Ref expect(out_shape);
        for (int r = 0; r < c.size(); ++r) {
          const Ref in = Ref::of(input_of(r, seed, shape, dtype, layout));
          std::copy(in.v.begin(), in.v.end(),
                    expect.v.begin() + static_cast<int64_t>(r * in.v.size()));
        }
        const Tensor got = c.all_gather(input_of(c.rank(), seed, shape, dtype, layout));
        CHECK(got.dtype() == dtype);
        test::check_equal(label("all_gather", dtype, shape, layout, ReduceOp::Sum), got, expect);
      }
}

TEST_CASE("reduce_scatter gives each rank the reduction of its slice", "[parallel][collectives]") {
  Communicator& c = *test::world();
  const int p = c.size();
  uint64_t seed = 3000;
  for (DType dtype : kAllTypes)
    for (const Shape& inner : std::vector<Shape>{{0}, {1}, {7}, {2, 3}, {263}})
      for (Layout layout : kLayouts)
        for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max}) {
          ++seed;
          if (op == ReduceOp::Avg && !is_floating(dtype)) continue;
          Shape shape = inner;
          shape.insert(shape.begin(), p);
          const bool fl = is_floating(dtype);
          auto make = [&](int r) {
            return fl ? float_input_of(r, seed, shape, dtype, layout)
                      : input_of(r, seed, shape, dtype, layout);
          };
          std::vector<Ref> in;
          for (int r = 0; r < p; ++r) {
            const Ref all = Ref::of(make(r));
            const size_t n = all.v.size() / static_cast<size_t>(p);
            in.push_back(Ref(inner, std::vector<double>(
                                        all.v.begin() + static_cast<int64_t>(n * c.rank()),
                                        all.v.begin() + static_cast<int64_t>(n * (c.rank() + 1)))));
          }
          const Tensor got = c.reduce_scatter(make(c.rank()), op);
          CHECK(got.dtype() == dtype);
          test::check_close(label("reduce_scatter", dtype, shape, layout, op), got,
                            reduce_ref(in, dtype, op), reduce_tol(dtype, p));
        }
}

TEST_CASE("send / recv around a ring, and a mismatched size is an error",
          "[parallel][collectives]") {
  Communicator& c = *test::world();
  if (c.size() < 2) return;
  const int next = (c.rank() + 1) % c.size(), prev = (c.rank() + c.size() - 1) % c.size();
  for (DType dtype : kAllTypes)
    for (const Shape& shape : kShapes) {
      const uint64_t seed =
          4000 + static_cast<uint64_t>(dtype) * 10 + static_cast<uint64_t>(shape.size());
      Tensor out = input_of(c.rank(), seed, shape, dtype, Layout::Transposed);
      Tensor in = zeros(shape, {.dtype = dtype});
      if (c.rank() % 2 == 0) {
        c.send(out, next, 3);
        c.recv(in, prev, 3);
      } else {
        c.recv(in, prev, 3);
        c.send(out, next, 3);
      }
      test::check_equal("ring recv", in,
                        Ref::of(input_of(prev, seed, shape, dtype, Layout::Transposed)));
    }
  // The receiver expects 4 elements, the sender sends 5: a clear error, never a silent truncation.
  if (c.rank() == 0) c.send(ones({5}), 1, 9);
  if (c.rank() == 1) {
    Tensor small = zeros({4});
    CHECK_THROWS_WITH(c.recv(small, 0, 9), Catch::Contains("recv"));
  }
  c.barrier();
}

TEST_CASE("bad arguments are errors naming the op", "[parallel][collectives]") {
  Communicator& c = *test::world();
  Tensor ints = zeros({3}, {.dtype = kInt32});
  CHECK_THROWS_WITH(c.all_reduce(ints, ReduceOp::Avg),
                    Catch::Contains("avg needs a floating tensor"));
  CHECK_THROWS_WITH(c.reduce_scatter(zeros({c.size() + 1, 2})), Catch::Contains("leading dim"));
  CHECK_THROWS_WITH(c.send(zeros({1}), c.rank()), Catch::Contains("not another rank"));
  Tensor t = zeros({1});
  CHECK_THROWS_WITH(c.broadcast(t, c.size()), Catch::Contains("root"));
}

TEST_CASE("split builds sub-communicators and payload bytes are counted",
          "[parallel][collectives]") {
  Communicator& c = *test::world();
  auto half = c.split(c.rank() % 2, c.rank());
  CHECK(half->size() == (c.size() + 1 - c.rank() % 2) / 2);
  CHECK(half->world_rank_of(half->rank()) == c.rank());
  Tensor x = full({4}, Scalar(1.0), {.dtype = kFloat32});
  const int64_t before = half->payload_bytes();
  half->all_reduce(x);
  CHECK(half->payload_bytes() - before == 16);
  CHECK(test::values(x) == std::vector<double>(4, static_cast<double>(half->size())));
}
