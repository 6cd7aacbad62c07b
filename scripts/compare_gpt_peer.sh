#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GPT training-step throughput, tessera vs PyTorch, side by side in one run, one process per shape
# and implementation (clean peak-memory numbers), interleaved so machine noise hits both alike.
# Usage: scripts/compare_gpt_peer.sh [BUILD_DIR] [THREADS]   (needs `pip install torch`)
set -euo pipefail
build=${1:-build}
threads=${2:-2}
export OMP_NUM_THREADS=$threads
for shape in 65,64,4,4,128,12 8192,256,6,8,512,8 50257,256,12,12,768,4; do
  "$build/benches/models/bench_gpt_train_step" --shape "$shape" --steps 5
  python3 benches/peers/gpt_peer.py --threads "$threads" --shape "$shape" --steps 5
done
