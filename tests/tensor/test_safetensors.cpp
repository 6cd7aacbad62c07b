// SPDX-License-Identifier: Apache-2.0
/// @brief The raw safetensors layer: parsing a file written by Python's safetensors, byte-identical
/// writing, round trips, and a clear tessera::Error for every kind of malformed header.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <tessera/error.h>
#include <tessera/half.h>
#include <tessera/safetensors.h>

#include "tensor/safetensors_golden.h"

namespace st = tessera::safetensors;
using tessera::test::python_file;

namespace {

// A file from a header string (used verbatim) and a data section.
std::vector<std::byte> make_file(const std::string& json, const std::vector<uint8_t>& data = {}) {
  std::vector<std::byte> f(8 + json.size() + data.size());
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i)
    f[static_cast<size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xFF);
  std::memcpy(f.data() + 8, json.data(), json.size());
  if (!data.empty()) std::memcpy(f.data() + 8 + json.size(), data.data(), data.size());
  return f;
}

template <typename T>
T read_at(std::span<const std::byte> file, const st::Header& h, const st::TensorInfo& t, size_t i) {
  T v;
  std::memcpy(&v, file.data() + h.data_start + t.begin + i * sizeof(T), sizeof(T));
  return v;
}

// Parsing `file` must throw tessera::Error whose message contains `needle`.
void require_error(const std::vector<std::byte>& file, const std::string& needle) {
  INFO("expecting an error containing: " << needle);
  try {
    (void)st::parse(file, "bad.safetensors");
    FAIL("parse accepted a malformed file");
  } catch (const tessera::Error& e) {
    INFO("got: " << e.message());
    CHECK(e.message().find(needle) != std::string::npos);
    CHECK(e.message().find("bad.safetensors") != std::string::npos);
  }
}

std::span<const std::byte> bytes_of(const void* p, size_t n) {
  return {static_cast<const std::byte*>(p), n};
}

}  // namespace

TEST_CASE("safetensors: parses a file written by Python safetensors", "[tensor][safetensors]") {
  const auto file = python_file();
  const st::Header h = st::parse(file, "python.safetensors");
  CHECK(h.data_start % 8 == 0);
  CHECK(h.data_start + h.data_size == file.size());
  REQUIRE(h.metadata.size() == 1);
  CHECK(h.metadata.at("format") == "pt");
  REQUIRE(h.tensors.size() == 9);
  // Data order: ascending offsets.
  for (size_t i = 1; i < h.tensors.size(); ++i) CHECK(h.tensors[i].begin >= h.tensors[i - 1].end);

  const st::TensorInfo* w = h.find("w.f64");
  REQUIRE(w);
  CHECK(w->dtype == "F64");
  CHECK(w->shape == std::vector<int64_t>{2, 2});
  CHECK(read_at<double>(file, h, *w, 0) == 1.5);
  CHECK(read_at<double>(file, h, *w, 1) == -2.25);
  CHECK(read_at<double>(file, h, *w, 3) == 1e-300);

  const st::TensorInfo* b = h.find("b.f32");
  REQUIRE(b);
  CHECK(read_at<float>(file, h, *b, 0) == 0.1f);
  CHECK(std::signbit(read_at<float>(file, h, *b, 1)));
  CHECK(std::isinf(read_at<float>(file, h, *b, 2)));

  const st::TensorInfo* e = h.find("empty");
  REQUIRE(e);
  CHECK(e->shape == std::vector<int64_t>{2, 0, 3});
  CHECK(e->numel() == 0);
  CHECK(e->nbytes() == 0);

  const st::TensorInfo* ids = h.find("ids");
  REQUIRE(ids);
  CHECK(ids->dtype == "I64");
  CHECK(read_at<int64_t>(file, h, *ids, 1) == -8);
  CHECK(read_at<int64_t>(file, h, *ids, 2) == (int64_t{1} << 40));

  const st::TensorInfo* idx = h.find("idx");
  REQUIRE(idx);
  CHECK(idx->shape == std::vector<int64_t>{1, 3});
  CHECK(read_at<int32_t>(file, h, *idx, 1) == -2);

  const st::TensorInfo* hh = h.find("h");
  REQUIRE(hh);
  CHECK(hh->dtype == "F16");
  CHECK(static_cast<float>(tessera::Float16::from_bits(read_at<uint16_t>(file, h, *hh, 1))) ==
        65504.0f);
  CHECK(static_cast<float>(tessera::Float16::from_bits(read_at<uint16_t>(file, h, *hh, 2))) ==
        -0x1p-24f);

  const st::TensorInfo* flag = h.find("flag");
  REQUIRE(flag);
  CHECK(flag->shape.empty());
  CHECK(flag->numel() == 1);
  CHECK(read_at<uint8_t>(file, h, *flag, 0) == 1);

  const st::TensorInfo* scalar = h.find("scalar");
  REQUIRE(scalar);
  CHECK(scalar->shape.empty());
  CHECK(read_at<float>(file, h, *scalar, 0) == 3.25f);

  CHECK(h.find("missing") == nullptr);
}

