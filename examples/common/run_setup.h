// SPDX-License-Identifier: Apache-2.0
/// @brief How the example trainers turn a command line into settings: --help, --resume's saved
/// config.json, and one-line errors with exit code 2 for every kind of bad input.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli.h"

namespace tessera::examples {

/// Throws CliError(msg) unless `ok`: the one-line message the trainers print for bad input.
void require(bool ok, const std::string& msg);

/// The config.json saved in the run folder `dir` (what --resume continues); a CliError naming the
/// folder when it is missing or not a JSON object.
nlohmann::json load_run_config(const std::string& dir);

/// Parses argv with `cli`, then calls `configure` (read the settings, merge a resumed run's
/// config, validate). Returns -1 when the program should go on; otherwise its exit code: 0 after
/// --help (the usage is printed), 2 after "PROG: error: MESSAGE" on stderr for a bad flag, value
/// or saved config (CliError, tessera::Error or any other std::exception from `configure`).
int parse_command_line(const char* prog, Cli& cli, int argc, char** argv,
                       const std::function<void()>& configure);

}  // namespace tessera::examples
