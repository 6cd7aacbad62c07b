// SPDX-License-Identifier: Apache-2.0
/// @brief AtomicFileWriter: content lands whole, failures throw and leave no temporary file, an
/// existing file is replaced whole (or left untouched when the write fails).
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <tessera/atomic_file.h>
#include <tessera/error.h>

namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed on scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "tessera_atomic_XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
  size_t entries() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(path), {}));
  }
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("atomic_file: content lands and no temporary file remains", "[tensor][atomic_file]") {
  TempDir dir;
  const fs::path target = dir.path / "out.bin";
  std::string content(100000, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 + 3);
  tessera::write_file_atomic(target.string(), content);
  CHECK(read_all(target) == content);
  CHECK(dir.entries() == 1);

  // Empty content is a valid file.
  tessera::write_file_atomic((dir.path / "empty").string(), std::string_view{});
  CHECK(fs::file_size(dir.path / "empty") == 0);

  // Streaming in pieces; the temporary lives next to the target until commit.
  {
    tessera::AtomicFileWriter w((dir.path / "pieces").string());
    CHECK(fs::path(w.temp_path()).parent_path() == dir.path);
    CHECK(fs::exists(w.temp_path()));
    CHECK(!fs::exists(dir.path / "pieces"));
    w.write("abc");
    w.write(std::string(5000, 'x'));
    CHECK(w.size() == 5003);
    w.commit();
    CHECK(!fs::exists(w.temp_path()));
    CHECK_THROWS_AS(w.write("late"), tessera::Error);
  }
  CHECK(read_all(dir.path / "pieces") == "abc" + std::string(5000, 'x'));
  CHECK(dir.entries() == 3);
}

TEST_CASE("atomic_file: an existing file is replaced whole", "[tensor][atomic_file]") {
  TempDir dir;
  const fs::path target = dir.path / "model.safetensors";
  tessera::write_file_atomic(target.string(), std::string(50000, 'o'));
  // A reader holding the old file keeps seeing the old content (rename, not truncate-in-place).
  std::ifstream old_reader(target, std::ios::binary);
  tessera::write_file_atomic(target.string(), std::string("new"));
  CHECK(read_all(target) == "new");
  const std::string seen_by_old(std::istreambuf_iterator<char>(old_reader), {});
  CHECK(seen_by_old == std::string(50000, 'o'));
  CHECK(dir.entries() == 1);
}

TEST_CASE("atomic_file: an abandoned writer leaves the target untouched", "[tensor][atomic_file]") {
  TempDir dir;
  const fs::path target = dir.path / "ckpt";
  tessera::write_file_atomic(target.string(), std::string("v1"));
  std::string temp;
  {
    tessera::AtomicFileWriter w(target.string());
    temp = w.temp_path();
    w.write("half-written v2");
    // no commit: e.g. an exception while serializing
  }
  CHECK(!fs::exists(temp));
  CHECK(read_all(target) == "v1");
  CHECK(dir.entries() == 1);
}

TEST_CASE("atomic_file: failures throw, name the path and leave no temporary file",
          "[tensor][atomic_file]") {
  TempDir dir;
  SECTION("missing directory") {
    const std::string bad = (dir.path / "no" / "such" / "dir" / "f.bin").string();
    try {
      tessera::write_file_atomic(bad, std::string("x"));
      FAIL("expected an error");
    } catch (const tessera::Error& e) {
      CHECK(e.message().find(bad) != std::string::npos);
      CHECK(e.message().find("No such file or directory") != std::string::npos);
    }
  }
  SECTION("not a file name") {
    CHECK_THROWS_WITH(tessera::write_file_atomic((dir.path / "").string() + "/", std::string("x")),
                      Catch::Contains("does not name a file"));
  }
  SECTION("unwritable directory (skipped as root, who may write anywhere)") {
    if (::geteuid() != 0) {
      fs::create_directory(dir.path / "ro");
      fs::permissions(dir.path / "ro", fs::perms::owner_read | fs::perms::owner_exec);
      CHECK_THROWS_WITH(
          tessera::write_file_atomic((dir.path / "ro" / "f").string(), std::string("x")),
          Catch::Contains("Permission denied"));
      CHECK(fs::is_empty(dir.path / "ro"));
    }
  }
  SECTION("write error midway (file size limit): target untouched, temporary removed") {
    const fs::path target = dir.path / "big.bin";
    tessera::write_file_atomic(target.string(), std::string("old"));
    // RLIMIT_FSIZE makes write() fail with EFBIG once the temp file reaches 4 KiB (SIGXFSZ
    // ignored).
    struct rlimit saved {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = saved;
    lim.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
    std::string message;
    try {
      tessera::write_file_atomic(target.string(), std::string(100000, 'n'));
    } catch (const tessera::Error& e) {
      message = e.message();
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
    INFO(message);
    CHECK(message.find(target.string()) != std::string::npos);
    CHECK(message.find("File too large") != std::string::npos);
    CHECK(read_all(target) == "old");
    CHECK(dir.entries() == 1);
  }
  SECTION("target is a directory: rename fails, temporary removed") {
    fs::create_directory(dir.path / "adir");
    fs::create_directory(dir.path / "adir" / "inner");  // non-empty: rename(file, dir) fails
    CHECK_THROWS_WITH(tessera::write_file_atomic((dir.path / "adir").string(), std::string("x")),
                      Catch::Contains("renaming"));
    CHECK(dir.entries() == 1);
  }
}
