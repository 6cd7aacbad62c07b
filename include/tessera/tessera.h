// SPDX-License-Identifier: Apache-2.0
/// @brief The umbrella header: everything a research program needs from tessera.
#pragma once

#include <tessera/creation.h>
#include <tessera/dtype.h>
#include <tessera/device.h>
#include <tessera/error.h>
#include <tessera/io.h>
#include <tessera/native.h>
#include <tessera/nn.h>
#include <tessera/ops.h>
#include <tessera/random.h>
#include <tessera/tensor.h>
