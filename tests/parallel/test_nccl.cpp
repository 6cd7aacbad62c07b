// SPDX-License-Identifier: Apache-2.0
/// @brief The NCCL communicator on CUDA tensors against each collective's definition (float64
/// references built on the CPU from every rank's input, which each rank regenerates from the
/// shared seed): all_reduce sum/avg/max (blocking and async), broadcast, all_gather,
/// reduce_scatter, send/recv around a ring, barrier; dtypes bool/int32/int64/bf16/f16/f32/f64,
/// sizes 0, 1, 7, 3x5, 1031, contiguous / transposed / strided views; errors for CPU tensors and
/// for split.
///
/// Needs a GPU: built only with NCCL (-DTESSERA_CUDA=ON and nccl.h found), run by
/// benches/gpu_check.sh. Without mpirun: a world of one rank (the bootstrap is a LocalCommunicator
/// or MPI's singleton world). Under mpirun -np N: rank r on GPU (local rank % GPUs); with fewer
/// GPUs than ranks every rank prints "skipped: ..." and exits 77 (ctest's skip code).
/// Tolerances as tests/parallel/test_collectives.cpp: integers and bool exact; f64 1e-13 p,
/// f32 1e-6 p, f16 2e-3 + 1e-3 rel, bf16 1.6e-2 + 8e-3 rel (NCCL reduces 16-bit floats natively).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <random>

#include <tessera/creation.h>
#include <tessera/cuda.h>
#include <tessera/native.h>
#include <tessera/parallel/communicator.h>
#include <tessera/parallel/environment.h>
#include <tessera/parallel/nccl.h>

#include "test_util.h"

using namespace tessera;
using namespace tessera::parallel;
using tessera::test::Layout;
using tessera::test::Ref;

namespace {

std::shared_ptr<Communicator> g_nccl;
int g_device = 0;

Communicator& nccl() { return *g_nccl; }
Device dev() { return Device(DeviceType::CUDA, g_device); }

/// `x` on this rank's GPU with the same shape, strides and offset (its whole storage is copied), so
/// non-contiguous views reach the communicator as views.
Tensor to_gpu_view(const Tensor& x) {
  const int64_t n = static_cast<int64_t>(x.storage()->nbytes() / x.element_size());
  const Tensor flat(std::make_shared<TensorImpl>(x.storage(), Shape{n}, Shape{1}, 0, x.dtype()));
  const Tensor d = native::to(flat, dev());
  return Tensor(
      std::make_shared<TensorImpl>(d.storage(), x.shape(), x.strides(), x.offset(), x.dtype()));
}
Tensor to_cpu(const Tensor& x) { return native::to(x, kCPU); }

const std::vector<DType> kAllTypes = {kBool,    kInt32,   kInt64,  kBFloat16,
                                      kFloat16, kFloat32, kFloat64};
const std::vector<Shape> kShapes = {{0}, {1}, {7}, {3, 5}, {1031}};
const std::vector<Layout> kLayouts = {Layout::Contiguous, Layout::Transposed, Layout::Strided};

/// Rank r's input (CPU) for case `seed`: small integers for integer dtypes, floats in [-2, 2).
Tensor input_of(int r, uint64_t seed, const Shape& shape, DType dtype, Layout layout) {
  std::mt19937 rng(static_cast<unsigned>(seed * 7919u + static_cast<unsigned>(r)));
  if (is_floating(dtype)) return test::random_tensor(shape, dtype, rng, layout);
  return test::random_tensor(shape, dtype, rng, layout, dtype == kBool ? 0 : -50, 50);
}

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
     << test::layout_name(l) << " rank " << nccl().rank() << " (nccl, cuda:" << g_device << ")";
  return os.str();
}

}  // namespace

TEST_CASE("nccl all_reduce sum / avg / max matches its definition", "[parallel][nccl]") {
  Communicator& c = nccl();
  const int p = c.size();
  uint64_t seed = 1;
  for (DType dtype : kAllTypes)
    for (const Shape& shape : kShapes)
      for (Layout layout : kLayouts)
        for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max}) {
          ++seed;
          if (op == ReduceOp::Avg && !is_floating(dtype)) continue;
          std::vector<Ref> in;
          for (int r = 0; r < p; ++r)
            in.push_back(Ref::of(input_of(r, seed, shape, dtype, layout)));
          Tensor mine = to_gpu_view(input_of(c.rank(), seed, shape, dtype, layout));
          c.all_reduce(mine, op);
          REQUIRE(mine.device() == dev());
          test::check_close(label("all_reduce", dtype, shape, layout, op), to_cpu(mine),
                            reduce_ref(in, dtype, op), reduce_tol(dtype, p));
        }
}

