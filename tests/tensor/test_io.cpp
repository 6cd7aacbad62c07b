// SPDX-License-Identifier: Apache-2.0
/// @brief tessera::save / tessera::load: round trips of every dtype and layout, a file written by
/// Python's safetensors, atomic replacement, and an error (never a crash) for every malformed file.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <tessera/creation.h>
#include <tessera/error.h>
#include <tessera/io.h>
#include <tessera/native/convert.h>
#include <tessera/native/shape.h>
#include <tessera/safetensors.h>

#include "tensor/safetensors_golden.h"

namespace fs = std::filesystem;
using namespace tessera;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "tessera_io_XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, std::span<const std::byte> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string s(std::istreambuf_iterator<char>(in), {});
  std::vector<std::byte> v(s.size());
  std::memcpy(v.data(), s.data(), s.size());
  return v;
}

// A contiguous CPU tensor with random bytes (0/1 for bool; any bits, NaNs included, otherwise).
Tensor random_tensor(const Shape& shape, DType dtype, std::mt19937& rng) {
  Tensor t = empty(shape, {.dtype = dtype});
  auto* p = static_cast<uint8_t*>(t.data_ptr());
  for (int64_t i = 0; i < t.nbytes(); ++i)
    p[i] = static_cast<uint8_t>(dtype == kBool ? rng() % 2 : rng());
  return t;
}

// Same dtype, shape and bytes (bitwise, so NaN payloads and -0.0 count).
void require_identical(const Tensor& got, const Tensor& want) {
  REQUIRE(got.defined());
  CHECK(got.dtype() == want.dtype());
  REQUIRE(got.shape() == want.shape());
  CHECK(got.device() == kCPU);
  // (An empty tensor's layout is immaterial; the core's is_contiguous() reports false for some.)
  if (got.numel() > 0) CHECK(got.is_contiguous());
  const Tensor w = native::contiguous(want);
  REQUIRE(got.nbytes() == w.nbytes());
  if (got.nbytes() > 0)
    CHECK(std::memcmp(got.data_ptr(), w.data_ptr(), static_cast<size_t>(w.nbytes())) == 0);
}

const DType kAllDTypes[] = {kBool, kInt32, kInt64, kBFloat16, kFloat16, kFloat32, kFloat64};

}  // namespace

TEST_CASE("io: save/load round trip of every dtype, 0-d and empty tensors", "[tensor][io]") {
  TempDir dir;
  std::mt19937 rng(11);
  const std::vector<Shape> shapes = {{}, {0}, {1}, {7}, {3, 5}, {2, 0, 3}, {2, 3, 4}};
  TensorDict tensors;
  for (DType dt : kAllDTypes)
    for (size_t s = 0; s < shapes.size(); ++s)
      tensors.emplace(std::string(dtype_name(dt)) + "." + std::to_string(s),
                      random_tensor(shapes[s], dt, rng));
  const Metadata meta = {{"format", "pt"}, {"epoch", "3"}, {"unicode", "\xce\xbb=0.1"}};
  save(dir.file("all.safetensors"), tensors, meta);

  Metadata got_meta;
  const TensorDict loaded = load(dir.file("all.safetensors"), kCPU, &got_meta);
  CHECK(got_meta == meta);
  REQUIRE(loaded.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO(name);
    REQUIRE(loaded.count(name) == 1);
    require_identical(loaded.at(name), t);
  }
  // Without a metadata out-parameter, and with no metadata at all.
  CHECK(load(dir.file("all.safetensors")).size() == tensors.size());
  save(dir.file("nometa.safetensors"), {{"x", tensors.begin()->second}});
  Metadata none = {{"stale", "value"}};
  load(dir.file("nometa.safetensors"), kCPU, &none);
  CHECK(none.empty());
  // An empty dict is a valid file.
  save(dir.file("empty.safetensors"), {});
  CHECK(load(dir.file("empty.safetensors")).empty());
}

