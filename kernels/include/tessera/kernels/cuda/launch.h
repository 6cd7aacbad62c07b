// SPDX-License-Identifier: Apache-2.0
/// @brief TESSERA_LAUNCH: one kernel launch spelling for nvcc (<<<>>>) and cudasim, with a check.
///
///   TESSERA_LAUNCH(kernel, grid, block, smem_bytes, stream)(args...);
///
/// A template kernel whose name has a top-level comma goes in parentheses:
///   TESSERA_LAUNCH((gemm_tile<float, 64>), grid, block, 0, stream)(a, b, c, n);
/// A failed launch (bad configuration; under cudasim also a divergent barrier, a bad warp mask,
/// a dynamic shared memory overflow) throws tessera::Error naming the kernel and launch site.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <tessera/error.h>

namespace tessera::kernels::cuda {

template <typename... P>
class Launch {
 public:
  Launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem_bytes, cudaStream_t stream,
         const char* name, const char* file, int line)
      : kernel_(kernel),
        grid_(grid),
        block_(block),
        smem_bytes_(smem_bytes),
        stream_(stream),
        name_(name),
        file_(file),
        line_(line) {}

  template <typename... A>
  void operator()(A&&... args) const {
#if defined(__CUDACC__)
    kernel_<<<grid_, block_, smem_bytes_, stream_>>>(std::forward<A>(args)...);
    const cudaError_t status = cudaGetLastError();
    if (status != cudaSuccess) {
      throw Error(file_, line_,
                  std::string("CUDA launch of kernel `") + name_ + "` failed: " +
                      cudaGetErrorString(status) + " (grid " + dims(grid_) + ", block " +
                      dims(block_) + ", " + std::to_string(smem_bytes_) + " bytes smem)");
    }
#else
    ::tessera::cudasim::LaunchSpec spec;
    spec.grid = grid_;
    spec.block = block_;
    spec.smem_bytes = smem_bytes_;
    spec.stream = stream_;
    spec.name = name_;
    spec.file = file_;
    spec.line = line_;
    ::tessera::cudasim::launch_kernel(kernel_, spec, std::forward<A>(args)...);
#endif
  }

 private:
  static std::string dims(dim3 d) {
    return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
  }
  void (*kernel_)(P...);
  dim3 grid_;
  dim3 block_;
  size_t smem_bytes_;
  cudaStream_t stream_;
  const char* name_;
  const char* file_;
  int line_;
};

}  // namespace tessera::kernels::cuda

#define TESSERA_LAUNCH(kernel, grid, block, smem_bytes, stream)                                  \
  ::tessera::kernels::cuda::Launch(kernel, grid, block, static_cast<size_t>(smem_bytes), stream, \
                                   #kernel, __FILE__, __LINE__)
