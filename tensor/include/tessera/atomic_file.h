// SPDX-License-Identifier: Apache-2.0
/// @brief Atomic file replacement: readers see the old file or the complete new one, never a mix.
///
/// Protocol: create a uniquely named temporary file in the target's directory (same filesystem, so
/// rename is atomic), write everything, fsync it, rename it over the target, then fsync the
/// directory so the rename itself survives a crash. On any failure the temporary file is removed
/// and tessera::Error names the path and the system's reason (errno text). Used by tessera::save
/// and by checkpoints. The new file gets mode 0666 & ~umask, as a plain open() would give it.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace tessera {

/// Streams a file's new content, then commits it atomically. Destroying a writer that was not
/// committed (an exception on the way) removes the temporary file and leaves the target untouched.
class AtomicFileWriter {
 public:
  /// Creates the temporary file next to `path`. Throws if the directory is not writable.
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  /// Appends bytes (retries short writes and EINTR).
  void write(std::span<const std::byte> bytes);
  void write(std::string_view bytes);
  /// fsync, rename over the target, fsync the directory. Call once; the writer is then finished.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  /// Bytes written so far.
  size_t size() const { return size_; }

 private:
  void abandon() noexcept;  // close and unlink the temporary file

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  size_t size_ = 0;
  bool done_ = false;
};

/// Writes `bytes` to `path` atomically (AtomicFileWriter in one call).
void write_file_atomic(const std::string& path, std::span<const std::byte> bytes);
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace tessera
