// SPDX-License-Identifier: Apache-2.0
/// @brief Private helpers shared by the tokenizers' JSON (de)serializers.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "tessera/error.h"

namespace tessera::models::detail {

constexpr int kTokenizerFormatVersion = 1;

/// Parses `text` and checks it is an object with "type" == `type` and "version" == 1.
inline nlohmann::json parse_tokenizer_json(std::string_view text, std::string_view type) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    TESSERA_FAIL(type, " tokenizer: malformed JSON: ", e.what());
  }
  TESSERA_CHECK(j.is_object(), type, " tokenizer: expected a JSON object, got ", j.type_name());
  TESSERA_CHECK(j.contains("type") && j["type"].is_string() && j["type"].get<std::string>() == type,
                type, " tokenizer: expected \"type\": \"", type, "\"");
  TESSERA_CHECK(j.contains("version") && j["version"].is_number_integer() &&
                    j["version"].get<int64_t>() == kTokenizerFormatVersion,
                type, " tokenizer: expected \"version\": ", kTokenizerFormatVersion);
  return j;
}

/// j[key] if it exists and is of the kind `pred` accepts, else a tessera::Error naming the key.
template <typename Pred>
const nlohmann::json& field(const nlohmann::json& j, const char* key, Pred pred, const char* kind,
                            std::string_view type) {
  TESSERA_CHECK(j.contains(key), type, " tokenizer: missing field \"", key, "\"");
  const nlohmann::json& v = j[key];
  TESSERA_CHECK(pred(v), type, " tokenizer: field \"", key, "\" must be ", kind, ", got ",
                v.type_name());
  return v;
}

}  // namespace tessera::models::detail
