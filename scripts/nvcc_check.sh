#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# nvcc_check.sh BUILD_DIR: compiles every .cu file under kernels/cuda and tests/cudasim with nvcc
# (sm_80 and sm_90 in one invocation per file, warnings are errors), two files at a time; then
# checks with the host compiler the C++ sources that only a -DTESSERA_CUDA=ON build compiles
# because they include the toolkit's headers (parallel/src/nccl_communicator.cpp: nccl.h).
# No GPU is needed. Without nvcc it says so and exits 0. Exits non-zero if any file fails.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-build-nvcc}"
nvcc="${NVCC:-/usr/local/cuda/bin/nvcc}"
jobs="${NVCC_JOBS:-2}"

if [[ ! -x "$nvcc" ]]; then
  echo "nvcc_check: no nvcc at $nvcc: skipped (set NVCC=/path/to/nvcc to check the CUDA sources)"
  exit 0
fi
mkdir -p "$build/nvcc_check"
out="$(cd "$build/nvcc_check" && pwd)"

mapfile -t files < <(cd "$root" && find kernels/cuda tests/cudasim -name '*.cu' -type f 2>/dev/null | sort)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "nvcc_check: no .cu files found"
  exit 0
fi

compile_one() {
  local rel="$1" obj log
  obj="$out/$(echo "$rel" | tr '/' '_').o"
  log="$obj.log"
  if (cd "$root" && "$nvcc" -std=c++20 \
        -gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90,code=sm_90 \
        -Werror all-warnings -Xcompiler -Wall,-Wextra,-Wno-unused-parameter \
        -I kernels/include -I tensor/include -c "$rel" -o "$obj") >"$log" 2>&1; then
    echo "ok    $rel"
  else
    echo "FAIL  $rel"
    sed 's/^/      /' "$log"
    return 1
  fi
}
export -f compile_one
export root out nvcc

echo "nvcc_check: $("$nvcc" --version | tail -1); ${#files[@]} file(s), $jobs at a time"
start=$SECONDS
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} bash -c 'compile_one "$@"' _ {} >"$out/summary.txt"
status=$?
cat "$out/summary.txt"
failed=$(grep -c '^FAIL' "$out/summary.txt")
echo "nvcc_check: $(( ${#files[@]} - failed )) passed, $failed failed in $(( SECONDS - start )) s"

# Host sources against the toolkit's headers (syntax and warnings only: -fsyntax-only -Werror).
cuda_inc="$(cd "$(dirname "$nvcc")/.." && pwd)/include"
host_failed=0
if [[ -f "$cuda_inc/nccl.h" ]]; then
  for rel in parallel/src/nccl_communicator.cpp; do
    log="$out/$(echo "$rel" | tr '/' '_').host.log"
    if (cd "$root" && "${CXX:-c++}" -std=c++20 -fsyntax-only -Wall -Wextra -Wno-unused-parameter \
          -Werror -DTESSERA_HAS_NCCL=1 -I parallel/include -I parallel/src -I nn/include \
          -I autograd/include -I tensor/include -I kernels/include -I models/include \
          -isystem "$cuda_inc" "$rel") >"$log" 2>&1; then
      echo "ok    $rel (host compiler, nccl.h from $cuda_inc)"
    else
      echo "FAIL  $rel (host compiler)"
      sed 's/^/      /' "$log"
      host_failed=1
    fi
  done
else
  echo "nvcc_check: no nccl.h in $cuda_inc: parallel/src/nccl_communicator.cpp not checked"
fi
[[ $status -eq 0 && $failed -eq 0 && $host_failed -eq 0 ]]
