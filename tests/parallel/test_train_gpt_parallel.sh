#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# train_gpt under mpirun: a run split as tp 2, stopped at step 6, resumed as dp 2 + ZeRO-1, ends with
# the losses of the single-process run (float32; tolerance 2e-5 on the final train and val losses);
# a dp 2 run with dropout resumes bit for bit; a layout that does not fit is refused (exit 2) with
# the reason on every rank.
# Usage: test_train_gpt_parallel.sh TRAIN_GPT MPIEXEC [MPI_FLAGS...]
set -euo pipefail
train_gpt="$1"
mpiexec="$2"
shift 2
mpi_flags=("$@")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
head -c 60000 "$(dirname "$0")/../../docs/architecture.md" > "$work/text.txt"
cat "$(dirname "$0")/../../docs/nn.md" >> "$work/text.txt"
args=(--data "$work/text.txt" --tokenizer byte --layers 2 --heads 4 --width 32 --context 16 --batch 4
      --steps 10 --warmup 2 --eval-every 5 --eval-batches 2 --log-every 1 --sample-tokens 0)
export OMP_NUM_THREADS=1

"$train_gpt" "${args[@]}" --out "$work/single" > "$work/single.log"
set +e
"$mpiexec" -np 2 "${mpi_flags[@]}" "$train_gpt" "${args[@]}" --tp 2 --stop-after 6 --out "$work/par" > "$work/par1.log" 2>&1
rc=$?
set -e
[[ $rc -eq 130 ]] || { echo "expected exit 130 after --stop-after, got $rc"; cat "$work/par1.log"; exit 1; }
"$mpiexec" -np 2 "${mpi_flags[@]}" "$train_gpt" --resume "$work/par" --dp 2 --zero 1 > "$work/par2.log" 2>&1 \
  || { cat "$work/par2.log"; exit 1; }

python3 - "$work/single/metrics.jsonl" "$work/par/metrics.jsonl" <<'PY'
import json, sys
def last(path):
    rows = [json.loads(l) for l in open(path)]
    assert [r["step"] for r in rows] == list(range(1, 11)), f"{path}: steps {[r['step'] for r in rows]}"
    return rows[-1]
a, b = last(sys.argv[1]), last(sys.argv[2])
for key in ("train_loss", "val_loss", "train_loss_eval"):
    d = abs(a[key] - b[key])
    print(f"{key}: single {a[key]:.7f} parallel {b[key]:.7f} diff {d:.2e}")
    assert d < 2e-5, f"{key} differs by {d}"
PY
# The consolidated checkpoint loads in a single process (the same format).
"$train_gpt" --resume "$work/par" --steps 11 --out "$work/cont" > "$work/cont.log" || { cat "$work/cont.log"; exit 1; }

# Dropout (masks per replica): a dp 2 run stopped at step 3 and resumed ends with exactly the
# losses of the uninterrupted run (the dropout generator's state is in the checkpoint).
drop=(--dropout 0.2 --steps 6 --eval-every 3)
"$mpiexec" -np 2 "${mpi_flags[@]}" "$train_gpt" "${args[@]}" "${drop[@]}" --dp 2 --out "$work/drop" \
  > "$work/drop.log" 2>&1 || { cat "$work/drop.log"; exit 1; }
set +e
"$mpiexec" -np 2 "${mpi_flags[@]}" "$train_gpt" "${args[@]}" "${drop[@]}" --dp 2 --stop-after 3 \
  --out "$work/drop2" > "$work/drop2a.log" 2>&1
rc=$?
set -e
[[ $rc -eq 130 ]] || { echo "dropout run: expected exit 130, got $rc"; cat "$work/drop2a.log"; exit 1; }
"$mpiexec" -np 2 "${mpi_flags[@]}" "$train_gpt" --resume "$work/drop2" > "$work/drop2b.log" 2>&1 \
  || { cat "$work/drop2b.log"; exit 1; }
python3 - "$work/drop/metrics.jsonl" "$work/drop2/metrics.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:])
la = [(r["step"], r["train_loss"], r.get("val_loss")) for r in a]
lb = [(r["step"], r["train_loss"], r.get("val_loss")) for r in b]
assert la == lb, f"resumed dropout run differs:\n{la}\n{lb}"
print(f"dropout dp 2: resumed run equals the uninterrupted one at {len(la)} steps")
PY

set +e
"$mpiexec" -np 2 "${mpi_flags[@]}" "$train_gpt" "${args[@]}" --dp 3 --out "$work/bad" > "$work/bad.log" 2>&1
rc=$?
set -e
[[ $rc -ne 0 ]] || { echo "a layout of 3 ranks on 2 processes was accepted"; exit 1; }
n=$(grep -c "does not match the 2 processes" "$work/bad.log" || true)
[[ $n -eq 2 ]] || { echo "expected the refusal on both ranks, got $n lines:"; cat "$work/bad.log"; exit 1; }
echo "train_gpt parallel: ok"
