// SPDX-License-Identifier: Apache-2.0
/// @brief Tokenizer::deserialize (dispatch on "type") and atomic save/load of tokenizer files.

#include "tessera/models/tokenizer.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tessera/models/bpe.h"
#include "tessera/models/byte_tokenizer.h"
#include "tessera/models/char_tokenizer.h"
#include "tokenizer_json.h"

namespace tessera::models {

std::unique_ptr<Tokenizer> Tokenizer::deserialize(std::string_view json) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    TESSERA_FAIL("tokenizer: malformed JSON: ", e.what());
  }
  TESSERA_CHECK(j.is_object() && j.contains("type") && j["type"].is_string(),
                "tokenizer: expected a JSON object with a string field \"type\"");
  const std::string type = j["type"].get<std::string>();
  if (type == "byte") return std::make_unique<ByteTokenizer>(ByteTokenizer::deserialize(json));
  if (type == "char") return std::make_unique<CharTokenizer>(CharTokenizer::deserialize(json));
  if (type == "bpe") return std::make_unique<BpeTokenizer>(BpeTokenizer::deserialize(json));
  TESSERA_FAIL("tokenizer: unknown type \"", type, "\" (expected \"byte\", \"char\" or \"bpe\")");
}

void save_tokenizer(const Tokenizer& tok, const std::string& path) {
  const std::string text = tok.serialize();
  const std::filesystem::path target(path);
  std::filesystem::path tmp = target;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    TESSERA_CHECK(out.good(), "save_tokenizer: cannot open '", tmp.string(), "' for writing");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    TESSERA_CHECK(out.good(), "save_tokenizer: write to '", tmp.string(), "' failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, target, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    TESSERA_FAIL("save_tokenizer: cannot rename '", tmp.string(), "' to '", path, "'");
  }
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TESSERA_CHECK(in.good(), "load_tokenizer: cannot open '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return Tokenizer::deserialize(ss.str());
}

}  // namespace tessera::models
