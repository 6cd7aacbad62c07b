// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA device layer: availability, caching allocator reuse and statistics, copies, streams,
/// events, device-mismatch errors.
#include <catch2/catch.hpp>

#include "cuda/cuda_test_util.h"

using namespace tessera;
using namespace tessera::test;

TEST_CASE("cuda device layer reports one device", "[cuda][device]") {
  REQUIRE(cuda::is_available());
  CHECK(cuda::device_count() >= 1);
  CHECK(cuda::current_device() == 0);
  CHECK_THROWS_WITH(cuda::set_device(7), Catch::Contains("does not exist"));
}

TEST_CASE("cuda round trips preserve every dtype and layout bit for bit", "[cuda][copy]") {
  std::mt19937 rng(11);
  for (DType t : {kBool, kInt32, kInt64, kBFloat16, kFloat16, kFloat32, kFloat64}) {
    for (Layout l : {Layout::Contiguous, Layout::Transposed, Layout::Strided, Layout::Broadcast}) {
      const Tensor x = random_tensor({3, 5, 7}, t, rng, l);
      const Tensor d = native::to(x, kCuda);
      CHECK(d.device() == kCuda);
      CHECK(d.is_contiguous());
      const Tensor back = to_cpu(d);
      INFO(dtype_name(t) << " " << layout_name(l));
      CHECK(check_equal("round trip", back, Ref::of(x)));
      // A view of CUDA memory (same strides) copied back through the strided kernel.
      const Tensor v = to_cuda_view(x);
      CHECK(check_equal("view round trip", to_cpu(v), Ref::of(x)));
    }
  }
  // Empty and 0-d tensors.
  CHECK(to_cpu(native::to(zeros({0, 4}), kCuda)).numel() == 0);
  CHECK(native::to(scalar_tensor(2.5), kCuda).item<double>() == 2.5);
}

TEST_CASE("cuda copy_ casts between dtypes and layouts like the CPU", "[cuda][copy]") {
  std::mt19937 rng(12);
  const std::vector<DType> dtypes = {kBool,    kInt32,   kInt64,  kBFloat16,
                                     kFloat16, kFloat32, kFloat64};
  for (DType from : dtypes) {
    for (DType to : dtypes) {
      const Tensor x = random_tensor({4, 6}, from, rng, Layout::Strided, -50, 50);
      // CPU reference: copy_ into a transposed view.
      Tensor cpu_dst = native::transpose(zeros({6, 4}, {.dtype = to}), 0, 1);
      native::copy_(cpu_dst, x);
      Tensor cuda_dst = native::transpose(zeros({6, 4}, {.dtype = to, .device = kCuda}), 0, 1);
      native::copy_(cuda_dst, to_cuda_view(x));
      INFO(dtype_name(from) << " -> " << dtype_name(to));
      CHECK(check_equal("copy_", to_cpu(cuda_dst), Ref::of(cpu_dst)));
      // to(dtype) on CUDA, and copy_ from a CPU source into a CUDA tensor.
      CHECK(check_equal("to(dtype)", to_cpu(native::to(to_cuda_view(x), to)),
                        Ref::of(native::to(x, to))));
      Tensor dst2 = zeros({4, 6}, {.dtype = to, .device = kCuda});
      native::copy_(dst2, x);
      CHECK(check_equal("copy_ from cpu", to_cpu(dst2), Ref::of(native::to(x, to))));
    }
  }
  // CUDA -> CPU copy_ into a CPU view.
  const Tensor src = random_tensor({3, 3}, kFloat32, rng);
  Tensor host = native::transpose(zeros({3, 3}), 0, 1);
  native::copy_(host, native::to(src, kCuda));
  CHECK(check_equal("copy_ to cpu", host, Ref::of(src)));
}

TEST_CASE("cuda ops reject tensors on different devices", "[cuda][errors]") {
  const Tensor a = ones({3});
  const Tensor b = ones({3}, {.device = kCuda});
  CHECK_THROWS_WITH(native::add(a, b),
                    Catch::Contains("add") && Catch::Contains("cpu") && Catch::Contains("cuda:0"));
  CHECK_THROWS_WITH(
      native::matmul(native::reshape(b, {1, 3}), native::reshape(a, {3, 1})),
      Catch::Contains("matmul") && Catch::Contains("cpu") && Catch::Contains("cuda:0"));
  CHECK_THROWS_WITH(native::where(native::gt(b, 0), a, b), Catch::Contains("where"));
  CHECK_THROWS_WITH(native::index_select(b, 0, tensor({0, 1})), Catch::Contains("index_select"));
  CHECK_THROWS_WITH(native::to(a, Device("cuda:3")),
                    Catch::Contains("cuda:3") || Catch::Contains("does not exist"));
}

TEST_CASE("cuda caching allocator reuses blocks per stream and keeps statistics",
          "[cuda][allocator]") {
  cuda::empty_cache();
  const MemoryStats s0 = cuda::memory_stats(0);
  void* first = nullptr;
  {
    const Tensor t = empty({1000}, {.device = kCuda});  // 4000 bytes -> one 4096-byte block
    first = t.data_ptr();
    const MemoryStats s1 = cuda::memory_stats(0);
    CHECK(s1.allocated - s0.allocated == 4096);
    CHECK(s1.reserved - s0.reserved == 4096);
    CHECK(s1.num_allocs == s0.num_allocs + 1);
    CHECK(s1.peak_allocated >= s1.allocated);
  }
  const MemoryStats s2 = cuda::memory_stats(0);
  CHECK(s2.allocated == s0.allocated);       // freed
  CHECK(s2.reserved - s0.reserved == 4096);  // but cached
  {
    const Tensor t = empty({1010}, {.device = kCuda});  // rounds to the same 4096 bytes
    CHECK(t.data_ptr() == first);
    CHECK(cuda::memory_stats(0).reserved == s2.reserved);  // no new cudaMalloc
  }
  {
    // Another stream never gets the block (work queued on the first stream may still use it).
    cuda::OwnedStream side;
    cuda::StreamGuard guard(side.get());
    CHECK(cuda::current_stream().handle() == side.get().handle());
    const Tensor t = empty({1000}, {.device = kCuda});
    CHECK(t.data_ptr() != first);
    CHECK(cuda::memory_stats(0).reserved == s2.reserved + 4096);
  }
  CHECK(cuda::current_stream().handle() == nullptr);  // guard restored the default stream
  // Large sizes round to 2 MiB.
  {
    const Tensor big = empty({(1 << 20) + 1}, {.dtype = kInt32, .device = kCuda});
    CHECK(cuda::memory_stats(0).allocated - s0.allocated == (int64_t{2} << 20) * 3);
  }
  cuda::empty_cache();
  CHECK(cuda::memory_stats(0).reserved == cuda::memory_stats(0).allocated);
  reset_peak_memory(kCuda);
  CHECK(memory_stats(kCuda).peak_allocated == memory_stats(kCuda).allocated);
}

TEST_CASE("cuda work runs on the current stream; events time it", "[cuda][stream]") {
  cuda::OwnedStream s;
  cuda::Event start, stop;
  Tensor r;
  {
    cuda::StreamGuard g(s.get());
    start.record();
    r = native::add(ones({100}, {.device = kCuda}), 1);
    stop.record();
  }
  stop.synchronize();
  CHECK(stop.query());
  CHECK(stop.elapsed_ms(start) >= 0.0f);
  s.get().synchronize();
  CHECK(native::sum(r).item<double>() == 200.0);
}
