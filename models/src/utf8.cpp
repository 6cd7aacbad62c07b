// SPDX-License-Identifier: Apache-2.0
/// @brief Strict UTF-8 validation/decoding: one table-free decoder shared by every text component.
//
// Design: a single decoder (decode_utf8_at) implements RFC 3629's well-formed byte sequences table
// (section 4): the allowed range of the second byte depends on the lead byte (E0: A0..BF excludes
// overlongs, ED: 80..9F excludes surrogates, F0: 90..BF excludes overlongs, F4: 80..8F caps
// U+10FFFF). Everything else (validation, splitting, offsets) is a loop over it, so there is one
// rule set. Cost: O(n) bytes, no allocation for validation.

#include "tessera/models/utf8.h"

#include <cstdio>

#include "tessera/error.h"

namespace tessera::models {

bool decode_utf8_at(std::string_view text, int64_t& pos, char32_t& cp, const char** reason) {
  const auto n = static_cast<int64_t>(text.size());
  auto fail = [&](const char* why) {
    if (reason != nullptr) *reason = why;
    return false;
  };
  if (pos < 0 || pos >= n) return fail("offset out of range");
  const auto b0 = static_cast<unsigned char>(text[static_cast<size_t>(pos)]);
  if (b0 < 0x80) {
    cp = b0;
    ++pos;
    return true;
  }
  int len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  char32_t value = 0;
  if (b0 < 0xC0) return fail("unexpected continuation byte");
  if (b0 < 0xC2) return fail("overlong encoding");
  if (b0 < 0xE0) {
    len = 2;
    value = b0 & 0x1Fu;
  } else if (b0 < 0xF0) {
    len = 3;
    value = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 < 0xF5) {
    len = 4;
    value = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return fail("code point above U+10FFFF");
  }
  for (int k = 1; k < len; ++k) {
    if (pos + k >= n) return fail("truncated sequence");
    const auto b = static_cast<unsigned char>(text[static_cast<size_t>(pos + k)]);
    if (b < 0x80 || b > 0xBF) return fail("truncated sequence");
    if (k == 1 && (b < lo || b > hi)) {
      if (b0 == 0xE0 || b0 == 0xF0) return fail("overlong encoding");
      if (b0 == 0xED) return fail("surrogate code point");
      return fail("code point above U+10FFFF");
    }
    value = (value << 6) | (b & 0x3Fu);
  }
  cp = value;
  pos += len;
  return true;
}

Utf8Check check_utf8(std::string_view text) {
  int64_t pos = 0;
  const auto n = static_cast<int64_t>(text.size());
  char32_t cp = 0;
  const char* why = nullptr;
  while (pos < n) {
    if (!decode_utf8_at(text, pos, cp, &why)) return Utf8Check{false, pos, why};
  }
  return {};
}

bool is_valid_utf8(std::string_view text) { return check_utf8(text).valid; }

void require_utf8(std::string_view text, std::string_view what) {
  const Utf8Check c = check_utf8(text);
  TESSERA_CHECK(c.valid, what, ": invalid UTF-8 at byte offset ", c.error_offset, " (", c.reason,
                ")");
}

std::vector<char32_t> decode_utf8(std::string_view text) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  int64_t pos = 0;
  const auto n = static_cast<int64_t>(text.size());
  char32_t cp = 0;
  const char* why = nullptr;
  while (pos < n) {
    TESSERA_CHECK(decode_utf8_at(text, pos, cp, &why), "decode_utf8: invalid UTF-8 at byte offset ",
                  pos, " (", why, ")");
    out.push_back(cp);
  }
  return out;
}

std::vector<int64_t> utf8_offsets(std::string_view text) {
  std::vector<int64_t> out;
  int64_t pos = 0;
  const auto n = static_cast<int64_t>(text.size());
  char32_t cp = 0;
  const char* why = nullptr;
  while (pos < n) {
    out.push_back(pos);
    TESSERA_CHECK(decode_utf8_at(text, pos, cp, &why),
                  "utf8_offsets: invalid UTF-8 at byte offset ", pos, " (", why, ")");
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  TESSERA_CHECK(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF),
                "append_utf8: not a Unicode scalar value: ", code_point_name(cp));
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(const std::vector<char32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) append_utf8(out, cp);
  return out;
}

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  int64_t pos = 0;
  const auto n = static_cast<int64_t>(text.size());
  char32_t cp = 0;
  while (pos < n) {
    const int64_t start = pos;
    if (decode_utf8_at(text, pos, cp)) {
      out.append(text.substr(static_cast<size_t>(start), static_cast<size_t>(pos - start)));
    } else {
      out += "\xEF\xBF\xBD";
      ++pos;
    }
  }
  return out;
}

std::string code_point_name(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

bool is_python_space(char32_t cp) {
  // The exact set for which CPython's str.isspace() is true (bidirectional class WS, B or S, or
  // category Zs), listed from CPython 3.11.
  if (cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F)) return true;
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

}  // namespace tessera::models
