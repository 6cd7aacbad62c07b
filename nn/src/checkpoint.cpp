// SPDX-License-Identifier: Apache-2.0
/// @brief save_checkpoint / load_checkpoint (see checkpoint.h): tensor files via tessera::save /
/// tessera::load, a JSON manifest with sizes and hashes written last (AtomicFileWriter).
#include <tessera/nn/checkpoint.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include <tessera/atomic_file.h>
#include <tessera/io.h>

namespace tessera::nn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFormat = "tessera-checkpoint";
constexpr int kVersion = 1;
constexpr uintmax_t kMaxManifestBytes = 16u << 20;

struct FileDigest {
  uint64_t size = 0;
  uint64_t hash = 0;
};

/// FNV-1a 64 over the whole file: cheap, catches truncation and bit flips (not an adversary).
FileDigest digest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TESSERA_CHECK(in.good(), "checkpoint: cannot open ", path);
  FileDigest d{0, 1469598103934665603ull};
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    for (std::streamsize i = 0; i < n; ++i) {
      d.hash ^= static_cast<unsigned char>(buf[i]);
      d.hash *= 1099511628211ull;
    }
    d.size += static_cast<uint64_t>(n);
  }
  TESSERA_CHECK(in.eof(), "checkpoint: error reading ", path);
  return d;
}

std::string hex(uint64_t v) {
  std::ostringstream os;
  os << std::hex << v;
  return os.str();
}

json file_entry(const std::string& path) {
  const FileDigest d = digest(path);
  return {{"size", d.size}, {"fnv1a64", hex(d.hash)}};
}

void verify(const std::string& dir, const json& files, const std::string& name) {
  const std::string path = (fs::path(dir) / name).string();
  TESSERA_CHECK(files.contains(name) && files[name].is_object(), "checkpoint ", dir,
                ": state.json lists no entry for ", name);
  const json& e = files[name];
  TESSERA_CHECK(e.contains("size") && e["size"].is_number_unsigned() && e.contains("fnv1a64") &&
                    e["fnv1a64"].is_string(),
                "checkpoint ", dir, ": malformed entry for ", name, " in state.json");
  TESSERA_CHECK(fs::exists(path), "checkpoint ", dir, ": missing file ", name);
  const FileDigest d = digest(path);
  TESSERA_CHECK(d.size == e["size"].get<uint64_t>(), "checkpoint ", dir, ": ", name, " has ",
                d.size, " bytes but state.json records ", e["size"].get<uint64_t>(),
                " (truncated, or written by another save)");
  TESSERA_CHECK(hex(d.hash) == e["fnv1a64"].get<std::string>(), "checkpoint ", dir, ": ", name,
                " does not match its hash in state.json (corrupted, or written by another save)");
}

json read_manifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / "state.json").string();
  TESSERA_CHECK(fs::is_regular_file(path), "checkpoint ", dir,
                ": no state.json (not a checkpoint, or "
                "the save did not complete)");
  TESSERA_CHECK(fs::file_size(path) <= kMaxManifestBytes, "checkpoint ", path, " is too large");
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::exception& e) {
    TESSERA_FAIL("checkpoint ", path, ": invalid JSON: ", e.what());
  }
  TESSERA_CHECK(j.is_object() && j.value("format", "") == kFormat, "checkpoint ", path,
                ": not a tessera checkpoint manifest");
  TESSERA_CHECK(j.contains("version") && j["version"].is_number_integer() &&
                    j["version"].get<int>() == kVersion,
                "checkpoint ", path, ": unsupported version (expected ", kVersion, ")");
  TESSERA_CHECK(
      j.contains("step") && j["step"].is_number_integer() && j["step"].get<int64_t>() >= 0,
      "checkpoint ", path, ": missing or invalid step");
  TESSERA_CHECK(j.contains("files") && j["files"].is_object() && j.contains("generators") &&
                    j["generators"].is_object() && j.contains("config"),
                "checkpoint ", path, ": missing files/generators/config");
  return j;
}

}  // namespace

void save_checkpoint(const std::string& dir, const Module& model, const Optimizer* opt,
                     const std::map<std::string, const Generator*>& generators,
                     const CheckpointInfo& info) {
  TESSERA_CHECK(info.step >= 0, "save_checkpoint: negative step ", info.step);
  json config;
  try {
    config = json::parse(info.config_json);
  } catch (const json::exception& e) {
    TESSERA_FAIL("save_checkpoint: config_json is not valid JSON: ", e.what());
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  TESSERA_CHECK(!ec && fs::is_directory(dir), "save_checkpoint: cannot create directory ", dir,
                ": ", ec.message());
  json files = json::object();
  const std::string model_path = (fs::path(dir) / "model.safetensors").string();
  tessera::save(model_path, model.state_dict(), {{"format", kFormat}});
  files["model.safetensors"] = file_entry(model_path);
  if (opt) {
    const std::string opt_path = (fs::path(dir) / "optimizer.safetensors").string();
    tessera::save(opt_path, opt->state_dict(), {{"format", kFormat}});
    files["optimizer.safetensors"] = file_entry(opt_path);
  }
  json gens = json::object();
  for (const auto& [name, g] : generators) {
    TESSERA_CHECK(g != nullptr, "save_checkpoint: generator '", name, "' is null");
    gens[name] = {{"seed", g->seed()}, {"offset", g->offset()}};
  }
  const json manifest = {{"format", kFormat}, {"version", kVersion}, {"step", info.step},
                         {"config", config},  {"generators", gens},  {"files", files}};
  write_file_atomic((fs::path(dir) / "state.json").string(), manifest.dump(2) + "\n");
}

CheckpointInfo load_checkpoint(const std::string& dir, Module& model, Optimizer* opt,
                               const std::map<std::string, Generator*>& generators) {
  // 1. Read and check everything without touching the caller's objects.
  const json j = read_manifest(dir);
  const json& files = j["files"];
  verify(dir, files, "model.safetensors");
  const StateDict model_dict = tessera::load((fs::path(dir) / "model.safetensors").string());
  model.check_state_dict(model_dict, /*strict=*/true);
  TensorDict opt_dict;
  if (opt) {
    verify(dir, files, "optimizer.safetensors");
    opt_dict = tessera::load((fs::path(dir) / "optimizer.safetensors").string());
    opt->check_state_dict(opt_dict);
  }
  const json& gens = j["generators"];
  std::map<std::string, std::pair<uint64_t, uint64_t>> gen_states;
  for (const auto& [name, g] : generators) {
    TESSERA_CHECK(g != nullptr, "load_checkpoint: generator '", name, "' is null");
    TESSERA_CHECK(gens.contains(name) && gens[name].is_object() && gens[name].contains("seed") &&
                      gens[name]["seed"].is_number_unsigned() && gens[name].contains("offset") &&
                      gens[name]["offset"].is_number_unsigned(),
                  "checkpoint ", dir, ": no valid state for generator '", name, "'");
    gen_states[name] = {gens[name]["seed"].get<uint64_t>(), gens[name]["offset"].get<uint64_t>()};
  }
  for (const auto& [name, _] : gens.items())
    TESSERA_CHECK(generators.count(name), "checkpoint ", dir, ": holds generator '", name,
                  "' that the caller did not pass");
  // 2. Apply (the checks above cover every way these can fail).
  model.load_state_dict(model_dict, /*strict=*/true);
  if (opt) opt->load_state_dict(opt_dict);
  for (const auto& [name, g] : generators)
    g->set_state(gen_states[name].first, gen_states[name].second);
  return {j["step"].get<int64_t>(), j["config"].dump()};
}

}  // namespace tessera::nn