TEST_CASE("nccl all_reduce through a strided view leaves the elements between untouched",
          "[parallel][nccl]") {
  Communicator& c = nccl();
  Tensor base = full({9}, Scalar(-7.0), {.dtype = kFloat32, .device = dev()});
  Tensor view = native::slice(base, 0, 1, 9, 2);  // elements 1, 3, 5, 7
  native::fill_(view, Scalar(static_cast<double>(c.rank() + 1)));
  c.all_reduce(view, ReduceOp::Sum);
  const double expect = c.size() * (c.size() + 1) / 2.0;
  const Tensor host = to_cpu(base);
  for (int64_t i = 0; i < 9; ++i) CHECK(test::get(host, {i}) == (i % 2 == 1 ? expect : -7.0));
}

TEST_CASE("nccl all_reduce_async completes on wait and on test", "[parallel][nccl]") {
  Communicator& c = nccl();
  // Inputs written by kernels on the current stream just before the call: the NCCL stream must
  // wait for them.
  Tensor a =
      full({1 << 20}, Scalar(static_cast<double>(c.rank())), {.dtype = kFloat64, .device = dev()});
  Tensor b = native::mul(full({3}, Scalar(0.5), {.dtype = kFloat32, .device = dev()}), Scalar(2.0));
  auto wa = c.all_reduce_async(a, ReduceOp::Sum);
  auto wb = c.all_reduce_async(b, ReduceOp::Avg);
  while (!wb->test()) {
  }
  wa->wait();
  const double want = c.size() * (c.size() - 1) / 2.0;
  const Tensor host = to_cpu(a);
  CHECK(
      native::amax(native::abs(native::sub(host, full_like(host, Scalar(want))))).item<double>() ==
      0.0);
  CHECK(test::values(to_cpu(b)) == std::vector<double>(3, 1.0));
}

TEST_CASE("nccl broadcast copies the root's tensor", "[parallel][nccl]") {
  Communicator& c = nccl();
  uint64_t seed = 1000;
  for (DType dtype : kAllTypes)
    for (const Shape& shape : kShapes)
      for (Layout layout : kLayouts)
        for (int root = 0; root < c.size(); root += std::max(1, c.size() - 1)) {
          ++seed;
          const Ref expect = Ref::of(input_of(root, seed, shape, dtype, layout));
          Tensor mine = to_gpu_view(input_of(c.rank(), seed, shape, dtype, layout));
          c.broadcast(mine, root);
          test::check_equal(label("broadcast", dtype, shape, layout, ReduceOp::Sum), to_cpu(mine),
                            expect);
        }
}

TEST_CASE("nccl all_gather stacks every rank's tensor", "[parallel][nccl]") {
  Communicator& c = nccl();
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
        const Tensor got =
            c.all_gather(to_gpu_view(input_of(c.rank(), seed, shape, dtype, layout)));
        CHECK(got.dtype() == dtype);
        CHECK(got.device() == dev());
        test::check_equal(label("all_gather", dtype, shape, layout, ReduceOp::Sum), to_cpu(got),
                          expect);
      }
}

TEST_CASE("nccl reduce_scatter gives each rank the reduction of its slice", "[parallel][nccl]") {
  Communicator& c = nccl();
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
          std::vector<Ref> in;
          for (int r = 0; r < p; ++r) {
            const Ref all = Ref::of(input_of(r, seed, shape, dtype, layout));
            const size_t n = all.v.size() / static_cast<size_t>(p);
            in.push_back(Ref(inner, std::vector<double>(
                                        all.v.begin() + static_cast<int64_t>(n * c.rank()),
                                        all.v.begin() + static_cast<int64_t>(n * (c.rank() + 1)))));
          }
          const Tensor got =
              c.reduce_scatter(to_gpu_view(input_of(c.rank(), seed, shape, dtype, layout)), op);
          CHECK(got.dtype() == dtype);
          test::check_close(label("reduce_scatter", dtype, shape, layout, op), to_cpu(got),
                            reduce_ref(in, dtype, op), reduce_tol(dtype, p));
        }
}

