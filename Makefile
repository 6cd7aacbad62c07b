# SPDX-License-Identifier: Apache-2.0
# tessera's two commands (README quick start):  make demo   and   make test.
# Thin wrapper over CMake + CTest; every target installs missing Debian packages first.

BUILD     ?= build
JOBS      ?= $(shell nproc)
CMAKE_GEN := -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache \
             -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache
CTEST     := ctest --output-on-failure -j $(JOBS)
export CCACHE_DIR ?= $(HOME)/.cache/ccache
# Hash paths relative to the checkout, so a clone elsewhere (CI) reuses the cache.
export CCACHE_BASEDIR ?= $(CURDIR)

.PHONY: all deps build demo test test-cpu test-sim test-asan test-nvcc test-fuzz bench clean

all: build

deps:
	@scripts/install_deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DTESSERA_CUDA=OFF

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Trains a small GPT on text the project ships (its own docs and sources) and prints a sample.
demo: build
	@scripts/demo.sh $(BUILD)

# Every test: the CPU build's unit tests (cudasim-run CUDA kernels, the installed-package consumer
# and a short libFuzzer run of the safetensors parser included), the CUDA backend's tests on
# cudasim, the nvcc compile check of all CUDA sources for sm_80/sm_90, and the suite again under
# ASan + UBSan. `make test-fuzz` fuzzes longer.
test: test-cpu test-sim test-nvcc test-asan
	@echo "tessera: all test stages passed"

test-cpu: build
	cd $(BUILD) && $(CTEST)

# The CUDA backend (tensor ops on cuda tensors) built with g++ against cudasim; only the targets its
# tests need (docs/cuda.md): cuda_tests includes train_gpt for the end-to-end --device cuda test.
test-sim: deps
	cmake -S . -B $(BUILD)-sim $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DTESSERA_CUDA=OFF \
	      -DTESSERA_CUDA_SIM=ON -DTESSERA_BUILD_BENCHES=OFF -DTESSERA_BUILD_EXAMPLES=ON
	cmake --build $(BUILD)-sim -j $(JOBS) --target cuda_tests
	cd $(BUILD)-sim && $(CTEST) -L cudasim

test-fuzz: deps
	@scripts/fuzz.sh 120

test-nvcc: deps
	@scripts/nvcc_check.sh $(BUILD)-nvcc

test-asan: deps
	cmake -S . -B $(BUILD)-asan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DTESSERA_CUDA=OFF \
	      -DTESSERA_SANITIZE=ON -DTESSERA_NATIVE=OFF -DTESSERA_BUILD_BENCHES=OFF \
	      -DTESSERA_BUILD_EXAMPLES=OFF
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && $(CTEST) -LE slow

bench: build
	@scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-sim $(BUILD)-nvcc $(BUILD)-asan