TEST_CASE("safetensors: the writer reproduces Python's bytes exactly", "[tensor][safetensors]") {
  // Re-serialize the parsed tensors (given in a scrambled order): same layout, same header bytes.
  const auto file = python_file();
  const st::Header h = st::parse(file);
  std::vector<st::TensorBytes> tensors;
  for (auto it = h.tensors.rbegin(); it != h.tensors.rend(); ++it)
    tensors.push_back(
        {{it->name, it->dtype, it->shape}, file.subspan(h.data_start + it->begin, it->nbytes())});
  const std::vector<std::byte> out = st::serialize(tensors, h.metadata);
  REQUIRE(out.size() == file.size());
  CHECK(std::memcmp(out.data(), file.data(), file.size()) == 0);
}

TEST_CASE("safetensors: round trip of every dtype, 0-d and empty tensors, metadata",
          "[tensor][safetensors]") {
  std::mt19937 rng(7);
  std::vector<std::vector<uint8_t>> storage;
  std::vector<st::TensorBytes> tensors;
  const char* dtypes[] = {"F32", "F64", "BF16", "F16", "I32", "I64",     "BOOL",    "U8",     "I8",
                          "I16", "U16", "U32",  "U64", "C64", "F8_E4M3", "F8_E5M2", "F8_E8M0"};
  const std::vector<std::vector<int64_t>> shapes = {{}, {0}, {1}, {3, 5}, {2, 0, 4}, {7, 1, 3}};
  int k = 0;
  for (const char* dt : dtypes) {
    for (const auto& shape : shapes) {
      int64_t numel = 1;
      for (int64_t d : shape) numel *= d;
      std::vector<uint8_t> bytes(static_cast<size_t>(numel * st::dtype_size(dt)));
      for (auto& b : bytes) b = static_cast<uint8_t>(rng());
      storage.push_back(std::move(bytes));
      tensors.push_back({{std::string(dt) + "/t" + std::to_string(k++), dt, shape}, {}});
    }
  }
  for (size_t i = 0; i < tensors.size(); ++i)
    tensors[i].data = std::as_bytes(std::span<const uint8_t>(storage[i]));
  const std::map<std::string, std::string> meta = {
      {"format", "pt"}, {"step", "1200"}, {"note", "quotes \" and \\ and \n and unicode \xc3\xa9"}};

  const std::vector<std::byte> file = st::serialize(tensors, meta);
  const st::Header h = st::parse(file, "roundtrip");
  CHECK(h.metadata == meta);
  CHECK(h.data_start % 8 == 0);
  REQUIRE(h.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& want = tensors[i];
    const st::TensorInfo* got = h.find(want.desc.name);
    REQUIRE(got);
    CHECK(got->dtype == want.desc.dtype);
    CHECK(got->shape == want.desc.shape);
    REQUIRE(got->nbytes() == want.data.size());
    // Every tensor is aligned (in the file) to its element size.
    CHECK((h.data_start + got->begin) % static_cast<uint64_t>(st::dtype_size(got->dtype)) == 0);
    if (!want.data.empty())
      CHECK(std::memcmp(file.data() + h.data_start + got->begin, want.data.data(),
                        want.data.size()) == 0);
  }
}

