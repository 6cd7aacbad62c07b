// SPDX-License-Identifier: Apache-2.0
/// @brief Character-level tokenizer over Unicode code points (tinyshakespeare-style GPT training).
//
// Lookup: a 128-entry table for ASCII, binary search in the sorted code points otherwise, so
// encode is O(n log V) in the worst case and O(n) for ASCII text.

#include "tessera/models/char_tokenizer.h"

#include <algorithm>

#include "tessera/models/utf8.h"
#include "tokenizer_json.h"

namespace tessera::models {
namespace {
constexpr char kReplacementChar[] = "\xEF\xBF\xBD";  // U+FFFD
}

CharTokenizer CharTokenizer::train(std::string_view text, bool with_unk) {
  std::vector<char32_t> cps = decode_utf8(text);
  std::sort(cps.begin(), cps.end());
  cps.erase(std::unique(cps.begin(), cps.end()), cps.end());
  return CharTokenizer(std::move(cps), with_unk);
}

CharTokenizer::CharTokenizer(std::vector<char32_t> chars, bool with_unk)
    : chars_(std::move(chars)), with_unk_(with_unk), ascii_(128, -1) {
  TESSERA_CHECK(chars_.size() < static_cast<size_t>(INT32_MAX),
                "char tokenizer: too many characters");
  for (size_t i = 0; i < chars_.size(); ++i) {
    const char32_t cp = chars_[i];
    TESSERA_CHECK(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF),
                  "char tokenizer: vocabulary entry ", i,
                  " is not a Unicode scalar value: ", code_point_name(cp));
    TESSERA_CHECK(i == 0 || chars_[i - 1] < cp,
                  "char tokenizer: vocabulary must be strictly increasing; entry ", i, " (",
                  code_point_name(cp), ") follows ", code_point_name(chars_[i - 1]));
    if (cp < 128) ascii_[cp] = static_cast<int32_t>(i);
  }
}

int64_t CharTokenizer::vocab_size() const {
  return static_cast<int64_t>(chars_.size()) + (with_unk_ ? 1 : 0);
}

std::optional<int32_t> CharTokenizer::unk_id() const {
  if (!with_unk_) return std::nullopt;
  return static_cast<int32_t>(chars_.size());
}

int32_t CharTokenizer::id_of(char32_t cp) const {
  if (cp < 128) return ascii_[cp];
  auto it = std::lower_bound(chars_.begin(), chars_.end(), cp);
  if (it == chars_.end() || *it != cp) return -1;
  return static_cast<int32_t>(it - chars_.begin());
}

std::vector<int32_t> CharTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  int64_t pos = 0;
  const auto n = static_cast<int64_t>(text.size());
  char32_t cp = 0;
  const char* why = nullptr;
  while (pos < n) {
    const int64_t start = pos;
    TESSERA_CHECK(decode_utf8_at(text, pos, cp, &why),
                  "char tokenizer encode: invalid UTF-8 at byte offset ", pos, " (", why, ")");
    int32_t id = id_of(cp);
    if (id < 0) {
      TESSERA_CHECK(with_unk_, "char tokenizer encode: character '",
                    text.substr(static_cast<size_t>(start), static_cast<size_t>(pos - start)),
                    "' (", code_point_name(cp), ") at byte offset ", start,
                    " is not in the vocabulary of ", chars_.size(),
                    " characters (train on text that contains it, or enable <unk>)");
      id = static_cast<int32_t>(chars_.size());
    }
    ids.push_back(id);
  }
  return ids;
}

std::string CharTokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  out.reserve(ids.size());
  const int64_t v = vocab_size();
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    TESSERA_CHECK(id >= 0 && id < v, "char tokenizer decode: id ", id, " at position ", i,
                  " is outside [0, ", v, ")");
    if (static_cast<size_t>(id) == chars_.size()) {
      out += kReplacementChar;
    } else {
      append_utf8(out, chars_[static_cast<size_t>(id)]);
    }
  }
  return out;
}

std::string CharTokenizer::token_text(int32_t id) const {
  TESSERA_CHECK(id >= 0 && id < vocab_size(), "char tokenizer: id ", id, " is outside [0, ",
                vocab_size(), ")");
  if (static_cast<size_t>(id) == chars_.size()) return "<unk>";
  std::string s;
  append_utf8(s, chars_[static_cast<size_t>(id)]);
  return s;
}

std::string CharTokenizer::serialize() const {
  nlohmann::json j;
  j["type"] = "char";
  j["version"] = detail::kTokenizerFormatVersion;
  // Code points as integers: JSON strings would need escaping rules for controls and NUL.
  std::vector<uint32_t> cps(chars_.begin(), chars_.end());
  j["code_points"] = cps;
  j["unk"] = with_unk_;
  return j.dump();
}

CharTokenizer CharTokenizer::deserialize(std::string_view json) {
  const nlohmann::json j = detail::parse_tokenizer_json(json, "char");
  const auto& arr = detail::field(
      j, "code_points", [](const nlohmann::json& v) { return v.is_array(); }, "an array", "char");
  const auto& unk = detail::field(
      j, "unk", [](const nlohmann::json& v) { return v.is_boolean(); }, "a boolean", "char");
  std::vector<char32_t> cps;
  cps.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    TESSERA_CHECK(arr[i].is_number_unsigned() && arr[i].get<uint64_t>() <= 0x10FFFF,
                  "char tokenizer: code_points[", i, "] must be an integer in [0, 0x10FFFF], got ",
                  arr[i].dump());
    cps.push_back(static_cast<char32_t>(arr[i].get<uint64_t>()));
  }
  return CharTokenizer(std::move(cps), unk.get<bool>());  // validates order and surrogates
}

}  // namespace tessera::models
