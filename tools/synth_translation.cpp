// SPDX-License-Identifier: Apache-2.0
/// @brief `tessera_synth_translation DIR [TRAIN VALID TEST [SEED]]`: writes the synthetic en-de
/// corpus.

#include <cstdio>
#include <string>

#include "tessera/error.h"
#include "tessera/models/synthetic_translation.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 6) {
    std::fprintf(stderr, "usage: tessera_synth_translation DIR [TRAIN VALID TEST [SEED]]\n");
    return 2;
  }
  try {
    tessera::models::SyntheticSplits sizes;
    uint64_t seed = 1;
    if (argc >= 5) {
      sizes.train = std::stoll(argv[2]);
      sizes.valid = std::stoll(argv[3]);
      sizes.test = std::stoll(argv[4]);
    }
    if (argc == 6) seed = std::stoull(argv[5]);
    tessera::models::write_synthetic_splits(argv[1], sizes, seed);
    std::printf("wrote %s/{train,valid,test}.{en,de}: %lld / %lld / %lld pairs, seed %llu\n",
                argv[1], static_cast<long long>(sizes.train), static_cast<long long>(sizes.valid),
                static_cast<long long>(sizes.test), static_cast<unsigned long long>(seed));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
