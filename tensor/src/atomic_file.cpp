// SPDX-License-Identifier: Apache-2.0
/// @brief AtomicFileWriter: temp file + fsync + rename + directory fsync (POSIX).
#include <tessera/atomic_file.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <system_error>
#include <utility>

#include <tessera/error.h>

namespace tessera {
namespace {

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// "dir/name" -> ("dir", "name"); "name" -> (".", "name"); "/name" -> ("/", "name").
std::pair<std::string, std::string> split_path(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

int close_retry(int fd) {
  // Linux closes the descriptor even when close() reports EINTR: never retry it.
  return ::close(fd);
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  const auto [dir, name] = split_path(path_);
  TESSERA_CHECK(!name.empty() && name != "." && name != "..", "atomic write: '", path_,
                "' does not name a file");
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".tmp.%d.%08x", static_cast<int>(::getpid()), rd());
    std::string candidate = (dir == "/" ? "" : dir) + "/." + name + suffix;
    // 0666: the umask applies, as for any new file. O_EXCL: never reuse someone else's file.
    const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      fd_ = fd;
      temp_path_ = std::move(candidate);
      return;
    }
    if (errno != EEXIST && errno != EINTR) {
      const int err = errno;
      TESSERA_FAIL("atomic write: cannot create a temporary file in '", dir, "' for '", path_,
                   "': ", errno_text(err));
    }
  }
  TESSERA_FAIL("atomic write: could not find a free temporary name for '", path_, "'");
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!done_) abandon();
}

void AtomicFileWriter::abandon() noexcept {
  if (fd_ >= 0) {
    close_retry(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  done_ = true;
}

void AtomicFileWriter::write(std::span<const std::byte> bytes) {
  TESSERA_CHECK(!done_, "atomic write: '", path_, "' was already committed or abandoned");
  const std::byte* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      abandon();
      TESSERA_FAIL("atomic write: writing '", path_, "' failed after ", size_,
                   " bytes: ", errno_text(err));
    }
    p += n;
    left -= static_cast<size_t>(n);
    size_ += static_cast<size_t>(n);
  }
}

void AtomicFileWriter::write(std::string_view bytes) {
  write(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
}

void AtomicFileWriter::commit() {
  TESSERA_CHECK(!done_, "atomic write: '", path_, "' was already committed or abandoned");
  auto fail = [&](const char* step) {
    const int err = errno;
    abandon();
    TESSERA_FAIL("atomic write: ", step, " '", path_, "' failed: ", errno_text(err));
  };
  if (::fsync(fd_) != 0) fail("fsync of the temporary file for");
  const int fd = fd_;
  fd_ = -1;
  if (close_retry(fd) != 0) fail("closing the temporary file for");
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("renaming the temporary file onto");
  done_ = true;  // the target now holds the new content; the temporary name is gone

  // Persist the rename. Some filesystems cannot fsync a directory (EINVAL): nothing more to do
  // there.
  const std::string dir = split_path(path_).first;
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    const int err = errno;
    TESSERA_FAIL("atomic write: '", path_, "' was written but its directory '", dir,
                 "' could not be opened to make the rename durable: ", errno_text(err));
  }
  const int rc = ::fsync(dfd);
  const int err = errno;
  close_retry(dfd);
  TESSERA_CHECK(rc == 0 || err == EINVAL || err == ENOTSUP, "atomic write: '", path_,
                "' was written but fsync of its directory '", dir, "' failed: ", errno_text(err));
}

void write_file_atomic(const std::string& path, std::span<const std::byte> bytes) {
  AtomicFileWriter w(path);
  w.write(bytes);
  w.commit();
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFileWriter w(path);
  w.write(bytes);
  w.commit();
}

}  // namespace tessera
