# SPDX-License-Identifier: Apache-2.0
# Compiler flags, option resolution and the helper that declares one tessera library.

# ---- CUDA: AUTO means "on when nvcc is found" --------------------------------
set(TESSERA_HAS_CUDA OFF)
if(NOT TESSERA_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(TESSERA_HAS_CUDA ON)
  elseif(TESSERA_CUDA STREQUAL "ON")
    message(FATAL_ERROR "TESSERA_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()
# Which CUDA backend tessera_tensor gets: "sim" (kernels compiled by g++ and run on cudasim),
# "cuda" (nvcc, libcudart, cuBLAS) or "none" (every op on a cuda tensor throws).
if(TESSERA_CUDA_SIM)
  set(TESSERA_CUDA_BACKEND sim)
elseif(TESSERA_HAS_CUDA)
  set(TESSERA_CUDA_BACKEND cuda)
else()
  set(TESSERA_CUDA_BACKEND none)
endif()
message(STATUS "tessera: CUDA backend ${TESSERA_HAS_CUDA}; cudasim ${TESSERA_CUDA_SIM}; backend ${TESSERA_CUDA_BACKEND}")

# ---- MPI ---------------------------------------------------------------------
set(TESSERA_HAS_MPI OFF)
if(NOT TESSERA_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS CXX QUIET)
  if(MPI_CXX_FOUND)
    set(TESSERA_HAS_MPI ON)
  elseif(TESSERA_MPI STREQUAL "ON")
    message(FATAL_ERROR "TESSERA_MPI=ON but MPI was not found (apt-get install libopenmpi-dev)")
  endif()
endif()
message(STATUS "tessera: MPI backend ${TESSERA_HAS_MPI}")

# ---- flags shared by every tessera target -------------------------------------
add_library(tessera_flags INTERFACE)
target_compile_options(tessera_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>
  # Error messages name files relative to the source tree, not the build machine's paths.
  $<BUILD_INTERFACE:$<$<COMPILE_LANGUAGE:CXX>:-fmacro-prefix-map=${PROJECT_SOURCE_DIR}/=>>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${TESSERA_WERROR}>>:-Werror>)
if(TESSERA_NATIVE)
  target_compile_options(tessera_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
  # GCC 12.2 with AVX-512 miscompiles SLP-vectorised constant stores: at -O2 -march=native,
  # std::vector<double>{2, 2, 0, 0} holds {2, 2, 2, 2} (found by tests/tensor). Off before GCC 13.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(tessera_flags INTERFACE
      $<$<COMPILE_LANGUAGE:CXX>:-fno-tree-slp-vectorize>)
  endif()
endif()
if(TESSERA_SANITIZE)
  target_compile_options(tessera_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined>)
  target_link_options(tessera_flags INTERFACE -fsanitize=address,undefined)
endif()
set_target_properties(tessera_flags PROPERTIES EXPORT_NAME flags)
install(TARGETS tessera_flags EXPORT tesseraTargets)

# tessera_library(<name> [SOURCES ...] [DEPS ...])
# Declares tessera_<name>, aliased tessera::<name>, with public headers in <name>/include and
# private code in <name>/src.
function(tessera_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target tessera_${name})
  if(NOT ARG_SOURCES)
    # A library whose issue has not landed yet: headers only, nothing that pretends to work.
    add_library(${target} INTERFACE)
    add_library(tessera::${name} ALIAS ${target})
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
    target_include_directories(${target}
      INTERFACE $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
    target_compile_features(${target} INTERFACE cxx_std_20)
  else()
    add_library(${target} ${ARG_SOURCES})
    add_library(tessera::${name} ALIAS ${target})
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME tessera_${name})
    target_include_directories(${target}
      PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
      PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS} tessera_flags)
    target_compile_features(${target} PUBLIC cxx_std_20)  # users' code compiles our headers too
  endif()
  install(TARGETS ${target} EXPORT tesseraTargets)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include)  # a library whose issue has not landed has none
    install(DIRECTORY include/ DESTINATION include)
  endif()
endfunction()
