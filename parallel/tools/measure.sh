#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# measure.sh BUILD_DIR DATA [REPS] [PARTS]: the numbers in docs/parallel.md, from train_gpt runs.
# PARTS: "bytes speed" (default both).
#  1. bytes each rank sends per training step (Open MPI's pml monitoring counters; the difference
#     of a 15-step and a 5-step run, so setup, eval and checkpoint traffic cancel) vs the ring
#     volume 2 (N - 1) / N x gradient bytes, with Open MPI's default iallreduce and with ring forced;
#  2. tokens/s of 1 process (2 OpenMP threads) and of dp 2 (1 thread each), interleaved REPS times;
#  3. the communication time left exposed after backward (comm_wait_s), with and without overlap.
set -euo pipefail
build="$1"; data="$2"; reps="${3:-3}"; parts="${4:-bytes speed}"
T="$build/examples/train_gpt/train_gpt"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
small=(--data "$data" --tokenizer byte --layers 2 --heads 4 --width 64 --context 32 --batch 8 --warmup 1
       --eval-every 1000 --eval-batches 2 --log-every 1000 --sample-tokens 0)
params=$("$T" "${small[@]}" --steps 2 --out "$work/p" | sed -n 's/^train_gpt: \([0-9]*\) parameters.*/\1/p')
if [[ $parts == *bytes* ]]; then
echo "== bytes sent per step (model of $params float32 parameters = $((params * 4)) gradient bytes)"
for np in 2 4; do
  for algo in default ring; do
    extra=(); [[ $algo == ring ]] && extra=(--mca coll_libnbc_iallreduce_algorithm 1)
    declare -A sent=()
    for steps in 5 15; do
      rm -rf "$work/run"
      OMP_NUM_THREADS=1 mpirun -np $np --oversubscribe "${extra[@]}" --mca pml_monitoring_enable 2 \
        --mca pml_monitoring_enable_output 3 --mca pml_monitoring_filename "$work/mon_$steps" \
        "$T" "${small[@]}" --steps $steps --dp $np --out "$work/run" > /dev/null 2>&1
      for ((r = 0; r < np; ++r)); do
        sent[$steps,$r]=$(awk '/^I/ {s += $4} END {print s}' "$work/mon_$steps.$r.prof")
      done
    done
    ring=$(python3 -c "print(round(2 * ($np - 1) / $np * $params * 4))")
    per=""; for ((r = 0; r < np; ++r)); do per+=" $(( (sent[15,$r] - sent[5,$r]) / 10 ))"; done
    echo "np $np iallreduce $algo: bytes/step per rank:$per | ring volume $ring"
  done
done
fi
[[ $parts == *speed* ]] || exit 0
echo "== tokens/s, shape V 256, T 128, L 4, H 4, C 128, B 16 (15 steps, last-step EMA)"
big=(--data "$data" --tokenizer byte --layers 4 --heads 4 --width 128 --context 128 --batch 16 --warmup 1
     --steps 15 --eval-every 1000 --eval-batches 1 --log-every 1 --sample-tokens 0)
# tokens/s of the last logged step (an EMA over recent steps) and exposed communication per step.
tps() { python3 -c "import json; r=[json.loads(l) for l in open('$1/metrics.jsonl')]; print(int(r[-2]['tokens_per_s']), round(r[-1].get('comm_wait_s', 0) / r[-1]['step'], 4))"; }
for ((i = 0; i < reps; ++i)); do
  rm -rf "$work/r0" "$work/r1" "$work/r2" "$work/r3"
  OMP_NUM_THREADS=2 "$T" "${big[@]}" --out "$work/r1" > /dev/null
  OMP_NUM_THREADS=1 "$T" "${big[@]}" --out "$work/r0" > /dev/null
  OMP_NUM_THREADS=1 mpirun -np 2 --oversubscribe "$T" "${big[@]}" --dp 2 --out "$work/r2" > /dev/null 2>&1
  OMP_NUM_THREADS=1 TESSERA_DP_OVERLAP=0 mpirun -np 2 --oversubscribe -x TESSERA_DP_OVERLAP \
    "$T" "${big[@]}" --dp 2 --out "$work/r3" > /dev/null 2>&1
  echo "rep $i: 1 process $(tps "$work/r1" | cut -d' ' -f1) tok/s (2 threads)," \
       "$(tps "$work/r0" | cut -d' ' -f1) tok/s (1 thread) | dp 2 overlapped: $(tps "$work/r2") |" \
       "dp 2 not overlapped: $(tps "$work/r3")   (tok/s, exposed comm s/step)"
done
