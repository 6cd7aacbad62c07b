// SPDX-License-Identifier: Apache-2.0
/// @brief Byte-level tokenizer: each byte is its own token (GPT training on arbitrary files).

#include "tessera/models/byte_tokenizer.h"

#include "tokenizer_json.h"

namespace tessera::models {

std::vector<int32_t> ByteTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
  return ids;
}

std::string ByteTokenizer::decode(std::span<const int32_t> ids) const {
  std::string out(ids.size(), '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    TESSERA_CHECK(ids[i] >= 0 && ids[i] < kVocabSize, "byte tokenizer decode: id ", ids[i],
                  " at position ", i, " is outside [0, 256)");
    out[i] = static_cast<char>(ids[i]);
  }
  return out;
}

std::string ByteTokenizer::token_text(int32_t id) const {
  TESSERA_CHECK(id >= 0 && id < kVocabSize, "byte tokenizer: id ", id, " is outside [0, 256)");
  return std::string(1, static_cast<char>(id));
}

std::string ByteTokenizer::serialize() const {
  nlohmann::json j;
  j["type"] = "byte";
  j["version"] = detail::kTokenizerFormatVersion;
  return j.dump();
}

ByteTokenizer ByteTokenizer::deserialize(std::string_view json) {
  detail::parse_tokenizer_json(json, "byte");
  return ByteTokenizer{};
}

}  // namespace tessera::models
