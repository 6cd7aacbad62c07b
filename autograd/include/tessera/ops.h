// SPDX-License-Identifier: Apache-2.0
/// @brief Everything a user needs for differentiable computation: ops, operators, backward,
/// NoGradGuard, custom functions.
#pragma once

#include <tessera/autograd/elementwise.h>
#include <tessera/autograd/engine.h>
#include <tessera/autograd/function.h>
#include <tessera/autograd/fused.h>
#include <tessera/autograd/grad_mode.h>
#include <tessera/autograd/index.h>
#include <tessera/autograd/linalg.h>
#include <tessera/autograd/reduce.h>
#include <tessera/autograd/shape.h>
#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/random.h>
