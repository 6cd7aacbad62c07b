// SPDX-License-Identifier: Apache-2.0
/// @brief BLEU tests: hand-worked scores and 13a tokenization cases (expected values derived in the
/// comments; each was also confirmed with sacreBLEU 2.6.0, see tools/bleu_check.py for the bulk
/// check).

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "tessera/error.h"
#include "tessera/models/bleu.h"

using namespace tessera::models;
using Catch::Matchers::WithinAbs;

TEST_CASE("tokenize_13a: mteval-v13a rules", "[models][bleu]") {
  // ASCII punctuation is split off; apostrophes and in-word hyphens stay.
  CHECK(tokenize_13a("Hello, world!") == "Hello , world !");
  CHECK(tokenize_13a("it's well-known") == "it's well-known");
  CHECK(tokenize_13a("(x)[y]{z}") == "( x ) [ y ] { z }");
  // Period/comma are split unless between digits; a dash after a digit is split.
  CHECK(tokenize_13a("1,000.5 and 3.") == "1,000.5 and 3 .");
  CHECK(tokenize_13a("a.b") == "a . b");
  CHECK(tokenize_13a("U.S.A.") == "U . S . A .");
  CHECK(tokenize_13a("a..b") == "a . . b");
  CHECK(tokenize_13a("5.,") == "5 . ,");
  CHECK(tokenize_13a(",5") == ", 5");  // the padding space before ',' counts as a non-digit
  CHECK(tokenize_13a("3-4") == "3 - 4");
  // HTML entities, <skipped>, hyphenated line breaks.
  CHECK(tokenize_13a("&quot;hi&quot; &amp;lt;") == "\" hi \" <");  // &amp;lt; -> &lt; only once
  CHECK(tokenize_13a("<skipped>a") == "a");
  CHECK(tokenize_13a("line-\nbreak a\nb") == "linebreak a b");
  // Non-ASCII letters are untouched; Python's Unicode whitespace separates tokens.
  CHECK(tokenize_13a("\xE2\x82\xAC"
                     "5,5 Stra\xC3\x9F"
                     "e.") ==
        "\xE2\x82\xAC"
        "5,5 Stra\xC3\x9F"
        "e .");
  CHECK(tokenize_13a("x\xC2\xA0y\xE2\x80\x89z") == "x y z");  // U+00A0, U+2009
  CHECK(tokenize_13a("   ") == "");
  CHECK_THROWS_AS(tokenize_13a("bad \xC3"), tessera::Error);
}

TEST_CASE("corpus_bleu: identical corpus scores 100", "[models][bleu]") {
  const std::vector<std::string> text = {"the cat sat on the mat .", "Ein Hund läuft im Park."};
  const BleuScore s = corpus_bleu(text, text);
  // exp(mean(log 100)) is 100 up to rounding (sacreBLEU prints 100.00 too).
  CHECK_THAT(s.score, WithinAbs(100.0, 1e-10));
  CHECK(s.bp == 1.0);
  for (double p : s.precisions) CHECK(p == 100.0);
  // 7 + 6 tokens ("Park." splits into "Park ."): 1-grams 13, 2-grams 6+5, 3-grams 5+4, 4-grams 4+3.
  CHECK(s.sys_len == 13);
  CHECK(s.ref_len == 13);
  CHECK(s.totals == std::array<int64_t, 4>{13, 11, 9, 7});
  CHECK(s.counts == s.totals);
  CHECK(s.signature == "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0-tessera");
  CHECK(
      s.format() ==
      "BLEU = 100.00 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 13 ref_len = 13)");
}

TEST_CASE("corpus_bleu: empty hypothesis and empty corpus", "[models][bleu]") {
  // c = 0: BP = 0 and no n-gram matches, so the score is 0 (sacreBLEU's early exit).
  const BleuScore s = corpus_bleu({""}, {"a b c"});
  CHECK(s.score == 0.0);
  CHECK(s.bp == 0.0);
  CHECK(s.sys_len == 0);
  CHECK(s.ref_len == 3);
  // sacreBLEU raises on an empty corpus; so do we, with a clear message.
  CHECK_THROWS_AS(corpus_bleu(std::vector<std::string>{}, std::vector<std::string>{}),
                  tessera::Error);
  CHECK_THROWS_AS(corpus_bleu({"a"}, {"a", "b"}), tessera::Error);  // stream length mismatch
  CHECK_THROWS_AS(corpus_bleu({"a \xFF"}, {"a"}), tessera::Error);  // invalid UTF-8
}

TEST_CASE("corpus_bleu: brevity penalty and missing 4-grams", "[models][bleu]") {
  // hyp "the cat sat" (c = 3) vs ref "the cat sat on the mat" (r = 6): BP = exp(1 - 6/3) = e^-1.
  // Matches 3/3, 2/2, 1/1; no hypothesis 4-gram (total 0) ends the loop with p4 = 0, and corpus
  // BLEU (effective order off) uses log(0) := -9999999999, so the score is 0.
  const BleuScore corpus = corpus_bleu({"the cat sat"}, {"the cat sat on the mat"});
  CHECK_THAT(corpus.bp, WithinAbs(std::exp(-1.0), 1e-15));
  CHECK(corpus.score == 0.0);
  CHECK(corpus.precisions == std::array<double, 4>{100.0, 100.0, 100.0, 0.0});
  // sentence_bleu (effective order on) averages over the 3 orders present: 100 * e^-1 = 36.788.
  const BleuScore sent = sentence_bleu("the cat sat", {"the cat sat on the mat"});
  CHECK_THAT(sent.score, WithinAbs(100.0 * std::exp(-1.0), 1e-12));
  CHECK(sent.signature.find("eff:yes") != std::string::npos);
}

