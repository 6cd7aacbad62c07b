// SPDX-License-Identifier: Apache-2.0
/// @brief The umbrella header: everything a research program needs from tessera.
///
/// tessera::*          differentiable ops (add, matmul, softmax, ...; operators + - * /),
/// backward() tessera::native::*  the same ops without gradient recording tessera::nn Module,
/// layers, losses, optimizers, schedules, checkpoints tessera::models     GPT, tokenizers, BLEU
#pragma once

#include <tessera/allocator.h>
#include <tessera/creation.h>
#include <tessera/device.h>
#include <tessera/dtype.h>
#include <tessera/error.h>
#include <tessera/io.h>
#include <tessera/native.h>
#include <tessera/ops.h>
#include <tessera/random.h>
#include <tessera/tensor.h>

#include <tessera/nn.h>

#include <tessera/models/gpt.h>
#include <tessera/models/sampling.h>
#include <tessera/models/tokenizer.h>
