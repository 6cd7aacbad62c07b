// SPDX-License-Identifier: Apache-2.0
/// @brief Writes the fuzzer's seed corpus: make_seeds <dir> -> <dir>/seed_<i>.safetensors.
#include <cstdio>
#include <fstream>
#include <string>

#include "seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  const auto seeds = tessera::fuzz::safetensors_seeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::string path = std::string(argv[1]) + "/seed_" + std::to_string(i) + ".safetensors";
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(seeds[i].data()),
              static_cast<std::streamsize>(seeds[i].size()));
    if (!out) {
      std::fprintf(stderr, "make_seeds: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  std::printf("make_seeds: wrote %zu seeds to %s\n", seeds.size(), argv[1]);
  return 0;
}
