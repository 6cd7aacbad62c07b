#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make demo`: trains a small GPT on text the project ships (its own docs and sources) for about two
# minutes, then prints a sample. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
trainer=$build/examples/train_gpt/train_gpt
if [ ! -x "$trainer" ]; then
  echo "tessera: the GPT trainer (issue 'GPT model, the train_gpt example, and make demo') has not" >&2
  echo "landed yet, so there is nothing to demo; 'make test' runs everything that exists." >&2
  exit 2
fi
exec scripts/demo_run.sh "$build"
