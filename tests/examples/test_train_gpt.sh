#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end checks of train_gpt: a resumed run equals the uninterrupted one bit for bit, and each
# bad input gives a one-line error with exit code 2.
# Usage: test_train_gpt.sh TRAIN_GPT_BINARY [CUDA_BACKEND: none (default), sim or cuda]
set -uo pipefail
bin=$1
backend=${2:-none}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A small deterministic corpus.
for i in $(seq 1 400); do echo "the quick brown fox $i jumps over the lazy dog; tessera trains GPTs."; done > "$work/data.txt"
common=(--data "$work/data.txt" --tokenizer char --layers 2 --heads 2 --width 32 --context 16
        --batch 4 --steps 12 --warmup 2 --eval-every 4 --eval-batches 2 --log-every 1
        --dropout 0.1 --sample-tokens 0 --seed 7)

"$bin" "${common[@]}" --out "$work/full" > "$work/full.log" 2>&1 || fail "uninterrupted run failed: $(cat "$work/full.log")"
"$bin" "${common[@]}" --out "$work/part" --stop-after 5 > "$work/part1.log" 2>&1
rc=$?
[ $rc -eq 130 ] || fail "--stop-after should exit 130, got $rc"
"$bin" --resume "$work/part" > "$work/part2.log" 2>&1 || fail "resume failed: $(cat "$work/part2.log")"
strip() { sed -E 's/"tokens_per_s":[^,}]*,?//' "$1"; }
if ! diff <(strip "$work/full/metrics.jsonl") <(strip "$work/part/metrics.jsonl") > "$work/diff"; then
  fail "resumed metrics differ from the uninterrupted run:\n$(cat "$work/diff")"
fi
cmp -s "$work/full/latest/model.safetensors" "$work/part/latest/model.safetensors" ||
  fail "final weights differ between the resumed and the uninterrupted run"
echo "ok: resume after step 5 reproduces the uninterrupted run bit for bit (metrics and weights)"

# The same run on 1 and 2 OpenMP threads gives the same weights bit for bit.
OMP_NUM_THREADS=1 "$bin" "${common[@]}" --out "$work/t1" > /dev/null 2>&1 || fail "1-thread run failed"
OMP_NUM_THREADS=2 "$bin" "${common[@]}" --out "$work/t2" > /dev/null 2>&1 || fail "2-thread run failed"
cmp -s "$work/t1/latest/model.safetensors" "$work/t2/latest/model.safetensors" ||
  fail "weights differ between 1 and 2 OpenMP threads"
echo "ok: 1 and 2 threads train to identical weights"

# Bad input: exit code 2 and a one-line message naming the problem.
expect_error() {
  local want=$1; shift
  out=$("$bin" "$@" 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] || fail "expected exit 2 for [$*], got $rc ($out)"
  [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "expected one line for [$*], got: $out"
  [[ "$out" == *"$want"* ]] || fail "expected '$want' in: $out"
  echo "ok: $want"
}
: > "$work/empty.txt"
expect_error "cannot open data file" --data "$work/missing.txt" --out "$work/x"
expect_error "is empty" --data "$work/empty.txt" --out "$work/x"
expect_error "is too large for the data" --data "$work/data.txt" --context 100000 --out "$work/x" --steps 2 --warmup 0
expect_error "must divide --width" --data "$work/data.txt" --heads 3 --width 32 --out "$work/x"
expect_error "unknown flag --bogus" --data "$work/data.txt" --bogus 1
expect_error "differs from the checkpoint" --resume "$work/part" --width 64
expect_error "--gelu must be tanh or exact" --data "$work/data.txt" --gelu relu --out "$work/x"
expect_error "--no-bias differs from the checkpoint" --resume "$work/part" --no-bias
expect_error "no run found" --resume "$work/nothing"
expect_error "--device must be cpu, cuda or cuda:N" --data "$work/data.txt" --device tpu --out "$work/x"
if [ "$backend" = none ]; then
  expect_error "cuda: not available in this build (TESSERA_CUDA=OFF)" --data "$work/data.txt" --device cuda --out "$work/x"
  expect_error "cuda: not available in this build (TESSERA_CUDA=OFF)" --data "$work/data.txt" --device cuda:1 --out "$work/x"
fi
echo "all train_gpt checks passed"
