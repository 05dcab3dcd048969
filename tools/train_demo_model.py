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
(padding included) is masked with probability t ~ U(eps, 1); the loss is the cross-entropy
averaged over masked positions (--loss elbo: LLaDA's 1/t-weighted ELBO instead).
"""
import argparse
import collections
import glob
import hashlib
import json
import math
import os
import random
import shlex
import struct
import sys
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
LIST_LENGTH = 4  # digits in a copy / reverse / sort list
CANVAS_WEIGHTS = [8, 3, 3, 1, 0.2]
SYNTHETIC_SHARE = 0.6  # of rows in 32+ canvases; 16-token canvases hold only synthetic tasks
CHAT_FORTUNES = 300
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
    # Fixed-width operands and lists: LLaDA has no absolute positions (RoPE only), so where an
    # answer digit must look in the prompt is learned per prompt length. With one width per
    # task the model learns the tasks in minutes; 3-5 digit lists took many times longer.
    kind = rng.random()
    if kind < 0.3:
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        return f"{a}+{b}=", str(a + b)
    # Digit strings without separators: each digit is one token (the split regex isolates
    # digits), so a list of n digits is n tokens and every answer fits an 8-token canvas.
    digits = [str(rng.randint(0, 9)) for _ in range(LIST_LENGTH)]
    if kind < 0.5:
        return "copy: " + "".join(digits), "".join(digits)
    if kind < 0.8:
        return "reverse: " + "".join(digits), "".join(reversed(digits))
    return "sort: " + "".join(digits), "".join(sorted(digits))


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


def load_weights(model, path):
    """Fills `model` from a model.safetensors this script wrote (F32, our tensor names)."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header, base = json.loads(raw[8:8 + n]), 8 + n
    for name, t in model.tensors().items():
        e = header.get(name)
        if e is None or e["dtype"] != "F32" or e["shape"] != list(t.shape):
            raise SystemExit(f"{path}: {name} missing or of another shape: wrong --init-from?")
        a, b = e["data_offsets"]
        data = torch.frombuffer(bytearray(raw[base + a:base + b]), dtype=torch.float32)
        t.data.copy_(data.view(*e["shape"]))


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
        # Chat replies to "Tell me a fortune." come from a fixed few hundred short fortunes: a
        # model this small can learn those well enough to answer with recognisable text, where
        # all 14k would only teach it their average.
        short = [f for f in self.fortunes if len(f) <= 28]
        self.chat_fortunes = random.Random(seed + 2).sample(short, min(CHAT_FORTUNES, len(short)))

    def one(self, canvas):
        """(prompt ids, canvas ids) with the canvas exactly `canvas` long."""
        r = self.rng.random()
        if r < SYNTHETIC_SHARE or canvas < 24:
            while True:
                p, a = synthetic(self.rng)
                if p not in self.held:
                    break
            prompt, answer, end = self.tok.chat_prompt(p), self.tok.encode(a), [self.eot]
        elif r < SYNTHETIC_SHARE + (1 - SYNTHETIC_SHARE) / 2:
            f = self.rng.choice(self.chat_fortunes)
            prompt = self.tok.chat_prompt(self.rng.choice(FORTUNE_REQUESTS))
            answer, end = f, [self.eot]
        else:  # plain continuation of a fortune's first words
            f = self.rng.choice(self.fortunes)
            k = self.rng.randint(2, max(2, min(8, len(f) - 1)))
            prompt, answer, end = [self.bos] + f[:k], f[k:k + canvas - 1], [self.eos]
        body = answer + end
        return prompt, body + [self.eos] * (canvas - len(body))

    def batch(self, size):
        # Mostly short canvases (every task answer fits in 8); longer ones teach the end-token
        # padding far from the prompt, as the engine's default 128-token canvas needs.
        canvas = self.rng.choices([8, 16, 32, 64, 128], weights=CANVAS_WEIGHTS)[0]
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


LOSS = "mean"
DEFAULT_CANVAS = 32


def diffusion_loss(model, ids, keys, target, canvas, eps=1e-3):
    B = ids.shape[0]
    # Stratified ("low-discrepancy") t: one draw per 1/B slice of [0, 1), rows shuffled. The same
    # expected loss as i.i.d. t, with far less variance from the few rows whose 1/t is large.
    u = (torch.arange(B, dtype=torch.float32)[torch.randperm(B)] + torch.rand(B)) / B
    t = ((1 - eps) * u + eps)[:, None]
    masked = (torch.rand(ids.shape) < t) & target
    noisy = torch.where(masked, torch.full_like(ids, MASK_ID), ids)
    logits = model(noisy, keys)
    ce = F.cross_entropy(logits[masked], ids[masked], reduction="none")
    if LOSS == "mean":
        return ce.mean()
    w = (1.0 / t).expand_as(ids)[masked]
    return (ce * w).sum() / (B * canvas)


MASK_ID = -1


def task_kind(prompt):
    return prompt.split(":")[0] if ":" in prompt else "add"


@torch.no_grad()
def evaluate(model, tok, held, canvas=16):
    """Held-out exact-answer accuracy per task, decoded like the engine's fixed schedule: one
    block, one token per step, the most confident masked position first, greedy."""
    model.eval()
    inv = {i: s for s, i in tok.vocab.items()}
    byte_of = {c: b for b, c in BYTE_CHARS.items()}
    prompts = [tok.chat_prompt(p) for p, _ in held]
    P = max(len(p) for p in prompts)
    B = len(prompts)
    ids = torch.full((B, P + canvas), MASK_ID, dtype=torch.long)
    keys = torch.zeros(B, P + canvas, dtype=torch.bool)
    for i, p in enumerate(prompts):  # right-aligned prompts would shift RoPE; left-align + mask
        ids[i, :len(p)] = torch.tensor(p)
        keys[i, :len(p) + canvas] = True
    pos = torch.tensor([[len(p) + j for j in range(canvas)] for p in prompts])
    for _ in range(canvas):
        canv = ids.gather(1, pos)
        probs = model(ids, keys).gather(1, pos[:, :, None].expand(-1, -1, tok.size)).softmax(-1)
        conf, pred = probs.max(-1)
        conf = conf.masked_fill(canv != MASK_ID, -1.0)
        j = conf.argmax(-1)
        rows = torch.arange(B)
        ids[rows, pos[rows, j]] = pred[rows, j]
    ends = {tok.special["<|eot_id|>"], tok.special["<|endoftext|>"]}
    per = collections.defaultdict(lambda: [0, 0])
    for i, (p, a) in enumerate(held):
        out = []
        for t in ids[i, pos[i]].tolist():
            if t in ends:
                break
            out.append(t)
        text = bytes(byte_of[c] for t in out if t in inv for c in inv[t]).decode("utf-8", "replace")
        per[task_kind(p)][0] += text.strip() == a
        per[task_kind(p)][1] += 1
    model.train()
    total = sum(c for c, _ in per.values()) / len(held)
    return total, {k: round(c / n, 3) for k, (c, n) in sorted(per.items())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=5400)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp", type=int, default=512)
    ap.add_argument("--rope-theta", type=float, default=100.0,
                    help="small: sharper relative positions over the few tokens a task spans")
    ap.add_argument("--merges", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=2,
                    help="data-parallel training processes (one per core): each takes a slice of "
                         "every batch; gradients are averaged, so the model stays one model")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads per process")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--held-out", default="tests/bench/demo_heldout.jsonl")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--loss", choices=["elbo", "mean"], default=LOSS)
    ap.add_argument("--synthetic-share", type=float, default=SYNTHETIC_SHARE)
    ap.add_argument("--canvas-weights", default=",".join(map(str, CANVAS_WEIGHTS)))
    ap.add_argument("--eval-canvas", type=int, default=32)
    ap.add_argument("--init-from", default="",
                    help="start from the weights and tokenizer of a model folder this script wrote "
                         "(a second training stage); its card's commands are carried over")
    ap.add_argument("--merges-cache", default="",
                    help="reuse the BPE merges of an earlier run with the same seed (JSON file)")
    ap.add_argument("--max-minutes", type=float, default=0,
                    help="stop early (and say so) after this long; 0 = run every step")
    args = ap.parse_args()
    if os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        # OpenBLAS starts one thread per core whatever torch.set_num_threads says, and only reads
        # this variable when it loads: two runs side by side would otherwise oversubscribe.
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
        os.execv(sys.executable, [sys.executable] + sys.argv)
    if args.batch % args.procs:
        sys.exit(f"--batch {args.batch} must be a multiple of --procs {args.procs}")
    if args.procs == 1:
        train(0, args, "")
        return
    # Small matrices keep a second BLAS thread idle, but a second process with half of each
    # batch halves the step time. The processes meet through a file in a fresh directory.
    import tempfile
    import torch.multiprocessing as mp
    with tempfile.TemporaryDirectory(prefix="dlx-train-") as rendezvous:
        mp.spawn(train, args=(args, os.path.join(rendezvous, "group")), nprocs=args.procs)


