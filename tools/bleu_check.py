#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compare tessera's C++ BLEU (tools/tessera_bleu) with sacrebleu.corpus_bleu on real data.

Usage: python3 tools/bleu_check.py [--bleu build/tools/tessera_bleu] [--data /work/shared/data]

* Tokenization: every line of Multi30k (train/valid/test, en and de) plus 3000 seeded random strings
  drawn from an alphabet of ASCII punctuation, digits, letters, umlauts and Unicode spaces is tokenized
  by both implementations; the outputs must be identical.
* BLEU: "system outputs" are Multi30k valid.de references perturbed with a seeded RNG (each word is,
  with probability p, dropped, swapped with its neighbour, replaced by a random corpus word or
  followed by an inserted word) at several noise levels; also an unrelated corpus (test2016.de vs the
  first 1000 valid.de lines) and a two-reference case. Scores must agree to 2 decimals (they agree to
  ~1e-12 in practice) and the n-gram counts and lengths exactly.
* sentence_bleu: every valid.de line perturbed at p = 0.3, plus 200 hypotheses of 1-2 tokens
  (effective order and exp smoothing), compared segment by segment.
Prints a Markdown table (pasted into docs/results.md, section "BLEU vs sacreBLEU"). Needs `pip install
sacrebleu`. Exit status 1 on any mismatch.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import sacrebleu


def read_lines(path):
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8", newline="") as f:
        for line in lines:
            f.write(line + "\n")


def perturb(lines, p, rng, vocab):
    out = []
    for line in lines:
        words = line.split(" ")
        res = []
        i = 0
        while i < len(words):
            w = words[i]
            if rng.random() < p:
                op = rng.randrange(4)
                if op == 0:  # drop
                    i += 1
                    continue
                if op == 1 and i + 1 < len(words):  # swap with the next word
                    res.extend([words[i + 1], w])
                    i += 2
                    continue
                if op == 2:  # replace
                    res.append(rng.choice(vocab))
                    i += 1
                    continue
                res.extend([w, rng.choice(vocab)])  # insert after
                i += 1
                continue
            res.append(w)
            i += 1
        out.append(" ".join(res))
    return out


