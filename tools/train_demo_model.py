#!/usr/bin/python3
"""Trains DiffuLex Edge's demo model: a small masked-diffusion LM in the LLaDA architecture.

A developer tool (the one Python part of the repository), not a runtime dependency. Needs
Debian's python3-torch, python3-regex, libopenblas0-pthread (torch's generic BLAS is ~25x slower)
and the `fortunes` package: `scripts/install-deps.sh --train`.

    /usr/bin/python3 tools/train_demo_model.py --out models/dlx-demo-llada

Data: fortunes (/usr/share/games/fortunes, BSD licence) and synthetic tasks whose answers can be
checked exactly (two-digit addition, copy / reverse / sort a list of digits). It trains its own
byte-level BPE tokenizer, writes a Hugging Face folder our engine loads, and a held-out set of
synthetic prompts (never seen in training) for tests/bench/demo_quality. Seeded: the same
command gives the same data, tokenizer and (up to floating-point reduction order) weights.

Training follows LLaDA's SFT recipe: prompt tokens are never masked; the response is followed
by <|eot_id|> and <|endoftext|> padding up to the canvas length, and every canvas position
(padding included) is masked with probability t ~ U(eps, 1), the loss weighted by 1/t.
"""
import argparse
import collections
import glob
import json
import math
import os
import random
import struct
import time
import unicodedata

import regex
import torch
import torch.nn.functional as F

# Qwen2's split regex (digits one by one, which arithmetic needs), as in our fixtures.
SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|mdm_mask|>", "<|endoftext|>", "<|startoftext|>", "<|eot_id|>",
            "<|start_header_id|>", "<|end_header_id|>"]
CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | "
    "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
    "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")
FORTUNE_REQUESTS = ["Tell me a fortune.", "Tell me a fortune", "Give me a fortune.",
                    "Say something wise.", "Tell me a joke.", "Fortune, please."]


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table (ByteLevel pre-tokenizer)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_CHARS = bytes_to_unicode()
SPLIT_RE = regex.compile(SPLIT)


def pieces(text):
    text = unicodedata.normalize("NFC", text)
    return ["".join(BYTE_CHARS[b] for b in w.encode("utf-8")) for w in SPLIT_RE.findall(text)]


# ----------------------------------------------------------------------------------------------
# Data


def read_fortunes():
    """Every fortune of the `fortunes` package (not the offensive set), whitespace-tidied."""
    out = []
    for path in sorted(glob.glob("/usr/share/games/fortunes/*")):
        name = os.path.basename(path)
        if "." in name or os.path.isdir(path):
            continue  # .dat indexes, .u8 links, off/
        with open(path, encoding="utf-8", errors="replace") as f:
            for chunk in f.read().split("\n%\n"):
                text = "\n".join(line.rstrip() for line in chunk.strip("\n%").splitlines())
                if 8 <= len(text) <= 400:
                    out.append(text)
    if not out:
        raise SystemExit("no fortunes in /usr/share/games/fortunes: apt-get install fortunes")
    return out


def synthetic(rng):
    """One synthetic task: (prompt text, exact answer)."""
    kind = rng.random()
    if kind < 0.4:
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        return f"{a}+{b}=", str(a + b)
    digits = [str(rng.randint(0, 9)) for _ in range(rng.randint(3, 6))]
    if kind < 0.6:
        return "copy: " + " ".join(digits), " ".join(digits)
    if kind < 0.8:
        return "reverse: " + " ".join(digits), " ".join(reversed(digits))
    return "sort: " + " ".join(digits), " ".join(sorted(digits))


def held_out_set(seed, n):
    rng = random.Random(seed)
    seen, out = set(), []
    while len(out) < n:
        p, a = synthetic(rng)
        if p not in seen:
            seen.add(p)
            out.append((p, a))
    return out


# ----------------------------------------------------------------------------------------------
# Tokenizer: byte-level BPE trained here


def train_bpe(texts, n_merges):
    counts = collections.Counter()
    for t in texts:
        counts.update(pieces(t))
    words = [list(w) for w in counts]
    freqs = list(counts.values())
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, c in zip(words, freqs):
            for i in range(len(w) - 1):
                pairs[(w[i], w[i + 1])] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        a, b = best
        for w in words:
            i = 0
            while i < len(w) - 1:
                if w[i] == a and w[i + 1] == b:
                    w[i:i + 2] = [a + b]
                i += 1
    return merges


