#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# gpu_check.sh [BUILD_DIR]: on a machine with an NVIDIA GPU (H100/H200: sm_90), builds the real CUDA
# backend, runs every CUDA test (tests/cuda, the same sources the cudasim build runs, linked against
# libcudart and cuBLAS), the NCCL communicator's test (tests/parallel/test_nccl.cpp: one rank, and
# two ranks under mpirun when there are two GPUs; "skipped: ..." without NCCL, MPI or a second GPU)
# and the CUDA bench, and prints a short table. Budget: under 8 minutes.
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
  -DTESSERA_BUILD_TESTS=ON -DTESSERA_BUILD_BENCHES=ON -DTESSERA_BUILD_EXAMPLES=ON >"$log" 2>&1 \
  || { cat "$log"; exit 1; }

stamp "build the CUDA tests, bench_cuda_ops and the examples"
cmake --build "$build" -j "$jobs" --target test_cuda test_cuda_autograd test_cuda_attention \
  test_cuda_fused_norm test_cuda_fused_ce_adamw test_cuda_gpt test_cuda_translation \
  bench_cuda_ops train_gpt generate train_translation translate

stamp "tests (tests/cuda on the GPU)"
test_status=0
"$build/tests/cuda/test_cuda" --reporter compact || test_status=$?
"$build/tests/cuda/test_cuda_autograd" --reporter compact || test_status=$?
"$build/tests/cuda/test_cuda_attention" --reporter compact || test_status=$?
"$build/tests/cuda/test_cuda_fused_norm" --reporter compact || test_status=$?
"$build/tests/cuda/test_cuda_fused_ce_adamw" --reporter compact || test_status=$?
stamp "end to end (GPT and TransformerMT against the CPU; the example programs with --device cuda)"
"$build/tests/cuda/test_cuda_gpt" --reporter compact || test_status=$?
"$build/tests/cuda/test_cuda_translation" --reporter compact || test_status=$?
bash "$root/tests/examples/test_train_gpt_cuda.sh" "$build/examples/train_gpt/train_gpt" \
  "$build/examples/generate/generate" || test_status=$?
bash "$root/tests/examples/test_train_translation_cuda.sh" \
  "$build/examples/train_translation/train_translation" "$build/examples/translate/translate" ||
  test_status=$?

stamp "NCCL communicator (tests/parallel/test_nccl.cpp)"
nccl_status=0
nccl_note=""
run_nccl() {  # run_nccl LABEL CMD...: 0 passed, 77 skipped (the program says why), else failed
  local what="$1" rc=0
  shift
  timeout 300 "$@" --reporter compact || rc=$?
  if [[ $rc -eq 0 ]]; then
    nccl_note+=" $what passed;"
  elif [[ $rc -eq 77 ]]; then
    nccl_note+=" $what skipped;"
  else
    nccl_note+=" $what FAILED (exit $rc);"
    nccl_status=1
  fi
}
if grep -q "parallel backends: .*NCCL ON" "$log"; then
  if cmake --build "$build" -j "$jobs" --target test_parallel_nccl; then
    nccl_bin="$build/tests/parallel/test_parallel_nccl"
    run_nccl "1 rank" "$nccl_bin"
    gpus=$(nvidia-smi -L | grep -c '^GPU' || true)
    if [[ $gpus -lt 2 ]]; then
      echo "nccl 2 ranks: skipped: $gpus GPU(s) on this machine (needs 2)"
      nccl_note+=" 2 ranks skipped ($gpus GPU);"
    elif ! grep -q "MPI backend ON" "$log" || ! command -v mpirun >/dev/null 2>&1; then
      echo "nccl 2 ranks: skipped: no MPI (mpirun or the MPI build of tessera::parallel missing)"
      nccl_note+=" 2 ranks skipped (no MPI);"
    else
      root_flags=()
      [[ $EUID -eq 0 ]] && root_flags=(--allow-run-as-root)
      run_nccl "2 ranks" mpirun -np 2 "${root_flags[@]}" -x OMP_NUM_THREADS=4 "$nccl_bin"
    fi
  else
    nccl_status=1
    nccl_note=" build FAILED"
  fi
else
  echo "nccl: skipped: this build has no NCCL backend (nccl.h / libnccl not found by the configure)"
  nccl_note=" skipped (no NCCL)"
fi

stamp "bench"
bench_status=0
"$build/benches/cuda/bench_cuda_ops" --json "$build/bench_cuda_ops.json" || bench_status=$?

stamp "done: tests $([[ $test_status -eq 0 ]] && echo PASSED || echo FAILED), nccl:${nccl_note}, bench $([[ $bench_status -eq 0 ]] && echo OK || echo FAILED); JSON in $build/bench_cuda_ops.json"
[[ $test_status -eq 0 && $nccl_status -eq 0 && $bench_status -eq 0 ]]
