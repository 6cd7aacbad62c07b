// SPDX-License-Identifier: Apache-2.0
/// @brief BPE: pre-tokenizer, hand-worked merges, equality with a naive full-recount trainer and
/// encoder, lossless round trips on arbitrary bytes, serialization and validation.

#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "tessera/error.h"
#include "tessera/models/bpe.h"

using namespace tessera::models;
using Merges = std::vector<std::pair<int32_t, int32_t>>;

namespace {

constexpr int32_t B = BpeTokenizer::kByteBase;
int32_t byte_id(char c) { return B + static_cast<unsigned char>(c); }

// Reference trainer: recount every pair over every chunk at each step (O(merges * corpus)); pick
// the highest count, ties to the smallest (left, right) -- the documented rule.
Merges naive_train(const std::vector<std::string>& corpus, int64_t vocab_size, int64_t min_count) {
  std::map<std::string, int64_t> freq;
  for (const auto& s : corpus)
    for (auto c : bpe_pretokenize(s)) ++freq[std::string(c)];
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> f;
  for (const auto& [w, n] : freq) {
    std::vector<int32_t> ids;
    for (char c : w) ids.push_back(byte_id(c));
    words.push_back(ids);
    f.push_back(n);
  }
  Merges merges;
  while (BpeTokenizer::kFirstMerge + static_cast<int64_t>(merges.size()) < vocab_size) {
    std::map<std::pair<int32_t, int32_t>, int64_t> count;
    for (size_t w = 0; w < words.size(); ++w)
      for (size_t k = 0; k + 1 < words[w].size(); ++k)
        count[{words[w][k], words[w][k + 1]}] += f[w];
    std::pair<int32_t, int32_t> best{-1, -1};
    int64_t best_count = 0;
    for (const auto& [p, c] : count) {  // ascending pair order: first max wins ties
      if (c > best_count) {
        best_count = c;
        best = p;
      }
    }
    if (best_count < min_count || best_count == 0) break;
    const int32_t id = BpeTokenizer::kFirstMerge + static_cast<int32_t>(merges.size());
    merges.push_back(best);
    for (auto& w : words) {
      std::vector<int32_t> out;
      for (size_t k = 0; k < w.size();) {
        if (k + 1 < w.size() && w[k] == best.first && w[k + 1] == best.second) {
          out.push_back(id);
          k += 2;
        } else {
          out.push_back(w[k++]);
        }
      }
      w = out;
    }
  }
  return merges;
}

// Reference encoder: per chunk, repeatedly merge all occurrences (left to right) of the adjacent
// pair of lowest rank.
std::vector<int32_t> naive_encode(const Merges& merges, const std::string& text) {
  std::map<std::pair<int32_t, int32_t>, int32_t> rank;
  for (size_t r = 0; r < merges.size(); ++r) rank[merges[r]] = static_cast<int32_t>(r);
  std::vector<int32_t> out;
  for (auto chunk : bpe_pretokenize(text)) {
    std::vector<int32_t> w;
    for (char c : chunk) w.push_back(byte_id(c));
    while (true) {
      int32_t best = -1;
      for (size_t k = 0; k + 1 < w.size(); ++k) {
        auto it = rank.find({w[k], w[k + 1]});
        if (it != rank.end() && (best < 0 || it->second < best)) best = it->second;
      }
      if (best < 0) break;
      const auto p = merges[static_cast<size_t>(best)];
      std::vector<int32_t> nw;
      for (size_t k = 0; k < w.size();) {
        if (k + 1 < w.size() && w[k] == p.first && w[k + 1] == p.second) {
          nw.push_back(BpeTokenizer::kFirstMerge + best);
          k += 2;
        } else {
          nw.push_back(w[k++]);
        }
      }
      w = nw;
    }
    out.insert(out.end(), w.begin(), w.end());
  }
  return out;
}

std::string random_text(std::mt19937_64& rng, int len, const std::string& alphabet) {
  std::string s;
  for (int i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
  return s;
}

std::vector<std::string> as_strings(const std::vector<std::string_view>& v) {
  return {v.begin(), v.end()};
}

}  // namespace

TEST_CASE("bpe_pretokenize: chunks partition the text", "[models][bpe]") {
  using V = std::vector<std::string>;
  CHECK(as_strings(bpe_pretokenize("")) == V{});
  CHECK(as_strings(bpe_pretokenize("A dog, 42 dogs!")) == V{"A", " dog", ",", " 42", " dogs", "!"});
  CHECK(as_strings(bpe_pretokenize("  two  spaces\n\nnew line ")) ==
        V{" ", " two", " ", " spaces", "\n\n", "new", " line", " "});
  CHECK(as_strings(bpe_pretokenize("Gr\xC3\xBC\xC3\x9F"
                                   "e ans Ma\xC3\x9F")) ==
        V{"Gr\xC3\xBC\xC3\x9F"
          "e",
          " ans", " Ma\xC3\x9F"});  // UTF-8 bytes count as letters
  CHECK(as_strings(bpe_pretokenize("x\t y")) == V{"x", "\t", " y"});
  CHECK(as_strings(bpe_pretokenize("a1b")) == V{"a", "1", "b"});
  std::mt19937_64 rng(3);
  for (int t = 0; t < 200; ++t) {
    std::string s = random_text(rng, static_cast<int>(rng() % 60), "ab1 \n\t.,\xC3\xA4");
    std::string joined;
    for (auto c : bpe_pretokenize(s)) {
      REQUIRE_FALSE(c.empty());
      joined += c;
    }
    REQUIRE(joined == s);
  }
}

TEST_CASE("bpe: hand-worked training, tie rule and merge order", "[models][bpe]") {
  // Corpus "abab abc" -> chunks "abab" and " abc" (ids: ' ' = 36, a = 101, b = 102, c = 103).
  // Counts: (a,b) 3, (b,a) 1, (' ',a) 1, (b,c) 1 -> merge 0: (a,b) = "ab" (id 260).
  // Then (ab,ab), (' ',ab), (ab,c) all occur once; the tie goes to the smallest left id, 36:
  // merge 1: (' ', ab) = " ab" (261). Then (ab,ab) before (" ab",c) since 260 < 261:
  // merge 2: "abab" (262), merge 3: " abc" (263).
  const Merges expected = {{101, 102}, {36, 260}, {260, 260}, {261, 103}};
  const BpeTokenizer tok = BpeTokenizer::train({"abab abc"}, {1000, 1});
  CHECK(tok.merges() == expected);
  CHECK(tok.vocab_size() == 264);
  CHECK(tok.token_text(263) == " abc");
  CHECK(tok.encode("abab abc") == std::vector<int32_t>{262, 263});
  // " abab": rank 0 merges both "ab" (left to right), then rank 1 (' ', ab) wins over rank 2
  // (ab, ab), leaving " ab" + "ab" -- not " " + "abab".
  CHECK(tok.encode(" abab") == std::vector<int32_t>{261, 260});
  // "aaa" with a merge (a,a): leftmost pair first -> "aa" + "a".
  const BpeTokenizer aa = BpeTokenizer::train({"aaaa"}, {261, 1});
  REQUIRE(aa.merges() == Merges{{101, 101}});
  CHECK(aa.encode("aaa") == std::vector<int32_t>{260, 101});
  // Default min_pair_count = 2 stops once every pair is unique.
  CHECK(BpeTokenizer::train({"abab abc"}).merges() == Merges{{101, 102}});
  // Equal counts: (x,y) and (y,x) once each; x (124) < y (125) so (x,y) comes first.
  CHECK(BpeTokenizer::train({"xy", "yx"}, {1000, 1}).merges().front() ==
        std::pair<int32_t, int32_t>{124, 125});
}

TEST_CASE("bpe: incremental trainer equals the naive full-recount trainer", "[models][bpe]") {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 12; ++trial) {
    // Small alphabets and repeated words give many ties and overlapping pairs (aaaa, abab).
    const std::string alphabet = trial % 3 == 0   ? "ab "
                                 : trial % 3 == 1 ? "abc d\n"
                                                  : "aab\xC3\xA4 ,1";
    std::vector<std::string> corpus;
    for (int s = 0; s < 40; ++s)
      corpus.push_back(random_text(rng, static_cast<int>(rng() % 40), alphabet));
    const int64_t vocab = 260 + 10 + static_cast<int64_t>(rng() % 150);
    const int64_t min_count = 1 + trial % 2;
    const Merges ref = naive_train(corpus, vocab, min_count);
    BpeTrainStats stats;
    const BpeTokenizer tok = BpeTokenizer::train(corpus, {vocab, min_count}, &stats);
    INFO("trial " << trial);
    REQUIRE(tok.merges() == ref);
    // Encoding each sentence reproduces training's segmentation (same total token count) and the
    // naive encoder's output; decode is the identity.
    int64_t total = 0;
    for (const auto& s : corpus) {
      const auto ids = tok.encode(s);
      total += static_cast<int64_t>(ids.size());
      REQUIRE(ids == naive_encode(ref, s));
      REQUIRE(tok.decode(ids) == s);
    }
    CHECK(total == stats.corpus_tokens);
    // Unseen text, too.
    for (int k = 0; k < 20; ++k) {
      const std::string s = random_text(rng, static_cast<int>(rng() % 80), alphabet + "xyz");
      REQUIRE(tok.encode(s) == naive_encode(ref, s));
    }
  }
}

