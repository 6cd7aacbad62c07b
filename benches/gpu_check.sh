#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# gpu_check.sh [BUILD_DIR]: on a machine with an NVIDIA GPU (H100/H200: sm_90), builds the real CUDA
# backend, runs every CUDA test (tests/cuda, the same sources the cudasim build runs, linked against
# libcudart and cuBLAS) and the CUDA bench, and prints a short table. Budget: under 8 minutes.
#   BUILD_DIR defaults to build-gpu. Env: CUDA_ARCH (default 90), JOBS (default nproc).
#   Needs the build dependencies of `make build` (scripts/install_deps.sh) and nvcc.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-gpu}"
arch="${CUDA_ARCH:-90}"
jobs="${JOBS:-$(nproc)}"
start=$SECONDS
stamp() { echo "[gpu_check +$((SECONDS - start))s] $*"; }

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no NVIDIA GPU visible (nvidia-smi -L failed); nothing to check" >&2
  exit 2
fi
nvidia-smi -L
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
stamp "configure (nvcc: $nvcc, sm_$arch)"
mkdir -p "$build"
log="$build/configure.log"
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -G Ninja "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DTESSERA_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  -DTESSERA_BUILD_TESTS=ON -DTESSERA_BUILD_BENCHES=ON -DTESSERA_BUILD_EXAMPLES=OFF >"$log" 2>&1 \
  || { cat "$log"; exit 1; }

stamp "build test_cuda test_cuda_autograd test_cuda_attention bench_cuda_ops"
cmake --build "$build" -j "$jobs" --target test_cuda test_cuda_autograd test_cuda_attention bench_cuda_ops

stamp "tests (tests/cuda on the GPU)"
test_status=0
"$build/tests/cuda/test_cuda" --reporter compact || test_status=$?
"$build/tests/cuda/test_cuda_autograd" --reporter compact || test_status=$?
"$build/tests/cuda/test_cuda_attention" --reporter compact || test_status=$?

stamp "bench"
bench_status=0
"$build/benches/cuda/bench_cuda_ops" --json "$build/bench_cuda_ops.json" || bench_status=$?

stamp "done: tests $([[ $test_status -eq 0 ]] && echo PASSED || echo FAILED), bench $([[ $bench_status -eq 0 ]] && echo OK || echo FAILED); JSON in $build/bench_cuda_ops.json"
[[ $test_status -eq 0 && $bench_status -eq 0 ]]
