#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# train_translation and translate with --device cuda (under cudasim in `make test-sim`, or on a
# GPU): a tiny synthetic run trains 3 steps with the CPU run's losses (relative 1e-4, float32;
# see docs/cuda.md), validates, decodes the test set (greedy and beam) to the CPU's translations,
# and translate --device cuda reproduces them.
# Usage: test_train_translation_cuda.sh TRAIN_TRANSLATION TRANSLATE
set -uo pipefail
bin=$1
tr=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

common=(--synthetic "$work/synth" --synthetic-train 40 --synthetic-valid 6 --synthetic-test 4
        --vocab 300 --width 16 --heads 2 --ff 32 --layers 1 --dropout 0 --batch-tokens 128
        --epochs 1 --max-steps 3 --warmup 1 --lr 2e-3 --log-every 1 --test-beam 2 --seed 3
        --threads 1 --max-len-a 0.5 --max-len-b 3)

"$bin" "${common[@]}" --device cpu --out "$work/cpu" > "$work/cpu.log" 2>&1 ||
  fail "cpu run failed: $(cat "$work/cpu.log")"
"$bin" "${common[@]}" --device cuda --out "$work/cuda" > "$work/cuda.log" 2>&1 ||
  fail "cuda run failed: $(cat "$work/cuda.log")"
grep -q "cuda:0" "$work/cuda.log" || fail "the banner does not name the device"
for f in metrics.jsonl best/state.json latest/state.json test.hyp valid.hyp; do
  [ -s "$work/cuda/$f" ] || fail "the cuda run wrote no $f"
done
# step train_loss per line; the same steps, losses within relative 1e-4.
losses() { grep '"train_loss"' "$1" | sed -E 's/.*"step":([0-9]+).*"train_loss":([-0-9.eE+]+).*/\1 \2/'; }
paste -d' ' <(losses "$work/cpu/metrics.jsonl") <(losses "$work/cuda/metrics.jsonl") | awk '
  { n++; d = $2 - $4; if (d < 0) d = -d; if ($1 != $3 || d > 1e-4 * $2) { print "FAIL: step " $1 ": cpu " $2 ", cuda " $4; err = 1 } }
  END { if (n != 3) { print "FAIL: expected 3 training steps, got " n; err = 1 } exit err }' || exit 1
cmp -s "$work/cpu/test.hyp" "$work/cuda/test.hyp" || fail "test translations differ between cpu and cuda"
echo "ok: train_translation --device cuda trains with the CPU's losses and translates like it"

"$tr" --model "$work/cuda" --input "$work/synth/test.en" --beam 2 --max-len-a 0.5 --max-len-b 3 \
      --device cuda > "$work/tr.out" 2> "$work/tr.err" || fail "translate --device cuda failed: $(cat "$work/tr.err")"
cmp -s "$work/tr.out" "$work/cuda/test.hyp" || fail "translate --device cuda differs from the trainer's test.hyp"
echo "ok: translate --device cuda reproduces the trainer's test translations"
