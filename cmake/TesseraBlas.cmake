# SPDX-License-Identifier: Apache-2.0
# The CPU GEMM comes from OpenBLAS (Debian's OpenMP build, so that it shares libgomp's thread pool
# with tessera's own OpenMP loops instead of oversubscribing the cores). See docs/dependencies.md.
find_path(TESSERA_CBLAS_INCLUDE cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/aarch64-linux-gnu/openblas-openmp
        /usr/include/openblas /usr/include NO_DEFAULT_PATH)
find_library(TESSERA_OPENBLAS_LIBRARY NAMES openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-openmp
  NO_DEFAULT_PATH)
if(NOT TESSERA_OPENBLAS_LIBRARY)
  find_library(TESSERA_OPENBLAS_LIBRARY NAMES openblas)
endif()
if(NOT TESSERA_CBLAS_INCLUDE OR NOT TESSERA_OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS not found: apt-get install libopenblas-openmp-dev (scripts/install_deps.sh)")
endif()
message(STATUS "tessera: BLAS ${TESSERA_OPENBLAS_LIBRARY}")
add_library(tessera_blas INTERFACE)
target_include_directories(tessera_blas INTERFACE $<BUILD_INTERFACE:${TESSERA_CBLAS_INCLUDE}>)
target_link_libraries(tessera_blas INTERFACE $<BUILD_INTERFACE:${TESSERA_OPENBLAS_LIBRARY}>)
set_target_properties(tessera_blas PROPERTIES EXPORT_NAME blas)
install(TARGETS tessera_blas EXPORT tesseraTargets)
