#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# train_gpt --device cuda end to end (under cudasim in `make test-sim`, or on a GPU): a tiny run
# exits 0, writes metrics.jsonl and a sample, and its per-step training losses and eval losses
# match the CPU run's within relative 1e-4 (float32; other summation orders, see docs/cuda.md).
# Checkpoints hold CPU tensors: a run stopped on CUDA resumes on the CPU and vice versa, and
# continues with the losses of the uninterrupted run. generate --device cuda samples the CPU's text.
# Usage: test_train_gpt_cuda.sh TRAIN_GPT GENERATE
set -uo pipefail
bin=$1
gen=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for i in $(seq 1 60); do echo "the quick brown fox $i jumps over the lazy dog."; done > "$work/data.txt"
common=(--data "$work/data.txt" --tokenizer char --layers 2 --heads 2 --width 16 --context 8
        --batch 2 --steps 4 --warmup 1 --eval-every 2 --eval-batches 1 --log-every 1 --seed 3)

# key=value per line of metrics.jsonl: "step train_loss val_loss" (val_loss - when absent).
losses() {
  sed -E 's/.*"step":([0-9]+).*"train_loss":([-0-9.eE+]+).*/\1 \2 &/' "$1" |
    awk '{ v = "-"; if (match($0, /"val_loss":[-0-9.eE+]+/)) v = substr($0, RSTART + 11, RLENGTH - 11);
           print $1, $2, v }'
}
# Compares two loss tables (same steps) with relative tolerance 1e-4.
same_losses() {
  paste -d' ' <(losses "$1") <(losses "$2") | awk -v what="$3" '
    function bad(a, b) { d = a - b; if (d < 0) d = -d; m = (a < 0 ? -a : a); return d > 1e-4 * m }
    { n++; if ($1 != $4 || bad($2, $5) || ($3 != "-" && bad($3, $6))) {
        print "FAIL: " what ": step " $1 " cpu " $2 " val " $3 " | cuda step " $4 " " $5 " val " $6; err = 1 } }
    END { if (n == 0) { print "FAIL: " what ": no metrics"; err = 1 } exit err }'
}

"$bin" "${common[@]}" --device cpu --sample-tokens 6 --out "$work/cpu" > "$work/cpu.log" 2>&1 ||
  fail "cpu run failed: $(cat "$work/cpu.log")"
"$bin" "${common[@]}" --device cuda --sample-tokens 6 --out "$work/cuda" > "$work/cuda.log" 2>&1 ||
  fail "cuda run failed: $(cat "$work/cuda.log")"
grep -q "cuda:0" "$work/cuda.log" || fail "the banner does not name the device: $(head -1 "$work/cuda.log")"
grep -q -- "---- sample" "$work/cuda.log" || fail "no sample at the end of the cuda run"
[ -s "$work/cuda/metrics.jsonl" ] || fail "the cuda run wrote no metrics.jsonl"
[ -s "$work/cuda/latest/model.safetensors" ] && [ -s "$work/cuda/best/model.safetensors" ] ||
  fail "the cuda run saved no checkpoints"
[ "$(wc -l < "$work/cuda/metrics.jsonl")" -eq 4 ] || fail "expected 4 metrics lines: $(cat "$work/cuda/metrics.jsonl")"
same_losses "$work/cpu/metrics.jsonl" "$work/cuda/metrics.jsonl" "cuda vs cpu" || exit 1
echo "ok: train_gpt --device cuda trains 4 steps with the CPU's losses (rel 1e-4)"

# Stop after step 2 on one device, resume on the other: steps 3-4 as in the uninterrupted runs.
"$bin" "${common[@]}" --device cuda --sample-tokens 0 --stop-after 2 --out "$work/c2" > "$work/c2.log" 2>&1
[ $? -eq 130 ] || fail "--stop-after on cuda should exit 130: $(cat "$work/c2.log")"
"$bin" --resume "$work/c2" --device cpu > "$work/c2r.log" 2>&1 || fail "cuda checkpoint did not resume on cpu: $(cat "$work/c2r.log")"
same_losses "$work/cpu/metrics.jsonl" "$work/c2/metrics.jsonl" "cuda checkpoint resumed on cpu" || exit 1
"$bin" "${common[@]}" --device cpu --sample-tokens 0 --stop-after 2 --out "$work/p2" > "$work/p2.log" 2>&1
[ $? -eq 130 ] || fail "--stop-after on cpu should exit 130"
"$bin" --resume "$work/p2" --device cuda > "$work/p2r.log" 2>&1 || fail "cpu checkpoint did not resume on cuda: $(cat "$work/p2r.log")"
same_losses "$work/cpu/metrics.jsonl" "$work/p2/metrics.jsonl" "cpu checkpoint resumed on cuda" || exit 1
echo "ok: a cuda checkpoint resumes on cpu and a cpu checkpoint on cuda, with the same losses"

# generate: the same continuation on both devices (greedy, and sampled with one seed).
for t in 0 0.8; do
  a=$("$gen" --run "$work/cuda" --prompt "the" --tokens 12 --temperature $t --device cpu 2>&1) ||
    fail "generate on cpu failed: $a"
  b=$("$gen" --run "$work/cuda" --prompt "the" --tokens 12 --temperature $t --device cuda 2>&1) ||
    fail "generate on cuda failed: $b"
  [ "$a" = "$b" ] || fail "generate --temperature $t: cpu gave '$a', cuda gave '$b'"
done
echo "ok: generate --device cuda continues a prompt like the CPU"

expect_error() {
  local want=$1; shift
  out=$("$bin" "$@" 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] || fail "expected exit 2 for [$*], got $rc ($out)"
  [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "expected one line for [$*], got: $out"
  [[ "$out" == *"$want"* ]] || fail "expected '$want' in: $out"
  echo "ok: $want"
}
expect_error "CUDA device(s)" --data "$work/data.txt" --device cuda:7 --out "$work/x"
expect_error "--device must be cpu, cuda or cuda:N" --data "$work/data.txt" --device gpu --out "$work/x"
echo "all train_gpt --device cuda checks passed"
