#!/usr/bin/env python3
"""DiffuLex against PyTorch on the same CPU, in one run: one forward of a Qwen2-shaped model
(Dream; LLaDA-style models without q/k/v biases work too) over an N-token canvas with logits
for every row, the same weights in both. PyTorch computes in bf16 (what a bf16 checkpoint
runs as; oneDNN) and, with --int8, in int8 through torch.ao.quantization.quantize_dynamic
(fbgemm: weights int8 per row, activations quantized per call). DiffuLex runs `diffulex
bench` on the folder (default precision of its weights) and on every --gguf file. Rounds are
interleaved (ours, then PyTorch, per round) and each system's median of the per-round
medians is reported with the ratio to PyTorch bf16. Also checks that both compute the same
function: the max |difference| of the logits relative to their range.

Needs Debian's python3-torch (scripts/install-deps.sh --train). Benchmarks report, tests never
assert a time. Example (README "Against PyTorch"):

  diffulex make-random-model --family dream --preset qwen2.5-0.5b --out /tmp/q05 --dtype bf16
  diffulex convert --model /tmp/q05 --out /tmp/q05-q8_0.gguf --type q8_0
  python3 tests/bench/compare_torch.py --diffulex build/service/diffulex --model /tmp/q05 \\
      --gguf /tmp/q05-q8_0.gguf --threads 2 --canvas 81 --int8
"""

import argparse
import json
import math
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("compare_torch.py needs PyTorch: bash scripts/install-deps.sh --train")

DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=DTYPES[meta["dtype"]])
        out[name] = t.reshape(meta["shape"])
    return out


class Block(torch.nn.Module):
    def __init__(self, cfg, w, i, dtype):
        super().__init__()
        p = f"model.layers.{i}."
        self.heads = cfg["num_attention_heads"]
        self.kv_heads = cfg.get("num_key_value_heads", self.heads)
        self.hd = cfg["hidden_size"] // self.heads
        self.eps = cfg.get("rms_norm_eps", 1e-6)

        def lin(name):
            weight = w[p + name + ".weight"]
            bias = w.get(p + name + ".bias")
            m = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
            m.weight.data = weight.to(dtype)
            if bias is not None:
                m.bias.data = bias.to(dtype)
            return m

        self.q, self.k, self.v, self.o = (lin("self_attn." + n) for n in ("q_proj", "k_proj",
                                                                             "v_proj", "o_proj"))
        self.gate, self.up, self.down = (lin("mlp." + n) for n in ("gate_proj", "up_proj",
                                                                    "down_proj"))
        self.n1 = w[p + "input_layernorm.weight"].to(dtype)
        self.n2 = w[p + "post_attention_layernorm.weight"].to(dtype)

    def norm(self, x, g):
        v = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(v + self.eps)).to(x.dtype) * g

    def forward(self, x, cos, sin):
        T = x.shape[0]
        h = self.norm(x, self.n1)
        q = self.q(h).view(T, self.heads, self.hd).transpose(0, 1)
        k = self.k(h).view(T, self.kv_heads, self.hd).transpose(0, 1)
        v = self.v(h).view(T, self.kv_heads, self.hd).transpose(0, 1)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = self.heads // self.kv_heads
        k, v = k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
        s = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(self.hd)  # bidirectional
        a = torch.matmul(torch.softmax(s.float(), -1).to(q.dtype), v)
        x = x + self.o(a.transpose(0, 1).reshape(T, -1))
        h = self.norm(x, self.n2)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


def rope(x, cos, sin):
    h = x.shape[-1] // 2
    rot = torch.cat((-x[..., h:], x[..., :h]), -1)
    return x * cos + rot * sin


class Model(torch.nn.Module):
    def __init__(self, cfg, w, dtype):
        super().__init__()
        self.dtype = dtype
        self.embed = w["model.embed_tokens.weight"].to(dtype)
        self.blocks = torch.nn.ModuleList(
            Block(cfg, w, i, dtype) for i in range(cfg["num_hidden_layers"]))
        self.norm_w = w["model.norm.weight"].to(dtype)
        head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        self.head = torch.nn.Linear(head.shape[1], head.shape[0], bias=False)
        self.head.weight.data = head.to(dtype)
        hd = cfg["hidden_size"] // cfg["num_attention_heads"]
        self.theta = cfg.get("rope_theta", 10000.0)
        self.hd = hd
        self.eps = cfg.get("rms_norm_eps", 1e-6)

    def forward(self, ids):
        T = ids.shape[0]
        inv = 1.0 / (self.theta ** (torch.arange(0, self.hd, 2).float() / self.hd))
        ang = torch.outer(torch.arange(T).float(), inv)
        ang = torch.cat((ang, ang), -1)
        cos, sin = ang.cos().to(self.dtype), ang.sin().to(self.dtype)
        x = self.embed[ids]
        for b in self.blocks:
            x = b(x, cos, sin)
        v = x.float().pow(2).mean(-1, keepdim=True)
        x = (x.float() * torch.rsqrt(v + self.eps)).to(self.dtype) * self.norm_w
        return self.head(x).float()


