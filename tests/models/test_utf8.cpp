// SPDX-License-Identifier: Apache-2.0
/// @brief Tests of the strict UTF-8 validator/decoder against hand cases and a brute-force
/// reference.

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>

#include "tessera/error.h"
#include "tessera/models/utf8.h"

using namespace tessera::models;

namespace {

std::string bytes(std::initializer_list<unsigned> b) {
  std::string s;
  for (unsigned x : b) s.push_back(static_cast<char>(x));
  return s;
}

// Independent reference encoder (RFC 3629 table), written without looking at the library's code.
std::string ref_encode(uint32_t cp) {
  std::string s;
  if (cp <= 0x7F) {
    s += static_cast<char>(cp);
  } else if (cp <= 0x7FF) {
    s += static_cast<char>(0xC0 + cp / 64);
    s += static_cast<char>(0x80 + cp % 64);
  } else if (cp <= 0xFFFF) {
    s += static_cast<char>(0xE0 + cp / 4096);
    s += static_cast<char>(0x80 + (cp / 64) % 64);
    s += static_cast<char>(0x80 + cp % 64);
  } else {
    s += static_cast<char>(0xF0 + cp / 262144);
    s += static_cast<char>(0x80 + (cp / 4096) % 64);
    s += static_cast<char>(0x80 + (cp / 64) % 64);
    s += static_cast<char>(0x80 + cp % 64);
  }
  return s;
}

bool is_scalar(uint32_t cp) { return cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF); }

// A byte string of length n (2..4) is one valid UTF-8 character iff it equals ref_encode of the
// value its payload bits spell, that value is a scalar value and needs exactly n bytes.
bool ref_valid_char(const std::string& s) {
  const size_t n = s.size();
  const auto b0 = static_cast<unsigned char>(s[0]);
  uint32_t cp = n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < n; ++k) cp = cp * 64 + (static_cast<unsigned char>(s[k]) & 0x3F);
  return is_scalar(cp) && ref_encode(cp) == s;
}

}  // namespace

TEST_CASE("utf8: valid strings", "[models][utf8]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ASCII\n\t\x01"));
  CHECK(
      is_valid_utf8("Gr\xC3\xBC\xC3\x9F"
                    "e \xE2\x82\xAC \xF0\x9D\x84\x9E"));  // Grüße € 𝄞
  CHECK(is_valid_utf8(bytes({0xF4, 0x8F, 0xBF, 0xBF})));  // U+10FFFF
  CHECK(is_valid_utf8(bytes({0xED, 0x9F, 0xBF})));        // U+D7FF
  CHECK(is_valid_utf8(bytes({0xEE, 0x80, 0x80})));        // U+E000
  CHECK(is_valid_utf8(std::string("a\0b", 3)));           // NUL is a character
  CHECK(decode_utf8("a\xC3\xA4\xE2\x82\xAC\xF0\x9D\x84\x9E") ==
        std::vector<char32_t>{U'a', 0xE4, 0x20AC, 0x1D11E});
  CHECK(utf8_offsets("a\xC3\xA4\xE2\x82\xAC\xF0\x9D\x84\x9E") == std::vector<int64_t>{0, 1, 3, 6});
}

TEST_CASE("utf8: invalid sequences report the first bad offset and reason", "[models][utf8]") {
  struct Case {
    std::string text;
    int64_t offset;
    const char* reason;
  };
  const Case cases[] = {
      {bytes({0x80}), 0, "unexpected continuation byte"},
      {std::string("ab") + bytes({0xBF}), 2, "unexpected continuation byte"},
      {bytes({0xC0, 0x80}), 0, "overlong encoding"},              // overlong NUL
      {bytes({0xC1, 0xBF}), 0, "overlong encoding"},              // overlong U+007F
      {bytes({0xE0, 0x80, 0x80}), 0, "overlong encoding"},        // overlong NUL in 3 bytes
      {bytes({0xE0, 0x9F, 0xBF}), 0, "overlong encoding"},        // U+07FF in 3 bytes
      {bytes({0xF0, 0x8F, 0xBF, 0xBF}), 0, "overlong encoding"},  // U+FFFF in 4 bytes
      {std::string("x") + bytes({0xED, 0xA0, 0x80}), 1, "surrogate code point"},  // U+D800
      {bytes({0xED, 0xBF, 0xBF}), 0, "surrogate code point"},                     // U+DFFF
      {bytes({0xF4, 0x90, 0x80, 0x80}), 0, "code point above U+10FFFF"},          // U+110000
      {bytes({0xF5, 0x80, 0x80, 0x80}), 0, "code point above U+10FFFF"},
      {bytes({0xFF}), 0, "code point above U+10FFFF"},
      {std::string("ab") + bytes({0xC3}), 2, "truncated sequence"},
      {bytes({0xE2, 0x82}), 0, "truncated sequence"},
      {std::string("ok") + bytes({0xE2, 0x82, 0x41}), 2,
       "truncated sequence"},  // ASCII where continuation due
      {bytes({0xF0, 0x9D, 0x84}) + "z", 0, "truncated sequence"},
      {std::string("\xC3\xA4") + bytes({0xC3, 0xC3, 0xA4}), 2, "truncated sequence"},
  };
  for (const Case& c : cases) {
    INFO("case at offset " << c.offset << ": " << c.reason);
    const Utf8Check r = check_utf8(c.text);
    CHECK_FALSE(r.valid);
    CHECK(r.error_offset == c.offset);
    CHECK(r.reason == c.reason);
    CHECK_THROWS_AS(decode_utf8(c.text), tessera::Error);
    try {
      require_utf8(c.text, "my_op");
      FAIL("require_utf8 did not throw");
    } catch (const tessera::Error& e) {
      const std::string msg = e.message();
      CHECK(msg.find("my_op: invalid UTF-8 at byte offset " + std::to_string(c.offset)) == 0);
    }
  }
}