TEST_CASE("bpe: lossless on arbitrary bytes; specials; determinism", "[models][bpe]") {
  std::vector<std::string> corpus = {"Ein Mann f\xC3\xA4hrt Fahrrad.", "A man rides a bike.",
                                     "Zwei M\xC3\xA4nner fahren Fahrrad.", "Two men ride bikes."};
  const BpeTokenizer tok = BpeTokenizer::train(corpus, {400, 1});
  const BpeTokenizer again = BpeTokenizer::train(corpus, {400, 1});
  CHECK(tok.merges() == again.merges());
  std::mt19937_64 rng(5);
  for (int t = 0; t < 300; ++t) {
    std::string s(rng() % 50, '\0');
    for (char& c : s) c = static_cast<char>(rng());  // invalid UTF-8, NUL, CR, ... all allowed
    REQUIRE(tok.decode(tok.encode(s)) == s);
  }
  const std::string spaced = "  leading, trailing  \n\ttabs\r\n";
  CHECK(tok.decode(tok.encode(spaced)) == spaced);
  const auto ids = tok.encode("Ein Mann", true, true);
  CHECK(ids.front() == BpeTokenizer::kBos);
  CHECK(ids.back() == BpeTokenizer::kEos);
  std::vector<int32_t> with_pad = ids;
  with_pad.push_back(BpeTokenizer::kPad);
  CHECK(tok.decode(with_pad) == "Ein Mann");
  CHECK(tok.decode(std::vector<int32_t>{BpeTokenizer::kUnk}) == "\xEF\xBF\xBD");
  CHECK_THROWS_AS(tok.decode(std::vector<int32_t>{static_cast<int32_t>(tok.vocab_size())}),
                  tessera::Error);
  // A long chunk (no spaces) stays fast: the encoder is O(n log n), not quadratic.
  const std::string long_word(200000, 'a');
  const BpeTokenizer aa = BpeTokenizer::train({"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, {270, 1});
  CHECK(aa.decode(aa.encode(long_word)) == long_word);
}

TEST_CASE("bpe: serialization round trip and validation", "[models][bpe]") {
  const BpeTokenizer tok = BpeTokenizer::train({"abab abc", "the cat"}, {300, 1});
  auto back = Tokenizer::deserialize(tok.serialize());
  REQUIRE(back->type() == "bpe");
  CHECK(back->vocab_size() == tok.vocab_size());
  CHECK(back->encode("abab the cat") == tok.encode("abab the cat"));

  const std::string head =
      R"({"type":"bpe","version":1,"pretokenizer":"tessera-bytes-v1","special_tokens":["<pad>","<bos>","<eos>","<unk>"],)";
  CHECK_NOTHROW(Tokenizer::deserialize(head + R"("merges":[[101,102],[260,103]]})"));
  const std::string bad_merges[] = {
      R"("merges":[[101,260]]})",            // uses id 260 before it exists
      R"("merges":[[1,102]]})",              // merges a special token
      R"("merges":[[101,102],[101,102]]})",  // repeated pair
      R"("merges":[[101]]})",
      R"("merges":[[101,-5]]})",
      R"("merges":[[101,"b"]]})",
      R"("merges":{}})",
      R"("merges":[[101,102]])",  // truncated JSON
  };
  for (const auto& m : bad_merges) {
    INFO(m);
    CHECK_THROWS_AS(Tokenizer::deserialize(head + m), tessera::Error);
  }
  CHECK_THROWS_AS(
      Tokenizer::deserialize(
          R"({"type":"bpe","version":1,"pretokenizer":"gpt2","special_tokens":["<pad>","<bos>","<eos>","<unk>"],"merges":[]})"),
      tessera::Error);
  CHECK_THROWS_AS(
      Tokenizer::deserialize(
          R"({"type":"bpe","version":1,"pretokenizer":"tessera-bytes-v1","special_tokens":["<pad>"],"merges":[]})"),
      tessera::Error);
  CHECK_THROWS_AS(BpeTokenizer(Merges{{4, 4}, {4, 4}}), tessera::Error);
  CHECK_THROWS_AS(BpeTokenizer::train({"x"}, {100, 1}), tessera::Error);  // vocab < 260
}
