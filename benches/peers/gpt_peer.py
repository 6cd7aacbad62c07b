#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The PyTorch peer of benches/models/bench_gpt_train_step.cpp: the same GPT (GPT-2 architecture,
pre-LN, fused QKV, 4x GELU(tanh) MLP, tied head, GPT-2 init), the same AdamW (decay on matrices),
float32 on the CPU, timed the same way (median step after one warm-up step).

    python3 benches/peers/gpt_peer.py --threads 2 [--shape V,T,L,H,C,B] [--steps 5]

Prints one JSON line per shape, with the keys of the C++ bench. Peak memory is the process's
maximum RSS (run one shape per process for a clean number; scripts/compare_gpt_peer.sh does).
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(c)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, v, t, l, h, c):
        super().__init__()
        self.wte = nn.Embedding(v, c)
        self.wpe = nn.Embedding(t, c)
        self.h = nn.ModuleList(Block(c, h) for _ in range(l))
        self.ln_f = nn.LayerNorm(c)
        for name, p in self.named_parameters():
            if "ln_" in name:
                continue
            if name.endswith("bias"):
                nn.init.zeros_(p)
            else:
                std = 0.02 / math.sqrt(2 * l) if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def run(shape, steps):
    v, t, l, h, c, b = shape
    torch.manual_seed(1)
    model = GPT(v, t, l, h, c)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=1e-4)
    x = torch.randint(0, v, (b, t))
    y = torch.randint(0, v, (b, t))

    def step():
        loss = model(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    t_step = times[len(times) // 2]
    n = v * c + l * (12 * c * c + 13 * c) + 2 * c
    fpt = 6 * n + 12 * l * t * c
    tokens = b * t
    print(json.dumps({"shape": list(shape), "impl": f"pytorch {torch.__version__}",
                      "threads": torch.get_num_threads(), "step_ms": round(t_step * 1e3, 1),
                      "tokens_per_s": round(tokens / t_step), "gflops": round(tokens * fpt / t_step / 1e9, 1),
                      "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}),
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--shape", type=str, default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    shapes = [(65, 64, 4, 4, 128, 12), (8192, 256, 6, 8, 512, 8), (50257, 256, 12, 12, 768, 4)]
    if args.shape:
        shapes = [tuple(int(s) for s in args.shape.split(","))]
    for s in shapes:
        run(s, args.steps)


if __name__ == "__main__":
    main()
