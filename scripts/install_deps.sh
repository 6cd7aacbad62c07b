#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages tessera needs, once. Idempotent and fast when all are present.
# Usage: scripts/install_deps.sh   (as root; prints what to run otherwise)
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libeigen3-dev libopenblas-openmp-dev nlohmann-json3-dev
  catch2 libbenchmark-dev
  openmpi-bin libopenmpi-dev
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "tessera: missing Debian packages: ${missing[*]}" >&2
  echo "tessera: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "tessera: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
