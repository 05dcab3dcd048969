#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets (tests/fuzz/corpus/<target>/) from the
fixtures (tests/fixtures/models/*, tests/fixtures/tokenizers/qwen3, models/dlx-demo-llada).
The seeds are committed; run this again after a fixture changes:

    python3 tests/fuzz/make_corpus.py

Input formats are the targets' own (see the header comment of each fuzz_<target>.cpp): parts
of one input are separated by NUL bytes.
"""
import json
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
FAMILIES = ["llada", "dream", "sdar", "fast_dllm_v2"]
MODELS = {f: os.path.join(FIX, "models", f) for f in FAMILIES}
MODELS["demo"] = os.path.join(ROOT, "models", "dlx-demo-llada")
QWEN3 = os.path.join(FIX, "tokenizers", "qwen3")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def dump(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class Corpus:
    def __init__(self, target):
        self.dir = os.path.join(OUT, target)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)

    def add(self, name, *parts):
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(b"\0".join(parts))


def safetensors_header(path):
    data = read(path)
    (n,) = struct.unpack("<Q", data[:8])
    return data[8 : 8 + n]


def raw_safetensors(tensors, metadata=None):
    """A complete small file: {name: (dtype, shape, bytes)}."""
    header, blob = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = dump(header)
    return struct.pack("<Q", len(h)) + h + blob


def safetensors():
    c = Corpus("safetensors")
    for fam in FAMILIES:
        for f in ["model.safetensors", "model.bf16.safetensors"]:
            c.add(f"{fam}.{f.replace('.safetensors', '')}.header",
                  safetensors_header(os.path.join(MODELS[fam], f)))
    c.add("raw.f32", raw_safetensors({"w": ("F32", [2], struct.pack("<2f", 1.5, -2))}))
    c.add("raw.mixed", raw_safetensors(
        {"a": ("F16", [2, 2], b"\x00\x3c" * 4), "b": ("BF16", [3], b"\x80\x3f" * 3),
         "c": ("I32", [1], struct.pack("<i", 7)), "empty": ("F32", [0, 4], b"")},
        metadata={"format": "pt"}))
    c.add("raw.truncated", struct.pack("<Q", 100) + b"{}")


def model_config():
    c = Corpus("model_config")
    for name, d in MODELS.items():
        cfg = read(os.path.join(d, "config.json"))
        gen_path = os.path.join(d, "generation_config.json")
        gen = read(gen_path) if os.path.exists(gen_path) else b"{}"
        added = {"added_tokens": load(os.path.join(d, "tokenizer.json"))["added_tokens"]}
        c.add(f"{name}.all", cfg, gen, dump(added))
        c.add(f"{name}.config_only", cfg)


def trimmed_qwen3(max_id=600):
    """The real Qwen3 tokenizer.json with the vocabulary cut to the first ids (5 MB -> KBs)."""
    j = load(os.path.join(QWEN3, "tokenizer.json"))
    vocab = {t: i for t, i in j["model"]["vocab"].items() if i < max_id}
    merges = []
    for m in j["model"]["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ", 1)
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    j["model"]["vocab"] = vocab
    j["model"]["merges"] = merges
    j["added_tokens"] = [dict(t, id=max_id + k) for k, t in enumerate(j["added_tokens"])]
    return j


TEXTS = [b"Hello, world! It's 2024.", "caf\u00e9 \u4f60\u597d \U0001F600".encode(),
         b"<|im_start|>user\n12 + 34 = ?<|im_end|>\n"]


def tokenizer():
    c = Corpus("tokenizer")
    for k, (name, d) in enumerate(MODELS.items()):
        tok = read(os.path.join(d, "tokenizer.json"))
        cfg = read(os.path.join(d, "tokenizer_config.json"))
        c.add(f"{name}.all", tok, cfg, TEXTS[k % len(TEXTS)])
        c.add(f"{name}.json_only", tok)
    cfg = load(os.path.join(QWEN3, "tokenizer_config.json"))
    q = trimmed_qwen3()
    cfg.pop("added_tokens_decoder", None)  # its ids are the untrimmed ones
    c.add("qwen3_trimmed.all", dump(q), dump(cfg), TEXTS[2])


def templates():
    out = {}
    for name, d in list(MODELS.items()) + [("qwen3", QWEN3)]:
        cfg = load(os.path.join(d, "tokenizer_config.json"))
        if cfg.get("chat_template"):
            out[name] = cfg["chat_template"].encode()
    return out


# Small templates for the constructs the fixtures' templates do not use.
SNIPPETS = [
    "{% for m in messages %}{{ loop.index }}/{{ loop.length }} {{ m.role|upper }}: "
    "{{ m.content|trim|replace('a', 'b') }}{% if not loop.last %}\n{% endif %}{% endfor %}",
    "{% set ns = namespace(n=0) %}{% for m in messages if m.role != 'system' %}"
    "{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}",
    "{% macro show(x, sep=', ') %}{{ x|join(sep) }}{% endmacro %}{{ show([1, 2, 3]) }}"
    "{{ show(range(3)|list, '-') }}",
    "{{ messages|map(attribute='role')|unique|list|tojson }}"
    "{{ messages|selectattr('role', 'equalto', 'user')|list|length }}",
    "{{ (messages[0].content ~ '!') * 2 }}{{ messages[-1].content[1:3] }}{{ 7 // 2 }}"
    "{{ 7 % 3 }}{{ 2 ** 10 }}{{ 1.5 + 1 }}{{ 'x' in 'xyz' }}",
    "{%- if messages[0]['role'] == 'system' -%}{{ messages[0]['content'] }}{%- else -%}"
    "{{ raise_exception('need a system message') }}{%- endif -%}",
    "{{ {'a': 1, 'b': [true, none]}|tojson(indent=2) }}{{ 'a,b,,c'.split(',') }}"
    "{{ '  x  '.strip() }}{{ 'abc'.startswith('a') }}{{ '%s-%d'|format('a', 3) }}",
    "{% for k, v in {'x': 1, 'y': 2}|dictsort %}{{ k }}={{ v }};{% endfor %}"
    "{{ messages|length is divisibleby 2 }}{{ (1, 2) }}{{ [3, 1, 2]|sort|reverse|list }}",
    "{% raw %}{{ not rendered }}{% endraw %}{# comment #}{{ 'line\nline'|indent(2, true) }}",
    "{% for i in range(3) %}{% for j in range(i) %}{{ i * j }}{% if j > 0 %}{% break %}"
    "{% endif %}{% endfor %}{% endfor %}{{ messages is defined and foo is undefined }}",
]

MESSAGES = [
    [{"role": "user", "content": "hi"}],
    [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
     {"role": "assistant", "content": "<think>t</think>a"}, {"role": "user", "content": ""}],
]


def chat_template():
    c = Corpus("chat_template")
    for name, t in templates().items():
        c.add(f"{name}", t)
        c.add(f"{name}.messages", t, dump(MESSAGES[1]), dump({"enable_thinking": False}))
    for k, s in enumerate(SNIPPETS):
        c.add(f"snippet{k:02d}", s.encode())
        c.add(f"snippet{k:02d}.messages", s.encode(), dump(MESSAGES[k % 2]))


def cases(fam):
    return load(os.path.join(MODELS[fam], "cases.json"))["cases"]


def decode_params():
    c = Corpus("decode_params")
    for f, fam in enumerate(FAMILIES):
        seen = set()
        for case in cases(fam):
            key = dump(case["diffulex"])
            if key in seen or len(seen) >= 6:
                continue
            seen.add(key)
            prompt = min(len(case["prompt_ids"]), 32)
            head = bytes([f | (prompt - 1) << 3])
            c.add(f"{fam}.{len(seen)}.json", head + key)
            text = "\n".join(f"{k} {json.dumps(v) if not isinstance(v, str) else v}"
                             for k, v in case["diffulex"].items())
            c.add(f"{fam}.{len(seen)}.text", bytes([head[0] | 4]) + text.encode())
    c.add("llada.small.json", bytes([0 | 3 << 3]) + dump(
        {"gen_length": 12, "block_length": 4, "steps": 6, "temperature": 0.7, "top_k": 5,
         "top_p": 0.9, "seed": 3, "confidence": "margin"}))
    c.add("dream.cfg.json", bytes([1 | 5 << 3]) + dump(
        {"gen_length": 16, "block_length": 0, "cfg_scale": 1.5, "schedule": "timestep",
         "eps": 0.01, "confidence": "neg_entropy"}))
    c.add("fast.sub.text", bytes([3 | 4 | 7 << 3]) +
          b"gen_length 16\nblock_length 8\nsub_block_length 4\ncommit threshold\n"
          b"threshold 0.5\ncache dual")


def http_request():
    c = Corpus("http_request")
    llada = cases("llada")
    bodies = {
        "completions.text": {"model": "llada", "prompt": "Hello", "max_tokens": 8,
                             "temperature": 0, "top_p": 1, "seed": 1, "stop": ["\n", "."],
                             "n": 1, "echo": False, "logprobs": None, "suffix": ""},
        "completions.ids": {"model": "llada", "prompt": [1, 2, 3], "max_tokens": 16,
                            "stream": True, "diffusion": {"block_length": 8}},
        "chat": {"model": "llada", "max_completion_tokens": 12, "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "2+2"},
                                         {"type": "text", "text": "=?"}]},
            {"role": "assistant", "content": None}, {"role": "user", "content": "ok"}]},
        "generate.text": {"model": "llada", "prompt": "sort: 5391",
                          "add_special_tokens": False, "stream": "denoise",
                          "diffusion": {"gen_length": 16, "commit": "threshold",
                                        "threshold": 0.7}},
    }
    for k, case in enumerate(llada[:4]):
        bodies[f"generate.case{k}"] = {"model": "llada", "prompt_ids": case["prompt_ids"],
                                       "stream": "append" if k % 2 else False,
                                       "diffusion": case["diffulex"]}
    for name, body in bodies.items():
        c.add(name, dump(body))


if __name__ == "__main__":
    safetensors()
    model_config()
    tokenizer()
    chat_template()
    decode_params()
    http_request()
    for t in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, t))
        size = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in files)
        print(f"{t}: {len(files)} seeds, {size} bytes")
