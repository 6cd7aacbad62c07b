// SPDX-License-Identifier: Apache-2.0
/// @brief Launching a kernel under cudasim: the grid's blocks run as fiber groups on CPU threads.
///
/// Kernel arguments are converted to the kernel's parameter types once, as the CUDA runtime copies
/// them into the parameter buffer; every thread then receives its own by-value copy.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include <tessera/cudasim/keywords.h>

#include <cuda_runtime_api.h>

#include <tessera/cudasim/core.h>

namespace tessera::cudasim {

struct LaunchSpec {
  dim3 grid;
  dim3 block;
  size_t smem_bytes = 0;
  cudaStream_t stream = nullptr;
  const void* kernel = nullptr;  ///< identity for cudaFuncSetAttribute
  const char* name = "kernel";
  const char* file = "";
  int line = 0;
  bool serial_blocks = false;  ///< NOTE [static shared memory] in keywords.h
};

/// Runs `run(ctx)` once per CUDA thread of the grid. Throws tessera::Error on a bad configuration
/// or when the kernel misuses a barrier, a warp collective or shared memory.
void launch(const LaunchSpec& spec, void (*run)(void*), void* ctx);

template <typename... P, typename... A>
void launch_kernel(void (*kernel)(P...), LaunchSpec spec, A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "cudasim: wrong number of kernel arguments");
  struct Call {
    void (*kernel)(P...);
    std::tuple<std::decay_t<P>...> args;
    static void run(void* self) {
      auto* c = static_cast<Call*>(self);
      std::apply(c->kernel, c->args);
    }
  };
  Call call{kernel, std::tuple<std::decay_t<P>...>(std::forward<A>(args)...)};
  spec.kernel = reinterpret_cast<const void*>(kernel);
  spec.serial_blocks = spec.serial_blocks || TESSERA_CUDASIM_STATIC_SHARED;
  launch(spec, &Call::run, &call);
}

}  // namespace tessera::cudasim

/// cuda_runtime.h's typed overload, which g++ does not see.
template <typename... P>
cudaError_t cudaFuncSetAttribute(void (*func)(P...), cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(func), attr, value);
}
