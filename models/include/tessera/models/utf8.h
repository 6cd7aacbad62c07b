// SPDX-License-Identifier: Apache-2.0
/// @brief Strict UTF-8 validation, decoding and encoding (RFC 3629) with the byte offset of errors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::models {

/// Result of validating a byte string as UTF-8.
struct Utf8Check {
  bool valid = true;
  int64_t error_offset =
      -1;              ///< byte offset of the first byte of the first bad sequence; -1 if valid
  std::string reason;  ///< e.g. "overlong encoding", "surrogate", "truncated sequence"
};

/// Validates `text` strictly: rejects stray continuation bytes, bytes 0xC0/0xC1/0xF5..0xFF,
/// overlong forms, UTF-16 surrogates (U+D800..U+DFFF), code points above U+10FFFF and truncated
/// sequences.
Utf8Check check_utf8(std::string_view text);

/// True when `text` is valid UTF-8 (same rules as check_utf8).
bool is_valid_utf8(std::string_view text);

/// Throws tessera::Error "<what>: invalid UTF-8 at byte offset N (<reason>)" unless `text` is
/// valid.
void require_utf8(std::string_view text, std::string_view what);

/// Decodes one code point starting at `pos`. On success stores it in `cp`, advances `pos` and
/// returns true; on a bad sequence returns false, leaves `pos` unchanged and sets `reason` if
/// non-null.
bool decode_utf8_at(std::string_view text, int64_t& pos, char32_t& cp,
                    const char** reason = nullptr);

/// Splits valid UTF-8 into code points; throws tessera::Error (with the offset) on invalid input.
std::vector<char32_t> decode_utf8(std::string_view text);

/// Byte offsets where each code point starts (same length as decode_utf8's result); throws
/// likewise.
std::vector<int64_t> utf8_offsets(std::string_view text);

/// Appends the UTF-8 encoding of `cp`; throws tessera::Error for surrogates or cp > U+10FFFF.
void append_utf8(std::string& out, char32_t cp);

/// Encodes a sequence of code points; throws like append_utf8.
std::string encode_utf8(const std::vector<char32_t>& cps);

/// Copy of `text` with every byte that does not start a valid sequence replaced by U+FFFD (one
/// replacement per bad byte), e.g. for printing decoded model output.
std::string sanitize_utf8(std::string_view text);

/// "U+00E9" style name of a code point (4 to 6 upper-case hex digits).
std::string code_point_name(char32_t cp);

/// True for the characters Python's str.isspace() accepts (sacreBLEU splits on these).
bool is_python_space(char32_t cp);

}  // namespace tessera::models
