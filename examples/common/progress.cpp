// SPDX-License-Identifier: Apache-2.0
/// @brief Progress line and JSON Lines metrics.
#include "progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <vector>

#include <tessera/error.h>

namespace tessera::examples {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(t / 3600),
                  (long long)(t % 3600 / 60));
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(t / 60), (long long)(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", (long long)t);
  return buf;
}

Progress::Progress(int64_t total_steps, int64_t first_step)
    : total_(total_steps), first_(first_step), tty_(isatty(STDOUT_FILENO) != 0) {
  start_ = last_ = Clock::now();
}

void Progress::step(int64_t step, double loss, double lr, int64_t tokens) {
  const auto now = Clock::now();
  const double dt = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  const double rate = dt > 0 ? static_cast<double>(tokens) / dt : 0;
  tokens_per_s_ = tokens_per_s_ == 0 ? rate : 0.9 * tokens_per_s_ + 0.1 * rate;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int64_t done = step - first_;
  const double eta =
      done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - step) : NAN;
  char buf[256];
  std::snprintf(buf, sizeof buf, "step %6lld/%lld | loss %.4f | lr %.2e | %8.0f tok/s | ETA %s",
                (long long)step, (long long)total_, loss, lr, tokens_per_s_,
                format_duration(eta).c_str());
  if (tty_) {
    std::printf("\r%s\033[K", buf);
    live_line_open_ = true;
  } else {
    std::printf("%s\n", buf);
  }
  std::fflush(stdout);
}

void Progress::note(const std::string& line) {
  if (live_line_open_) std::printf("\r\033[K");
  std::printf("%s\n", line.c_str());
  live_line_open_ = false;
  std::fflush(stdout);
}

void Progress::finish() {
  if (live_line_open_) std::printf("\n");
  live_line_open_ = false;
  std::fflush(stdout);
}

MetricsWriter::MetricsWriter(const std::string& path, int64_t resume_step) {
  if (resume_step >= 0 && std::filesystem::exists(path)) {
    // Keep the records up to the checkpoint's step: the resumed run rewrites the rest.
    std::ifstream in(path);
    std::vector<std::string> keep;
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("step") || !j["step"].is_number_integer()) continue;
      if (j["step"].get<int64_t>() <= resume_step) keep.push_back(line);
    }
    std::ofstream rewrite(path, std::ios::trunc);
    for (const auto& l : keep) rewrite << l << "\n";
  }
  out_.open(path, std::ios::app);
  TESSERA_CHECK(out_.good(), "metrics: cannot open ", path, " for writing");
}

void MetricsWriter::write(const nlohmann::json& record) {
  if (!out_.is_open()) return;
  out_ << record.dump() << "\n";
  out_.flush();
}

}  // namespace tessera::examples