def time_torch(model, ids, reps):
    with torch.inference_mode():
        model(ids)  # warm-up
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            model(ids)
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def time_ours(binary, model, threads, canvas, reps, extra):
    cmd = [binary, "bench", "--model", model, "--threads", str(threads), "--canvas", str(canvas),
           "--reps", str(reps), "--json"] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    d = json.loads(out.strip().splitlines()[-1])
    r = d["results"][0]
    return r["median_ms"], d.get("precision", "?"), r.get("peak_fraction")


def our_logits(binary, model, ids, threads, extra):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "logits.f32")
        subprocess.run([binary, "forward", "--model", model, "--ids", ",".join(map(str, ids)),
                        "--threads", str(threads), "--out", out] + extra,
                       check=True, capture_output=True)
        with open(out, "rb") as f:
            return torch.frombuffer(bytearray(f.read()), dtype=torch.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--diffulex", default="build/service/diffulex")
    ap.add_argument("--model", required=True, help="a safetensors folder (Qwen2-shaped)")
    ap.add_argument("--gguf", action="append", default=[], help="also time this GGUF file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--canvas", type=int, default=81)
    ap.add_argument("--reps", type=int, default=3, help="forwards per round and system")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--int8", action="store_true", help="also PyTorch dynamic int8")
    ap.add_argument("--precision", action="append", default=[],
                    help="also time the folder with this --precision (e.g. exact)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    w = read_safetensors(os.path.join(a.model, "model.safetensors"))
    bf16 = Model(cfg, w, torch.bfloat16).eval()
    systems = {"pytorch bf16": lambda: time_torch(bf16, ids, a.reps)}
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, cfg["vocab_size"] - 1000, (a.canvas,), generator=g)
    if a.int8:
        f32 = Model(cfg, w, torch.float32).eval()
        q8 = torch.ao.quantization.quantize_dynamic(f32, {torch.nn.Linear}, dtype=torch.qint8)
        del f32
        systems["pytorch int8 (quantize_dynamic)"] = lambda: time_torch(q8, ids, a.reps)
    del w

    def ours(path, extra):
        return lambda: time_ours(a.diffulex, path, a.threads, a.canvas, a.reps, extra)

    mine = {"diffulex " + os.path.basename(a.model.rstrip("/")) + " (default)": ours(a.model, [])}
    for p in a.precision:
        mine[f"diffulex {os.path.basename(a.model.rstrip('/'))} --precision {p}"] = ours(
            a.model, ["--precision", p])
    for path in a.gguf:
        mine["diffulex " + os.path.basename(path)] = ours(path, [])

    results = {name: [] for name in list(mine) + list(systems)}
    info = {}
    for rnd in range(a.rounds):
        for name, fn in mine.items():
            ms, prec, frac = fn()
            results[name].append(ms)
            info[name] = {"precision": prec, "peak_fraction": frac}
        for name, fn in systems.items():
            results[name].append(fn())
        print(f"round {rnd + 1}/{a.rounds}: " +
              ", ".join(f"{n} {v[-1]:.0f} ms" for n, v in results.items()), file=sys.stderr)

    anchor = statistics.median(results["pytorch bf16"])
    rows = []
    for name, v in results.items():
        med = statistics.median(v)
        rows.append({"system": name, "median_ms": med, "ratio_to_pytorch_bf16": med / anchor,
                     "rounds_ms": v, **info.get(name, {})})

    # The same function: our default forward against PyTorch bf16 on the same ids.
    with torch.inference_mode():
        ref = bf16(ids).flatten()
    got = our_logits(a.diffulex, a.model, ids.tolist(), a.threads, [])
    rel = float((got - ref).abs().max() / ref.abs().max())

    if a.json:
        print(json.dumps({"model": a.model, "threads": a.threads, "canvas": a.canvas,
                          "torch": torch.__version__, "logits_rel_diff": rel, "rows": rows}))
        return
    print(f"{a.model}: {a.canvas}-token canvas, {a.threads} threads, torch {torch.__version__}, "
          f"median of {a.rounds} interleaved rounds x {a.reps} forwards")
    print(f"{'system':48} {'median ms':>10} {'vs pytorch bf16':>16}  of its peak")
    for r in rows:
        frac = r.get("peak_fraction")
        peak = f"{100 * frac:.0f}% ({r['precision']})" if frac else ""
        print(f"{r['system']:48} {r['median_ms']:10.1f} {r['ratio_to_pytorch_bf16']:16.2f}  {peak}")
    print(f"logits, ours (default) vs pytorch bf16: max|diff| / max|ref| = {rel:.2e}")


if __name__ == "__main__":
    main()