TEST_CASE("io: non-contiguous inputs are saved in logical (row-major) order", "[tensor][io]") {
  TempDir dir;
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i) + 0.5f;
  const Tensor base = from_vector(v, {3, 4});
  std::vector<int64_t> iv = {10, 11, 12, 13, 14, 15};
  const Tensor ibase = from_vector(iv, {2, 3});
  TensorDict views = {
      {"transposed", native::transpose(base, 0, 1)},  // (4, 3), strides (1, 4)
      {"narrowed", native::narrow(base, 1, 1, 2)},    // (3, 2), offset 1
      {"expanded", native::expand(native::narrow(ibase, 0, 1, 1), {4, 3})},  // stride 0
      {"stepped", native::slice(base, 1, 0, 4, 3)},                          // columns 0 and 3
  };
  save(dir.file("views.safetensors"), views);
  const TensorDict got = load(dir.file("views.safetensors"));

  // Expected values written out from the definitions, independent of contiguous().
  std::vector<float> tr, nar, step;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) tr.push_back(v[static_cast<size_t>(j * 4 + i)]);
  for (int i = 0; i < 3; ++i)
    for (int j = 1; j < 3; ++j) nar.push_back(v[static_cast<size_t>(i * 4 + j)]);
  for (int i = 0; i < 3; ++i)
    for (int j : {0, 3}) step.push_back(v[static_cast<size_t>(i * 4 + j)]);
  std::vector<int64_t> ex;
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 3; ++j) ex.push_back(iv[static_cast<size_t>(3 + j)]);

  CHECK(got.at("transposed").shape() == Shape{4, 3});
  CHECK(to_vector<float>(got.at("transposed")) == tr);
  CHECK(to_vector<float>(got.at("narrowed")) == nar);
  CHECK(to_vector<float>(got.at("stepped")) == step);
  CHECK(got.at("expanded").shape() == Shape{4, 3});
  CHECK(to_vector<int64_t>(got.at("expanded")) == ex);
  // The file holds exactly numel * 4 bytes per float view (an expanded view is materialized).
  const auto bytes = read_bytes(dir.file("views.safetensors"));
  const auto h = safetensors::parse(bytes, "views");
  CHECK(h.find("expanded")->nbytes() == 12 * 8);
  CHECK(h.find("transposed")->nbytes() == 12 * 4);
}

TEST_CASE("io: loads a file written by Python's safetensors", "[tensor][io]") {
  TempDir dir;
  write_bytes(dir.file("py.safetensors"), test::python_file());
  Metadata meta;
  const TensorDict t = load(dir.file("py.safetensors"), kCPU, &meta);
  CHECK(meta == Metadata{{"format", "pt"}});
  REQUIRE(t.size() == 9);
  CHECK(t.at("w.f64").dtype() == kFloat64);
  CHECK(to_vector<double>(t.at("w.f64")) == std::vector<double>{1.5, -2.25, 3.0, 1e-300});
  const auto b = to_vector<float>(t.at("b.f32"));
  CHECK(b[0] == 0.1f);
  CHECK(std::signbit(b[1]));
  CHECK(std::isinf(b[2]));
  CHECK(t.at("empty").shape() == Shape{2, 0, 3});
  CHECK(t.at("empty").numel() == 0);
  CHECK(to_vector<int64_t>(t.at("ids")) == std::vector<int64_t>{7, -8, int64_t{1} << 40});
  CHECK(t.at("idx").dtype() == kInt32);
  CHECK(t.at("idx").shape() == Shape{1, 3});
  CHECK(to_vector<int32_t>(t.at("idx")) == std::vector<int32_t>{1, -2, 3});
  CHECK(t.at("h").dtype() == kFloat16);
  const auto h = to_vector<Float16>(t.at("h"));
  CHECK(static_cast<float>(h[1]) == 65504.0f);
  CHECK(static_cast<float>(h[2]) == -0x1p-24f);
  CHECK(t.at("flag").dim() == 0);
  CHECK(t.at("flag").dtype() == kBool);
  CHECK(t.at("flag").item<bool>() == true);
  CHECK(to_vector<bool>(t.at("mask")) == std::vector<bool>{true, false, true, true, false});
  CHECK(t.at("scalar").dim() == 0);
  CHECK(t.at("scalar").item<float>() == 3.25f);

  // Saving what was loaded reproduces Python's bytes exactly (same layout rules).
  save(dir.file("again.safetensors"), t, meta);
  const auto again = read_bytes(dir.file("again.safetensors"));
  const auto py = test::python_file();
  REQUIRE(again.size() == py.size());
  CHECK(std::memcmp(again.data(), py.data(), py.size()) == 0);
}

