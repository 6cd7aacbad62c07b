// SPDX-License-Identifier: Apache-2.0
/// @brief placeholder
#include <catch2/catch.hpp>
