// SPDX-License-Identifier: Apache-2.0
/// @brief The CUDA runtime subset served by cudasim on host memory (for TESSERA_CUDA_SIM=ON).
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include <tessera/kernels/cuda/check.h>
#include <tessera/kernels/cuda/compat.h>

TEST_CASE("cudasim runtime: malloc, memcpy, memset, free", "[cudasim][runtime]") {
  void* p = nullptr;
  TESSERA_CUDA_CHECK(cudaMalloc(&p, 1000));
  REQUIRE(p != nullptr);
  REQUIRE(reinterpret_cast<uintptr_t>(p) % 256 == 0);
  std::vector<unsigned char> host(1000), back(1000);
  for (int i = 0; i < 1000; ++i) host[i] = static_cast<unsigned char>(i * 13);
  TESSERA_CUDA_CHECK(cudaMemcpy(p, host.data(), 1000, cudaMemcpyHostToDevice));
  TESSERA_CUDA_CHECK(cudaMemcpy(back.data(), p, 1000, cudaMemcpyDeviceToHost));
  REQUIRE(back == host);
  TESSERA_CUDA_CHECK(cudaMemset(p, 0xAB, 500));
  TESSERA_CUDA_CHECK(cudaMemcpy(back.data(), p, 1000, cudaMemcpyDeviceToHost));
  REQUIRE(back[0] == 0xAB);
  REQUIRE(back[499] == 0xAB);
  REQUIRE(back[500] == host[500]);
  cudaStream_t s = nullptr;
  TESSERA_CUDA_CHECK(cudaStreamCreate(&s));
  TESSERA_CUDA_CHECK(cudaMemsetAsync(p, 1, 10, s));
  TESSERA_CUDA_CHECK(cudaMemcpyAsync(back.data(), p, 10, cudaMemcpyDeviceToHost, s));
  TESSERA_CUDA_CHECK(cudaStreamSynchronize(s));
  REQUIRE(back[9] == 1);
  TESSERA_CUDA_CHECK(cudaStreamDestroy(s));
  TESSERA_CUDA_CHECK(cudaFree(p));

  void* h = nullptr;
  TESSERA_CUDA_CHECK(cudaMallocHost(&h, 64));
  TESSERA_CUDA_CHECK(cudaFreeHost(h));
  void* zero = reinterpret_cast<void*>(1);
  TESSERA_CUDA_CHECK(cudaMalloc(&zero, 0));
  REQUIRE(zero == nullptr);
  TESSERA_CUDA_CHECK(cudaFree(nullptr));
}

TEST_CASE("cudasim runtime: errors are returned, sticky until read, and checked",
          "[cudasim][runtime]") {
  REQUIRE(cudaGetLastError() == cudaSuccess);
  int local = 0;
  REQUIRE(cudaFree(&local) == cudaErrorInvalidValue);  // not from cudaMalloc
  REQUIRE(cudaPeekAtLastError() == cudaErrorInvalidValue);
  REQUIRE(cudaGetLastError() == cudaErrorInvalidValue);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  REQUIRE(std::string(cudaGetErrorString(cudaErrorInvalidValue)) == "invalid argument");
  REQUIRE(cudaSetDevice(1) == cudaErrorInvalidDevice);
  REQUIRE_THROWS_WITH(
      [] { TESSERA_CUDA_CHECK(cudaSetDevice(3)); }(),
      Catch::Contains("cudaSetDevice(3)") && Catch::Contains("cudaErrorInvalidDevice"));
  (void)cudaGetLastError();
}

TEST_CASE("cudasim runtime: device, events", "[cudasim][runtime]") {
  int count = 0, dev = -1;
  TESSERA_CUDA_CHECK(cudaGetDeviceCount(&count));
  REQUIRE(count == 1);
  TESSERA_CUDA_CHECK(cudaSetDevice(0));
  TESSERA_CUDA_CHECK(cudaGetDevice(&dev));
  REQUIRE(dev == 0);
  cudaDeviceProp prop;
  TESSERA_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  REQUIRE(prop.warpSize == 32);
  REQUIRE(prop.major == 9);
  REQUIRE(prop.maxThreadsPerBlock == 1024);
  REQUIRE(prop.sharedMemPerBlockOptin == 227 * 1024);
  REQUIRE(std::strlen(prop.name) > 0);
  TESSERA_CUDA_CHECK(cudaDeviceSynchronize());

  cudaEvent_t start, stop;
  TESSERA_CUDA_CHECK(cudaEventCreate(&start));
  TESSERA_CUDA_CHECK(cudaEventCreate(&stop));
  float ms = -1.0f;
  REQUIRE(cudaEventElapsedTime(&ms, start, stop) == cudaErrorInvalidResourceHandle);  // unrecorded
  (void)cudaGetLastError();
  TESSERA_CUDA_CHECK(cudaEventRecord(start, nullptr));
  volatile double sink = 0;
  for (int i = 0; i < 100000; ++i) sink = sink + i;
  TESSERA_CUDA_CHECK(cudaEventRecord(stop, nullptr));
  TESSERA_CUDA_CHECK(cudaEventSynchronize(stop));
  TESSERA_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  REQUIRE(ms >= 0.0f);
  REQUIRE(ms < 10000.0f);
  TESSERA_CUDA_CHECK(cudaEventDestroy(start));
  TESSERA_CUDA_CHECK(cudaEventDestroy(stop));
}
