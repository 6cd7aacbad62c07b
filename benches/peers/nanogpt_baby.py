#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""PyTorch peer for the quality goal of the GPT issue: nanoGPT's CPU "baby" Shakespeare recipe,
written after nanoGPT's model.py and train.py (Karpathy, MIT) so that tessera's train_gpt run can
be compared with the reference implementation on this machine, seed for seed.

    python3 benches/peers/nanogpt_baby.py --data ../shared/data/tinyshakespeare/input.txt \
        --seed 1 [--threads 1] [--bias 0|1] [--gelu exact|tanh]

nanoGPT's settings: char-level, first 90% train / last 10% val, n_layer 4, n_head 4, n_embd 128,
block 64, batch 12, 2000 iters, AdamW lr 1e-3 (betas 0.9/0.99, weight decay 0.1 on params with
dim >= 2, fused=False here), warmup 100 then cosine to 1e-4 at iter 2000, grad clip 1.0, dropout 0,
bias False and exact GELU (its defaults), eval every 250 iters on 20 batches. Prints one JSON line
per eval and a final line with the wall time.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, h, bias, gelu):
        super().__init__()
        self.h, self.gelu = h, gelu
        self.ln_1 = nn.LayerNorm(c, bias=bias)
        self.c_attn = nn.Linear(c, 3 * c, bias=bias)
        self.c_proj = nn.Linear(c, c, bias=bias)
        self.ln_2 = nn.LayerNorm(c, bias=bias)
        self.c_fc = nn.Linear(c, 4 * c, bias=bias)
        self.mlp_proj = nn.Linear(4 * c, c, bias=bias)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate=self.gelu))


class GPT(nn.Module):
    def __init__(self, v, t, l, h, c, bias, gelu):
        super().__init__()
        self.wte = nn.Embedding(v, c)
        self.wpe = nn.Embedding(t, c)
        self.h = nn.ModuleList(Block(c, h, bias, gelu) for _ in range(l))
        self.ln_f = nn.LayerNorm(c, bias=bias)
        for name, p in self.named_parameters():  # nanoGPT's _init_weights + c_proj scaling
            if "ln_" in name:
                continue
            if name.endswith("bias"):
                nn.init.zeros_(p)
            else:
                proj = name.endswith(("c_proj.weight", "mlp_proj.weight"))
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * l) if proj else 0.02)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bias", type=int, default=0)
    ap.add_argument("--gelu", default="exact", choices=["exact", "tanh"])
    ap.add_argument("--iters", type=int, default=2000)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    text = open(a.data, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    splits = {"train": data[:n], "val": data[n:]}
    block, batch, warmup, lr, min_lr = 64, 12, 100, 1e-3, 1e-4

    def get_batch(split):
        d = splits[split]
        ix = torch.randint(len(d) - block, (batch,))
        return (torch.stack([d[i:i + block] for i in ix]),
                torch.stack([d[i + 1:i + 1 + block] for i in ix]))

    model = GPT(len(chars), block, 4, 4, 128, bool(a.bias), "none" if a.gelu == "exact" else "tanh")
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))

    def lr_at(it):
        if it < warmup:
            return lr * (it + 1) / (warmup + 1)
        r = (it - warmup) / (a.iters - warmup)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * r)) * (lr - min_lr)

    @torch.no_grad()
    def estimate():
        model.eval()
        out = {}
        for split in ("train", "val"):
            out[split] = sum(model(*get_batch(split)).item() for _ in range(20)) / 20
        model.train()
        return out

    t0 = time.time()
    for it in range(a.iters + 1):
        if it % 250 == 0:
            e = estimate()
            print(json.dumps({"iter": it, "train_loss": round(e["train"], 4),
                              "val_loss": round(e["val"], 4)}), flush=True)
        if it == a.iters:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        loss = model(*get_batch("train"))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    print(json.dumps({"seed": a.seed, "wall_s": round(time.time() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
