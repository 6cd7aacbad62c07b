// SPDX-License-Identifier: Apache-2.0
/// @brief Training progress for the example programs: a live status line in a terminal, plain
/// lines otherwise, and metrics as JSON Lines for plotting.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace tessera::examples {

/// Prints `step/total loss tokens/s ETA`. In a terminal the line is redrawn in place ("\r");
/// when stdout is a file or pipe, one line per call.
class Progress {
 public:
  explicit Progress(int64_t total_steps, int64_t first_step = 0);
  /// Reports a finished step: `tokens` processed by it, its loss and learning rate.
  void step(int64_t step, double loss, double lr, int64_t tokens);
  /// Prints a line that must stay (an eval result), without clobbering the live line.
  void note(const std::string& line);
  /// Tokens per second over the recent steps (exponential average).
  double tokens_per_second() const { return tokens_per_s_; }
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_, first_;
  bool tty_;
  bool live_line_open_ = false;
  Clock::time_point start_, last_;
  double tokens_per_s_ = 0;
};

/// One JSON object per line, flushed as written. On resume, lines for steps after the checkpoint
/// are dropped first so the file reads as one uninterrupted run.
class MetricsWriter {
 public:
  MetricsWriter() = default;
  /// Opens `path` for appending; with `resume_step` >= 0 keeps only lines whose "step" <= it.
  MetricsWriter(const std::string& path, int64_t resume_step);
  void write(const nlohmann::json& record);

 private:
  std::ofstream out_;
};

/// Formats seconds as "1h02m", "3m05s" or "42s".
std::string format_duration(double seconds);

}  // namespace tessera::examples
