// SPDX-License-Identifier: Apache-2.0
/// @brief libFuzzer target for tessera::load / tessera::save: any input file either loads or throws
/// tessera::Error; what loads holds exactly the bytes the raw parser locates, and saving it then
/// loading again gives the same tensors and metadata. Built by `scripts/fuzz.sh <seconds> load`
/// (compiles the tensor core with clang) and replayed by test_fuzz_load_replay in the normal build.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include <tessera/error.h>
#include <tessera/io.h>
#include <tessera/safetensors.h>

namespace {

void require(bool cond) {
  if (!cond) __builtin_trap();
}

// The input goes to an in-memory file (no disk I/O per run); save() needs a real directory, which
// is a private one on tmpfs when there is one.
struct Scratch {
  int fd = -1;
  std::string input_path;
  std::string dir;
  Scratch() {
    fd = ::memfd_create("fuzz_load_input", MFD_CLOEXEC);
    require(fd >= 0);
    input_path = "/proc/self/fd/" + std::to_string(fd);
    std::string templ = (::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") +
                        std::string("/tessera_fuzz_XXXXXX");
    require(::mkdtemp(templ.data()) != nullptr);
    dir = templ;
  }
};

bool same_bytes(const tessera::Tensor& a, const tessera::Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 ||
          std::memcmp(a.data_ptr(), b.data_ptr(), static_cast<size_t>(a.nbytes())) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Scratch scratch;
  require(::ftruncate(scratch.fd, 0) == 0);
  require(::pwrite(scratch.fd, data, size, 0) == static_cast<ssize_t>(size));

  tessera::TensorDict loaded;
  tessera::Metadata meta;
  try {
    loaded = tessera::load(scratch.input_path, tessera::kCPU, &meta);
  } catch (const tessera::Error&) {
    return 0;
  }
  // What loaded is what the raw layer locates in the input.
  const auto header = tessera::safetensors::parse(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz-input");
  require(loaded.size() == header.tensors.size());
  require(meta == header.metadata);
  for (const auto& info : header.tensors) {
    const auto it = loaded.find(info.name);
    require(it != loaded.end());
    const tessera::Tensor& t = it->second;
    require(t.shape() == info.shape);
    require(static_cast<uint64_t>(t.nbytes()) == info.nbytes());
    if (info.nbytes() > 0)
      require(std::memcmp(t.data_ptr(), data + header.data_start + info.begin, info.nbytes()) == 0);
  }

  // Save and load again: same tensors, same metadata.
  const std::string out = scratch.dir + "/out.safetensors";
  tessera::save(out, loaded, meta);
  tessera::Metadata meta2;
  const tessera::TensorDict again = tessera::load(out, tessera::kCPU, &meta2);
  require(meta2 == meta);
  require(again.size() == loaded.size());
  for (const auto& [name, t] : loaded) {
    const auto it = again.find(name);
    require(it != again.end() && same_bytes(it->second, t));
  }
  return 0;
}