TEST_CASE("corpus_bleu: exp smoothing of zero-match orders", "[models][bleu]") {
  // hyp "the cat the dog" (4 tokens), ref "the cat and the dog" (5 tokens).
  // 1-grams: the x2 (ref has 2), cat, dog -> 4/4.   2-grams: "the cat", "the dog" match -> 2/3.
  // 3-grams: 0/2 -> first zero order: 100 / (2 * 2) = 25.  4-grams: 0/1 -> 100 / (4 * 1) = 25.
  // BP = exp(1 - 5/4) = e^-0.25. BLEU = BP * (100 * 200/3 * 25 * 25)^(1/4) = 35.19
  // (sacreBLEU: 35.19).
  const BleuScore s = corpus_bleu({"the cat the dog"}, {"the cat and the dog"});
  CHECK(s.counts == std::array<int64_t, 4>{4, 2, 0, 0});
  CHECK(s.totals == std::array<int64_t, 4>{4, 3, 2, 1});
  CHECK_THAT(s.precisions[1], WithinAbs(200.0 / 3.0, 1e-12));
  CHECK_THAT(s.precisions[2], WithinAbs(25.0, 1e-12));
  CHECK_THAT(s.precisions[3], WithinAbs(25.0, 1e-12));
  const double expected = std::exp(-0.25) * std::pow(100.0 * 200.0 / 3.0 * 25.0 * 25.0, 0.25);
  CHECK_THAT(s.score, WithinAbs(expected, 1e-10));
  CHECK_THAT(s.score, WithinAbs(35.19, 0.005));
}

TEST_CASE("corpus_bleu: clipping by reference counts", "[models][bleu]") {
  // hyp "the the the the" vs ref "the cat": "the" matches at most once -> 1/4 = 25.
  // 2-, 3-, 4-grams: 0/3, 0/2, 0/1 -> 100/(2*3), 100/(4*2), 100/(8*1) = 16.67, 12.5, 12.5.
  // c = 4 >= r = 2 so BP = 1. BLEU = (25 * 50/3 * 12.5 * 12.5)^(1/4) = 15.97 (sacreBLEU: 15.97).
  const BleuScore s = corpus_bleu({"the the the the"}, {"the cat"});
  CHECK(s.counts[0] == 1);
  CHECK(s.bp == 1.0);
  CHECK_THAT(s.score, WithinAbs(std::pow(25.0 * 50.0 / 3.0 * 12.5 * 12.5, 0.25), 1e-10));
}

TEST_CASE("corpus_bleu: multiple references", "[models][bleu]") {
  // hyp has 4 tokens; references of 6 and 2 tokens are equally close (|4-6| = |4-2|): the shorter
  // one is taken, so ref_len = 2. N-grams match the union (max count) of the references.
  const std::vector<std::vector<std::string>> refs = {{"a b c d e f"}, {"a b"}};
  const BleuScore s = corpus_bleu_multi({"a b c d"}, refs);
  CHECK(s.ref_len == 2);
  CHECK_THAT(s.score, WithinAbs(100.0, 1e-10));
  CHECK(s.signature.rfind("nrefs:2|", 0) == 0);
  // A match found only in the second reference counts.
  const BleuScore t =
      corpus_bleu_multi({"x y"}, std::vector<std::vector<std::string>>{{"x z"}, {"q y"}});
  CHECK(t.counts[0] == 2);
}

TEST_CASE("bleu_from_stats: sacreBLEU's compute_bleu corner cases", "[models][bleu]") {
  // No match at any order: score 0 and zero precisions, whatever the smoothing.
  const BleuScore none = bleu_from_stats({0, 0, 0, 0}, {5, 4, 3, 2}, 5, 5);
  CHECK(none.score == 0.0);
  CHECK(none.precisions == std::array<double, 4>{0, 0, 0, 0});
  // Smoothing 'none': a zero order makes the score (numerically) 0.
  BleuOptions plain;
  plain.smooth = BleuSmooth::kNone;
  CHECK(bleu_from_stats({5, 3, 0, 0}, {5, 4, 3, 2}, 5, 5, plain).score == 0.0);
  // 'floor' 0.1: p3 = 100 * 0.1 / 3, p4 = 100 * 0.1 / 2.
  BleuOptions floor;
  floor.smooth = BleuSmooth::kFloor;
  const BleuScore f = bleu_from_stats({5, 3, 0, 0}, {5, 4, 3, 2}, 5, 5, floor);
  CHECK_THAT(f.score, WithinAbs(std::pow(100.0 * 75.0 * (10.0 / 3.0) * 5.0, 0.25), 1e-10));
  // 'add-k' 1 adds 1 to counts and totals of orders >= 2: 100, 4/5, 1/4, 1/3.
  BleuOptions addk;
  addk.smooth = BleuSmooth::kAddK;
  const BleuScore a = bleu_from_stats({5, 3, 0, 0}, {5, 4, 3, 2}, 5, 5, addk);
  CHECK_THAT(a.score, WithinAbs(std::pow(100.0 * 80.0 * 25.0 * (100.0 / 3.0), 0.25), 1e-10));
}
