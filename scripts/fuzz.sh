#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzzes safetensors reading with libFuzzer + ASan + UBSan (clang; the main build uses g++).
#   scripts/fuzz.sh [seconds] [target]   seconds: default 20; exits non-zero on a crash or sanitizer
#                                        report. target: safetensors (default: the raw parser and
#                                        writer, three source files) or load (tessera::load/save
#                                        round trip; compiles the tensor core with clang, ~2 min).
# Environment: FUZZ_OUT (work dir, default build-fuzz), FUZZ_CXX (default clang++-14),
#              FUZZ_JOBS (parallel fuzzing processes, default 1).
# Findings land in $FUZZ_OUT/artifacts/; copy a reproducer into tests/fuzz/regressions/ so the
# replay test (tests/fuzz/test_fuzz_replay.cpp, part of ctest) keeps checking it.
set -euo pipefail

SECONDS_TO_RUN="${1:-20}"
TARGET="${2:-safetensors}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${FUZZ_OUT:-$ROOT/build-fuzz}"
case "$TARGET" in
  safetensors|load) ;;
  *) echo "fuzz.sh: unknown target '$TARGET' (safetensors or load)" >&2; exit 2 ;;
esac
if [[ "$TARGET" == load ]]; then OUT="$OUT/load"; fi
CXX="${FUZZ_CXX:-clang++-14}"
JOBS="${FUZZ_JOBS:-1}"

command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }
mkdir -p "$OUT/corpus" "$OUT/artifacts"
rm -f "$OUT"/fuzz*.log

# The parser's whole dependency set: error.h, nlohmann_json (system header), safetensors.cpp.
FLAGS=(-std=c++20 -g -O1 -I"$ROOT/kernels/include" -I"$ROOT/tensor/include" -I"$ROOT/tests/fuzz")
SAN=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
SRC=("$ROOT/tensor/src/safetensors.cpp")

echo "fuzz.sh: building the $TARGET target with $CXX"
if [[ "$TARGET" == safetensors ]]; then
  "$CXX" "${FLAGS[@]}" "${SAN[@]}" -o "$OUT/fuzz_target" "$ROOT/tests/fuzz/fuzz_safetensors.cpp" "${SRC[@]}"
else
  # The tensor core and the CPU kernels, without OpenMP (its pragmas only parallelize loops).
  BLAS_INC=/usr/include/x86_64-linux-gnu/openblas-openmp
  BLAS_LIB=/usr/lib/x86_64-linux-gnu/openblas-openmp
  mkdir -p "$OUT/obj"
  CORE=("$ROOT"/tensor/src/*.cpp "$ROOT"/tensor/src/native/*.cpp "$ROOT"/kernels/cpu/*.cpp)
  # Incremental: an object is rebuilt when its source or any header is newer.
  NEWEST_HEADER="$(ls -t $(find "$ROOT/kernels/include" "$ROOT/tensor/include" "$ROOT/tensor/src" \
                    "$ROOT/tests/fuzz" -name '*.h') | head -1)"
  printf '%s\n' "${CORE[@]}" "$ROOT/tests/fuzz/fuzz_load.cpp" | xargs -P 2 -I{} sh -c \
    'o="$0/obj/$(echo "{}" | tr / _).o"; [ "$o" -nt "{}" ] && [ "$o" -nt "$1" ] && exit 0; '"$CXX"' '"${FLAGS[*]}"' -I'"$ROOT"'/tensor/src -I'"$BLAS_INC"' \
       -Wno-unknown-pragmas -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
       -fno-omit-frame-pointer -c "{}" -o "$o"' "$OUT" "$NEWEST_HEADER"
  "$CXX" "${SAN[@]}" -o "$OUT/fuzz_target" "$OUT"/obj/*.o -L"$BLAS_LIB" -Wl,-rpath,"$BLAS_LIB" -lopenblas -lgomp
fi
"$CXX" "${FLAGS[@]}" -o "$OUT/make_seeds" "$ROOT/tests/fuzz/make_seeds.cpp" "${SRC[@]}"

"$OUT/make_seeds" "$OUT/corpus"
if compgen -G "$ROOT/tests/fuzz/regressions/*" >/dev/null; then
  cp "$ROOT"/tests/fuzz/regressions/* "$OUT/corpus/"
fi

echo "fuzz.sh: fuzzing for ${SECONDS_TO_RUN}s"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
PARALLEL=()
if [[ "$JOBS" -gt 1 ]]; then PARALLEL=(-jobs="$JOBS" -workers="$JOBS"); fi
set +e
cd "$OUT"  # libFuzzer writes fuzz-<n>.log files for parallel jobs into the working directory
"$OUT/fuzz_target" "$OUT/corpus" \
  -dict="$ROOT/tests/fuzz/safetensors.dict" \
  -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  "${PARALLEL[@]}" \
  -artifact_prefix="$OUT/artifacts/" -print_final_stats=1 2>&1 | tee "$OUT/fuzz.log" | grep -vE '^(#[0-9]|"|###|\s+NEW_FUNC)' 
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]] || cat "$OUT"/fuzz*.log | grep -qE 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error:'; then
  echo "fuzz.sh: FAILED (status $status); see $OUT/fuzz.log and $OUT/artifacts/" >&2
  exit 1
fi
echo "fuzz.sh: no findings in ${SECONDS_TO_RUN}s ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/fuzz.log" | awk '{print $2}') runs)"
