#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# nvcc_check.sh BUILD_DIR: compiles every .cu file under kernels/cuda and tests/cudasim with nvcc
# (sm_80 and sm_90 in one invocation per file, warnings are errors), two files at a time.
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
[[ $status -eq 0 && $failed -eq 0 ]]