TEST_CASE("safetensors: an empty file of tensors is valid", "[tensor][safetensors]") {
  const auto file = st::serialize({});
  CHECK(file.size() == 16);  // "{}" padded to 8
  const st::Header h = st::parse(file);
  CHECK(h.tensors.empty());
  CHECK(h.metadata.empty());
  const st::Header h2 = st::parse(make_file(R"({"__metadata__":{}})"));
  CHECK(h2.tensors.empty());
  // Whitespace padding after the JSON, as the reference writes.
  CHECK(st::parse(make_file("{}      ")).tensors.empty());
}

TEST_CASE("safetensors: malformed headers give a clear error", "[tensor][safetensors]") {
  const std::vector<uint8_t> four(4, 0);
  auto entry = [](const std::string& body) { return "{\"t\":" + body + "}"; };
  const std::string ok_shape = R"("shape":[1])";

  SECTION("too short for the size field") {
    for (size_t n = 0; n < 8; ++n) require_error(std::vector<std::byte>(n), "too short");
  }
  SECTION("header size beyond the file or the limit") {
    auto f = make_file("{}");
    f[0] = std::byte{100};
    require_error(f, "exceeds the file size");
    std::vector<std::byte> huge(16);
    huge[4] = std::byte{1};  // 2^32
    require_error(huge, "exceeds the limit");
    const std::byte big[8] = {std::byte{0}, std::byte{0}, std::byte{0},
                              std::byte{0x10}};  // 256 MiB
    CHECK_THROWS_WITH(st::read_header_size(big, 1ull << 40, "x"),
                      Catch::Contains("exceeds the limit"));
  }
  SECTION("not JSON, not an object") {
    require_error(make_file(""), "not valid JSON");
    require_error(make_file("{"), "not valid JSON");
    require_error(make_file("{\"t\":}"), "not valid JSON");
    require_error(make_file("{} trailing"), "not valid JSON");
    require_error(make_file("[]"), "must be a JSON object");
    require_error(make_file("\"str\""), "must be a JSON object");
    require_error(make_file("17"), "must be a JSON object");
    require_error(make_file("null"), "must be a JSON object");
  }
  SECTION("entries must be objects with exactly dtype, shape, data_offsets") {
    require_error(make_file(entry("[]")), "entry must be an object");
    require_error(make_file(entry("3")), "entry must be an object");
    require_error(make_file(entry(R"({"shape":[1],"data_offsets":[0,4]})"), four),
                  "missing field 'dtype'");
    require_error(make_file(entry(R"({"dtype":"F32","data_offsets":[0,4]})"), four),
                  "missing field 'shape'");
    require_error(make_file(entry(R"({"dtype":"F32","shape":[1]})"), four),
                  "missing field 'data_offsets'");
    require_error(
        make_file(entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1})"), four),
        "unexpected field 'x'");
  }
  SECTION("dtype") {
    require_error(make_file(entry(R"({"dtype":"F33","shape":[1],"data_offsets":[0,4]})"), four),
                  "unknown dtype 'F33'");
    require_error(make_file(entry(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})"), four),
                  "unknown dtype");
    require_error(make_file(entry(R"({"dtype":4,"shape":[1],"data_offsets":[0,4]})"), four),
                  "dtype must be a string");
  }
  SECTION("shape") {
    require_error(make_file(entry(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})"), four),
                  "negative");
    require_error(make_file(entry(R"({"dtype":"F32","shape":[1.0],"data_offsets":[0,4]})"), four),
                  "must be a non-negative integer");
    require_error(make_file(entry(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})"), four),
                  "must be a non-negative integer");
    require_error(make_file(entry(R"({"dtype":"F32","shape":["1"],"data_offsets":[0,4]})"), four),
                  "must be a non-negative integer");
    require_error(make_file(entry(R"({"dtype":"F32","shape":[true],"data_offsets":[0,4]})"), four),
                  "must be a non-negative integer");
    require_error(make_file(entry(R"({"dtype":"F32","shape":1,"data_offsets":[0,4]})"), four),
                  "shape must be an array");
    require_error(make_file(entry(R"({"dtype":"F32","shape":[[1]],"data_offsets":[0,4]})"), four),
                  "nests deeper");
    require_error(
        make_file(entry(R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,4]})"),
                  four),
        "does not fit in int64");
    require_error(
        make_file(entry(R"({"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]})"),
                  four),
        "must be a non-negative integer");
    require_error(
        make_file(entry(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]})"),
                  four),
        "more elements than int64");
    require_error(
        make_file(entry(R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]})"),
                  four),
        "more bytes than int64");
  }
  SECTION("data_offsets") {
    const std::string pre = R"({"dtype":"F32","shape":[1],"data_offsets":)";
    require_error(make_file(entry(pre + "[0]}"), four), "array of two integers");
    require_error(make_file(entry(pre + "[0,4,8]}"), four), "array of two integers");
    require_error(make_file(entry(pre + "\"0,4\"}"), four), "array of two integers");
    require_error(make_file(entry(pre + "[0,\"4\"]}"), four), "non-negative integer");
    require_error(make_file(entry(pre + "[0,4.0]}"), four), "non-negative integer");
    require_error(make_file(entry(pre + "[-4,0]}"), four), "negative");
    require_error(make_file(entry(pre + "[4,0]}"), four), "begin > end");
    require_error(make_file(entry(pre + "[0,8]}"), four), "end beyond the data section");
    require_error(make_file(entry(pre + "[0,18446744073709551615]}"), four),
                  "end beyond the data section");
    require_error(make_file(entry(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})"), four),
                  "needs 8 bytes but data_offsets [0, 4] hold 4");
    require_error(make_file(entry(R"({"dtype":"F64","shape":[],"data_offsets":[0,4]})"), four),
                  "needs 8 bytes");
  }
  SECTION("ranges must tile the data section") {
    const std::vector<uint8_t> eight(8, 0);
    require_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})",
                            eight),
                  "overlap");
    require_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                            eight),
                  "overlap");
    require_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight),
                  "gap of 4 bytes");
    require_error(make_file(R"({"a":{"dtype":"I16","shape":[1],"data_offsets":[0,2]},)"
                            R"("b":{"dtype":"I16","shape":[1],"data_offsets":[4,6]}})",
                            eight),
                  "gap of 2 bytes before tensor 'b'");
    require_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight),
                  "4 bytes after the last tensor");
    require_error(make_file("{}", four), "4 bytes after the last tensor");
  }
  SECTION("metadata") {
    require_error(make_file(R"({"__metadata__":[]})"), "__metadata__ must be an object");
    require_error(make_file(R"({"__metadata__":{"a":1}})"), "__metadata__['a'] must be a string");
    require_error(make_file(R"({"__metadata__":{"a":{"b":"c"}}})"), "must be a string");
    require_error(make_file(R"({"__metadata__":{"a":"x","a":"y"}})"), "duplicate key 'a'");
  }
  SECTION("duplicate keys") {
    require_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                            four),
                  "duplicate key 'a'");
    require_error(
        make_file(entry(R"({"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]})"), four),
        "duplicate key 'dtype'");
  }
  SECTION("invalid UTF-8 in a name") {
    require_error(
        make_file("{\"\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four),
        "not valid JSON");
  }
}