TEST_CASE("utf8: every scalar value round-trips; surrogates and > U+10FFFF are refused",
          "[models][utf8]") {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (!is_scalar(cp)) {
      std::string out;
      REQUIRE_THROWS_AS(append_utf8(out, cp), tessera::Error);
      continue;
    }
    std::string s;
    append_utf8(s, cp);
    REQUIRE(s == ref_encode(cp));
    int64_t pos = 0;
    char32_t back = 0;
    REQUIRE(decode_utf8_at(s, pos, back));
    REQUIRE(back == cp);
    REQUIRE(pos == static_cast<int64_t>(s.size()));
  }
  std::string out;
  CHECK_THROWS_AS(append_utf8(out, 0x110000), tessera::Error);
}

TEST_CASE("utf8: validator agrees with a brute-force reference on all 2- and 3-byte strings",
          "[models][utf8]") {
  std::string s(2, '\0');
  for (unsigned a = 0xC0; a < 0x100; ++a) {
    for (unsigned b = 0; b < 0x100; ++b) {
      s[0] = static_cast<char>(a);
      s[1] = static_cast<char>(b);
      REQUIRE(is_valid_utf8(s) == ref_valid_char(s));
    }
  }
  s.assign(3, '\0');
  for (unsigned a = 0xE0; a < 0xF0; ++a) {
    for (unsigned b = 0; b < 0x100; ++b) {
      for (unsigned c = 0x40; c < 0x100;
           c += 3) {  // every third trailing byte, both sides of 0x80/0xBF
        s[0] = static_cast<char>(a);
        s[1] = static_cast<char>(b);
        s[2] = static_cast<char>(c);
        REQUIRE(is_valid_utf8(s) == ref_valid_char(s));
      }
    }
  }
  std::mt19937_64 rng(42);
  s.assign(4, '\0');
  for (int i = 0; i < 200000; ++i) {
    const uint64_t r = rng();
    s[0] = static_cast<char>(0xF0 + (r & 0x0F));
    s[1] = static_cast<char>(r >> 8);
    s[2] = static_cast<char>(0x80 + ((r >> 16) & 0x3F));
    s[3] = static_cast<char>(0x80 + ((r >> 24) & 0x3F));
    REQUIRE(is_valid_utf8(s) == ref_valid_char(s));
  }
}

TEST_CASE("utf8: helpers", "[models][utf8]") {
  CHECK(code_point_name(U'A') == "U+0041");
  CHECK(code_point_name(0x1D11E) == "U+1D11E");
  CHECK(encode_utf8({U'G', 0xFC, U'n'}) == "G\xC3\xBCn");
  int n_space = 0;
  for (char32_t cp = 0; cp < 0x4000; ++cp) n_space += is_python_space(cp) ? 1 : 0;
  CHECK(n_space == 29);  // CPython 3.11: 29 code points are str.isspace()
  CHECK(is_python_space(0xA0));
  CHECK(is_python_space(0x1F));
  CHECK_FALSE(is_python_space(0x200B));  // zero-width space is not whitespace in Python
}

TEST_CASE("utf8: sanitize_utf8 replaces each bad byte with U+FFFD", "[models][utf8]") {
  CHECK(sanitize_utf8("ok \xC3\xA4") == "ok \xC3\xA4");
  CHECK(sanitize_utf8(std::string("a") + bytes({0xFF}) + "b") ==
        "a\xEF\xBF\xBD"
        "b");
  // A truncated 3-byte sequence: both bytes are replaced, the following ASCII survives.
  CHECK(sanitize_utf8(bytes({0xE2, 0x82}) + "z") ==
        "\xEF\xBF\xBD\xEF\xBF\xBD"
        "z");
  CHECK(is_valid_utf8(sanitize_utf8(bytes({0xED, 0xA0, 0x80, 0xC0, 0x80}))));
}