TEST_CASE("nccl send / recv around a ring, and barrier", "[parallel][nccl]") {
  Communicator& c = nccl();
  c.barrier();
  if (c.size() < 2) return;
  const int next = (c.rank() + 1) % c.size(), prev = (c.rank() + c.size() - 1) % c.size();
  for (DType dtype : kAllTypes)
    for (const Shape& shape : kShapes) {
      const uint64_t seed =
          4000 + static_cast<uint64_t>(dtype) * 10 + static_cast<uint64_t>(shape.size());
      Tensor out = to_gpu_view(input_of(c.rank(), seed, shape, dtype, Layout::Transposed));
      Tensor in = zeros(shape, {.dtype = dtype, .device = dev()});
      if (c.rank() % 2 == 0) {
        c.send(out, next, 3);
        c.recv(in, prev, 3);
      } else {
        c.recv(in, prev, 3);
        c.send(out, next, 3);
      }
      test::check_equal("ring recv (nccl)", to_cpu(in),
                        Ref::of(input_of(prev, seed, shape, dtype, Layout::Transposed)));
    }
  c.barrier();
}

TEST_CASE("nccl: CPU tensors, bad arguments and split are errors naming the op",
          "[parallel][nccl]") {
  Communicator& c = nccl();
  CHECK(c.backend() == "nccl");
  Tensor cpu = zeros({3});
  CHECK_THROWS_WITH(c.all_reduce(cpu), Catch::Contains("all_reduce") && Catch::Contains("cuda:"));
  CHECK_THROWS_WITH(c.all_gather(cpu), Catch::Contains("all_gather"));
  Tensor ints = zeros({3}, {.dtype = kInt32, .device = dev()});
  CHECK_THROWS_WITH(c.all_reduce(ints, ReduceOp::Avg),
                    Catch::Contains("avg needs a floating tensor"));
  CHECK_THROWS_WITH(c.reduce_scatter(zeros({c.size() + 1, 2}, {.device = dev()})),
                    Catch::Contains("leading dim"));
  Tensor t = zeros({1}, {.device = dev()});
  CHECK_THROWS_WITH(c.broadcast(t, c.size()), Catch::Contains("root"));
  CHECK_THROWS_WITH(c.split(0, c.rank()), Catch::Contains("split is not supported"));
  // The communicator still works after refused calls.
  Tensor one = ones({2}, {.device = dev()});
  c.all_reduce(one);
  CHECK(test::values(to_cpu(one)) == std::vector<double>(2, static_cast<double>(c.size())));
}

int main(int argc, char** argv) {
  Environment env(&argc, &argv);
  const auto& world = env.world();
  const int gpus = cuda::device_count();
  auto skip = [&](const std::string& why) {
    std::printf("test_parallel_nccl (rank %d of %d): skipped: %s\n", world->rank(), world->size(),
                why.c_str());
    return 77;
  };
  if (!Environment::has_nccl()) return skip("this build of tessera has no NCCL backend");
  if (gpus == 0 || cuda::is_simulated()) return skip("no CUDA device");
  // Every rank sees the same counts on one node, so every rank takes the same branch.
  if (world->size() > gpus)
    return skip(std::to_string(world->size()) + " ranks but " + std::to_string(gpus) +
                " GPU(s) on this machine (one GPU per rank)");
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  g_device = (local != nullptr ? std::atoi(local) : world->rank()) % gpus;
  cuda::set_device(g_device);
  g_nccl = make_nccl_communicator(*world, g_device);
  std::printf("test_parallel_nccl: rank %d of %d on cuda:%d (bootstrap: %s)\n", world->rank(),
              world->size(), g_device, world->backend().c_str());
  int failed = 0;
  try {
    failed = Catch::Session().run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", world->rank(), e.what());
    env.abort_job(3);
  }
  g_nccl.reset();
  // Fail the job if any rank failed (over the bootstrap communicator, on CPU tensors).
  Tensor any = full({1}, Scalar(int64_t{failed}), {.dtype = kInt64});
  world->all_reduce(any, ReduceOp::Max);
  return static_cast<int>(any.item<int64_t>());
}
