// SPDX-License-Identifier: Apache-2.0
/// @brief Runs a fuzz target (fuzz_safetensors.cpp or fuzz_load.cpp) in the normal (g++) build: the
/// seed corpus, every committed regression input, and deterministic mutations of the seeds (byte
/// flips, truncations, splices of dictionary tokens). A finding traps, so the test crashes rather
/// than passes. The long, coverage-guided run is scripts/fuzz.sh.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "seeds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void run(const std::vector<std::byte>& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

TEST_CASE("fuzz replay: seeds and committed regression inputs", "[fuzz][safetensors]") {
  const auto seeds = tessera::fuzz::safetensors_seeds();
  REQUIRE(seeds.size() >= 5);
  for (const auto& s : seeds) run(s);
  int replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(TESSERA_FUZZ_REGRESSIONS_DIR)) {
    if (!entry.is_regular_file() || entry.path().filename() == "README.md") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes(std::istreambuf_iterator<char>(in), {});
    std::vector<std::byte> input(bytes.size());
    std::memcpy(input.data(), bytes.data(), bytes.size());
    INFO(entry.path().string());
    run(input);
    ++replayed;
  }
  SUCCEED("replayed " << replayed << " regression inputs");
}

TEST_CASE("fuzz replay: deterministic mutations of the seeds", "[fuzz][safetensors]") {
  const auto seeds = tessera::fuzz::safetensors_seeds();
  const std::vector<std::string> tokens = {"__metadata__",
                                           "\"dtype\"",
                                           "\"shape\"",
                                           "\"data_offsets\"",
                                           "\"F32\"",
                                           "[0,0]",
                                           "-1",
                                           "18446744073709551615",
                                           "{",
                                           "}",
                                           "[",
                                           "]",
                                           ",",
                                           ":",
                                           "\"",
                                           "1e3"};
  std::mt19937_64 rng(20261129);
#ifndef TESSERA_FUZZ_REPLAY_RUNS
#define TESSERA_FUZZ_REPLAY_RUNS 50000
#endif
#ifdef NDEBUG
  const int kRuns = TESSERA_FUZZ_REPLAY_RUNS;
#else
  const int kRuns = TESSERA_FUZZ_REPLAY_RUNS / 10;
#endif
  for (int i = 0; i < kRuns; ++i) {
    std::vector<std::byte> f = seeds[rng() % seeds.size()];
    switch (rng() % 4) {
      case 0:  // flip bytes
        for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n && !f.empty(); ++k)
          f[rng() % f.size()] = static_cast<std::byte>(rng());
        break;
      case 1:  // truncate
        f.resize(rng() % (f.size() + 1));
        break;
      case 2: {  // splice a token into the header region (and fix up the size field half the time)
        const std::string& t = tokens[rng() % tokens.size()];
        const size_t pos = 8 + rng() % (f.size() > 8 ? f.size() - 8 : 1);
        if (pos > f.size()) break;
        f.insert(f.begin() + static_cast<std::ptrdiff_t>(pos), t.size(), std::byte{0});
        std::memcpy(f.data() + pos, t.data(), t.size());
        if (rng() % 2 && f.size() >= 8) {
          uint64_t n = 0;
          for (int b = 7; b >= 0; --b)
            n = (n << 8) | static_cast<uint8_t>(f[static_cast<size_t>(b)]);
          n += t.size();
          for (int b = 0; b < 8; ++b)
            f[static_cast<size_t>(b)] = static_cast<std::byte>((n >> (8 * b)) & 0xFF);
        }
        break;
      }
      default:  // corrupt the size field
        if (f.size() >= 8) f[rng() % 8] = static_cast<std::byte>(rng());
        break;
    }
    run(f);
  }
  SUCCEED();
}
