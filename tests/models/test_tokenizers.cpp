// SPDX-License-Identifier: Apache-2.0
/// @brief Byte and character tokenizers, the JSON round trip and the validation of malformed files.

#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <random>
#include <string>

#include "tessera/error.h"
#include "tessera/models/bpe.h"
#include "tessera/models/byte_tokenizer.h"
#include "tessera/models/char_tokenizer.h"

using namespace tessera::models;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tessera::Error& e) {
    return e.message();
  }
  return "<no error>";
}
}  // namespace

TEST_CASE("byte tokenizer: lossless for any bytes", "[models][tokenizer]") {
  ByteTokenizer tok;
  CHECK(tok.vocab_size() == 256);
  std::mt19937_64 rng(7);
  for (int len : {0, 1, 2, 17, 1000}) {
    std::string s(static_cast<size_t>(len), '\0');
    for (char& c : s) c = static_cast<char>(rng());
    const std::vector<int32_t> ids = tok.encode(s);
    REQUIRE(ids.size() == s.size());
    for (size_t i = 0; i < s.size(); ++i) REQUIRE(ids[i] == static_cast<unsigned char>(s[i]));
    REQUIRE(tok.decode(ids) == s);
  }
  const std::vector<int32_t> bad = {65, 256};
  CHECK(error_of([&] { tok.decode(bad); }).find("id 256 at position 1") != std::string::npos);
  CHECK_THROWS_AS(tok.decode(std::vector<int32_t>{-1}), tessera::Error);
  auto back = Tokenizer::deserialize(tok.serialize());
  CHECK(back->type() == "byte");
  CHECK(back->encode("\xFF"
                     "a") == std::vector<int32_t>{255, 97});
}

TEST_CASE("char tokenizer: sorted code points, unknown characters", "[models][tokenizer]") {
  const std::string text = "hello w\xC3\xB6rld\n";  // "hello wörld\n"
  CharTokenizer tok = CharTokenizer::train(text);
  // Sorted distinct code points: '\n' ' ' d e h l o r w U+00F6.
  CHECK(tok.chars() ==
        std::vector<char32_t>{U'\n', U' ', U'd', U'e', U'h', U'l', U'o', U'r', U'w', 0xF6});
  CHECK(tok.vocab_size() == 10);
  CHECK_FALSE(tok.unk_id().has_value());
  CHECK(tok.encode("w\xC3\xB6rld") == std::vector<int32_t>{8, 9, 7, 5, 2});
  CHECK(tok.decode(tok.encode(text)) == text);
  CHECK(tok.token_text(9) == "\xC3\xB6");

  const std::string msg = error_of([&] { tok.encode("hold \xE2\x82\xAC"); });  // "hold €"
  CHECK(msg.find("'\xE2\x82\xAC' (U+20AC) at byte offset 5") != std::string::npos);
  CHECK(error_of([&] { tok.encode("he\xC3"); }).find("invalid UTF-8 at byte offset 2") !=
        std::string::npos);
  CHECK_THROWS_AS(tok.decode(std::vector<int32_t>{10}), tessera::Error);

  CharTokenizer with_unk = CharTokenizer::train(text, /*with_unk=*/true);
  CHECK(with_unk.vocab_size() == 11);
  CHECK(with_unk.unk_id() == 10);
  CHECK(with_unk.encode("h\xE2\x82\xAC!") == std::vector<int32_t>{4, 10, 10});
  CHECK(with_unk.decode(std::vector<int32_t>{4, 10}) == "h\xEF\xBF\xBD");
  CHECK(with_unk.token_text(10) == "<unk>");
}

TEST_CASE("char tokenizer: JSON round trip and validation", "[models][tokenizer]") {
  const CharTokenizer tok = CharTokenizer::train(std::string("a\0b\xF0\x9F\x98\x80", 7), true);
  auto back = Tokenizer::deserialize(tok.serialize());
  REQUIRE(back->type() == "char");
  CHECK(back->vocab_size() == tok.vocab_size());
  CHECK(back->encode(std::string("\0b", 2)) == tok.encode(std::string("\0b", 2)));
  // Constructor validation.
  CHECK_THROWS_AS(CharTokenizer({U'b', U'a'}), tessera::Error);
  CHECK_THROWS_AS(CharTokenizer({U'a', U'a'}), tessera::Error);
  CHECK_THROWS_AS(CharTokenizer({0xD800}), tessera::Error);
  // Malformed documents.
  const char* bad[] = {
      "",
      "{",
      "[]",
      R"({"type":"char","version":2,"code_points":[97],"unk":false})",
      R"({"type":"char","version":1,"unk":false})",
      R"({"type":"char","version":1,"code_points":"abc","unk":false})",
      R"({"type":"char","version":1,"code_points":[98,97],"unk":false})",
      R"({"type":"char","version":1,"code_points":[-1],"unk":false})",
      R"({"type":"char","version":1,"code_points":[1114112],"unk":false})",
      R"({"type":"char","version":1,"code_points":[55296],"unk":false})",
      R"({"type":"char","version":1,"code_points":[97.5],"unk":false})",
      R"({"type":"char","version":1,"code_points":[97],"unk":1})",
      R"({"type":"word","version":1})",
  };
  for (const char* doc : bad) {
    INFO(doc);
    CHECK_THROWS_AS(Tokenizer::deserialize(doc), tessera::Error);
  }
}

TEST_CASE("tokenizer files are written atomically and read back", "[models][tokenizer]") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tessera_tok_" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "tok.json").string();
  const BpeTokenizer bpe = BpeTokenizer::train({"the cat the hat", "that cat"}, {300, 1});
  save_tokenizer(bpe, path);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  auto back = load_tokenizer(path);
  CHECK(back->type() == "bpe");
  CHECK(back->encode("the cat") == bpe.encode("the cat"));
  CHECK_THROWS_AS(load_tokenizer((dir / "missing.json").string()), tessera::Error);
  std::filesystem::remove_all(dir);
}
