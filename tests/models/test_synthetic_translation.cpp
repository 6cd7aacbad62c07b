// SPDX-License-Identifier: Apache-2.0
/// @brief Synthetic English-German generator: hand-checked agreement table, determinism, splits.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "tessera/error.h"
#include "tessera/models/synthetic_translation.h"
#include "tessera/models/utf8.h"

using namespace tessera::models;
using namespace tessera::models::synth;

namespace {

NounPhrase np(const char* noun, Determiner det = Determiner::kDefinite, const char* adj = "",
              bool plural = false) {
  NounPhrase p;
  p.noun = noun;
  p.det = det;
  p.adjective = adj;
  p.plural = plural;
  return p;
}
NounPhrase with_owner(NounPhrase p, NounPhrase owner) {
  p.owner.push_back(std::move(owner));
  return p;
}
Sentence clause(NounPhrase subject, const char* verb, std::vector<NounPhrase> objects = {},
                const char* prep = "", NounPhrase prep_object = {}) {
  Sentence s;
  s.subject = std::move(subject);
  s.verb = verb;
  s.objects = std::move(objects);
  s.preposition = prep;
  s.prep_object = std::move(prep_object);
  return s;
}
Sentence pron(Pronoun p, Sentence s) {
  s.pronoun = p;
  return s;
}

constexpr auto kDef = Determiner::kDefinite;
constexpr auto kIndef = Determiner::kIndefinite;
constexpr auto kMy = Determiner::kMy;
constexpr auto kThis = Determiner::kThis;

std::vector<std::string> read_lines(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  REQUIRE((text.empty() || text.back() == '\n'));
  std::vector<std::string> lines;
  std::string line;
  std::istringstream is(text);
  while (std::getline(is, line)) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("synthetic: hand-checked sentences (articles, adjective endings, cases, verbs)",
          "[models][synthetic]") {
  struct Row {
    Sentence s;
    const char* en;
    const char* de;
  };
  const Row rows[] = {
      // Weak endings after der/die/das: nominative -e, feminine accusative -e.
      {clause(np("dog", kDef, "big"), "see", {np("cat", kDef, "small")}),
       "The big dog sees the small cat.", "Der große Hund sieht die kleine Katze."},
      // Mixed endings after ein: masculine nominative -er, accusative -en (einen).
      {clause(np("dog", kIndef, "big"), "see", {np("cat", kIndef, "small")}),
       "A big dog sees a small cat.", "Ein großer Hund sieht eine kleine Katze."},
      {clause(np("man"), "see", {np("dog", kIndef, "big")}), "The man sees a big dog.",
       "Der Mann sieht einen großen Hund."},
      // Neuter accusative after ein: -es.
      {clause(np("woman"), "buy", {np("book", kIndef, "new")}), "The woman buys a new book.",
       "Die Frau kauft ein neues Buch."},
      // mit + dative, weak -en: "mit dem alten Mann".
      {clause(np("child"), "play", {}, "with", np("man", kDef, "old")),
       "The child plays with the old man.", "Das Kind spielt mit dem alten Mann."},
      // Dative verb; weak noun Junge -> dem Jungen.
      {pron(Pronoun::kI, clause({}, "help", {np("boy")})), "I help the boy.",
       "Ich helfe dem Jungen."},
      // Ditransitive: dative plural -n (den Kindern), accusative plural weak -en.
      {pron(Pronoun::kYouPlural,
            clause({}, "give", {np("child", kDef, "", true), np("ball", kDef, "red", true)})),
       "You all give the children the red balls.", "Ihr gebt den Kindern die roten Bälle."},
      // Strong endings (no article): plural nominative/accusative -e, dative -en.
      {clause(np("man", kIndef, "old", true), "see", {np("dog", kIndef, "big", true)}),
       "Old men see big dogs.", "Alte Männer sehen große Hunde."},
      {clause(np("girl"), "play", {}, "with", np("cat", kIndef, "small", true)),
       "The girl plays with small cats.", "Das Mädchen spielt mit kleinen Katzen."},
      // Genitive (des alten Mannes), "in dem" -> "im", stem change schläft.
      {clause(with_owner(np("dog"), np("man", kDef, "old")), "sleep", {}, "in", np("garden")),
       "The dog of the old man sleeps in the garden.",
       "Der Hund des alten Mannes schläft im Garten."},
      // No contraction for the feminine dative.
      {clause(np("cat"), "sleep", {}, "in", np("kitchen")), "The cat sleeps in the kitchen.",
       "Die Katze schläft in der Küche."},
      // a/an; du isst.
      {pron(Pronoun::kYouSingular, clause({}, "eat", {np("apple", kIndef)})), "You eat an apple.",
       "Du isst einen Apfel."},
      {pron(Pronoun::kHe, clause({}, "read", {np("newspaper", kThis)})), "He reads this newspaper.",
       "Er liest diese Zeitung."},
      // müde + en = müden; mein in the feminine dative: meiner.
      {clause(np("child", kThis, "tired", true), "thank", {np("mother", kMy)}),
       "These tired children thank my mother.", "Diese müden Kinder danken meiner Mutter."},
      // für + accusative, weak noun Bär -> den Bären.
      {pron(Pronoun::kWe,
            clause({}, "buy", {np("cake", kIndef)}, "for", np("bear", kDef, "tired"))),
       "We buy a cake for the tired bear.", "Wir kaufen einen Kuchen für den müden Bären."},
      // mein + neuter nominative -es; durch + accusative; läuft.
      {clause(np("child", kMy, "small"), "run", {}, "through", np("park")),
       "My small child runs through the park.", "Mein kleines Kind läuft durch den Park."},
      {clause(np("doctor", kDef, "", true), "show",
              {np("student", kDef, "", true), np("picture", kIndef)}),
       "The doctors show the students a picture.", "Die Ärzte zeigen den Studenten ein Bild."},
      {pron(Pronoun::kIt, clause({}, "play", {}, "behind", np("house"))),
       "It plays behind the house.", "Es spielt hinter dem Haus."},
      {clause(np("lion"), "follow", {np("girl", kIndef, "tired")}),
       "The lion follows a tired girl.", "Der Löwe folgt einem müden Mädchen."},
      // Genitive after mein (meiner Schwester) and nehmen -> nimmt.
      {clause(np("boy"), "take", {with_owner(np("ball"), np("sister", kMy))}),
       "The boy takes the ball of my sister.", "Der Junge nimmt den Ball meiner Schwester."},
      {clause(np("man", kIndef, "tired"), "work"), "A tired man works.",
       "Ein müder Mann arbeitet."},
      {clause(with_owner(np("hat"), np("boy", kIndef)), "sit"), "The hat of a boy sits.",
       "Der Hut eines Jungen sitzt."},
      {pron(Pronoun::kThey,
            clause({}, "visit", {with_owner(np("house"), np("child", kDef, "", true))})),
       "They visit the house of the children.", "Sie besuchen das Haus der Kinder."},
      {pron(Pronoun::kYouPlural, clause({}, "answer", {np("teacher")})),
       "You all answer the teacher.", "Ihr antwortet dem Lehrer."},
      {pron(Pronoun::kShe,
            clause({}, "hold", {np("baby", kThis, "happy")}, "next to", np("window", kIndef))),
       "She holds this happy baby next to a window.",
       "Sie hält dieses glückliche Baby neben einem Fenster."},
      {clause(np("mouse", kMy, "", true), "feed", {np("lamb", kIndef, "hungry", true)}),
       "My mice feed hungry lambs.", "Meine Mäuse füttern hungrige Lämmer."},
      {clause(np("cook"), "carry", {np("bottle", kIndef, "green")}, "without",
              np("glass", kDef, "", true)),
       "The cook carries a green bottle without the glasses.",
       "Der Koch trägt eine grüne Flasche ohne die Gläser."},
  };
  for (const Row& r : rows) {
    const auto [en, de] = realize(r.s);
    CHECK(en == r.en);
    CHECK(de == r.de);
  }
}

TEST_CASE("synthetic: noun phrases in all four cases", "[models][synthetic]") {
  using C = GermanCase;
  CHECK(german_np(np("dog"), C::kGenitive) == "des Hundes");
  CHECK(german_np(np("woman", kIndef, "old"), C::kDative) == "einer alten Frau");
  CHECK(german_np(np("book", kIndef, "new"), C::kNominative) == "ein neues Buch");
  CHECK(german_np(np("dog", kIndef, "big", true), C::kGenitive) ==
        "großer Hunde");  // strong gen pl
  CHECK(german_np(np("child", kThis, "", true), C::kDative) == "diesen Kindern");
  CHECK(german_np(np("boy", kMy, "young"), C::kAccusative) == "meinen jungen Jungen");
  CHECK(german_np(np("cow", kDef, "tired"), C::kGenitive) == "der müden Kuh");
  CHECK(english_np(np("man", kIndef, "old")) == "an old man");
  CHECK(english_np(np("man", kIndef, "old", true)) == "old men");
  CHECK(english_np(np("man", kThis, "old", true)) == "these old men");
  CHECK(english_np(np("apple", kIndef, "red")) == "a red apple");
  CHECK_THROWS_AS(german_np(np("unicorn"), C::kNominative), tessera::Error);
  CHECK_THROWS_AS(realize(clause(np("dog"), "see")), tessera::Error);  // missing object
  CHECK_THROWS_AS(realize(clause(np("dog"), "fly")), tessera::Error);  // unknown verb
  CHECK(noun_count() >= 30);
  CHECK(noun_count() <= 60);
  CHECK(verb_count() >= 20);
  CHECK(adjective_count() >= 15);
}

TEST_CASE("synthetic: SplitMix64 matches the reference and draws are bounded",
          "[models][synthetic]") {
  SplitMix64 r(0);  // reference values of splitmix64 from state 0 (Vigna's splitmix64.c)
  CHECK(r.next() == 0xE220A8397B1DCDAFull);
  CHECK(r.next() == 0x6E789E6AA1B965F4ull);
  CHECK(r.next() == 0x06C45D188009454Full);
  SplitMix64 g(123);
  std::vector<int> hist(7, 0);
  for (int i = 0; i < 70000; ++i) {
    const uint64_t x = g.below(7);
    REQUIRE(x < 7);
    ++hist[x];
  }
  for (int h : hist) CHECK(std::abs(h - 10000) < 500);  // ~5 sigma
  CHECK(g.below(1) == 0);
  CHECK_THROWS_AS(g.below(0), tessera::Error);
}

TEST_CASE("synthetic: deterministic for a seed, valid UTF-8, well-formed", "[models][synthetic]") {
  const auto a = generate_pairs(300, 42);
  const auto b = generate_pairs(300, 42);
  const auto c = generate_pairs(300, 43);
  CHECK(a == b);
  CHECK(a != c);
  std::set<std::string> verbs_seen;
  for (const auto& [en, de] : a) {
    REQUIRE(is_valid_utf8(en));
    REQUIRE(is_valid_utf8(de));
    REQUIRE(en.back() == '.');
    REQUIRE(de.back() == '.');
    REQUIRE(!(en[0] >= 'a' && en[0] <= 'z'));
    REQUIRE(!(de[0] >= 'a' && de[0] <= 'z'));
    REQUIRE(de.find("  ") == std::string::npos);
    REQUIRE(de.find("in dem ") == std::string::npos);  // always contracted to "im"
  }
  const auto u = generate_unique_pairs(2000, 7);
  std::set<std::string> en_set, de_set;
  for (const auto& [en, de] : u) {
    en_set.insert(en);
    de_set.insert(de);
  }
  CHECK(en_set.size() == 2000);
  CHECK(de_set.size() == 2000);
}

TEST_CASE("synthetic: splits on disk are disjoint and stable", "[models][synthetic]") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tessera_synth_" + std::to_string(std::random_device{}()));
  write_synthetic_splits(dir.string(), {500, 100, 100}, 9);
  std::set<std::string> seen_en, seen_de;
  for (const char* split : {"train", "valid", "test"}) {
    const auto en = read_lines(dir / (std::string(split) + ".en"));
    const auto de = read_lines(dir / (std::string(split) + ".de"));
    REQUIRE(en.size() == de.size());
    CHECK(en.size() == (std::string(split) == "train" ? 500u : 100u));
    for (size_t i = 0; i < en.size(); ++i) {
      REQUIRE(is_valid_utf8(de[i]));
      REQUIRE(seen_en.insert(en[i]).second);  // no sentence in two splits (or twice in one)
      REQUIRE(seen_de.insert(de[i]).second);
    }
  }
  const auto valid_before = read_lines(dir / "valid.de");
  write_synthetic_splits(dir.string(), {800, 100, 100}, 9);  // more train data, same seed
  CHECK(read_lines(dir / "valid.de") == valid_before);
  CHECK(read_lines(dir / "train.de").size() == 800);
  CHECK_FALSE(std::filesystem::exists(dir / "train.de.tmp"));
  std::filesystem::remove_all(dir);
}
