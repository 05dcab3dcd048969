#!/usr/bin/env python3
"""Structured output on the demo model's 200 held-out task prompts (demo_heldout.jsonl), through
`diffulex generate --chat`: plain answers, the answer as a root integer schema, and the answer
as {"answer": integer}. Prints exact-match counts and how many documents parsed. Numbers are
printed, never asserted (README: Structured output quotes them).

usage: tests/bench/demo_structured.py BUILD/service/diffulex
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = {
    "integer": {"type": "integer", "minimum": 0, "maximum": 9999},
    "object": {"type": "object", "properties": {"answer": {"type": "integer", "minimum": 0,
                                                            "maximum": 9999}}},
}


def run(binary, prompt, schema_path=None):
    cmd = [binary, "generate", "--prompt", prompt, "--chat"]
    if schema_path:
        cmd += ["--schema", schema_path]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()


def main():
    binary = sys.argv[1]
    rows = [json.loads(line) for line in open(os.path.join(HERE, "demo_heldout.jsonl"))]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, schema in SCHEMAS.items():
            paths[name] = os.path.join(tmp, name + ".json")
            with open(paths[name], "w") as f:
                json.dump(schema, f)
        plain = integer = obj = parsed = 0
        for r in rows:
            plain += run(binary, r["prompt"]) == r["answer"]
            integer += run(binary, r["prompt"], paths["integer"]) == r["answer"]
            doc = json.loads(run(binary, r["prompt"], paths["object"]))
            parsed += 1
            obj += str(doc["answer"]) == r["answer"]
    leading_zero = sum(len(r["answer"]) > 1 and r["answer"].startswith("0") for r in rows)
    print(f"{len(rows)} held-out prompts ({leading_zero} answers with a leading zero, not JSON "
          f"integers): plain {plain}, schema integer {integer}, schema "
          f"{{\"answer\": integer}} {obj}; documents that parsed {parsed}")


if __name__ == "__main__":
    main()
