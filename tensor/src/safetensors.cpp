// SPDX-License-Identifier: Apache-2.0
/// @brief safetensors header parsing (defensive) and header writing; see tessera/safetensors.h.
#include <tessera/safetensors.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include <tessera/error.h>

namespace tessera::safetensors {
namespace {

struct DTypeInfo {
  std::string_view name;
  int64_t size;
  int rank;  // position in the reference's Dtype enum: the writer lays out larger ranks first
};

// The byte-sized dtypes of the reference implementation. `rank` is the position in its Dtype enum
// (BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, ..., U64); the sub-byte F4/F6 types are left out.
constexpr std::array<DTypeInfo, 17> kDTypes = {{
    {"BOOL", 1, 0},
    {"U8", 1, 4},
    {"I8", 1, 5},
    {"F8_E5M2", 1, 6},
    {"F8_E4M3", 1, 7},
    {"F8_E8M0", 1, 8},
    {"I16", 2, 9},
    {"U16", 2, 10},
    {"F16", 2, 11},
    {"BF16", 2, 12},
    {"I32", 4, 13},
    {"U32", 4, 14},
    {"F32", 4, 15},
    {"C64", 8, 16},
    {"F64", 8, 17},
    {"I64", 8, 18},
    {"U64", 8, 19},
}};

const DTypeInfo* find_dtype(std::string_view name) {
  for (const DTypeInfo& d : kDTypes)
    if (d.name == name) return &d;
  return nullptr;
}

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::string_view kMetadataKey = "__metadata__";

// Checked int64 product of a shape; false on overflow.
bool checked_numel(const std::vector<int64_t>& shape, int64_t* out) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return false;
  *out = n;
  return true;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// A non-negative JSON integer, or throws naming `what`.
uint64_t json_uint(const Json& v, std::string_view source, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer())  // signed, hence negative (nlohmann stores non-negatives as unsigned)
    TESSERA_FAIL("safetensors: ", source, ": ", what, " is negative (", v.dump(), ")");
  TESSERA_FAIL("safetensors: ", source, ": ", what, " must be a non-negative integer, got ",
               v.type_name(), " ", v.is_number() ? v.dump() : std::string());
}

// A name for error messages: hostile files can have megabyte-long names.
std::string printable(std::string_view name) {
  constexpr size_t kMax = 120;
  return name.size() <= kMax ? std::string(name) : std::string(name.substr(0, kMax)) + "...";
}

TensorInfo parse_entry(const std::string& name, const Json& v, uint64_t data_size,
                       std::string_view source) {
  const std::string where = "tensor '" + printable(name) + "'";
  TESSERA_CHECK(v.is_object(), "safetensors: ", source, ": ", where,
                ": entry must be an object, got ", v.type_name());
  for (const auto& [key, unused] : v.items()) {
    TESSERA_CHECK(key == "dtype" || key == "shape" || key == "data_offsets",
                  "safetensors: ", source, ": ", where, ": unexpected field '", printable(key),
                  "' (expected only dtype, shape, data_offsets)");
  }
  for (const char* field : {"dtype", "shape", "data_offsets"})
    TESSERA_CHECK(v.contains(field), "safetensors: ", source, ": ", where, ": missing field '",
                  field, "'");

  TensorInfo t;
  t.name = name;
  const Json& dtype = v.at("dtype");
  TESSERA_CHECK(dtype.is_string(), "safetensors: ", source, ": ", where,
                ": dtype must be a string, got ", dtype.type_name());
  t.dtype = dtype.get<std::string>();
  const DTypeInfo* info = find_dtype(t.dtype);
  TESSERA_CHECK(info != nullptr, "safetensors: ", source, ": ", where, ": unknown dtype '",
                printable(t.dtype), "'");

  const Json& shape = v.at("shape");
  TESSERA_CHECK(shape.is_array(), "safetensors: ", source, ": ", where,
                ": shape must be an array, got ", shape.type_name());
  for (size_t i = 0; i < shape.size(); ++i) {
    const uint64_t d = json_uint(shape[i], source, where + " shape[" + std::to_string(i) + "]");
    TESSERA_CHECK(d <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                  "safetensors: ", source, ": ", where, ": shape[", i, "] = ", d,
                  " does not fit in int64");
    t.shape.push_back(static_cast<int64_t>(d));
  }
  int64_t numel = 0;
  TESSERA_CHECK(checked_numel(t.shape, &numel), "safetensors: ", source, ": ", where, ": shape ",
                shape_str(t.shape), " has more elements than int64 can count");
  int64_t nbytes = 0;
  TESSERA_CHECK(!__builtin_mul_overflow(numel, info->size, &nbytes), "safetensors: ", source, ": ",
                where, ": shape ", shape_str(t.shape), " of ", t.dtype,
                " has more bytes than int64 can count");

  const Json& offsets = v.at("data_offsets");
  TESSERA_CHECK(offsets.is_array() && offsets.size() == 2, "safetensors: ", source, ": ", where,
                ": data_offsets must be an array of two integers, got ",
                offsets.is_array() ? "an array of " + std::to_string(offsets.size()) + " elements"
                                   : std::string(offsets.type_name()));
  t.begin = json_uint(offsets[0], source, where + " data_offsets[0]");
  t.end = json_uint(offsets[1], source, where + " data_offsets[1]");
  TESSERA_CHECK(t.begin <= t.end, "safetensors: ", source, ": ", where, ": data_offsets [", t.begin,
                ", ", t.end, "] has begin > end");
  TESSERA_CHECK(t.end <= data_size, "safetensors: ", source, ": ", where, ": data_offsets [",
                t.begin, ", ", t.end, "] end beyond the data section (", data_size,
                " bytes; file truncated?)");
  TESSERA_CHECK(t.end - t.begin == static_cast<uint64_t>(nbytes), "safetensors: ", source, ": ",
                where, ": ", t.dtype, " shape ", shape_str(t.shape), " needs ", nbytes,
                " bytes but data_offsets [", t.begin, ", ", t.end, "] hold ", t.end - t.begin);
  return t;
}

}  // namespace