def train(rank, args, rendezvous):
    global MASK_ID, LOSS, SYNTHETIC_SHARE, CANVAS_WEIGHTS
    import builtins
    dist = None
    if args.procs > 1:
        import torch.distributed as dist
        dist.init_process_group("gloo", init_method="file://" + rendezvous, rank=rank,
                                world_size=args.procs)
    if rank != 0:  # one log: the others compute the same things
        builtins.print = lambda *a, **k: None
    LOSS, SYNTHETIC_SHARE = args.loss, args.synthetic_share
    CANVAS_WEIGHTS = [float(w) for w in args.canvas_weights.split(",")]
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t0 = time.time()

    fortunes = read_fortunes()
    held = held_out_set(args.seed + 1, 200)
    rng = random.Random(args.seed)
    bpe_text = fortunes + [p + " " + a for p, a in (synthetic(rng) for _ in range(2000))] + \
        FORTUNE_REQUESTS + ["user", "assistant"]
    merges, key = None, hashlib.sha1(
        "\0".join([str(args.merges)] + bpe_text).encode()).hexdigest()
    if args.merges_cache and os.path.exists(args.merges_cache):
        with open(args.merges_cache) as f:
            cached = json.load(f)
        if cached["key"] == key:
            merges = [tuple(m) for m in cached["merges"]]
    if args.init_from:  # a second stage keeps the first stage's tokenizer
        with open(os.path.join(args.init_from, "tokenizer.json"), encoding="utf-8") as f:
            merges = [tuple(m) for m in json.load(f)["model"]["merges"]]
    if merges is None:
        merges = train_bpe(bpe_text, args.merges)
        if args.merges_cache:
            with open(args.merges_cache, "w") as f:
                json.dump({"key": key, "merges": merges}, f)
    tok = Tokenizer(merges)
    MASK_ID = tok.special["<|mdm_mask|>"]
    print(f"{len(fortunes)} fortunes, vocab {tok.size}, tokenizer {time.time() - t0:.0f} s",
          flush=True)

    ex = Examples(tok, fortunes, held, args.seed)
    model = LLaDA(tok.size, args.d_model, args.layers, args.heads, args.mlp, args.rope_theta, 1e-5)
    args.earlier_card = ""
    if args.init_from:  # read now: a second stage may write into the same folder
        load_weights(model, os.path.join(args.init_from, "model.safetensors"))
        with open(os.path.join(args.init_from, "README.md"), encoding="utf-8") as f:
            args.earlier_card = f.read()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params / 1e6:.2f} M parameters, {args.procs} process(es)", flush=True)
    # Every process builds the same batches (same data seed) and takes its slice of the rows;
    # the masks it draws come from its own seed.
    torch.manual_seed(args.seed + 7919 * rank)
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    warm = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))
    avg = None
    history = []
    args.stopped_at = None
    for step in range(args.steps):
        out_of_time = torch.tensor([float(bool(args.max_minutes) and
                                          time.time() - t0 > 60 * args.max_minutes)])
        if dist:  # every process stops at the same step
            dist.all_reduce(out_of_time, op=dist.ReduceOp.MAX)
        if out_of_time.item():
            args.stopped_at = step
            print(f"WARNING: --max-minutes {args.max_minutes} reached: stopped after {step} of "
                  f"{args.steps} steps, so this run does not reproduce the full schedule", flush=True)
            break
        ids, keys, target, canvas = ex.batch(args.batch)
        rows = slice(rank * args.batch // args.procs, (rank + 1) * args.batch // args.procs)
        loss = diffusion_loss(model, ids[rows], keys[rows], target[rows], canvas)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if dist:  # the mean of the slices' gradients (and losses), in one message
            flat = torch.cat([p.grad.reshape(-1) for p in params] + [loss.detach().reshape(1)])
            dist.all_reduce(flat)
            flat /= args.procs
            offset = 0
            for p in params:
                p.grad.copy_(flat[offset:offset + p.numel()].view_as(p.grad))
                offset += p.numel()
            loss = flat[-1]
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 25 == 0 or step == args.steps - 1:
            print(f"step {step} loss {avg:.3f} canvas {canvas} {time.time() - t0:.0f} s", flush=True)
        evaluating = args.eval_every and (step + 1) % args.eval_every == 0 or step == args.steps - 1
        if evaluating and rank == 0:
            acc, per = evaluate(model, tok, held[:100], args.eval_canvas)
            history.append({"step": step + 1, "loss": round(avg, 4), "held_out_accuracy": acc,
                            "per_task": per, "seconds": round(time.time() - t0)})
            print(f"eval step {step + 1}: held-out accuracy {acc:.3f} {per}", flush=True)
            if step != args.steps - 1:  # a usable model folder at every evaluation
                save(args, tok, model, held, n_params, time.time() - t0, history)
        if evaluating and dist:
            dist.barrier()  # the others wait while the first evaluates

    if rank == 0:
        save(args, tok, model, held, n_params, time.time() - t0, history)
    if dist:
        dist.barrier()
        dist.destroy_process_group()


def save(args, tok, model, held, n_params, seconds, history):
    os.makedirs(args.out, exist_ok=True)
    s = tok.special
    V = tok.size
    config = {
        "architectures": ["LLaDAModelLM"], "model_type": "llada", "activation_type": "silu",
        "block_type": "llama", "d_model": args.d_model, "n_layers": args.layers,
        "n_heads": args.heads, "n_kv_heads": args.heads, "mlp_hidden_size": args.mlp,
        "mlp_ratio": args.mlp / args.d_model, "vocab_size": V, "embedding_size": V,
        "max_sequence_length": 512, "rope": True, "rope_theta": args.rope_theta, "rms_norm_eps": 1e-5,
        "layer_norm_type": "rms", "include_bias": False, "include_qkv_bias": False,
        "weight_tying": False, "mask_token_id": s["<|mdm_mask|>"],
        "eos_token_id": s["<|endoftext|>"], "pad_token_id": s["<|endoftext|>"],
        "bos_token_id": s["<|startoftext|>"], "torch_dtype": "float32",
    }
    # max_new_tokens: the engine's default canvas for this model. Every task answer and chat
    # fortune fits in 32 tokens, the canvas lengths it saw most. "diffusion": the engine's
    # decoding keys for this model: threshold decoding, which commits every position the model
    # is sure of at once (a task answer in one forward), shows what a diffusion model does;
    # preset fast: the padding after an answer is not decoded one position per forward.
    gen = {"bos_token_id": s["<|startoftext|>"], "eos_token_id": s["<|endoftext|>"],
           "max_new_tokens": DEFAULT_CANVAS,
           "diffusion": {"preset": "fast", "commit": "threshold", "threshold": 0.9}}
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
    write_card(args, tok, held, n_params, seconds, history)
    print(f"wrote {args.out} ({n_params / 1e6:.2f} M parameters) in {seconds:.0f} s", flush=True)


def write_card(args, tok, held, n_params, seconds, history):
    """README.md of the model folder: what it is, its data and licence, how it was made."""
    size = os.path.getsize(os.path.join(args.out, "model.safetensors"))
    # The command as run, with --out naming the folder as committed (models/<name>) and without
    # --held-out (the file's content depends on --seed only; the default path is the one used).
    argv, rest = [], sys.argv[1:]
    while rest:
        a, rest = rest[0], rest[1:]
        if a in ("--out", "--held-out") and rest:
            value, rest = rest[0], rest[1:]
            if a == "--out":
                argv += [a, "models/" + os.path.basename(os.path.normpath(value))]
        else:
            argv.append(a)
    cmd = "/usr/bin/python3 tools/train_demo_model.py " + " ".join(map(shlex.quote, argv))
    earlier, history_rows = "", ""
    if args.earlier_card:  # the first stage's commands and evaluations come first
        prev = args.earlier_card
        block = prev.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
        earlier = "".join(line + "\n" for line in block if line.startswith("/usr/bin/python3"))
        table = prev.split("| step | loss |", 1)[1].splitlines()[2:]
        history_rows = "".join("| stage 1: " + row[2:] + "\n" for row in table if row.startswith("| "))
    rows = "\n".join(
        f"| {h['step']} | {h['loss']:.3f} | {100 * h['held_out_accuracy']:.0f}% | "
        + " / ".join(f"{100 * h['per_task'].get(k, 0):.0f}%" for k in ("add", "copy", "reverse", "sort"))
        + f" | {h['seconds']} |" for h in history)
    early = "" if args.stopped_at is None else (
        f"**Stopped by --max-minutes after {args.stopped_at} of {args.steps} steps.**\n\n")
    objective = ("averaged over masked positions" if args.loss == "mean"
                 else "each masked position weighted by 1/t (the ELBO)")
    card = f"""# dlx-demo-llada

DiffuLex Edge's bundled demo model: a {n_params / 1e6:.2f} M-parameter masked-diffusion language
model in the LLaDA architecture (bidirectional attention, RMSNorm, RoPE, SwiGLU; d_model
{args.d_model}, {args.layers} layers, {args.heads} heads, MLP {args.mlp}), float32 weights
({size / 1e6:.1f} MB), its own byte-level BPE tokenizer ({tok.size} tokens) and LLaDA's chat
template. `max_new_tokens` {DEFAULT_CANVAS} in generation_config.json is its default canvas, and its
`diffusion` object makes threshold decoding (0.9) with `preset` fast the default: a task answer
in one forward, and no forward spent on the padding after an answer (`--preset official` for
the reference algorithm).

It is a toy that runs anywhere in milliseconds, trained in {seconds / 60:.0f} minutes on
{args.procs * args.threads} CPU core(s) ({args.procs} data-parallel process(es)): it answers four synthetic
tasks through the chat template (accuracy below), and it replies to "Tell me a fortune." with
fortune-like English words, not yet sentences. Nothing else it writes is meant to be true.

| task (user turn) | answer |
|---|---|
| `12+35=` (two numbers 10-99) | `47` |
| `copy: 7044` ({LIST_LENGTH} digits, as for reverse and sort) | `7044` |
| `reverse: 1234` | `4321` |
| `sort: 5391` | `1359` |
| `Tell me a fortune.` | fortune-like words |
| plain text (no chat template) | a fortune-like continuation |

## Data and licence

- The fortune collection of Debian's `fortunes` package (/usr/share/games/fortunes, not the
  offensive set): BSD licence, /usr/share/doc/fortunes/copyright.
- Synthetic tasks generated by the training script; {len(held)} held-out prompts
  (tests/bench/demo_heldout.jsonl) are never trained on.

The weights are derived from that data alone and are distributed under the same BSD terms.

## How it was made

```sh
scripts/install-deps.sh --train
{earlier}{cmd}
```

Seeded (seed {args.seed}): the same command gives the same tokenizer, data order and, up to
floating-point reduction order, the same weights. Objective: LLaDA's masked-diffusion SFT loss
(prompt never masked, reply + `<|eot_id|>` + `<|endoftext|>` padding to the canvas, every canvas
position masked with probability t ~ U(0, 1)), {objective}.

{early}Held-out accuracy during training (first 100 held-out prompts, greedy, one token per step,
{args.eval_canvas}-token canvas; the engine's numbers are in the repository README):

| step | loss | accuracy | add / copy / reverse / sort | seconds |
|---|---|---|---|---|
{history_rows}{rows}
"""
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(card)


if __name__ == "__main__":
    main()
