// SPDX-License-Identifier: Apache-2.0
/// @brief Seeded English-German sentence pairs from a small grammar with correct German agreement.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tessera::models {

/// SplitMix64 with an exactly specified bounded draw, so the generator gives identical sentences on
/// every platform and standard library (std::uniform_int_distribution's output is not specified).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  /// Uniform in [0, n), n > 0: rejection sampling on the top of the 64-bit range, then modulo.
  uint64_t below(uint64_t n);
  /// True with probability per_mille / 1000.
  bool chance(int per_mille) { return below(1000) < static_cast<uint64_t>(per_mille); }

 private:
  uint64_t state_;
};

namespace synth {

enum class Determiner { kDefinite, kIndefinite, kMy, kThis };
enum class GermanCase { kNominative, kAccusative, kDative, kGenitive };
enum class Pronoun { kNone, kI, kYouSingular, kHe, kShe, kIt, kWe, kYouPlural, kThey };

/// A noun phrase, named by English lemmas ("dog", "big"). Indefinite plural has no article
/// (English "dogs", German strong adjective endings: "große Hunde").
struct NounPhrase {
  std::string noun;
  bool plural = false;
  Determiner det = Determiner::kDefinite;
  std::string adjective;          ///< empty: none
  std::vector<NounPhrase> owner;  ///< 0 or 1 genitive modifier: "the dog of the man"
};

/// One clause: subject (pronoun or noun phrase), verb, its objects and an optional prepositional
/// phrase. Accusative verbs take one object, dative verbs one, ditransitive verbs two (indirect
/// object in the dative first, then the direct object in the accusative), intransitive verbs none.
struct Sentence {
  Pronoun pronoun = Pronoun::kNone;
  NounPhrase subject;  ///< used when pronoun == kNone
  std::string verb;    ///< English lemma: "see", "help", "give", "sleep", ...
  std::vector<NounPhrase> objects;
  std::string preposition;  ///< English: with, for, without, in, next to, behind, through; or empty
  NounPhrase prep_object;
};

/// The German noun phrase in case `c` ("dem alten Mann"); lower-case first letter unless a noun.
std::string german_np(const NounPhrase& np, GermanCase c);
/// The English noun phrase ("the old man", "an old man", "old men", "these old men").
std::string english_np(const NounPhrase& np);
/// Realizes (English, German) with a capitalized first letter and a final period. Throws
/// tessera::Error for unknown lemmas or an object count the verb does not take.
std::pair<std::string, std::string> realize(const Sentence& s);
/// Draws a sentence (semantically plausible: e.g. "read" takes books, letters or newspapers).
Sentence sample_sentence(SplitMix64& rng);

/// Vocabulary sizes, for docs and tests.
int64_t noun_count();
int64_t verb_count();
int64_t adjective_count();

}  // namespace synth

/// n sampled pairs (English, German); duplicates possible. Same seed -> same pairs everywhere.
std::vector<std::pair<std::string, std::string>> generate_pairs(int64_t n, uint64_t seed);

/// n pairs with no English and no German sentence repeated.
std::vector<std::pair<std::string, std::string>> generate_unique_pairs(int64_t n, uint64_t seed);

struct SyntheticSplits {
  int64_t train = 20000;
  int64_t valid = 1000;
  int64_t test = 1000;
};

/// Writes {train,valid,test}.{en,de} (one sentence per line, UTF-8, trailing newline) into `dir`
/// (created if missing), each file atomically. No sentence of one split appears in another:
/// valid and test are drawn first, so they do not change when only the train size changes.
void write_synthetic_splits(const std::string& dir, const SyntheticSplits& sizes, uint64_t seed);

}  // namespace tessera::models