class Tokenizer:
    def __init__(self, merges):
        self.merges = merges
        self.rank = {m: i for i, m in enumerate(merges)}
        symbols = [BYTE_CHARS[b] for b in range(256)]
        for a, b in merges:
            symbols.append(a + b)
        self.vocab = {}
        for s in symbols:
            self.vocab.setdefault(s, len(self.vocab))
        self.special = {}
        for s in SPECIALS:
            self.special[s] = len(self.vocab) + len(self.special)
        self.size = len(self.vocab) + len(self.special)
        self.cache = {}

    def word(self, w):
        if w in self.cache:
            return self.cache[w]
        parts = list(w)
        while len(parts) > 1:
            ranked = [(self.rank.get((parts[i], parts[i + 1]), 1 << 30), i)
                      for i in range(len(parts) - 1)]
            r, _ = min(ranked)
            if r == 1 << 30:
                break
            a, b = self.merges[r]
            i, out = 0, []
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        ids = [self.vocab[p] for p in parts]
        self.cache[w] = ids
        return ids

    def encode(self, text):
        ids = []
        for w in pieces(text):
            ids += self.word(w)
        return ids

    def chat_prompt(self, content):
        """The chat template's rendering of one user turn + the assistant header, encoded the way
        the engine does (text between special tokens encoded separately)."""
        s = self.special
        return ([s["<|startoftext|>"], s["<|start_header_id|>"]] + self.encode("user") +
                [s["<|end_header_id|>"]] + self.encode("\n\n" + content.strip()) +
                [s["<|eot_id|>"], s["<|start_header_id|>"]] + self.encode("assistant") +
                [s["<|end_header_id|>"]] + self.encode("\n\n"))

    def to_json(self):
        added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for t, i in self.special.items()]
        return {
            "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": SPLIT}, "behavior": "Isolated",
                 "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                 "use_regex": False}]},
            "post_processor": {"type": "ByteLevel", "add_prefix_space": False,
                               "trim_offsets": False, "use_regex": False},
            "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                        "use_regex": False},
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": "", "end_of_word_suffix": "",
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": self.vocab, "merges": [[a, b] for a, b in self.merges]},
        }


# ----------------------------------------------------------------------------------------------
# Model: LLaDA's layout (pre-norm, RMSNorm, rotate-half RoPE, bidirectional MHA, SwiGLU)


