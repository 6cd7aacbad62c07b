// SPDX-License-Identifier: Apache-2.0
/// @brief Tests of the example programs' flag parser and metrics writer.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "cli.h"
#include "progress.h"

using tessera::examples::Cli;
using tessera::examples::CliError;

namespace {
Cli make() {
  Cli cli("prog", "test");
  cli.add("steps", "10", "number of steps");
  cli.add("lr", "0.001", "learning rate");
  cli.add("data", "", "input");
  cli.add_switch("verbose", "talk");
  return cli;
}
}  // namespace

TEST_CASE("cli parses values, defaults, switches and --name=value", "[examples][cli]") {
  Cli cli = make();
  const char* argv[] = {"prog", "--steps", "25", "--lr=3e-4", "--verbose"};
  REQUIRE(cli.parse(5, argv));
  CHECK(cli.int64("steps") == 25);
  CHECK(cli.real("lr") == Approx(3e-4));
  CHECK(cli.on("verbose"));
  CHECK(cli.str("data").empty());
  CHECK(cli.given("steps"));
  CHECK_FALSE(cli.given("data"));
}

TEST_CASE("cli rejects bad input with one-line messages", "[examples][cli]") {
  {
    Cli cli = make();
    const char* argv[] = {"prog", "--stepz", "3"};
    REQUIRE_THROWS_WITH(cli.parse(3, argv), Catch::Contains("unknown flag --stepz"));
  }
  {
    Cli cli = make();
    const char* argv[] = {"prog", "--steps"};
    REQUIRE_THROWS_WITH(cli.parse(2, argv), Catch::Contains("--steps needs a value"));
  }
  {
    Cli cli = make();
    const char* argv[] = {"prog", "--steps", "ten"};
    REQUIRE(cli.parse(3, argv));
    REQUIRE_THROWS_WITH(cli.int64("steps"), Catch::Contains("expects an integer"));
  }
  {
    Cli cli = make();
    const char* argv[] = {"prog", "--lr", "nan"};
    REQUIRE(cli.parse(3, argv));
    REQUIRE_THROWS_AS(cli.real("lr"), CliError);
  }
  {
    Cli cli = make();
    const char* argv[] = {"prog", "--help"};
    REQUIRE_FALSE(cli.parse(2, argv));
    CHECK_THAT(cli.usage(), Catch::Contains("--steps VALUE") && Catch::Contains("(default 10)"));
  }
}

TEST_CASE("metrics writer drops records after the resume step", "[examples][metrics]") {
  const auto path = std::filesystem::temp_directory_path() / "tessera_test_metrics.jsonl";
  std::filesystem::remove(path);
  {
    tessera::examples::MetricsWriter w(path.string(), -1);
    for (int s = 1; s <= 5; ++s) w.write({{"step", s}, {"train_loss", 1.0 / s}});
  }
  {
    tessera::examples::MetricsWriter w(path.string(), 3);  // resumed from step 3
    w.write({{"step", 4}, {"train_loss", 0.5}});
  }
  std::ifstream in(path);
  std::vector<int64_t> steps;
  for (std::string line; std::getline(in, line);)
    steps.push_back(nlohmann::json::parse(line)["step"]);
  CHECK(steps == std::vector<int64_t>{1, 2, 3, 4});
  std::filesystem::remove(path);
}

TEST_CASE("durations format compactly", "[examples][metrics]") {
  CHECK(tessera::examples::format_duration(42) == "42s");
  CHECK(tessera::examples::format_duration(185) == "3m05s");
  CHECK(tessera::examples::format_duration(3720) == "1h02m");
  CHECK(tessera::examples::format_duration(-1) == "?");
}
