// SPDX-License-Identifier: Apache-2.0
/// @brief Byte-level BPE: pre-tokenizer, incremental-count trainer and rank-order encoder.
//
// Training (NOTE [bpe incremental counts]): the corpus is reduced to distinct pre-tokenizer chunks
// with frequencies (Multi30k en+de: ~58k sentences -> ~40k chunks). Each chunk is a vector of
// symbol ids. `count[pair]` is the frequency-weighted number of adjacent occurrences; `where[pair]`
// lists chunks that may contain the pair (stale entries allowed, duplicates removed when used). A
// max-heap holds (count, left, right) entries; an entry whose count differs from count[pair] is
// stale and skipped. Merging pair p touches only the chunks in where[p]: their old pairs are
// subtracted, the chunk is rewritten (left-to-right, non-overlapping), its new pairs added, and
// every pair whose count changed is pushed again. Cost per merge: O(sum of lengths of the chunks
// containing p * log heap), instead of a full recount O(corpus) per merge. Tie rule: among pairs of
// equal count the smaller (left id, right id) wins, so training is deterministic and independent of
// hash-map iteration order.
//
// Encoding: a linked list over the chunk's bytes and a min-heap of (rank, position) candidate
// pairs; popping in that order applies merges in rank order and, within one rank, left to right,
// which is exactly the segmentation training produced (a merged pair never reappears, and a new
// symbol only forms pairs of higher rank). O(n log n) per chunk, so even a huge chunk cannot go
// quadratic.

#include "tessera/models/bpe.h"

#include <algorithm>
#include <chrono>
#include <queue>
#include <string>
#include <unordered_map>

#include "tessera/models/utf8.h"
#include "tokenizer_json.h"