TEST_CASE("io: save replaces an existing file atomically and reports bad paths", "[tensor][io]") {
  TempDir dir;
  const std::string p = dir.file("ckpt.safetensors");
  save(p, {{"a", from_vector(std::vector<float>{1, 2, 3})}});
  save(p, {{"b", from_vector(std::vector<int32_t>{4})}});
  const TensorDict t = load(p);
  REQUIRE(t.size() == 1);
  CHECK(to_vector<int32_t>(t.at("b")) == std::vector<int32_t>{4});
  CHECK(std::distance(fs::directory_iterator(dir.path), {}) == 1);  // no temporary left

  CHECK_THROWS_WITH(
      save(dir.file("missing/dir/x.safetensors"), {{"a", from_vector(std::vector<float>{1})}}),
      Catch::Contains("missing/dir"));
  CHECK_THROWS_WITH(save(p, {{"u", Tensor()}}), Catch::Contains("undefined"));
  CHECK_THROWS_WITH(save(p, {{"__metadata__", from_vector(std::vector<float>{1})}}),
                    Catch::Contains("cannot be named"));
  CHECK(to_vector<int32_t>(load(p).at("b")) ==
        std::vector<int32_t>{4});  // failed saves left it alone
  CHECK_THROWS_WITH(load(dir.file("nope.safetensors")), Catch::Contains("No such file"));
  CHECK_THROWS_WITH(load(dir.path.string()), Catch::Contains("not a regular file"));
}

TEST_CASE("io: every truncation of a saved file fails to load with tessera::Error",
          "[tensor][io]") {
  TempDir dir;
  std::mt19937 rng(5);
  const TensorDict tensors = {{"w", random_tensor({3, 4}, kFloat32, rng)},
                              {"m", random_tensor({5}, kBool, rng)},
                              {"e", random_tensor({0, 2}, kBFloat16, rng)},
                              {"s", random_tensor({}, kInt64, rng)}};
  save(dir.file("good.safetensors"), tensors, {{"k", "v"}});
  const auto good = read_bytes(dir.file("good.safetensors"));
  const std::string cut = dir.file("cut.safetensors");
  for (size_t n = 0; n < good.size(); ++n) {
    INFO("truncated to " << n << " of " << good.size() << " bytes");
    write_bytes(cut, std::span<const std::byte>(good).first(n));
    try {
      (void)load(cut);
      FAIL("a truncated file loaded");
    } catch (const Error& e) {
      CHECK(e.message().find(cut) != std::string::npos);
    }
  }
}

TEST_CASE("io: malformed files give clear errors", "[tensor][io]") {
  TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  auto file_with = [&](const std::string& json, std::vector<uint8_t> data) {
    std::vector<std::byte> f(8 + json.size() + data.size());
    const uint64_t n = json.size();
    for (int i = 0; i < 8; ++i)
      f[static_cast<size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xFF);
    std::memcpy(f.data() + 8, json.data(), json.size());
    if (!data.empty()) std::memcpy(f.data() + 8 + json.size(), data.data(), data.size());
    write_bytes(p, f);
  };
  file_with(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", {1, 2, 0});
  CHECK_THROWS_WITH(load(p), Catch::Contains("holds byte 2 at element 1"));
  file_with(R"({"u":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}})", {1, 2, 0});
  CHECK_THROWS_WITH(load(p), Catch::Contains("dtype U8, which tessera does not support"));
  file_with(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", {0, 0, 0, 0});
  CHECK_THROWS_WITH(load(p), Catch::Contains("needs 8 bytes"));
  file_with(
      R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
      {0, 0, 0, 0});
  CHECK_THROWS_WITH(load(p), Catch::Contains("duplicate key"));
  file_with("not json", {});
  CHECK_THROWS_WITH(load(p), Catch::Contains("not valid JSON"));
  // Random corruption of a valid file: an Error or a successful load, never anything else.
  std::mt19937 rng(3);
  const auto py = test::python_file();
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<std::byte> f(py.begin(), py.end());
    f[rng() % f.size()] = static_cast<std::byte>(rng());
    write_bytes(p, f);
    try {
      (void)load(p);
    } catch (const Error&) {
    }
  }
}
