#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: runs every benchmark program, writing JSON next to the console table.
# Usage: scripts/bench.sh BUILD_DIR [extra Google Benchmark flags]
set -euo pipefail
build=${1:-build}
shift || true
out=$build/bench-results
mkdir -p "$out"
for b in $(find "$build/benches" -type f -name 'bench_*' -executable | sort); do
  name=$(basename "$b")
  echo "== $name"
  "$b" --benchmark_out="$out/$name.json" --benchmark_out_format=json "$@"
done
echo "tessera: JSON results in $out"
