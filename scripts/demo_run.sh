#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The body of `make demo` (see scripts/demo.sh): builds a corpus from the project's own docs and
# sources, trains a small character-level GPT on it for about two minutes and prints a sample.
# Train on your own text instead with: build/examples/train_gpt/train_gpt --data FILE --out DIR
set -euo pipefail
build=${1:-build}
corpus=$build/demo/corpus.txt
mkdir -p "$build/demo"
# Markdown and C++ from the repository, in a fixed order so the demo is reproducible.
git ls-files 'README.md' 'docs/*.md' '*.h' '*.cpp' 2>/dev/null | LC_ALL=C sort | xargs cat > "$corpus" ||
  find README.md docs kernels tensor autograd nn models -name '*.md' -o -name '*.h' -o -name '*.cpp' |
  LC_ALL=C sort | xargs cat > "$corpus"
echo "tessera demo: training a 4-layer character-level GPT on $(wc -c < "$corpus") bytes of tessera's own"
echo "docs and sources for about two minutes (progress below; metrics in $build/demo/run/metrics.jsonl)."
steps=${DEMO_STEPS:-600}
exec "$build/examples/train_gpt/train_gpt" --data "$corpus" --tokenizer char \
  --layers 4 --heads 4 --width 128 --context 64 --batch 16 --steps "$steps" \
  --lr 2e-3 --min-lr 2e-4 --warmup $((steps / 12)) --eval-every $(( steps / 6 > 0 ? steps / 6 : 1 )) --eval-batches 10 --dropout 0 \
  --seed 1337 --out "$build/demo/run" --sample-tokens 400
