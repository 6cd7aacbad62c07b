// SPDX-License-Identifier: Apache-2.0
/// @brief Flag parsing for the example programs.
#include "cli.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace tessera::examples {

Cli::Cli(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void Cli::add(const std::string& name, const std::string& default_value, const std::string& help) {
  flags_[name] = Flag{default_value, help, false, false};
  order_.push_back(name);
}

void Cli::add_switch(const std::string& name, const std::string& help) {
  flags_[name] = Flag{"0", help, true, false};
  order_.push_back(name);
}

bool Cli::parse(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return false;
    if (arg.rfind("--", 0) != 0)
      throw CliError("unexpected argument '" + arg + "' (flags start with --)");
    std::string name = arg.substr(2), value;
    const auto eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) throw CliError("unknown flag --" + name + " (see --help)");
    if (it->second.is_switch) {
      if (inline_value) throw CliError("--" + name + " takes no value");
      it->second.value = "1";
    } else {
      if (!inline_value) {
        if (i + 1 >= argc) throw CliError("--" + name + " needs a value");
        value = argv[++i];
      }
      it->second.value = value;
    }
    it->second.given = true;
  }
  return true;
}

const Cli::Flag& Cli::flag(const std::string& name) const {
  auto it = flags_.find(name);
  if (it == flags_.end()) throw CliError("internal: flag --" + name + " was not declared");
  return it->second;
}

std::string Cli::str(const std::string& name) const { return flag(name).value; }

int64_t Cli::int64(const std::string& name) const {
  const std::string& v = flag(name).value;
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size())
    throw CliError("--" + name + " expects an integer, got '" + v + "'");
  return out;
}

double Cli::real(const std::string& name) const {
  const std::string& v = flag(name).value;
  double out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || !std::isfinite(out))
    throw CliError("--" + name + " expects a number, got '" + v + "'");
  return out;
}

bool Cli::on(const std::string& name) const { return flag(name).value == "1"; }
bool Cli::given(const std::string& name) const { return flag(name).given; }

std::string Cli::usage() const {
  std::ostringstream os;
  os << "usage: " << program_ << " [flags]\n" << summary_ << "\n\nflags:\n";
  for (const auto& name : order_) {
    const Flag& f = flags_.at(name);
    std::string left = "  --" + name + (f.is_switch ? "" : " VALUE");
    os << left << std::string(left.size() < 28 ? 28 - left.size() : 1, ' ') << f.help;
    if (!f.is_switch && !f.value.empty()) os << " (default " << f.value << ")";
    os << "\n";
  }
  return os.str();
}

}  // namespace tessera::examples