namespace tessera::models {
namespace {

constexpr const char* kPretokenizerName = "tessera-bytes-v1";
constexpr const char* kSpecialNames[] = {"<pad>", "<bos>", "<eos>", "<unk>"};
constexpr char kReplacementChar[] = "\xEF\xBF\xBD";  // U+FFFD

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

enum class ByteClass { kLetter, kDigit, kSpace, kOther };

ByteClass classify(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return ByteClass::kLetter;
  if (c >= '0' && c <= '9') return ByteClass::kDigit;
  if (c == ' ' || (c >= '\t' && c <= '\r')) return ByteClass::kSpace;
  return ByteClass::kOther;
}

struct HeapEntry {
  int64_t count;
  int32_t left;
  int32_t right;
};

// "a < b" for std::priority_queue (a max-heap): lower count, or equal count and larger pair, is
// lower priority, so the top is the highest count with the smallest (left, right).
struct HeapLess {
  bool operator()(const HeapEntry& a, const HeapEntry& b) const {
    if (a.count != b.count) return a.count < b.count;
    if (a.left != b.left) return a.left > b.left;
    return a.right > b.right;
  }
};

}  // namespace

std::vector<std::string_view> bpe_pretokenize(std::string_view text) {
  std::vector<std::string_view> chunks;
  const size_t n = text.size();
  auto cls = [&](size_t i) { return classify(static_cast<unsigned char>(text[i])); };
  size_t i = 0;
  while (i < n) {
    if (cls(i) == ByteClass::kSpace) {
      size_t j = i;
      while (j < n && cls(j) == ByteClass::kSpace) ++j;
      // A ' ' right before a non-space byte belongs to the next chunk (" dog", " 42", " (").
      if (j < n && text[j - 1] == ' ') {
        if (j - 1 > i) chunks.push_back(text.substr(i, j - 1 - i));
        i = j - 1;
      } else {
        chunks.push_back(text.substr(i, j - i));
        i = j;
        continue;
      }
    }
    // Here text[i] is a non-space byte, or a ' ' immediately followed by one.
    size_t j = i;
    if (text[j] == ' ') ++j;
    const ByteClass run = cls(j);
    while (j < n && cls(j) == run) ++j;
    chunks.push_back(text.substr(i, j - i));
    i = j;
  }
  return chunks;
}

BpeTokenizer BpeTokenizer::train(const std::vector<std::string>& corpus,
                                 const BpeTrainOptions& opts, BpeTrainStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  TESSERA_CHECK(opts.vocab_size >= kFirstMerge && opts.vocab_size <= INT32_MAX,
                "bpe train: vocab_size must be in [", kFirstMerge, ", 2^31), got ",
                opts.vocab_size);
  TESSERA_CHECK(opts.min_pair_count >= 1, "bpe train: min_pair_count must be >= 1, got ",
                opts.min_pair_count);

  // Distinct chunks with frequencies, sorted so chunk indices do not depend on hashing.
  std::unordered_map<std::string_view, int64_t> freq_map;
  for (const std::string& sentence : corpus) {
    for (std::string_view chunk : bpe_pretokenize(sentence)) ++freq_map[chunk];
  }
  std::vector<std::pair<std::string_view, int64_t>> uniq(freq_map.begin(), freq_map.end());
  std::sort(uniq.begin(), uniq.end());
  freq_map.clear();

  const auto n_words = static_cast<int32_t>(uniq.size());
  std::vector<std::vector<int32_t>> words(static_cast<size_t>(n_words));
  std::vector<int64_t> freq(static_cast<size_t>(n_words));
  std::unordered_map<uint64_t, int64_t> count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  for (int32_t w = 0; w < n_words; ++w) {
    const auto& [text, f] = uniq[static_cast<size_t>(w)];
    auto& sym = words[static_cast<size_t>(w)];
    for (char c : text) sym.push_back(kByteBase + static_cast<unsigned char>(c));
    freq[static_cast<size_t>(w)] = f;
    for (size_t k = 0; k + 1 < sym.size(); ++k) {
      const uint64_t key = pair_key(sym[k], sym[k + 1]);
      count[key] += f;
      auto& list = where[key];
      if (list.empty() || list.back() != w) list.push_back(w);
    }
  }
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, HeapLess> heap;
  for (const auto& [key, c] : count) {
    heap.push({c, static_cast<int32_t>(key >> 32), static_cast<int32_t>(key & 0xFFFFFFFFu)});
  }

  std::vector<std::pair<int32_t, int32_t>> merges;
  std::vector<uint64_t> changed;
  std::vector<int32_t> merged_word;
  const int64_t max_merges = opts.vocab_size - kFirstMerge;
  while (static_cast<int64_t>(merges.size()) < max_merges && !heap.empty()) {
    const HeapEntry top = heap.top();
    heap.pop();
    const uint64_t key = pair_key(top.left, top.right);
    auto cit = count.find(key);
    if (cit == count.end() || cit->second != top.count) continue;  // stale entry
    if (top.count < opts.min_pair_count) break;
    const int32_t new_id = kFirstMerge + static_cast<int32_t>(merges.size());
    merges.emplace_back(top.left, top.right);

    std::vector<int32_t> targets = std::move(where[key]);
    where.erase(key);
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    changed.clear();
    for (int32_t w : targets) {
      auto& sym = words[static_cast<size_t>(w)];
      const int64_t f = freq[static_cast<size_t>(w)];
      bool has = false;
      for (size_t k = 0; k + 1 < sym.size() && !has; ++k)
        has = sym[k] == top.left && sym[k + 1] == top.right;
      if (!has) continue;  // stale where[] entry
      for (size_t k = 0; k + 1 < sym.size(); ++k) {
        const uint64_t old_key = pair_key(sym[k], sym[k + 1]);
        count[old_key] -= f;
        changed.push_back(old_key);
      }
      merged_word.clear();
      for (size_t k = 0; k < sym.size();) {
        if (k + 1 < sym.size() && sym[k] == top.left && sym[k + 1] == top.right) {
          merged_word.push_back(new_id);
          k += 2;
        } else {
          merged_word.push_back(sym[k]);
          ++k;
        }
      }
      sym.swap(merged_word);
      for (size_t k = 0; k + 1 < sym.size(); ++k) {
        const uint64_t new_key = pair_key(sym[k], sym[k + 1]);
        count[new_key] += f;
        changed.push_back(new_key);
        auto& list = where[new_key];
        if (list.empty() || list.back() != w) list.push_back(w);
      }
    }
    TESSERA_ASSERT(count[key] == 0);
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    for (uint64_t k : changed) {
      auto it = count.find(k);
      if (it->second == 0) {
        count.erase(it);
      } else {
        heap.push(
            {it->second, static_cast<int32_t>(k >> 32), static_cast<int32_t>(k & 0xFFFFFFFFu)});
      }
    }
    count.erase(key);
  }

  if (stats != nullptr) {
    stats->sentences = static_cast<int64_t>(corpus.size());
    stats->unique_chunks = n_words;
    stats->merges = static_cast<int64_t>(merges.size());
    stats->corpus_tokens = 0;
    for (int32_t w = 0; w < n_words; ++w) {
      stats->corpus_tokens +=
          freq[static_cast<size_t>(w)] * static_cast<int64_t>(words[static_cast<size_t>(w)].size());
    }
    stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return BpeTokenizer(std::move(merges));
}

BpeTokenizer::BpeTokenizer(std::vector<std::pair<int32_t, int32_t>> merges)
    : merges_(std::move(merges)) {
  TESSERA_CHECK(static_cast<int64_t>(merges_.size()) <= INT32_MAX - kFirstMerge,
                "bpe tokenizer: too many merges (", merges_.size(), ")");
  token_bytes_.assign(static_cast<size_t>(kFirstMerge) + merges_.size(), std::string());
  for (int32_t i = 0; i < kByteBase; ++i) token_bytes_[static_cast<size_t>(i)] = kSpecialNames[i];
  for (int b = 0; b < 256; ++b)
    token_bytes_[static_cast<size_t>(kByteBase + b)] = std::string(1, static_cast<char>(b));
  ranks_.reserve(merges_.size() * 2);
  for (size_t r = 0; r < merges_.size(); ++r) {
    const auto [a, b] = merges_[r];
    const int64_t id = kFirstMerge + static_cast<int64_t>(r);
    TESSERA_CHECK(a >= kByteBase && a < id && b >= kByteBase && b < id, "bpe tokenizer: merge ", r,
                  " (", a, ", ", b, ") must join two existing non-special tokens, i.e. ids in [",
                  kByteBase, ", ", id, ")");
    const bool inserted = ranks_.emplace(pair_key(a, b), static_cast<int32_t>(r)).second;
    TESSERA_CHECK(inserted, "bpe tokenizer: merge ", r, " (", a, ", ", b,
                  ") repeats an earlier merge");
    token_bytes_[static_cast<size_t>(id)] =
        token_bytes_[static_cast<size_t>(a)] + token_bytes_[static_cast<size_t>(b)];
  }
}

int32_t BpeTokenizer::rank_of(int32_t left, int32_t right) const {
  auto it = ranks_.find(pair_key(left, right));
  return it == ranks_.end() ? -1 : it->second;
}

void BpeTokenizer::encode_chunk(std::string_view chunk, std::vector<int32_t>& out) const {
  TESSERA_CHECK(chunk.size() < static_cast<size_t>(INT32_MAX),
                "bpe tokenizer encode: a single chunk of ", chunk.size(),
                " bytes is too long (limit 2^31 - 1 bytes without whitespace or class change)");
  const auto n = static_cast<int32_t>(chunk.size());
  if (n == 1) {
    out.push_back(kByteBase + static_cast<unsigned char>(chunk[0]));
    return;
  }
  std::vector<int32_t> id(static_cast<size_t>(n)), next(static_cast<size_t>(n)),
      prev(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    id[static_cast<size_t>(i)] =
        kByteBase + static_cast<unsigned char>(chunk[static_cast<size_t>(i)]);
    next[static_cast<size_t>(i)] = i + 1 < n ? i + 1 : -1;
    prev[static_cast<size_t>(i)] = i - 1;
  }
  using Cand = std::pair<int32_t, int32_t>;  // (rank, left position): min-heap
  std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
  auto consider = [&](int32_t pos) {
    const int32_t nx = next[static_cast<size_t>(pos)];
    if (nx < 0) return;
    const int32_t r = rank_of(id[static_cast<size_t>(pos)], id[static_cast<size_t>(nx)]);
    if (r >= 0) heap.emplace(r, pos);
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!heap.empty()) {
    const auto [r, pos] = heap.top();
    heap.pop();
    const auto p = static_cast<size_t>(pos);
    if (id[p] < 0) continue;  // node was absorbed by a merge to its left
    const int32_t nx = next[p];
    if (nx < 0 || rank_of(id[p], id[static_cast<size_t>(nx)]) != r) continue;  // stale
    id[p] = kFirstMerge + r;
    const auto q = static_cast<size_t>(nx);
    next[p] = next[q];
    if (next[q] >= 0) prev[static_cast<size_t>(next[q])] = pos;
    id[q] = -1;
    if (prev[p] >= 0) consider(prev[p]);
    consider(pos);
  }
  for (int32_t i = 0; i >= 0; i = next[static_cast<size_t>(i)])
    out.push_back(id[static_cast<size_t>(i)]);
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  for (std::string_view chunk : bpe_pretokenize(text)) encode_chunk(chunk, out);
  return out;
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool add_bos, bool add_eos) const {
  std::vector<int32_t> out;
  if (add_bos) out.push_back(kBos);
  std::vector<int32_t> body = encode(text);
  out.insert(out.end(), body.begin(), body.end());
  if (add_eos) out.push_back(kEos);
  return out;
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  const int64_t v = vocab_size();
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t t = ids[i];
    TESSERA_CHECK(t >= 0 && t < v, "bpe tokenizer decode: id ", t, " at position ", i,
                  " is outside [0, ", v, ")");
    if (t == kUnk) {
      out += kReplacementChar;
    } else if (t >= kByteBase) {
      out += token_bytes_[static_cast<size_t>(t)];
    }
  }
  return out;
}

std::string BpeTokenizer::token_text(int32_t id) const {
  TESSERA_CHECK(id >= 0 && id < vocab_size(), "bpe tokenizer: id ", id, " is outside [0, ",
                vocab_size(), ")");
  return token_bytes_[static_cast<size_t>(id)];
}

std::string BpeTokenizer::serialize() const {
  nlohmann::json j;
  j["type"] = "bpe";
  j["version"] = detail::kTokenizerFormatVersion;
  j["pretokenizer"] = kPretokenizerName;
  j["special_tokens"] =
      std::vector<std::string>(std::begin(kSpecialNames), std::end(kSpecialNames));
  // Merges as id pairs: token bytes need not be valid UTF-8, so they cannot be JSON strings.
  nlohmann::json m = nlohmann::json::array();
  for (const auto& [a, b] : merges_) m.push_back({a, b});
  j["merges"] = std::move(m);
  return j.dump();
}

BpeTokenizer BpeTokenizer::deserialize(std::string_view json) {
  const nlohmann::json j = detail::parse_tokenizer_json(json, "bpe");
  const auto& pre = detail::field(
      j, "pretokenizer", [](const nlohmann::json& v) { return v.is_string(); }, "a string", "bpe");
  TESSERA_CHECK(pre.get<std::string>() == kPretokenizerName,
                "bpe tokenizer: unknown pretokenizer \"", pre.get<std::string>(),
                "\" (this build knows \"", kPretokenizerName, "\")");
  const auto& specials = detail::field(
      j, "special_tokens", [](const nlohmann::json& v) { return v.is_array(); }, "an array", "bpe");
  TESSERA_CHECK(
      specials == nlohmann::json(
                      std::vector<std::string>(std::begin(kSpecialNames), std::end(kSpecialNames))),
      "bpe tokenizer: special_tokens must be [\"<pad>\", \"<bos>\", \"<eos>\", \"<unk>\"], got ",
      specials.dump());
  const auto& arr = detail::field(
      j, "merges", [](const nlohmann::json& v) { return v.is_array(); }, "an array", "bpe");
  std::vector<std::pair<int32_t, int32_t>> merges;
  merges.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const auto& m = arr[i];
    const bool ok = m.is_array() && m.size() == 2 && m[0].is_number_unsigned() &&
                    m[1].is_number_unsigned() && m[0].get<uint64_t>() <= INT32_MAX &&
                    m[1].get<uint64_t>() <= INT32_MAX;
    TESSERA_CHECK(ok, "bpe tokenizer: merges[", i,
                  "] must be a pair of non-negative token ids, got ", m.dump());
    merges.emplace_back(static_cast<int32_t>(m[0].get<uint64_t>()),
                        static_cast<int32_t>(m[1].get<uint64_t>()));
  }
  return BpeTokenizer(std::move(merges));  // validates id order and duplicates
}

}  // namespace tessera::models
