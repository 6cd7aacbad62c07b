// SPDX-License-Identifier: Apache-2.0
/// @brief cudasim's process-wide options, first read from the environment.
#include <cstdlib>
#include <mutex>
#include <string>

#include <tessera/cudasim/core.h>
#include <tessera/error.h>

namespace tessera::cudasim {
namespace {

Options from_environment() {
  Options o;
  if (const char* s = std::getenv("TESSERA_CUDASIM_SCHEDULE"); s != nullptr && *s != '\0') {
    const std::string v = s;
    const auto colon = v.find(':');
    const std::string mode = v.substr(0, colon);
    if (mode == "index") {
      o.schedule = Schedule::kIndex;
    } else if (mode == "reverse") {
      o.schedule = Schedule::kReverse;
    } else if (mode == "random") {
      o.schedule = Schedule::kRandom;
    } else {
      TESSERA_FAIL("TESSERA_CUDASIM_SCHEDULE: expected index, reverse or random[:seed], got '", v,
                   "'");
    }
    if (colon != std::string::npos) {
      char* end = nullptr;
      o.seed = std::strtoull(v.c_str() + colon + 1, &end, 10);
      TESSERA_CHECK(end != nullptr && *end == '\0' && colon + 1 < v.size(),
                    "TESSERA_CUDASIM_SCHEDULE: bad seed in '", v, "'");
    }
  }
  if (const char* s = std::getenv("TESSERA_CUDASIM_THREADS"); s != nullptr && *s != '\0') {
    char* end = nullptr;
    const long n = std::strtol(s, &end, 10);
    TESSERA_CHECK(*end == '\0' && n >= 0 && n <= 1024,
                  "TESSERA_CUDASIM_THREADS: expected a thread count, got '", s, "'");
    o.threads = static_cast<int>(n);
  }
  if (const char* s = std::getenv("TESSERA_CUDASIM_RACECHECK"); s != nullptr && *s != '\0') {
    const std::string v = s;
    TESSERA_CHECK(v == "0" || v == "1", "TESSERA_CUDASIM_RACECHECK: expected 0 or 1, got '", v,
                  "'");
    o.race_check = v == "1";
  }
  return o;
}

struct State {
  std::mutex mutex;
  Options options = from_environment();
};
State& state() {
  static State s;
  return s;
}

}  // namespace

Options options() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.options;
}

void set_options(const Options& o) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.options = o;
}

const char* schedule_name(Schedule s) {
  switch (s) {
    case Schedule::kIndex:
      return "index";
    case Schedule::kReverse:
      return "reverse";
    case Schedule::kRandom:
      return "random";
  }
  return "?";
}

}  // namespace tessera::cudasim
