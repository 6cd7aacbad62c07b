// SPDX-License-Identifier: Apache-2.0
/// @brief `tessera_bleu HYP REF [REF...]`: sacreBLEU-compatible corpus BLEU of text files.
//
// `tessera_bleu --tokenize FILE` prints the 13a tokenization of each line, and
// `tessera_bleu --sentence HYP REF` the sentence BLEU of each line pair (for tools/bleu_check.py).
// Files are UTF-8, one segment per line ('\n'-separated; a final newline does not start a segment).
// Prints sacreBLEU's verbose line; `--json` prints the numbers with full precision instead, which
// tools/bleu_check.py compares with sacrebleu.corpus_bleu.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tessera/error.h"
#include "tessera/models/bleu.h"

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TESSERA_CHECK(in.good(), "tessera_bleu: cannot open '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.emplace_back(text, start, nl - start);
    start = nl + 1;
  }
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  bool tokenize = false;
  bool sentence = false;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--sentence") {
      sentence = true;
    } else if (a == "--tokenize") {
      tokenize = true;
    } else if (a == "-h" || a == "--help") {
      std::printf(
          "usage: tessera_bleu [--json] HYP REF [REF...]  |  tessera_bleu --tokenize FILE  |  "
          "tessera_bleu --sentence HYP REF\n");
      return 0;
    } else {
      paths.push_back(a);
    }
  }
  if (tokenize && paths.size() == 1) {
    try {
      for (const std::string& line : read_lines(paths[0])) {
        std::printf("%s\n", tessera::models::tokenize_13a(line).c_str());
      }
    } catch (const tessera::Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 1;
    }
    return 0;
  }
  if (sentence && paths.size() == 2) {
    try {
      const std::vector<std::string> hyps = read_lines(paths[0]);
      const std::vector<std::string> refs = read_lines(paths[1]);
      TESSERA_CHECK(hyps.size() == refs.size(), "tessera_bleu --sentence: ", hyps.size(),
                    " hypotheses but ", refs.size(), " references");
      for (size_t i = 0; i < hyps.size(); ++i) {
        std::printf("%.17g\n", tessera::models::sentence_bleu(hyps[i], {refs[i]}).score);
      }
    } catch (const tessera::Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 1;
    }
    return 0;
  }
  if (paths.size() < 2) {
    std::fprintf(stderr,
                 "usage: tessera_bleu [--json] HYP REF [REF...]  |  tessera_bleu --tokenize FILE  "
                 "|  tessera_bleu --sentence HYP REF\n");
    return 2;
  }
  try {
    const std::vector<std::string> hyps = read_lines(paths[0]);
    std::vector<std::vector<std::string>> refs;
    for (size_t i = 1; i < paths.size(); ++i) refs.push_back(read_lines(paths[i]));
    const tessera::models::BleuScore s = tessera::models::corpus_bleu_multi(hyps, refs);
    if (json) {
      std::printf(
          "{\"score\": %.17g, \"precisions\": [%.17g, %.17g, %.17g, %.17g], \"bp\": %.17g, "
          "\"sys_len\": %lld, \"ref_len\": %lld, \"counts\": [%lld, %lld, %lld, %lld], "
          "\"totals\": [%lld, %lld, %lld, %lld], \"signature\": \"%s\"}\n",
          s.score, s.precisions[0], s.precisions[1], s.precisions[2], s.precisions[3], s.bp,
          static_cast<long long>(s.sys_len), static_cast<long long>(s.ref_len),
          static_cast<long long>(s.counts[0]), static_cast<long long>(s.counts[1]),
          static_cast<long long>(s.counts[2]), static_cast<long long>(s.counts[3]),
          static_cast<long long>(s.totals[0]), static_cast<long long>(s.totals[1]),
          static_cast<long long>(s.totals[2]), static_cast<long long>(s.totals[3]),
          s.signature.c_str());
    } else {
      std::printf("%s\n%s\n", s.signature.c_str(), s.format().c_str());
    }
  } catch (const tessera::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
