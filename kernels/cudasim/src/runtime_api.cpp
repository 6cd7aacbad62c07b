// SPDX-License-Identifier: Apache-2.0
/// @brief The CUDA runtime subset the CUDA backend calls, served on host memory (TESSERA_CUDA_SIM).
///
/// Signatures are CUDA's own (declared by <cuda_runtime_api.h>), so backend code compiled with g++
/// links against this library instead of libcudart. "Device" memory is aligned host memory,
/// tracked so that cudaFree of a foreign pointer fails like it does on the GPU. Streams run
/// everything synchronously (a launch returns when the kernel is done), so events only carry
/// host timestamps and stream/event synchronisation has nothing to wait for.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <unordered_set>

#include <tessera/cudasim/keywords.h>

#include <cuda_runtime_api.h>

#include "block.h"

struct CUstream_st {
  int flags = 0;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point time{};
  bool recorded = false;
};

namespace tessera::cudasim::detail {
namespace {

constexpr size_t kAlign = 256;  // cudaMalloc's documented minimum alignment

struct RuntimeState {
  std::mutex mutex;
  std::unordered_set<void*> device_allocations;
  std::unordered_set<void*> host_allocations;
  std::unordered_map<const void*, int> max_dynamic_smem;
};
RuntimeState& runtime() {
  static RuntimeState s;
  return s;
}
thread_local cudaError_t tls_last_error = cudaSuccess;

cudaError_t record(cudaError_t e) {
  if (e != cudaSuccess) tls_last_error = e;
  return e;
}

void* aligned_alloc_or_null(size_t bytes) {
  return ::operator new (bytes == 0 ? 1 : bytes, std::align_val_t{kAlign}, std::nothrow);
}
void aligned_free(void* p) { ::operator delete (p, std::align_val_t{kAlign}); }

}  // namespace

int max_dynamic_smem_attribute(const void* kernel) {
  RuntimeState& s = runtime();
  std::lock_guard lock(s.mutex);
  const auto it = s.max_dynamic_smem.find(kernel);
  return it == s.max_dynamic_smem.end() ? 0 : it->second;
}

}  // namespace tessera::cudasim::detail

using tessera::cudasim::detail::record;
using tessera::cudasim::detail::runtime;

extern "C" {

cudaError_t cudaMalloc(void** ptr, size_t size) {
  if (ptr == nullptr) return record(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (size == 0) return cudaSuccess;
  void* p = tessera::cudasim::detail::aligned_alloc_or_null(size);
  if (p == nullptr) return record(cudaErrorMemoryAllocation);
  std::lock_guard lock(runtime().mutex);
  runtime().device_allocations.insert(p);
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  {
    std::lock_guard lock(runtime().mutex);
    if (runtime().device_allocations.erase(ptr) == 0) return record(cudaErrorInvalidValue);
  }
  tessera::cudasim::detail::aligned_free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t size) {
  if (ptr == nullptr) return record(cudaErrorInvalidValue);
  void* p = tessera::cudasim::detail::aligned_alloc_or_null(size);
  if (p == nullptr) return record(cudaErrorMemoryAllocation);
  std::lock_guard lock(runtime().mutex);
  runtime().host_allocations.insert(p);
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  {
    std::lock_guard lock(runtime().mutex);
    if (runtime().host_allocations.erase(ptr) == 0) return record(cudaErrorInvalidValue);
  }
  tessera::cudasim::detail::aligned_free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind) {
  if (count == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr || kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault)
    return record(cudaErrorInvalidValue);
  std::memmove(dst, src, count);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind,
                            cudaStream_t) {
  return cudaMemcpy(dst, src, count, kind);
}

cudaError_t cudaMemset(void* dst, int value, size_t count) {
  if (count == 0) return cudaSuccess;
  if (dst == nullptr) return record(cudaErrorInvalidValue);
  std::memset(dst, value, count);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t count, cudaStream_t) {
  return cudaMemset(dst, value, count);
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  if (stream == nullptr) return record(cudaErrorInvalidValue);
  *stream = new CUstream_st;
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  if (stream == nullptr) return record(cudaErrorInvalidValue);
  *stream = new CUstream_st{static_cast<int>(flags)};
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr) return record(cudaErrorInvalidResourceHandle);
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamQuery(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t event, unsigned int) {
  return event == nullptr ? record(cudaErrorInvalidResourceHandle) : cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  if (event == nullptr) return record(cudaErrorInvalidValue);
  *event = new CUevent_st;
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int) {
  return cudaEventCreate(event);
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (event == nullptr) return record(cudaErrorInvalidResourceHandle);
  event->time = std::chrono::steady_clock::now();
  event->recorded = true;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  return event == nullptr ? record(cudaErrorInvalidResourceHandle) : cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  return event == nullptr ? record(cudaErrorInvalidResourceHandle) : cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (ms == nullptr) return record(cudaErrorInvalidValue);
  if (start == nullptr || end == nullptr) return record(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !end->recorded) return record(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (event == nullptr) return record(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return record(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (prop == nullptr) return record(cudaErrorInvalidValue);
  if (device != 0) return record(cudaErrorInvalidDevice);
  std::memset(prop, 0, sizeof(*prop));
  std::strncpy(prop->name, "cudasim (H100-like, CPU fibers)", sizeof(prop->name) - 1);
  prop->totalGlobalMem = size_t{80} << 30;
  prop->sharedMemPerBlock = 48 * 1024;
  prop->sharedMemPerBlockOptin = 227 * 1024;
  prop->sharedMemPerMultiprocessor = 228 * 1024;
  prop->regsPerBlock = 65536;
  prop->regsPerMultiprocessor = 65536;
  prop->warpSize = 32;
  prop->memPitch = size_t{1} << 31;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7FFFFFFF;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->totalConstMem = 64 * 1024;
  prop->major = 9;
  prop->minor = 0;
  prop->textureAlignment = 512;
  prop->multiProcessorCount = 132;
  prop->integrated = 0;
  prop->canMapHostMemory = 1;
  prop->concurrentKernels = 1;
  prop->memoryBusWidth = 5120;
  prop->l2CacheSize = 50 * 1024 * 1024;
  prop->persistingL2CacheMaxSize = 30 * 1024 * 1024;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->maxBlocksPerMultiProcessor = 32;
  prop->unifiedAddressing = 1;
  prop->managedMemory = 1;
  prop->asyncEngineCount = 2;
  prop->pciBusID = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : record(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return record(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = tessera::cudasim::detail::tls_last_error;
  tessera::cudasim::detail::tls_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) { return tessera::cudasim::detail::tls_last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    default:
      return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle:
      return "invalid resource handle";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorNotReady:
      return "device not ready";
    default:
      return "unrecognized error code (cudasim)";
  }
}

cudaError_t cudaFuncSetAttribute(const void* func, enum cudaFuncAttribute attr, int value) {
  if (func == nullptr) return record(cudaErrorInvalidDeviceFunction);
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || value > 227 * 1024) return record(cudaErrorInvalidValue);
    std::lock_guard lock(runtime().mutex);
    runtime().max_dynamic_smem[func] = value;
  }
  return cudaSuccess;
}

}  // extern "C"