TEST_CASE("safetensors: every truncation of a valid file is rejected", "[tensor][safetensors]") {
  const auto file = python_file();
  for (size_t n = 0; n < file.size(); ++n) {
    INFO("truncated to " << n << " bytes");
    CHECK_THROWS_AS(st::parse(file.first(n), "cut"), tessera::Error);
  }
  CHECK_NOTHROW(st::parse(file, "whole"));
}

TEST_CASE("safetensors: random corruption throws tessera::Error or parses, nothing else",
          "[tensor][safetensors]") {
  const auto good = python_file();
  std::mt19937 rng(1234);
#ifdef NDEBUG
  const int kTrials = 20000;
#else
  const int kTrials = 3000;
#endif
  int accepted = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::vector<std::byte> f(good.begin(), good.end());
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      // Bias toward the header: that is where the parser's decisions are.
      const size_t pos =
          (rng() % 4 != 0) ? rng() % std::min<size_t>(f.size(), 560) : rng() % f.size();
      f[pos] = static_cast<std::byte>(rng());
    }
    try {
      const st::Header h = st::parse(f, "fuzz");
      // Whatever is accepted is self-consistent.
      uint64_t covered = 0;
      for (const auto& t : h.tensors) {
        REQUIRE(t.begin == covered);
        REQUIRE(t.nbytes() == static_cast<uint64_t>(t.numel() * st::dtype_size(t.dtype)));
        covered = t.end;
      }
      REQUIRE(covered == h.data_size);
      ++accepted;
    } catch (const tessera::Error&) {
    }
  }
  CHECK(accepted > 0);  // flips in the data section or harmless header bytes keep files valid
}

