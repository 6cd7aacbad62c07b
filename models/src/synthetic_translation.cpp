// SPDX-License-Identifier: Apache-2.0
/// @brief Synthetic English-German corpus: a small grammar with table-driven German morphology.
//
// Every German form comes from a hand-written table, not from rules that could over-generalize:
// nouns list nominative/accusative/dative/genitive singular and nominative/dative plural (weak
// nouns like "Junge" -> "den Jungen" are just rows of the table), verbs list all six present-tense
// forms (ich, du, er/sie/es, wir, ihr, sie), determiners list 4 cases x (m, f, n, plural).
// Adjective endings follow the three declensions: weak after der/dieser, mixed after ein/mein,
// strong with no determiner (bare plurals). Cases are governed by the verb (accusative, dative,
// dative + accusative) and the preposition (mit/in/neben/hinter + dative, fuer/ohne/durch +
// accusative; "in dem" -> "im"). English: a/an by the next word's first letter, 3rd-person-singular
// verb forms, irregular plurals. Unambiguous by design: "you" is du, "you all" is ihr, no noun has
// equal English singular/plural.

#include "tessera/models/synthetic_translation.h"

#include <filesystem>
#include <fstream>
#include <string_view>
#include <unordered_set>

#include "tessera/error.h"

namespace tessera::models {

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::below(uint64_t n) {
  TESSERA_CHECK(n > 0, "SplitMix64::below: n must be positive");
  // Accept x < limit, where limit is the largest multiple of n not above 2^64, so x % n is uniform.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;  // == k*n - 1 for the largest k
  uint64_t x = next();
  while (x > limit) x = next();
  return x % n;
}

namespace synth {
namespace {

enum Gender { kM = 0, kF = 1, kN = 2 };
enum Kind : unsigned { kAnimate = 1, kThing = 2, kPlace = 4, kReadable = 8, kFood = 16 };

struct Noun {
  const char* en_sg;
  const char* en_pl;
  Gender gender;
  unsigned kind;
  const char* nom;  // German singular: nominative, accusative, dative, genitive
  const char* acc;
  const char* dat;
  const char* gen;
  const char* pl;      // German plural nominative (= accusative = genitive)
  const char* pl_dat;  // German plural dative
};

// clang-format off
constexpr Noun kNouns[] = {
    {"man", "men", kM, kAnimate, "Mann", "Mann", "Mann", "Mannes", "Männer", "Männern"},
    {"dog", "dogs", kM, kAnimate, "Hund", "Hund", "Hund", "Hundes", "Hunde", "Hunden"},
    {"boy", "boys", kM, kAnimate, "Junge", "Jungen", "Jungen", "Jungen", "Jungen", "Jungen"},
    {"teacher", "teachers", kM, kAnimate, "Lehrer", "Lehrer", "Lehrer", "Lehrers", "Lehrer", "Lehrern"},
    {"bird", "birds", kM, kAnimate, "Vogel", "Vogel", "Vogel", "Vogels", "Vögel", "Vögeln"},
    {"doctor", "doctors", kM, kAnimate, "Arzt", "Arzt", "Arzt", "Arztes", "Ärzte", "Ärzten"},
    {"bear", "bears", kM, kAnimate, "Bär", "Bären", "Bären", "Bären", "Bären", "Bären"},
    {"student", "students", kM, kAnimate, "Student", "Studenten", "Studenten", "Studenten", "Studenten", "Studenten"},
    {"cook", "cooks", kM, kAnimate, "Koch", "Koch", "Koch", "Kochs", "Köche", "Köchen"},
    {"friend", "friends", kM, kAnimate, "Freund", "Freund", "Freund", "Freundes", "Freunde", "Freunden"},
    {"father", "fathers", kM, kAnimate, "Vater", "Vater", "Vater", "Vaters", "Väter", "Vätern"},
    {"lion", "lions", kM, kAnimate, "Löwe", "Löwen", "Löwen", "Löwen", "Löwen", "Löwen"},
    {"woman", "women", kF, kAnimate, "Frau", "Frau", "Frau", "Frau", "Frauen", "Frauen"},
    {"cat", "cats", kF, kAnimate, "Katze", "Katze", "Katze", "Katze", "Katzen", "Katzen"},
    {"mother", "mothers", kF, kAnimate, "Mutter", "Mutter", "Mutter", "Mutter", "Mütter", "Müttern"},
    {"sister", "sisters", kF, kAnimate, "Schwester", "Schwester", "Schwester", "Schwester", "Schwestern", "Schwestern"},
    {"mouse", "mice", kF, kAnimate, "Maus", "Maus", "Maus", "Maus", "Mäuse", "Mäusen"},
    {"cow", "cows", kF, kAnimate, "Kuh", "Kuh", "Kuh", "Kuh", "Kühe", "Kühen"},
    {"duck", "ducks", kF, kAnimate, "Ente", "Ente", "Ente", "Ente", "Enten", "Enten"},
    {"daughter", "daughters", kF, kAnimate, "Tochter", "Tochter", "Tochter", "Tochter", "Töchter", "Töchtern"},
    {"goat", "goats", kF, kAnimate, "Ziege", "Ziege", "Ziege", "Ziege", "Ziegen", "Ziegen"},
    {"child", "children", kN, kAnimate, "Kind", "Kind", "Kind", "Kindes", "Kinder", "Kindern"},
    {"girl", "girls", kN, kAnimate, "Mädchen", "Mädchen", "Mädchen", "Mädchens", "Mädchen", "Mädchen"},
    {"horse", "horses", kN, kAnimate, "Pferd", "Pferd", "Pferd", "Pferdes", "Pferde", "Pferden"},
    {"baby", "babies", kN, kAnimate, "Baby", "Baby", "Baby", "Babys", "Babys", "Babys"},
    {"rabbit", "rabbits", kN, kAnimate, "Kaninchen", "Kaninchen", "Kaninchen", "Kaninchens", "Kaninchen", "Kaninchen"},
    {"pig", "pigs", kN, kAnimate, "Schwein", "Schwein", "Schwein", "Schweines", "Schweine", "Schweinen"},
    {"lamb", "lambs", kN, kAnimate, "Lamm", "Lamm", "Lamm", "Lammes", "Lämmer", "Lämmern"},
    {"ball", "balls", kM, kThing, "Ball", "Ball", "Ball", "Balles", "Bälle", "Bällen"},
    {"apple", "apples", kM, kThing | kFood, "Apfel", "Apfel", "Apfel", "Apfels", "Äpfel", "Äpfeln"},
    {"table", "tables", kM, kThing, "Tisch", "Tisch", "Tisch", "Tisches", "Tische", "Tischen"},
    {"chair", "chairs", kM, kThing, "Stuhl", "Stuhl", "Stuhl", "Stuhles", "Stühle", "Stühlen"},
    {"hat", "hats", kM, kThing, "Hut", "Hut", "Hut", "Hutes", "Hüte", "Hüten"},
    {"letter", "letters", kM, kThing | kReadable, "Brief", "Brief", "Brief", "Briefes", "Briefe", "Briefen"},
    {"key", "keys", kM, kThing, "Schlüssel", "Schlüssel", "Schlüssel", "Schlüssels", "Schlüssel", "Schlüsseln"},
    {"cake", "cakes", kM, kThing | kFood, "Kuchen", "Kuchen", "Kuchen", "Kuchens", "Kuchen", "Kuchen"},
    {"flower", "flowers", kF, kThing, "Blume", "Blume", "Blume", "Blume", "Blumen", "Blumen"},
    {"lamp", "lamps", kF, kThing, "Lampe", "Lampe", "Lampe", "Lampe", "Lampen", "Lampen"},
    {"bag", "bags", kF, kThing, "Tasche", "Tasche", "Tasche", "Tasche", "Taschen", "Taschen"},
    {"newspaper", "newspapers", kF, kThing | kReadable, "Zeitung", "Zeitung", "Zeitung", "Zeitung", "Zeitungen", "Zeitungen"},
    {"bottle", "bottles", kF, kThing, "Flasche", "Flasche", "Flasche", "Flasche", "Flaschen", "Flaschen"},
    {"clock", "clocks", kF, kThing, "Uhr", "Uhr", "Uhr", "Uhr", "Uhren", "Uhren"},
    {"door", "doors", kF, kThing, "Tür", "Tür", "Tür", "Tür", "Türen", "Türen"},
    {"book", "books", kN, kThing | kReadable, "Buch", "Buch", "Buch", "Buches", "Bücher", "Büchern"},
    {"car", "cars", kN, kThing, "Auto", "Auto", "Auto", "Autos", "Autos", "Autos"},
    {"bicycle", "bicycles", kN, kThing, "Fahrrad", "Fahrrad", "Fahrrad", "Fahrrades", "Fahrräder", "Fahrrädern"},
    {"picture", "pictures", kN, kThing, "Bild", "Bild", "Bild", "Bildes", "Bilder", "Bildern"},
    {"gift", "gifts", kN, kThing, "Geschenk", "Geschenk", "Geschenk", "Geschenkes", "Geschenke", "Geschenken"},
    {"glass", "glasses", kN, kThing, "Glas", "Glas", "Glas", "Glases", "Gläser", "Gläsern"},
    {"boat", "boats", kN, kThing, "Boot", "Boot", "Boot", "Bootes", "Boote", "Booten"},
    {"window", "windows", kN, kThing, "Fenster", "Fenster", "Fenster", "Fensters", "Fenster", "Fenstern"},
    {"park", "parks", kM, kPlace, "Park", "Park", "Park", "Parks", "Parks", "Parks"},
    {"garden", "gardens", kM, kPlace, "Garten", "Garten", "Garten", "Gartens", "Gärten", "Gärten"},
    {"tree", "trees", kM, kThing, "Baum", "Baum", "Baum", "Baumes", "Bäume", "Bäumen"},
    {"house", "houses", kN, kPlace, "Haus", "Haus", "Haus", "Hauses", "Häuser", "Häusern"},
    {"school", "schools", kF, kPlace, "Schule", "Schule", "Schule", "Schule", "Schulen", "Schulen"},
    {"church", "churches", kF, kPlace, "Kirche", "Kirche", "Kirche", "Kirche", "Kirchen", "Kirchen"},
    {"room", "rooms", kN, kPlace, "Zimmer", "Zimmer", "Zimmer", "Zimmers", "Zimmer", "Zimmern"},
    {"kitchen", "kitchens", kF, kPlace, "Küche", "Küche", "Küche", "Küche", "Küchen", "Küchen"},
};

enum VerbFrame { kAcc, kDat, kDatAcc, kIntrans };

struct Verb {
  const char* en;
  const char* en_3sg;
  VerbFrame frame;
  unsigned object_kind;  // accepted kinds of the accusative object (kDatAcc: the direct object)
  const char* de[6];     // ich, du, er/sie/es, wir, ihr, sie
};

constexpr unsigned kAny = kAnimate | kThing | kPlace;

constexpr Verb kVerbs[] = {
    {"see", "sees", kAcc, kAny, {"sehe", "siehst", "sieht", "sehen", "seht", "sehen"}},
    {"have", "has", kAcc, kAnimate | kThing, {"habe", "hast", "hat", "haben", "habt", "haben"}},
    {"find", "finds", kAcc, kAnimate | kThing, {"finde", "findest", "findet", "finden", "findet", "finden"}},
    {"buy", "buys", kAcc, kThing, {"kaufe", "kaufst", "kauft", "kaufen", "kauft", "kaufen"}},
    {"love", "loves", kAcc, kAny, {"liebe", "liebst", "liebt", "lieben", "liebt", "lieben"}},
    {"need", "needs", kAcc, kThing, {"brauche", "brauchst", "braucht", "brauchen", "braucht", "brauchen"}},
    {"carry", "carries", kAcc, kAnimate | kThing, {"trage", "trägst", "trägt", "tragen", "tragt", "tragen"}},
    {"paint", "paints", kAcc, kAny, {"male", "malst", "malt", "malen", "malt", "malen"}},
    {"ask", "asks", kAcc, kAnimate, {"frage", "fragst", "fragt", "fragen", "fragt", "fragen"}},
    {"visit", "visits", kAcc, kAnimate | kPlace, {"besuche", "besuchst", "besucht", "besuchen", "besucht", "besuchen"}},
    {"read", "reads", kAcc, kReadable, {"lese", "liest", "liest", "lesen", "lest", "lesen"}},
    {"take", "takes", kAcc, kThing, {"nehme", "nimmst", "nimmt", "nehmen", "nehmt", "nehmen"}},
    {"hold", "holds", kAcc, kAnimate | kThing, {"halte", "hältst", "hält", "halten", "haltet", "halten"}},
    {"call", "calls", kAcc, kAnimate, {"rufe", "rufst", "ruft", "rufen", "ruft", "rufen"}},
    {"feed", "feeds", kAcc, kAnimate, {"füttere", "fütterst", "füttert", "füttern", "füttert", "füttern"}},
    {"eat", "eats", kAcc, kFood, {"esse", "isst", "isst", "essen", "esst", "essen"}},
    {"help", "helps", kDat, kAnimate, {"helfe", "hilfst", "hilft", "helfen", "helft", "helfen"}},
    {"follow", "follows", kDat, kAnimate, {"folge", "folgst", "folgt", "folgen", "folgt", "folgen"}},
    {"thank", "thanks", kDat, kAnimate, {"danke", "dankst", "dankt", "danken", "dankt", "danken"}},
    {"answer", "answers", kDat, kAnimate, {"antworte", "antwortest", "antwortet", "antworten", "antwortet", "antworten"}},
    {"give", "gives", kDatAcc, kThing, {"gebe", "gibst", "gibt", "geben", "gebt", "geben"}},
    {"show", "shows", kDatAcc, kThing, {"zeige", "zeigst", "zeigt", "zeigen", "zeigt", "zeigen"}},
    {"bring", "brings", kDatAcc, kThing, {"bringe", "bringst", "bringt", "bringen", "bringt", "bringen"}},
    {"sleep", "sleeps", kIntrans, 0, {"schlafe", "schläfst", "schläft", "schlafen", "schlaft", "schlafen"}},
    {"play", "plays", kIntrans, 0, {"spiele", "spielst", "spielt", "spielen", "spielt", "spielen"}},
    {"run", "runs", kIntrans, 0, {"laufe", "läufst", "läuft", "laufen", "lauft", "laufen"}},
    {"sing", "sings", kIntrans, 0, {"singe", "singst", "singt", "singen", "singt", "singen"}},
    {"dance", "dances", kIntrans, 0, {"tanze", "tanzt", "tanzt", "tanzen", "tanzt", "tanzen"}},
    {"work", "works", kIntrans, 0, {"arbeite", "arbeitest", "arbeitet", "arbeiten", "arbeitet", "arbeiten"}},
    {"sit", "sits", kIntrans, 0, {"sitze", "sitzt", "sitzt", "sitzen", "sitzt", "sitzen"}},
    {"laugh", "laughs", kIntrans, 0, {"lache", "lachst", "lacht", "lachen", "lacht", "lachen"}},
};

struct Adjective {
  const char* en;
  const char* de;  // stem; ends in a consonant or in 'e' (handled: müde + e = müde)
  unsigned kind;   // kinds of nouns it describes
};

constexpr Adjective kAdjectives[] = {
    {"big", "groß", kAny},          {"small", "klein", kAny},
    {"old", "alt", kAny},           {"young", "jung", kAnimate},
    {"new", "neu", kThing | kPlace}, {"beautiful", "schön", kAny},
    {"red", "rot", kThing | kPlace}, {"blue", "blau", kThing | kPlace},
    {"green", "grün", kThing | kPlace}, {"black", "schwarz", kAny},
    {"white", "weiß", kAny},        {"tired", "müde", kAnimate},
    {"happy", "glücklich", kAnimate}, {"hungry", "hungrig", kAnimate},
    {"fast", "schnell", kAnimate | kThing}, {"loud", "laut", kAny},
    {"funny", "lustig", kAnimate},  {"friendly", "freundlich", kAnimate},
};

struct Preposition {
  const char* en;
  const char* de;
  GermanCase gcase;
  unsigned object_kind;
};

constexpr Preposition kPrepositions[] = {
    {"with", "mit", GermanCase::kDative, kAnimate | kThing},
    {"for", "für", GermanCase::kAccusative, kAnimate},
    {"without", "ohne", GermanCase::kAccusative, kAnimate | kThing},
    {"in", "in", GermanCase::kDative, kPlace},
    {"next to", "neben", GermanCase::kDative, kAny},
    {"behind", "hinter", GermanCase::kDative, kAny},
    {"through", "durch", GermanCase::kAccusative, kPlace},
};

// Determiner forms [case][m, f, n, plural]; nullptr: no article (indefinite plural).
using DetTable = const char* [4][4];
constexpr DetTable kDefinite = {{"der", "die", "das", "die"}, {"den", "die", "das", "die"},
                                {"dem", "der", "dem", "den"}, {"des", "der", "des", "der"}};
constexpr DetTable kIndefinite = {{"ein", "eine", "ein", nullptr}, {"einen", "eine", "ein", nullptr},
                                  {"einem", "einer", "einem", nullptr}, {"eines", "einer", "eines", nullptr}};
constexpr DetTable kMy = {{"mein", "meine", "mein", "meine"}, {"meinen", "meine", "mein", "meine"},
                          {"meinem", "meiner", "meinem", "meinen"}, {"meines", "meiner", "meines", "meiner"}};
constexpr DetTable kThis = {{"dieser", "diese", "dieses", "diese"}, {"diesen", "diese", "dieses", "diese"},
                            {"diesem", "dieser", "diesem", "diesen"}, {"dieses", "dieser", "dieses", "dieser"}};

// Adjective endings [case][m, f, n, plural] per declension.
using EndTable = const char* [4][4];
constexpr EndTable kWeak = {{"e", "e", "e", "en"}, {"en", "e", "e", "en"},
                            {"en", "en", "en", "en"}, {"en", "en", "en", "en"}};
constexpr EndTable kMixed = {{"er", "e", "es", "en"}, {"en", "e", "es", "en"},
                             {"en", "en", "en", "en"}, {"en", "en", "en", "en"}};
constexpr EndTable kStrong = {{"er", "e", "es", "e"}, {"en", "e", "es", "e"},
                              {"em", "er", "em", "en"}, {"en", "er", "en", "er"}};
// clang-format on

const Noun& find_noun(const std::string& en) {
  for (const Noun& n : kNouns)
    if (en == n.en_sg) return n;
  TESSERA_FAIL("synthetic translation: unknown noun \"", en, "\"");
}

const Verb& find_verb(const std::string& en) {
  for (const Verb& v : kVerbs)
    if (en == v.en) return v;
  TESSERA_FAIL("synthetic translation: unknown verb \"", en, "\"");
}

const Adjective& find_adjective(const std::string& en) {
  for (const Adjective& a : kAdjectives)
    if (en == a.en) return a;
  TESSERA_FAIL("synthetic translation: unknown adjective \"", en, "\"");
}

const Preposition& find_preposition(const std::string& en) {
  for (const Preposition& p : kPrepositions)
    if (en == p.en) return p;
  TESSERA_FAIL("synthetic translation: unknown preposition \"", en, "\"");
}

// Adjective stem + ending; a stem ending in 'e' drops the ending's 'e' (müde + en = müden).
std::string inflect_adjective(const char* stem, const char* ending) {
  std::string s = stem;
  std::string_view e = ending;
  if (!s.empty() && s.back() == 'e' && !e.empty() && e.front() == 'e') e.remove_prefix(1);
  s += e;
  return s;
}

std::string german_noun_form(const Noun& n, bool plural, GermanCase c) {
  if (plural) return c == GermanCase::kDative ? n.pl_dat : n.pl;
  switch (c) {
    case GermanCase::kNominative:
      return n.nom;
    case GermanCase::kAccusative:
      return n.acc;
    case GermanCase::kDative:
      return n.dat;
    case GermanCase::kGenitive:
      return n.gen;
  }
  return n.nom;
}

bool starts_with_vowel(std::string_view w) {
  return !w.empty() && std::string_view("aeiou").find(w.front()) != std::string_view::npos;
}

std::string capitalize_sentence(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    out.push_back(i == 0 && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
  }
  out.push_back('.');
  return out;
}

int person_index(Pronoun p, bool np_plural) {
  switch (p) {
    case Pronoun::kI:
      return 0;
    case Pronoun::kYouSingular:
      return 1;
    case Pronoun::kHe:
    case Pronoun::kShe:
    case Pronoun::kIt:
      return 2;
    case Pronoun::kWe:
      return 3;
    case Pronoun::kYouPlural:
      return 4;
    case Pronoun::kThey:
      return 5;
    case Pronoun::kNone:
      return np_plural ? 5 : 2;
  }
  return 2;
}

const char* english_pronoun(Pronoun p) {
  constexpr const char* kNames[] = {"", "I", "you", "he", "she", "it", "we", "you all", "they"};
  return kNames[static_cast<int>(p)];
}

const char* german_pronoun(Pronoun p) {
  constexpr const char* kNames[] = {"", "ich", "du", "er", "sie", "es", "wir", "ihr", "sie"};
  return kNames[static_cast<int>(p)];
}

}  // namespace

int64_t noun_count() { return static_cast<int64_t>(std::size(kNouns)); }
int64_t verb_count() { return static_cast<int64_t>(std::size(kVerbs)); }
int64_t adjective_count() { return static_cast<int64_t>(std::size(kAdjectives)); }

std::string german_np(const NounPhrase& np, GermanCase c) {
  const Noun& noun = find_noun(np.noun);
  const int ci = static_cast<int>(c);
  const int gi = np.plural ? 3 : noun.gender;
  const DetTable* det = nullptr;
  const EndTable* endings = nullptr;
  switch (np.det) {
    case Determiner::kDefinite:
      det = &kDefinite;
      endings = &kWeak;
      break;
    case Determiner::kThis:
      det = &kThis;
      endings = &kWeak;
      break;
    case Determiner::kIndefinite:
      det = &kIndefinite;
      endings = &kMixed;
      break;
    case Determiner::kMy:
      det = &kMy;
      endings = &kMixed;
      break;
  }
  const char* article = (*det)[ci][gi];
  if (article == nullptr) endings = &kStrong;  // bare plural
  std::string out;
  if (article != nullptr) out = article;
  if (!np.adjective.empty()) {
    if (!out.empty()) out += ' ';
    out += inflect_adjective(find_adjective(np.adjective).de, (*endings)[ci][gi]);
  }
  if (!out.empty()) out += ' ';
  out += german_noun_form(noun, np.plural, c);
  TESSERA_CHECK(np.owner.size() <= 1, "synthetic translation: at most one genitive modifier");
  if (!np.owner.empty()) {
    const NounPhrase& owner = np.owner[0];
    TESSERA_CHECK(owner.owner.empty(), "synthetic translation: nested genitive modifiers");
    TESSERA_CHECK(!(owner.plural && owner.det == Determiner::kIndefinite),
                  "synthetic translation: a genitive modifier needs a determiner in the plural");
    out += ' ';
    out += german_np(owner, GermanCase::kGenitive);
  }
  return out;
}

std::string english_np(const NounPhrase& np) {
  const Noun& noun = find_noun(np.noun);
  std::string words;
  if (!np.adjective.empty()) words = std::string(find_adjective(np.adjective).en) + " ";
  words += np.plural ? noun.en_pl : noun.en_sg;
  std::string out;
  switch (np.det) {
    case Determiner::kDefinite:
      out = "the " + words;
      break;
    case Determiner::kThis:
      out = (np.plural ? "these " : "this ") + words;
      break;
    case Determiner::kMy:
      out = "my " + words;
      break;
    case Determiner::kIndefinite:
      out = np.plural ? words : (starts_with_vowel(words) ? "an " : "a ") + words;
      break;
  }
  if (!np.owner.empty()) out += " of " + english_np(np.owner[0]);
  return out;
}

std::pair<std::string, std::string> realize(const Sentence& s) {
  const Verb& verb = find_verb(s.verb);
  const size_t want = verb.frame == kIntrans ? 0 : verb.frame == kDatAcc ? 2 : 1;
  TESSERA_CHECK(s.objects.size() == want, "synthetic translation: verb \"", s.verb, "\" takes ",
                want, " object(s), got ", s.objects.size());
  const bool subject_plural = s.pronoun == Pronoun::kNone && s.subject.plural;
  const int person = person_index(s.pronoun, subject_plural);
  std::string en, de;
  if (s.pronoun == Pronoun::kNone) {
    en = english_np(s.subject);
    de = german_np(s.subject, GermanCase::kNominative);
  } else {
    en = english_pronoun(s.pronoun);
    de = german_pronoun(s.pronoun);
  }
  en += ' ';
  en += person == 2 ? verb.en_3sg : verb.en;
  de += ' ';
  de += verb.de[person];
  if (verb.frame == kAcc || verb.frame == kDat) {
    en += " " + english_np(s.objects[0]);
    de += " " + german_np(s.objects[0],
                          verb.frame == kAcc ? GermanCase::kAccusative : GermanCase::kDative);
  } else if (verb.frame == kDatAcc) {
    en += " " + english_np(s.objects[0]) + " " + english_np(s.objects[1]);
    de += " " + german_np(s.objects[0], GermanCase::kDative) + " " +
          german_np(s.objects[1], GermanCase::kAccusative);
  }
  if (!s.preposition.empty()) {
    const Preposition& p = find_preposition(s.preposition);
    en += std::string(" ") + p.en + " " + english_np(s.prep_object);
    std::string np = german_np(s.prep_object, p.gcase);
    // "in dem" contracts to "im" (masculine/neuter singular dative with the definite article).
    if (std::string_view(p.de) == "in" && np.rfind("dem ", 0) == 0) {
      de += " im " + np.substr(4);
    } else {
      de += std::string(" ") + p.de + " " + np;
    }
  }
  return {capitalize_sentence(en), capitalize_sentence(de)};
}

namespace {

template <typename T, size_t N>
const T& pick(const T (&items)[N], SplitMix64& rng, unsigned kind_mask, unsigned T::*kind_field) {
  // Rejection keeps the draw simple and exactly reproducible; every mask used has matches.
  for (;;) {
    const T& item = items[rng.below(N)];
    if ((item.*kind_field & kind_mask) != 0) return item;
  }
}

NounPhrase sample_np(SplitMix64& rng, unsigned kind_mask, bool allow_owner) {
  NounPhrase np;
  const Noun& noun = pick(kNouns, rng, kind_mask, &Noun::kind);
  np.noun = noun.en_sg;
  np.plural = rng.chance(350);
  const uint64_t d = rng.below(100);
  np.det = d < 40   ? Determiner::kDefinite
           : d < 70 ? Determiner::kIndefinite
           : d < 85 ? Determiner::kMy
                    : Determiner::kThis;
  if (rng.chance(500)) np.adjective = pick(kAdjectives, rng, noun.kind, &Adjective::kind).en;
  if (allow_owner && rng.chance(80)) {
    NounPhrase owner = sample_np(rng, kAnimate, false);
    if (owner.plural && owner.det == Determiner::kIndefinite) owner.det = Determiner::kDefinite;
    np.owner.push_back(std::move(owner));
  }
  return np;
}

}  // namespace

Sentence sample_sentence(SplitMix64& rng) {
  Sentence s;
  // Verb frame: 40% accusative, 15% dative, 15% dative + accusative, 30% intransitive.
  const uint64_t f = rng.below(100);
  const VerbFrame frame = f < 40 ? kAcc : f < 55 ? kDat : f < 70 ? kDatAcc : kIntrans;
  const Verb* verb = nullptr;
  do {
    verb = &kVerbs[rng.below(std::size(kVerbs))];
  } while (verb->frame != frame);
  s.verb = verb->en;
  if (rng.chance(250)) {
    s.pronoun = static_cast<Pronoun>(1 + rng.below(8));
  } else {
    s.subject = sample_np(rng, kAnimate, true);
  }
  if (frame == kAcc) {
    s.objects.push_back(sample_np(rng, verb->object_kind, true));
  } else if (frame == kDat) {
    s.objects.push_back(sample_np(rng, kAnimate, true));
  } else if (frame == kDatAcc) {
    s.objects.push_back(sample_np(rng, kAnimate, false));
    s.objects.push_back(sample_np(rng, verb->object_kind, false));
  }
  if (rng.chance(frame == kIntrans ? 800 : 300)) {
    const Preposition* p = nullptr;
    do {
      p = &kPrepositions[rng.below(std::size(kPrepositions))];
    } while (std::string_view(p->en) == "through" && s.verb != "run");
    s.preposition = p->en;
    s.prep_object = sample_np(rng, p->object_kind, false);
  }
  return s;
}

}  // namespace synth

std::vector<std::pair<std::string, std::string>> generate_pairs(int64_t n, uint64_t seed) {
  TESSERA_CHECK(n >= 0, "generate_pairs: n must be >= 0, got ", n);
  SplitMix64 rng(seed);
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.push_back(synth::realize(synth::sample_sentence(rng)));
  return out;
}

std::vector<std::pair<std::string, std::string>> generate_unique_pairs(int64_t n, uint64_t seed) {
  TESSERA_CHECK(n >= 0, "generate_unique_pairs: n must be >= 0, got ", n);
  SplitMix64 rng(seed);
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(static_cast<size_t>(n));
  std::unordered_set<std::string> seen_en, seen_de;
  int64_t misses = 0;
  while (static_cast<int64_t>(out.size()) < n) {
    auto pair = synth::realize(synth::sample_sentence(rng));
    if (seen_en.count(pair.first) != 0 || seen_de.count(pair.second) != 0) {
      TESSERA_CHECK(++misses < 1000 + 100 * n, "generate_unique_pairs: cannot find ", n,
                    " distinct sentences (the grammar is too small for this n)");
      continue;
    }
    seen_en.insert(pair.first);
    seen_de.insert(pair.second);
    out.push_back(std::move(pair));
  }
  return out;
}

namespace {

void write_lines_atomically(const std::filesystem::path& path,
                            const std::vector<std::string>& lines) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    TESSERA_CHECK(out.good(), "write_synthetic_splits: cannot open '", tmp.string(), "'");
    for (const std::string& line : lines) out << line << '\n';
    out.flush();
    TESSERA_CHECK(out.good(), "write_synthetic_splits: write to '", tmp.string(), "' failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  TESSERA_CHECK(!ec, "write_synthetic_splits: cannot rename '", tmp.string(), "' to '",
                path.string(), "': ", ec.message());
}

}  // namespace

