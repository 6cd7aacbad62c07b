// SPDX-License-Identifier: Apache-2.0
/// @brief tessera::save / tessera::load: named tensors <-> safetensors files.
///
/// save: plans the layout (tessera/safetensors.h), then streams the header and each tensor's bytes
/// (made contiguous on the CPU one at a time, so peak extra memory is one tensor) through an
/// AtomicFileWriter. load: reads the 8-byte size and the header, validates all of it (including
/// that every dtype is one tessera has) before allocating, then preads each tensor straight into
/// its storage; BOOL bytes are checked to be 0 or 1, since any other byte is not a valid C++ bool.
/// Memory: load allocates at most the file's data size, as every range was checked against it.
#include <tessera/io.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include <tessera/atomic_file.h>
#include <tessera/creation.h>
#include <tessera/native/convert.h>
#include <tessera/safetensors.h>

namespace tessera {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host needs byte swapping here");

std::string_view safetensors_dtype(DType t) {
  switch (t) {
    case DType::Bool:
      return "BOOL";
    case DType::Int32:
      return "I32";
    case DType::Int64:
      return "I64";
    case DType::BFloat16:
      return "BF16";
    case DType::Float16:
      return "F16";
    case DType::Float32:
      return "F32";
    case DType::Float64:
      return "F64";
  }
  TESSERA_FAIL("save: invalid dtype ", static_cast<int>(t));
}

bool tessera_dtype(std::string_view s, DType* out) {
  for (DType t : {kBool, kInt32, kInt64, kBFloat16, kFloat16, kFloat32, kFloat64}) {
    if (safetensors_dtype(t) == s) {
      *out = t;
      return true;
    }
  }
  return false;
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// Closes the descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly n bytes at `offset`; throws on error or end of file.
void pread_all(int fd, void* dst, uint64_t n, uint64_t offset, const std::string& path) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, uint64_t{1} << 30));
    const ssize_t got = ::pread(fd, p, chunk, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      TESSERA_FAIL("load: '", path, "': read failed at byte ", offset, ": ", errno_text(err));
    }
    TESSERA_CHECK(got > 0, "load: '", path, "': unexpected end of file at byte ", offset,
                  " (the file changed while being read?)");
    p += got;
    n -= static_cast<uint64_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

}  // namespace

void save(const std::string& path, const TensorDict& tensors, const Metadata& metadata) {
  std::vector<safetensors::TensorDesc> descs;
  std::vector<const Tensor*> order;
  descs.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    TESSERA_CHECK(t.defined(), "save: '", path, "': tensor '", name, "' is undefined");
    descs.push_back({name, std::string(safetensors_dtype(t.dtype())), t.shape()});
    order.push_back(&t);
  }
  safetensors::Layout layout;
  try {
    layout = safetensors::plan(descs, metadata);
  } catch (const Error& e) {
    TESSERA_FAIL("save: '", path, "': ", e.message());
  }

  AtomicFileWriter out(path);
  out.write(layout.prefix);
  for (size_t i : layout.order) {
    const Tensor& t = *order[i];
    if (t.numel() == 0) continue;
    const Tensor cpu = native::contiguous(native::to(t, kCPU));
    const auto nbytes = static_cast<size_t>(cpu.nbytes());
    TESSERA_ASSERT(nbytes == layout.tensors[i].nbytes());
    out.write(std::span<const std::byte>(static_cast<const std::byte*>(cpu.data_ptr()), nbytes));
  }
  TESSERA_ASSERT(out.size() == layout.prefix.size() + layout.data_size);
  out.commit();
}

TensorDict load(const std::string& path, Device device, Metadata* metadata) {
  Fd file;
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd < 0) {
    const int err = errno;
    TESSERA_FAIL("load: cannot open '", path, "': ", errno_text(err));
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) {
    const int err = errno;
    TESSERA_FAIL("load: cannot stat '", path, "': ", errno_text(err));
  }
  TESSERA_CHECK(S_ISREG(st.st_mode), "load: '", path, "' is not a regular file");
  const auto file_size = static_cast<uint64_t>(st.st_size);

  // Header: the size field, then exactly that many bytes (bounded by the file size and 100 MiB).
  std::vector<std::byte> prefix(8);
  const uint64_t first = std::min<uint64_t>(8, file_size);
  pread_all(file.fd, prefix.data(), first, 0, path);
  prefix.resize(static_cast<size_t>(first));
  const uint64_t n = safetensors::read_header_size(prefix, file_size, path);
  prefix.resize(static_cast<size_t>(8 + n));
  pread_all(file.fd, prefix.data() + 8, n, 8, path);
  const safetensors::Header header = safetensors::parse_header(prefix, file_size, path);

  std::vector<DType> dtypes(header.tensors.size());
  for (size_t i = 0; i < header.tensors.size(); ++i) {
    const auto& info = header.tensors[i];
    TESSERA_CHECK(
        tessera_dtype(info.dtype, &dtypes[i]), "load: '", path, "': tensor '", info.name,
        "' has dtype ", info.dtype,
        ", which tessera does not support (supported: F32, F64, BF16, F16, I32, I64, BOOL)");
  }

  TensorDict result;
  for (size_t i = 0; i < header.tensors.size(); ++i) {
    const auto& info = header.tensors[i];
    Tensor t = empty(info.shape, {.dtype = dtypes[i], .device = kCPU});
    TESSERA_ASSERT(static_cast<uint64_t>(t.nbytes()) == info.nbytes());
    if (info.nbytes() > 0)
      pread_all(file.fd, t.data_ptr(), info.nbytes(), header.data_start + info.begin, path);
    if (dtypes[i] == kBool) {
      // Only 0 and 1 are valid bools; anything else read through a bool is undefined behaviour.
      const auto* bytes = static_cast<const uint8_t*>(t.data_ptr());
      for (uint64_t k = 0; k < info.nbytes(); ++k)
        TESSERA_CHECK(bytes[k] <= 1, "load: '", path, "': tensor '", info.name,
                      "' (BOOL) holds byte ", static_cast<int>(bytes[k]), " at element ", k,
                      "; expected 0 or 1");
    }
    if (!device.is_cpu()) t = native::to(t, device);
    result.emplace(info.name, std::move(t));
  }
  if (metadata) *metadata = header.metadata;
  return result;
}

}  // namespace tessera
