// SPDX-License-Identifier: Apache-2.0
/// @brief A small command-line flag parser for the example programs: `--name value` and `--flag`.
///
/// Every flag is declared with its default and help text before parse(); unknown flags, missing
/// values and values that do not parse are a CliError with a one-line message (the programs print
/// it and exit with code 2).
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace tessera::examples {

class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Cli {
 public:
  Cli(std::string program, std::string summary);

  /// Declares a flag taking a value (`--name VALUE`).
  void add(const std::string& name, const std::string& default_value, const std::string& help);
  /// Declares a boolean switch (`--name`).
  void add_switch(const std::string& name, const std::string& help);

  /// Parses argv; returns false when --help was given (usage() then says what to print).
  bool parse(int argc, const char* const* argv);

  std::string str(const std::string& name) const;
  int64_t int64(const std::string& name) const;
  double real(const std::string& name) const;
  bool on(const std::string& name) const;
  /// True when the user gave the flag (as opposed to its default).
  bool given(const std::string& name) const;
  std::string usage() const;

 private:
  struct Flag {
    std::string value;
    std::string help;
    bool is_switch = false;
    bool given = false;
  };
  const Flag& flag(const std::string& name) const;
  std::string program_, summary_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
};

}  // namespace tessera::examples