TEST_CASE("safetensors: the writer rejects bad input", "[tensor][safetensors]") {
  const float x[2] = {1, 2};
  const auto data = bytes_of(x, sizeof x);
  CHECK_THROWS_WITH(st::serialize({{{"a", "F32", {2}}, data}, {{"a", "F32", {2}}, data}}),
                    Catch::Contains("duplicate tensor name 'a'"));
  CHECK_THROWS_WITH(st::serialize({{{"__metadata__", "F32", {2}}, data}}),
                    Catch::Contains("cannot be named"));
  CHECK_THROWS_WITH(st::serialize({{{"a", "F31", {2}}, data}}),
                    Catch::Contains("unknown dtype 'F31'"));
  CHECK_THROWS_WITH(st::serialize({{{"a", "F32", {-2}}, data}}),
                    Catch::Contains("negative dimension"));
  CHECK_THROWS_WITH(st::serialize({{{"a", "F32", {3}}, data}}),
                    Catch::Contains("needs 12 bytes, got 8"));
  CHECK_THROWS_WITH(st::serialize({{{"a", "F32", {int64_t{1} << 62}}, data}}),
                    Catch::Contains("overflows"));
  CHECK_THROWS_WITH(st::serialize({{{"\xff\xfe", "F32", {2}}, data}}), Catch::Contains("UTF-8"));
  CHECK_THROWS_WITH(st::serialize({}, {{"k", "\xc3"}}), Catch::Contains("UTF-8"));
}

TEST_CASE("safetensors: layout puts larger dtypes first and pads the header to 8 bytes",
          "[tensor][safetensors]") {
  for (size_t name_len = 1; name_len <= 16; ++name_len) {
    const std::string name(name_len, 'n');
    const st::Layout l = st::plan({{name + "b", "BOOL", {3}},
                                   {name + "h", "BF16", {1}},
                                   {name + "d", "F64", {2}},
                                   {name + "f", "F32", {1}}});
    CHECK(l.prefix.size() % 8 == 0);
    CHECK((l.prefix.back() == ' ' || l.prefix.back() == '}'));
    CHECK(l.order == std::vector<size_t>{2, 3, 1, 0});
    CHECK(l.tensors[2].begin == 0);
    CHECK(l.tensors[3].begin == 16);
    CHECK(l.tensors[1].begin == 20);
    CHECK(l.tensors[0].begin == 22);
    CHECK(l.data_size == 25);
  }
}

TEST_CASE("safetensors: edge cases the format allows or forbids", "[tensor][safetensors]") {
  // Deep nesting is refused early (before nlohmann builds a deep tree).
  require_error(make_file(std::string(20000, '[') + std::string(20000, ']')), "nests deeper");
  require_error(make_file(R"({"t":{"dtype":"F32","shape":)" + std::string(5000, '[') +
                          std::string(5000, ']') + R"(,"data_offsets":[0,0]}})"),
                "nests deeper");
  // Escaped names (NUL, a surrogate pair) are valid JSON strings and valid names.
  const st::Header h = st::parse(
      make_file(R"({"\u0000\ud83d\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", {42}));
  REQUIRE(h.tensors.size() == 1);
  CHECK(h.tensors[0].name == std::string("\0\xf0\x9f\x98\x80", 5));
  // A lone surrogate is not valid UTF-16 text.
  require_error(make_file(R"({"\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", {42}),
                "not valid JSON");
  // Several empty tensors may share an offset.
  const st::Header e =
      st::parse(make_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                          R"("b":{"dtype":"I64","shape":[5,0],"data_offsets":[0,0]},)"
                          R"("c":{"dtype":"U8","shape":[],"data_offsets":[0,1]}})",
                          {7}));
  CHECK(e.tensors.size() == 3);
  CHECK(e.find("c")->begin == 0);
  // Numbers too large for any integer type.
  require_error(
      make_file(R"({"t":{"dtype":"F32","shape":[1e999],"data_offsets":[0,4]}})", {0, 0, 0, 0}),
      "bad.safetensors");
}
