// SPDX-License-Identifier: Apache-2.0
/// @brief All of tessera::nn: modules, layers, functional, losses, optimizers, schedules.
#pragma once

#include <tessera/nn/activation.h>
#include <tessera/nn/attention.h>
#include <tessera/nn/checkpoint.h>
#include <tessera/nn/dropout.h>
#include <tessera/nn/embedding.h>
#include <tessera/nn/functional.h>
#include <tessera/nn/init.h>
#include <tessera/nn/layer_norm.h>
#include <tessera/nn/linear.h>
#include <tessera/nn/loss.h>
#include <tessera/nn/module.h>
#include <tessera/nn/optim.h>
#include <tessera/nn/schedule.h>
#include <tessera/nn/transformer.h>
#include <tessera/ops.h>
