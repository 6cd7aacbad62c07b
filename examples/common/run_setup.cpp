// SPDX-License-Identifier: Apache-2.0
#include "run_setup.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include <tessera/error.h>

namespace tessera::examples {

void require(bool ok, const std::string& msg) {
  if (!ok) throw CliError(msg);
}

nlohmann::json load_run_config(const std::string& dir) {
  std::ifstream in(dir + "/config.json");
  require(in.good(), "--resume: no run found in " + dir + " (missing config.json)");
  nlohmann::json saved = nlohmann::json::parse(in, nullptr, false);
  require(!saved.is_discarded() && saved.is_object(),
          "--resume: " + dir + "/config.json is not valid JSON");
  return saved;
}

int parse_command_line(const char* prog, Cli& cli, int argc, char** argv,
                       const std::function<void()>& configure) {
  try {
    if (!cli.parse(argc, argv)) {
      std::cout << cli.usage();
      return 0;
    }
    configure();
    return -1;
  } catch (const CliError& e) {
    std::fprintf(stderr, "%s: error: %s\n", prog, e.what());
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", prog, e.message().c_str());
  } catch (const std::exception& e) {  // malformed config.json values
    std::fprintf(stderr, "%s: error: %s\n", prog, e.what());
  }
  return 2;
}

}  // namespace tessera::examples
