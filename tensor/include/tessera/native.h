// SPDX-License-Identifier: Apache-2.0
/// @brief All non-recording ops of the tensor core (tessera::native::*).
#pragma once

#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>
#include <tessera/native/fused.h>
#include <tessera/native/index.h>
#include <tessera/native/linalg.h>
#include <tessera/native/reduce.h>
#include <tessera/native/shape.h>