int64_t dtype_size(std::string_view dtype) {
  const DTypeInfo* d = find_dtype(dtype);
  return d ? d->size : 0;
}

int64_t TensorInfo::numel() const {
  int64_t n = 0;
  TESSERA_CHECK(checked_numel(shape, &n), "safetensors: tensor '", name,
                "': shape overflows int64");
  return n;
}

const TensorInfo* Header::find(std::string_view name) const {
  for (const TensorInfo& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

uint64_t read_header_size(std::span<const std::byte> first, uint64_t file_size,
                          std::string_view source) {
  TESSERA_CHECK(file_size >= 8 && first.size() >= 8, "safetensors: ", source, ": file is ",
                file_size,
                " bytes, too short for the 8-byte header size (not a safetensors file?)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(first[static_cast<size_t>(i)]);
  TESSERA_CHECK(n <= kMaxHeaderSize, "safetensors: ", source, ": header size ", n,
                " exceeds the limit of ", kMaxHeaderSize,
                " bytes (corrupt or not a safetensors file)");
  TESSERA_CHECK(n <= file_size - 8, "safetensors: ", source, ": header size ", n,
                " exceeds the file size (", file_size, " bytes; truncated?)");
  return n;
}

Header parse_header(std::span<const std::byte> prefix, uint64_t file_size,
                    std::string_view source) {
  Header h;
  h.header_size = read_header_size(prefix, file_size, source);
  h.data_start = 8 + h.header_size;
  h.data_size = file_size - h.data_start;
  TESSERA_CHECK(prefix.size() >= h.data_start, "safetensors: ", source, ": parse_header needs the ",
                h.data_start, " header bytes, was given ", prefix.size());
  const char* text = reinterpret_cast<const char*>(prefix.data()) + 8;

  // The callback rejects duplicate keys (nlohmann would silently keep one) and nesting deeper than
  // a header can legitimately be (root object > entry object > shape array).
  std::vector<std::set<std::string>> keys;
  Json root;
  try {
    root = Json::parse(
        text, text + h.header_size, [&](int depth, Json::parse_event_t event, Json& parsed) {
          switch (event) {
            case Json::parse_event_t::object_start:
            case Json::parse_event_t::array_start:
              TESSERA_CHECK(depth < 3, "safetensors: ", source,
                            ": header JSON nests deeper than a safetensors header can");
              if (event == Json::parse_event_t::object_start) keys.emplace_back();
              break;
            case Json::parse_event_t::object_end:
              keys.pop_back();
              break;
            case Json::parse_event_t::key: {
              const std::string& k = parsed.get_ref<const std::string&>();
              TESSERA_CHECK(keys.back().insert(k).second, "safetensors: ", source,
                            ": header has duplicate key '", printable(k), "'");
              break;
            }
            default:
              break;
          }
          return true;
        });
  } catch (const Json::exception& e) {
    TESSERA_FAIL("safetensors: ", source, ": header is not valid JSON: ", e.what());
  }
  TESSERA_CHECK(root.is_object(), "safetensors: ", source, ": header must be a JSON object, got ",
                root.type_name());

  for (const auto& [name, value] : root.items()) {
    if (name == kMetadataKey) {
      TESSERA_CHECK(value.is_object(), "safetensors: ", source,
                    ": __metadata__ must be an object of strings, got ", value.type_name());
      for (const auto& [k, v] : value.items()) {
        TESSERA_CHECK(v.is_string(), "safetensors: ", source, ": __metadata__['", printable(k),
                      "'] must be a string, got ", v.type_name());
        h.metadata.emplace(k, v.get<std::string>());
      }
      continue;
    }
    h.tensors.push_back(parse_entry(name, value, h.data_size, source));
  }

  // The byte ranges, sorted, must tile [0, data_size) exactly.
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t covered = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo& t : h.tensors) {
    if (t.begin < covered)
      TESSERA_FAIL("safetensors: ", source, ": tensor '", printable(t.name), "' bytes [", t.begin,
                   ", ", t.end, ") overlap tensor '", printable(prev->name), "' [", prev->begin,
                   ", ", prev->end, ")");
    TESSERA_CHECK(t.begin == covered, "safetensors: ", source, ": gap of ", t.begin - covered,
                  " bytes before tensor '", printable(t.name),
                  "' (data_offsets must be contiguous)");
    covered = t.end;
    prev = &t;
  }
  TESSERA_CHECK(covered == h.data_size, "safetensors: ", source, ": data section has ",
                h.data_size - covered, " bytes after the last tensor (", h.data_size,
                " bytes, tensors cover ", covered, ")");
  return h;
}

Header parse(std::span<const std::byte> file, std::string_view source) {
  return parse_header(file, file.size(), source);
}

Layout plan(const std::vector<TensorDesc>& tensors,
            const std::map<std::string, std::string>& metadata) {
  Layout out;
  std::set<std::string_view> names;
  std::vector<const DTypeInfo*> infos(tensors.size());
  std::vector<int64_t> nbytes(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorDesc& t = tensors[i];
    TESSERA_CHECK(t.name != kMetadataKey, "safetensors: a tensor cannot be named '", kMetadataKey,
                  "'");
    TESSERA_CHECK(names.insert(t.name).second, "safetensors: duplicate tensor name '", t.name, "'");
    infos[i] = find_dtype(t.dtype);
    TESSERA_CHECK(infos[i] != nullptr, "safetensors: tensor '", t.name, "': unknown dtype '",
                  t.dtype, "'");
    for (int64_t d : t.shape)
      TESSERA_CHECK(d >= 0, "safetensors: tensor '", t.name, "': negative dimension in shape ",
                    shape_str(t.shape));
    int64_t numel = 0;
    TESSERA_CHECK(checked_numel(t.shape, &numel) &&
                      !__builtin_mul_overflow(numel, infos[i]->size, &nbytes[i]),
                  "safetensors: tensor '", t.name, "': shape ", shape_str(t.shape),
                  " overflows int64");
  }

  // Reference layout: larger dtypes first (keeps every tensor aligned to its element size, as the
  // data section starts 8-byte aligned), then by name.
  out.order.resize(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) out.order[i] = i;
  std::sort(out.order.begin(), out.order.end(), [&](size_t a, size_t b) {
    if (infos[a]->rank != infos[b]->rank) return infos[a]->rank > infos[b]->rank;
    return tensors[a].name < tensors[b].name;
  });

  OrderedJson header = OrderedJson::object();
  if (!metadata.empty()) {
    OrderedJson meta = OrderedJson::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header[std::string(kMetadataKey)] = std::move(meta);
  }
  out.tensors.resize(tensors.size());
  uint64_t offset = 0;
  for (size_t i : out.order) {
    const TensorDesc& t = tensors[i];
    TensorInfo& info = out.tensors[i];
    info.name = t.name;
    info.dtype = t.dtype;
    info.shape = t.shape;
    info.begin = offset;
    TESSERA_CHECK(!__builtin_add_overflow(offset, static_cast<uint64_t>(nbytes[i]), &offset),
                  "safetensors: total data size overflows");
    info.end = offset;
    header[t.name] = OrderedJson{
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {info.begin, info.end}}};
  }
  out.data_size = offset;

  std::string json;
  try {
    json = header.dump();
  } catch (const OrderedJson::exception& e) {
    TESSERA_FAIL(
        "safetensors: cannot write header (tensor names and metadata must be valid "
        "UTF-8): ",
        e.what());
  }
  json.append((8 - json.size() % 8) % 8, ' ');
  TESSERA_CHECK(json.size() <= kMaxHeaderSize, "safetensors: header would be ", json.size(),
                " bytes, above the ", kMaxHeaderSize, "-byte limit readers enforce");
  out.prefix.resize(8);
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i)
    out.prefix[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  out.prefix += json;
  return out;
}

std::vector<std::byte> serialize(const std::vector<TensorBytes>& tensors,
                                 const std::map<std::string, std::string>& metadata) {
  std::vector<TensorDesc> descs;
  descs.reserve(tensors.size());
  for (const TensorBytes& t : tensors) descs.push_back(t.desc);
  const Layout layout = plan(descs, metadata);
  for (size_t i = 0; i < tensors.size(); ++i)
    TESSERA_CHECK(tensors[i].data.size() == layout.tensors[i].nbytes(), "safetensors: tensor '",
                  tensors[i].desc.name, "': ", tensors[i].desc.dtype, " shape ",
                  shape_str(tensors[i].desc.shape), " needs ", layout.tensors[i].nbytes(),
                  " bytes, got ", tensors[i].data.size());
  std::vector<std::byte> out(layout.prefix.size() + layout.data_size);
  std::memcpy(out.data(), layout.prefix.data(), layout.prefix.size());
  for (size_t i : layout.order) {
    const auto& d = tensors[i].data;
    if (!d.empty())
      std::memcpy(out.data() + layout.prefix.size() + layout.tensors[i].begin, d.data(), d.size());
  }
  return out;
}

}  // namespace tessera::safetensors