void write_synthetic_splits(const std::string& dir, const SyntheticSplits& sizes, uint64_t seed) {
  TESSERA_CHECK(sizes.train >= 0 && sizes.valid >= 0 && sizes.test >= 0,
                "write_synthetic_splits: split sizes must be >= 0");
  const auto pairs = generate_unique_pairs(sizes.valid + sizes.test + sizes.train, seed);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  TESSERA_CHECK(!ec, "write_synthetic_splits: cannot create '", dir, "': ", ec.message());
  const std::pair<const char*, std::pair<int64_t, int64_t>> splits[] = {
      {"valid", {0, sizes.valid}},
      {"test", {sizes.valid, sizes.valid + sizes.test}},
      {"train", {sizes.valid + sizes.test, sizes.valid + sizes.test + sizes.train}}};
  for (const auto& [name, range] : splits) {
    std::vector<std::string> en, de;
    for (int64_t i = range.first; i < range.second; ++i) {
      en.push_back(pairs[static_cast<size_t>(i)].first);
      de.push_back(pairs[static_cast<size_t>(i)].second);
    }
    write_lines_atomically(std::filesystem::path(dir) / (std::string(name) + ".en"), en);
    write_lines_atomically(std::filesystem::path(dir) / (std::string(name) + ".de"), de);
  }
}

}  // namespace tessera::models