class LLaDA(torch.nn.Module):
    def __init__(self, vocab, d, layers, heads, mlp, theta, eps):
        super().__init__()
        self.d, self.heads, self.hd, self.theta, self.eps = d, heads, d // heads, theta, eps
        self.wte = torch.nn.Parameter(torch.randn(vocab, d) * 0.02)
        self.blocks = torch.nn.ModuleList()
        for _ in range(layers):
            b = torch.nn.Module()
            b.attn_norm = torch.nn.Parameter(torch.ones(d))
            b.ff_norm = torch.nn.Parameter(torch.ones(d))
            for name, shape in (("q_proj", (d, d)), ("k_proj", (d, d)), ("v_proj", (d, d)),
                                ("attn_out", (d, d)), ("ff_proj", (mlp, d)),
                                ("up_proj", (mlp, d)), ("ff_out", (d, mlp))):
                std = 0.02 / math.sqrt(2 * layers) if name in ("attn_out", "ff_out") else 0.02
                setattr(b, name, torch.nn.Parameter(torch.randn(*shape) * std))
            self.blocks.append(b)
        self.ln_f = torch.nn.Parameter(torch.ones(d))
        self.head = torch.nn.Parameter(torch.randn(vocab, d) * 0.02)

    def norm(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, cos, sin):
        h = self.hd // 2
        a, b = x[..., :h], x[..., h:]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)

    def forward(self, ids, key_mask=None):
        B, T = ids.shape
        x = self.wte[ids]
        inv = 1.0 / (self.theta ** (torch.arange(0, self.hd // 2, dtype=torch.float64) * 2 / self.hd))
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        cos, sin = ang.cos().float(), ang.sin().float()
        bias = None
        if key_mask is not None:  # padded keys get -inf
            bias = torch.zeros(B, 1, 1, T).masked_fill(~key_mask[:, None, None, :], float("-inf"))
        for b in self.blocks:
            h = self.norm(x, b.attn_norm)
            q = (h @ b.q_proj.t()).view(B, T, self.heads, self.hd).transpose(1, 2)
            k = (h @ b.k_proj.t()).view(B, T, self.heads, self.hd).transpose(1, 2)
            v = (h @ b.v_proj.t()).view(B, T, self.heads, self.hd).transpose(1, 2)
            q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
            if bias is not None:
                s = s + bias
            o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, self.d)
            x = x + o @ b.attn_out.t()
            h = self.norm(x, b.ff_norm)
            x = x + (F.silu(h @ b.ff_proj.t()) * (h @ b.up_proj.t())) @ b.ff_out.t()
        return self.norm(x, self.ln_f) @ self.head.t()

    def tensors(self):
        p = "model.transformer."
        out = {p + "wte.weight": self.wte, p + "ln_f.weight": self.ln_f,
               p + "ff_out.weight": self.head}
        for i, b in enumerate(self.blocks):
            q = f"{p}blocks.{i}."
            out[q + "attn_norm.weight"] = b.attn_norm
            out[q + "ff_norm.weight"] = b.ff_norm
            for n in ("q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out"):
                out[q + n + ".weight"] = getattr(b, n)
        return out


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().float().contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ----------------------------------------------------------------------------------------------
# Examples and batches


class Examples:
    def __init__(self, tok, fortunes, held_out, seed):
        self.tok, self.rng = tok, random.Random(seed)
        self.held = {p for p, _ in held_out}
        s = tok.special
        self.eot, self.eos, self.bos, self.mask = (s["<|eot_id|>"], s["<|endoftext|>"],
                                                  s["<|startoftext|>"], s["<|mdm_mask|>"])
        self.fortunes = []  # (ids) short enough for a 64-token canvas with its eot
        for f in fortunes:
            ids = tok.encode(f)
            if len(ids) <= 60:
                self.fortunes.append(ids)

    def one(self, canvas):
        """(prompt ids, canvas ids) with the canvas exactly `canvas` long."""
        r = self.rng.random()
        if r < 0.75 or canvas < 24:
            while True:
                p, a = synthetic(self.rng)
                if p not in self.held:
                    break
            prompt, answer, end = self.tok.chat_prompt(p), self.tok.encode(a), [self.eot]
        elif r < 0.9:
            f = self.rng.choice(self.fortunes)
            while len(f) + 1 > canvas:
                f = self.rng.choice(self.fortunes)
            prompt = self.tok.chat_prompt(self.rng.choice(FORTUNE_REQUESTS))
            answer, end = f, [self.eot]
        else:  # plain continuation of a fortune's first words
            f = self.rng.choice(self.fortunes)
            k = self.rng.randint(2, max(2, min(8, len(f) - 1)))
            prompt, answer, end = [self.bos] + f[:k], f[k:k + canvas - 1], [self.eos]
        body = answer + end
        return prompt, body + [self.eos] * (canvas - len(body))

    def batch(self, size):
        # Mostly short canvases (the tasks' answers fit in 16); longer ones teach the end-token
        # padding far from the prompt, as the engine's default 128-token canvas needs.
        canvas = self.rng.choices([16, 32, 64, 128], weights=[16, 6, 3, 1])[0]
        rows = [self.one(canvas) for _ in range(size)]
        T = max(len(p) for p, _ in rows) + canvas
        ids = torch.full((size, T), self.eos, dtype=torch.long)
        keys = torch.zeros(size, T, dtype=torch.bool)
        target = torch.zeros(size, T, dtype=torch.bool)
        for i, (p, c) in enumerate(rows):
            ids[i, :len(p) + canvas] = torch.tensor(p + c)
            keys[i, :len(p) + canvas] = True
            target[i, len(p):len(p) + canvas] = True
        return ids, keys, target, canvas


def diffusion_loss(model, ids, keys, target, canvas, eps=1e-3):
    B = ids.shape[0]
    t = (1 - eps) * torch.rand(B, 1) + eps
    masked = (torch.rand(ids.shape) < t) & target
    noisy = torch.where(masked, torch.full_like(ids, MASK_ID), ids)
    logits = model(noisy, keys)
    ce = F.cross_entropy(logits[masked], ids[masked], reduction="none")
    w = (1.0 / t).expand_as(ids)[masked]
    return (ce * w).sum() / (B * canvas)


MASK_ID = -1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--d-model", type=int, default=192)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp", type=int, default=512)
    ap.add_argument("--merges", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--held-out", default="tests/bench/demo_heldout.jsonl")
    args = ap.parse_args()
    global MASK_ID
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t0 = time.time()

    fortunes = read_fortunes()
    held = held_out_set(args.seed + 1, 200)
    rng = random.Random(args.seed)
    bpe_text = fortunes + [p + " " + a for p, a in (synthetic(rng) for _ in range(2000))] + \
        FORTUNE_REQUESTS + ["user", "assistant"]
    tok = Tokenizer(train_bpe(bpe_text, args.merges))
    MASK_ID = tok.special["<|mdm_mask|>"]
    print(f"{len(fortunes)} fortunes, vocab {tok.size}, tokenizer {time.time() - t0:.0f} s",
          flush=True)

    ex = Examples(tok, fortunes, held, args.seed)
    model = LLaDA(tok.size, args.d_model, args.layers, args.heads, args.mlp, 10000.0, 1e-5)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params / 1e6:.2f} M parameters", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    warm = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))
    avg = None
    for step in range(args.steps):
        ids, keys, target, canvas = ex.batch(args.batch)
        loss = diffusion_loss(model, ids, keys, target, canvas)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 25 == 0 or step == args.steps - 1:
            print(f"step {step} loss {avg:.3f} canvas {canvas} {time.time() - t0:.0f} s", flush=True)

    save(args, tok, model, held, n_params, time.time() - t0)


def save(args, tok, model, held, n_params, seconds):
    os.makedirs(args.out, exist_ok=True)
    s = tok.special
    V = tok.size
    config = {
        "architectures": ["LLaDAModelLM"], "model_type": "llada", "activation_type": "silu",
        "block_type": "llama", "d_model": args.d_model, "n_layers": args.layers,
        "n_heads": args.heads, "n_kv_heads": args.heads, "mlp_hidden_size": args.mlp,
        "mlp_ratio": args.mlp / args.d_model, "vocab_size": V, "embedding_size": V,
        "max_sequence_length": 512, "rope": True, "rope_theta": 10000.0, "rms_norm_eps": 1e-5,
        "layer_norm_type": "rms", "include_bias": False, "include_qkv_bias": False,
        "weight_tying": False, "mask_token_id": s["<|mdm_mask|>"],
        "eos_token_id": s["<|endoftext|>"], "pad_token_id": s["<|endoftext|>"],
        "bos_token_id": s["<|startoftext|>"], "torch_dtype": "float32",
    }
    gen = {"bos_token_id": s["<|startoftext|>"], "eos_token_id": s["<|endoftext|>"]}
    tok_cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512,
               "bos_token": "<|startoftext|>", "eos_token": "<|eot_id|>",
               "pad_token": "<|endoftext|>", "mask_token": "<|mdm_mask|>",
               "chat_template": CHAT_TEMPLATE}
    for name, obj in (("config.json", config), ("generation_config.json", gen),
                      ("tokenizer_config.json", tok_cfg), ("tokenizer.json", tok.to_json())):
        with open(os.path.join(args.out, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1 if name != "tokenizer.json" else None)
            f.write("\n")
    write_safetensors(os.path.join(args.out, "model.safetensors"), model.tensors(),
                      {"format": "pt", "trainer": "tools/train_demo_model.py",
                       "seed": str(args.seed), "steps": str(args.steps)})
    os.makedirs(os.path.dirname(args.held_out) or ".", exist_ok=True)
    with open(args.held_out, "w") as f:
        for p, a in held:
            f.write(json.dumps({"prompt": p, "answer": a}) + "\n")
    print(f"wrote {args.out} ({n_params / 1e6:.2f} M parameters) in {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
