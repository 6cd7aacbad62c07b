// SPDX-License-Identifier: Apache-2.0
/// @brief libFuzzer target for the safetensors parser: any input either parses into a consistent
/// header or throws tessera::Error; whatever parses re-serializes to a file that parses to the same
/// tensors, metadata and bytes. Any other outcome (crash, sanitizer report, other exception, broken
/// invariant) is a finding. Built by scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined)
/// and replayed by tests/fuzz/test_fuzz_replay.cpp in the normal build.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include <tessera/error.h>
#include <tessera/safetensors.h>

namespace st = tessera::safetensors;

namespace {

void require(bool cond) {
  if (!cond) __builtin_trap();  // an invariant failure: let the fuzzer report it
}

void check_header(const st::Header& h, uint64_t file_size) {
  require(h.data_start == 8 + h.header_size);
  require(h.data_start + h.data_size == file_size);
  uint64_t covered = 0;
  for (const st::TensorInfo& t : h.tensors) {
    require(t.begin == covered && t.end >= t.begin);
    const int64_t size = st::dtype_size(t.dtype);
    require(size > 0);
    require(t.nbytes() == static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(size));
    for (int64_t d : t.shape) require(d >= 0);
    covered = t.end;
  }
  require(covered == h.data_size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  st::Header h;
  try {
    h = st::parse(file, "fuzz-input");
  } catch (const tessera::Error&) {
    return 0;  // rejected cleanly
  }
  check_header(h, size);

  // Round trip: serialize what was parsed, parse it again, compare.
  std::vector<st::TensorBytes> tensors;
  for (const st::TensorInfo& t : h.tensors)
    tensors.push_back(
        {{t.name, t.dtype, t.shape}, file.subspan(h.data_start + t.begin, t.nbytes())});
  std::vector<std::byte> again;
  try {
    again = st::serialize(tensors, h.metadata);
  } catch (const tessera::Error&) {
    // The only inputs the reader accepts and the writer refuses: none are known; a refusal here
    // means reader and writer disagree on validity.
    __builtin_trap();
  }
  const st::Header h2 = st::parse(again, "fuzz-roundtrip");
  check_header(h2, again.size());
  require(h2.metadata == h.metadata);
  require(h2.tensors.size() == h.tensors.size());
  for (const st::TensorInfo& t : h.tensors) {
    const st::TensorInfo* u = h2.find(t.name);
    require(u != nullptr);
    require(u->dtype == t.dtype && u->shape == t.shape && u->nbytes() == t.nbytes());
    if (t.nbytes() > 0)
      require(std::memcmp(again.data() + h2.data_start + u->begin, data + h.data_start + t.begin,
                          t.nbytes()) == 0);
  }
  return 0;
}
