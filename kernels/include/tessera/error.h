// SPDX-License-Identifier: Apache-2.0
/// @brief tessera::Error and the TESSERA_CHECK / TESSERA_ASSERT macros every library uses.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace tessera {

/// The one exception type tessera throws. what() names the file:line of the check and carries a
/// message written for the user ("matmul: expected ... but got ..."), in PyTorch's TORCH_CHECK
/// style.
class Error : public std::runtime_error {
 public:
  Error(const char* file, int line, const std::string& msg)
      : std::runtime_error(msg + " (" + file + ":" + std::to_string(line) + ")"), message_(msg) {}
  /// The message alone, without the source location.
  const std::string& message() const noexcept { return message_; }

 private:
  std::string message_;
};

namespace detail {
inline void stream_all(std::ostringstream&) {}
template <typename T, typename... Rest>
void stream_all(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  stream_all(os, rest...);
}
template <typename... Args>
[[noreturn]] void throw_error(const char* file, int line, const Args&... args) {
  std::ostringstream os;
  stream_all(os, args...);
  throw Error(file, line, os.str());
}
}  // namespace detail
}  // namespace tessera

/// Throws tessera::Error with the streamed message when cond is false. For user-facing checks.
#define TESSERA_CHECK(cond, ...)                                       \
  do {                                                                 \
    if (!(cond)) [[unlikely]]                                          \
      ::tessera::detail::throw_error(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

/// Always throws: for a branch that rejects input.
#define TESSERA_FAIL(...) ::tessera::detail::throw_error(__FILE__, __LINE__, __VA_ARGS__)

/// Internal invariant: a failure is a tessera bug, not a user error.
#define TESSERA_ASSERT(cond)                                                           \
  do {                                                                                 \
    if (!(cond)) [[unlikely]]                                                          \
      ::tessera::detail::throw_error(__FILE__, __LINE__,                               \
                                     "internal error: assertion `" #cond               \
                                     "` failed; please report this as a tessera bug"); \
  } while (0)
