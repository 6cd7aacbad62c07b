#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end checks of train_translation and translate: a tiny run on the synthetic corpus, a resumed
# run equals the uninterrupted one bit for bit, translate reproduces the trainer's test output, and
# each bad input gives a one-line error with exit code 2.
# Usage: test_train_translation.sh TRAIN_TRANSLATION_BINARY TRANSLATE_BINARY [CUDA_BACKEND]
set -uo pipefail
bin=$1
tr=$2
backend=${3:-none}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

common=(--synthetic "$work/synth" --synthetic-train 600 --synthetic-valid 40 --synthetic-test 30
        --vocab 600 --width 32 --heads 2 --ff 64 --layers 1 --dropout 0.1 --batch-tokens 512
        --epochs 2 --warmup 5 --lr 2e-3 --log-every 1 --test-beam 2 --seed 3 --threads 1)

"$bin" "${common[@]}" --out "$work/full" > "$work/full.log" 2>&1 || fail "uninterrupted run failed: $(cat "$work/full.log")"
grep -q "valid BLEU" "$work/full.log" || fail "no validation BLEU line: $(cat "$work/full.log")"
grep -q "^test beam 2" "$work/full.log" || fail "no test score: $(cat "$work/full.log")"
for f in config.json tokenizer.json metrics.jsonl best/state.json latest/state.json test.hyp valid.hyp; do
  [ -s "$work/full/$f" ] || fail "missing output $f"
done
[ "$(wc -l < "$work/full/test.hyp")" -eq 30 ] || fail "test.hyp should have 30 lines"
echo "ok: synthetic run writes checkpoints, metrics, validation and test translations"

steps=$(grep -c '"train_loss"' "$work/full/metrics.jsonl")
half=$((steps / 2 + 1))
"$bin" "${common[@]}" --out "$work/part" --stop-after "$half" > "$work/part1.log" 2>&1
rc=$?
[ $rc -eq 130 ] || fail "--stop-after should exit 130, got $rc: $(cat "$work/part1.log")"
"$bin" --resume "$work/part" > "$work/part2.log" 2>&1 || fail "resume failed: $(cat "$work/part2.log")"
strip() { sed -E 's/"(tokens_per_s|epoch_seconds)":[^,}]*,?//g' "$1"; }
if ! diff <(strip "$work/full/metrics.jsonl") <(strip "$work/part/metrics.jsonl") > "$work/diff"; then
  fail "resumed metrics differ from the uninterrupted run: $(cat "$work/diff")"
fi
cmp -s "$work/full/latest/model.safetensors" "$work/part/latest/model.safetensors" ||
  fail "final weights differ between the resumed and the uninterrupted run"
echo "ok: resume after step $half (mid-epoch) reproduces the uninterrupted run bit for bit"

"$tr" --model "$work/full" --beam 2 --input "$work/synth/test.en" --output "$work/test.out" ||
  fail "translate failed"
cmp -s "$work/test.out" "$work/full/test.hyp" || fail "translate --beam 2 differs from the trainer's test.hyp"
head -3 "$work/synth/test.en" | "$tr" --model "$work/full" --beam 1 > "$work/stdin.out" || fail "translate from stdin failed"
[ "$(wc -l < "$work/stdin.out")" -eq 3 ] || fail "translate should write one line per input line"
echo "ok: translate reproduces the trainer's beam-2 test translations; stdin works"

# Bad input: exit code 2 and a one-line message naming the problem.
expect_error() {
  local want=$1; shift
  out=$("$@" 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] || fail "expected exit 2 for [$*], got $rc ($out)"
  [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "expected one line for [$*], got: $out"
  [[ "$out" == *"$want"* ]] || fail "expected '$want' in: $out"
  echo "ok: $want"
}
printf 'a b\nc d\n' > "$work/two.en"
printf 'x y\n' > "$work/one.de"
printf 'x y\nz w\n' > "$work/two.de"
printf 'x y\nz \xff w\n' > "$work/bad.de"
: > "$work/empty.de"
files=(--valid-src "$work/two.en" --valid-tgt "$work/two.de" --out "$work/x")
expect_error "line counts differ" "$bin" --train-src "$work/two.en" --train-tgt "$work/one.de" "${files[@]}"
expect_error "is empty" "$bin" --train-src "$work/two.en" --train-tgt "$work/empty.de" "${files[@]}"
expect_error "line 2 is not valid UTF-8" "$bin" --train-src "$work/two.en" --train-tgt "$work/bad.de" "${files[@]}"
expect_error "cannot open" "$bin" --train-src "$work/nope.en" --train-tgt "$work/two.de" "${files[@]}"
expect_error "--valid-src and --valid-tgt are required" "$bin" --train-src "$work/two.en" --train-tgt "$work/two.de"
if [ "$backend" = none ]; then
  expect_error "cuda: not available in this build (TESSERA_CUDA=OFF)" "$bin" --device cuda
  expect_error "cuda: not available in this build (TESSERA_CUDA=OFF)" "$tr" --model "$work/full" --device cuda
fi
expect_error "--device must be cpu, cuda or cuda:N" "$bin" --device tpu
expect_error "must divide --width" "$bin" --heads 3 --width 32
expect_error "--config must be small or base" "$bin" --config large
expect_error "unknown flag --bogus" "$bin" --bogus 1
expect_error "differs from the checkpoint" "$bin" --resume "$work/part" --width 64
expect_error "no run found" "$bin" --resume "$work/nothing"
expect_error "--model DIR is required" "$tr"
expect_error "cannot open" "$tr" --model "$work/nothing"
expect_error "not valid UTF-8" "$tr" --model "$work/full" --input "$work/bad.de"
expect_error "--beam must be >= 1" "$tr" --model "$work/full" --beam 0
echo "all train_translation checks passed"