def run_cpp(bleu, hyps, refs_list, tmp):
    hyp_path = os.path.join(tmp, "hyp.txt")
    write_lines(hyp_path, hyps)
    ref_paths = []
    for k, refs in enumerate(refs_list):
        ref_paths.append(os.path.join(tmp, f"ref{k}.txt"))
        write_lines(ref_paths[-1], refs)
    out = subprocess.run([bleu, "--json", hyp_path] + ref_paths, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def random_string(rng):
    alphabet = (list("abcXYZ019.,-'\"&;:!?()[]{}<>/\\@#$%^*+=_`|~") + [" ", " ", " ", "\t"] +
                ["ä", "ß", "é", "\u00a0", "\u2009", "\u3000", "\x1c", "\x85", "&quot;", "&amp;",
                 "&lt;", "&gt;", "<skipped>", "1.5", "2,000", "3-4", "a.b", "..."])
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bleu", default="build/tools/tessera_bleu")
    ap.add_argument("--data", default="/work/shared/data")
    args = ap.parse_args()
    m30k = os.path.join(args.data, "multi30k")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        # ---- tokenization ----------------------------------------------------------------
        from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
        tok = Tokenizer13a()
        lines = []
        for name in ["train.en", "train.de", "valid.en", "valid.de", "test2016.en", "test2016.de"]:
            lines += read_lines(os.path.join(m30k, name))
        rng = random.Random(1234)
        lines += [random_string(rng) for _ in range(3000)]
        # sacreBLEU rstrip()s each segment before the tokenizer; the C++ tokenize_13a does not, so
        # compare on rstripped input.
        lines = [line.rstrip() for line in lines]
        path = os.path.join(tmp, "tok.txt")
        write_lines(path, lines)
        ours = subprocess.run([args.bleu, "--tokenize", path], capture_output=True, text=True,
                              check=True).stdout.split("\n")[:-1]
        theirs = [tok(line) for line in lines]
        mism = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
        if len(ours) != len(theirs) or mism:
            ok = False
            print(f"TOKENIZATION MISMATCH: {len(mism)} lines, first: {mism[:5]}")
            for i in mism[:3]:
                print(repr(lines[i]), repr(ours[i]), repr(theirs[i]))
        print(f"13a tokenization: {len(lines)} lines compared, {len(mism)} differ\n")

        # ---- BLEU ------------------------------------------------------------------------
        refs = read_lines(os.path.join(m30k, "valid.de"))
        vocab = sorted({w for line in read_lines(os.path.join(m30k, "train.de")) for w in line.split()})
        cases = []
        for p in [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]:
            rng = random.Random(int(p * 1000) + 7)
            cases.append((f"valid.de perturbed, p = {p:.2f}", perturb(refs, p, rng, vocab), [refs]))
        test_de = read_lines(os.path.join(m30k, "test2016.de"))
        cases.append(("test2016.de vs valid.de[:1000] (unrelated)", test_de, [refs[:1000]]))
        rng = random.Random(99)
        cases.append(("p = 0.3 hyps, 2 refs (ref, p = 0.2 copy)", perturb(refs, 0.3, rng, vocab),
                      [refs, perturb(refs, 0.2, random.Random(5), vocab)]))
        short = [" ".join(line.split()[:3]) for line in refs]
        cases.append(("first 3 words only (BP, no 4-grams)", short, [refs]))

        print("| system output | sacreBLEU | tessera | abs diff | BP | hyp_len / ref_len | counts equal |")
        print("|---|---:|---:|---:|---:|---:|:-:|")
        for name, hyps, ref_list in cases:
            theirs = sacrebleu.corpus_bleu(hyps, ref_list)
            ours = run_cpp(args.bleu, hyps, ref_list, tmp)
            diff = abs(ours["score"] - theirs.score)
            same_counts = (ours["counts"] == list(theirs.counts) and
                           ours["totals"] == list(theirs.totals) and
                           ours["sys_len"] == theirs.sys_len and ours["ref_len"] == theirs.ref_len)
            same2 = f"{ours['score']:.2f}" == f"{theirs.score:.2f}"
            if not (same_counts and same2 and diff < 1e-9):
                ok = False
            print(f"| {name} | {theirs.score:.2f} | {ours['score']:.2f} | {diff:.1e} | "
                  f"{theirs.bp:.3f} | {theirs.sys_len} / {theirs.ref_len} | "
                  f"{'yes' if same_counts else 'NO'} |")

        # ---- sentence BLEU (exp smoothing, effective order on) --------------------------------
        hyps = perturb(refs, 0.3, random.Random(31), vocab)
        hyps += [" ".join(line.split()[:2]) for line in refs[:200]]  # 1-3 token hypotheses
        sref = refs + refs[:200]
        write_lines(os.path.join(tmp, "sh.txt"), hyps)
        write_lines(os.path.join(tmp, "sr.txt"), sref)
        ours = [float(x) for x in subprocess.run(
            [args.bleu, "--sentence", os.path.join(tmp, "sh.txt"), os.path.join(tmp, "sr.txt")],
            capture_output=True, text=True, check=True).stdout.split()]
        theirs = [sacrebleu.sentence_bleu(h, [r]).score for h, r in zip(hyps, sref)]
        worst = max(abs(a - b) for a, b in zip(ours, theirs))
        n_bad = sum(f"{a:.2f}" != f"{b:.2f}" for a, b in zip(ours, theirs))
        if len(ours) != len(theirs) or n_bad or worst > 1e-9:
            ok = False
        print(f"\nsentence_bleu: {len(theirs)} segments, max |diff| = {worst:.1e}, "
              f"{n_bad} differ at 2 decimals")
    print("\nALL MATCH" if ok else "\nMISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
