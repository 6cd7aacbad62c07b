// SPDX-License-Identifier: Apache-2.0
/// @brief Parallel-corpus reading, encoding, bucketing and collation (see translation_data.h).
#include <tessera/models/translation_data.h>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <sstream>

#include <tessera/creation.h>
#include <tessera/error.h>
#include <tessera/models/synthetic_translation.h>
#include <tessera/models/utf8.h>

namespace tessera::models {

std::vector<std::string> read_lines(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  TESSERA_CHECK(in.good(), what, ": cannot open '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  TESSERA_CHECK(!text.empty(), what, ": '", path, "' is empty");
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const Utf8Check check = check_utf8(line);
    TESSERA_CHECK(check.valid, what, ": '", path, "' line ", lines.size() + 1,
                  " is not valid UTF-8 (byte offset ", check.error_offset, ": ", check.reason, ")");
    lines.push_back(std::move(line));
    pos = end + 1;
  }
  return lines;
}

ParallelText read_parallel(const std::string& src_path, const std::string& tgt_path,
                           const std::string& what) {
  ParallelText p;
  p.src = read_lines(src_path, what + " source");
  p.tgt = read_lines(tgt_path, what + " target");
  TESSERA_CHECK(p.src.size() == p.tgt.size(), what, ": line counts differ: '", src_path, "' has ",
                p.src.size(), " lines, '", tgt_path, "' has ", p.tgt.size());
  return p;
}

std::vector<int32_t> encode_source(const BpeTokenizer& tok, const std::string& text) {
  return tok.encode(text, /*add_bos=*/false, /*add_eos=*/true);
}

std::vector<Example> encode_parallel(const BpeTokenizer& tok, const ParallelText& text) {
  std::vector<Example> out(text.src.size());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].src = encode_source(tok, text.src[i]);
    out[i].tgt = tok.encode(text.tgt[i]);
  }
  return out;
}

std::vector<Example> filter_by_length(std::vector<Example> examples, int64_t max_len) {
  if (max_len <= 0) return examples;
  std::erase_if(examples, [&](const Example& e) {
    return static_cast<int64_t>(e.src.size()) > max_len ||
           static_cast<int64_t>(e.tgt.size()) + 1 > max_len;
  });
  return examples;
}

std::vector<std::vector<int64_t>> make_batches(const std::vector<Example>& examples,
                                               int64_t batch_tokens, uint64_t seed, int64_t epoch) {
  TESSERA_CHECK(batch_tokens > 0, "make_batches: batch_tokens must be positive, got ",
                batch_tokens);
  SplitMix64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
  std::vector<uint64_t> key(examples.size());
  for (auto& k : key) k = rng.next();
  std::vector<int64_t> order(examples.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const auto la = std::make_tuple(examples[a].src.size(), examples[a].tgt.size(), key[a]);
    const auto lb = std::make_tuple(examples[b].src.size(), examples[b].tgt.size(), key[b]);
    return la < lb || (la == lb && a < b);
  });
  std::vector<std::vector<int64_t>> batches;
  std::vector<int64_t> cur;
  int64_t width = 0;
  for (int64_t i : order) {
    const int64_t w = std::max<int64_t>(static_cast<int64_t>(examples[i].src.size()),
                                        static_cast<int64_t>(examples[i].tgt.size()) + 1);
    const int64_t new_width = std::max(width, w);
    if (!cur.empty() && static_cast<int64_t>(cur.size() + 1) * new_width > batch_tokens) {
      batches.push_back(std::move(cur));
      cur.clear();
      width = 0;
    }
    cur.push_back(i);
    width = std::max(width, w);
  }
  if (!cur.empty()) batches.push_back(std::move(cur));
  for (size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[rng.below(i)]);
  return batches;
}

TranslationBatch collate(const std::vector<Example>& examples,
                         const std::vector<int64_t>& indices) {
  TESSERA_CHECK(!indices.empty(), "collate: empty batch");
  size_t s_len = 0, t_len = 0;
  for (int64_t i : indices) {
    TESSERA_CHECK(i >= 0 && i < static_cast<int64_t>(examples.size()), "collate: index ", i,
                  " out of range for ", examples.size(), " examples");
    s_len = std::max(s_len, examples[i].src.size());
    t_len = std::max(t_len, examples[i].tgt.size() + 1);
  }
  const size_t b = indices.size();
  std::vector<int64_t> src(b * s_len, BpeTokenizer::kPad), tin(b * t_len, BpeTokenizer::kPad),
      tout(b * t_len, BpeTokenizer::kPad);
  TranslationBatch out;
  for (size_t r = 0; r < b; ++r) {
    const Example& e = examples[indices[r]];
    std::copy(e.src.begin(), e.src.end(), src.begin() + static_cast<std::ptrdiff_t>(r * s_len));
    tin[r * t_len] = BpeTokenizer::kBos;
    for (size_t j = 0; j < e.tgt.size(); ++j) {
      tin[r * t_len + j + 1] = e.tgt[j];
      tout[r * t_len + j] = e.tgt[j];
    }
    tout[r * t_len + e.tgt.size()] = BpeTokenizer::kEos;
    out.target_tokens += static_cast<int64_t>(e.tgt.size()) + 1;
    out.source_tokens += static_cast<int64_t>(e.src.size());
  }
  const auto bi = static_cast<int64_t>(b);
  out.src = from_vector(src, {bi, static_cast<int64_t>(s_len)});
  out.tgt_in = from_vector(tin, {bi, static_cast<int64_t>(t_len)});
  out.tgt_out = from_vector(tout, {bi, static_cast<int64_t>(t_len)});
  return out;
}

}  // namespace tessera::models
