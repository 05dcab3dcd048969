#!/usr/bin/env python3
"""Browser test of the web playground: starts the real `diffulex serve` on 127.0.0.1 (free port,
temp database, tiny fixture model), drives headless Chromium through chromedriver's WebDriver
HTTP API (Python standard library only), and checks what a user sees: the page loads with the
model and its defaults, a prompt streams into the canvas (step counter advancing, cells
filling, none left masked), history lists the generation and opens its details, an API error
lands next to the control that caused it, side-by-side runs both sets, and Infill mode fills
[____] holes while the fixed text stays as typed, and JSON mode fills a schema's skeleton
with values (the document parses with its keys). With --demo, the bundled
model's first five minutes: Chat mode by default with true answers, side by side on first use,
the empty-answer hint in Plain mode, a 420 px wide window without horizontal scrolling, and the
README's screenshot (artifacts-demo/playground.png). Screenshots are saved as artifacts. Exit 77
(ctest SKIP) only when chromium or chromedriver is not installed.
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SKIP = 77
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


class Failure(Exception):
    pass


def log(msg):
    print(f"[playground_test] {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def wait_for(what, fn, timeout, interval=0.05):
    """Polls fn() until it returns a truthy value; raises Failure after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise Failure(f"timed out after {timeout:.0f} s waiting for {what} (last value: {last!r})")


def http_json(method, url, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = raw.decode(errors="replace")
        return e.code, payload, dict(e.headers)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`diffulex serve` on a free port with its own database."""

    def __init__(self, binary, model, name, tmp, extra=()):
        self.name = name
        self.out = open(os.path.join(tmp, "server.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--host", "127.0.0.1", "--port", "0",
             "--db", os.path.join(tmp, "playground.db"), "--model", f"{name}={model}",
             "--threads", "1", *extra],
            stdout=subprocess.PIPE, stderr=self.out, text=True, start_new_session=True)
        self.lines = []
        self.port = None
        reader = threading.Thread(target=self._read, daemon=True)
        reader.start()
        wait_for("the server to print its port", lambda: self.port or self.proc.poll() is not None, 30)
        check(self.port, f"diffulex serve exited with {self.proc.poll()} before listening")
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for("GET /health to answer 200",
                 lambda: self._health() == 200 or self.proc.poll() is not None, 60, 0.1)
        check(self.proc.poll() is None, "diffulex serve exited while loading the model")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))

    def _health(self):
        try:
            return http_json("GET", self.url + "/health", timeout=2)[0]
        except OSError:
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.out.close()


class Browser:
    """Headless Chromium through chromedriver's W3C WebDriver HTTP API."""

    def __init__(self, chromium, chromedriver, profile, log_path):
        self.profile = profile
        self.port = free_port()
        self.log_file = open(log_path, "w")
        self.driver = subprocess.Popen([chromedriver, f"--port={self.port}"], stdout=self.log_file,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_for("chromedriver to be ready", self._ready, 30, 0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium,
                                   "args": CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]},
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"script": 30000, "pageLoad": 30000, "implicit": 0},
        }}}
        status, body, _ = http_json("POST", self.base + "/session", caps, timeout=60)
        check(status == 200, f"chromedriver could not start chromium: {body}")
        self.session = body["value"]["sessionId"]
        self.cmd("POST", "/window/rect", {"width": 1480, "height": 1240})

    def _ready(self):
        try:
            status, body, _ = http_json("GET", self.base + "/status", timeout=2)
            return status == 200 and body["value"].get("ready")
        except OSError:
            return False

    def cmd(self, method, path, body=None):
        status, payload, _ = http_json(method, f"{self.base}/session/{self.session}{path}", body)
        if status != 200:
            raise Failure(f"WebDriver {method} {path} failed ({status}): {payload}")
        return payload["value"]

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        value = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(value.values()))

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css, text, clear=True):
        el = self.find(css)
        if clear:
            self.cmd("POST", f"/element/{el}/clear", {})
        self.cmd("POST", f"/element/{el}/value", {"text": text})

    def screenshot(self, path):
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        log(f"screenshot: {path} ({len(png)} bytes)")

    def console(self):
        status, payload, _ = http_json("POST", f"{self.base}/session/{self.session}/se/log",
                                       {"type": "browser"})
        return payload["value"] if status == 200 else []

    def quit(self):
        try:
            if getattr(self, "session", None):
                http_json("DELETE", f"{self.base}/session/{self.session}", timeout=15)
        except OSError:
            pass
        if self.driver.poll() is None:
            self.driver.terminate()
            try:
                self.driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.driver.pid, signal.SIGKILL)
                self.driver.wait(timeout=10)
        self.log_file.close()
        kill_leftovers(self.profile)


def kill_leftovers(marker):
    """Kills processes whose command line names our private profile folder: the chromium we
    started, should chromedriver have left any of it behind."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


# JavaScript run in the page -------------------------------------------------------------

# Records every value the step counter of run A shows, with the canvas's cell counts at that
# moment, so a run that takes only a fraction of a second can still be checked for progress.
WATCH_RUN = """
const run = document.querySelector('.run[data-run="a"]');
const counter = run.querySelector('.step-count');
window.__frames = [];
if (window.__observer) window.__observer.disconnect();
window.__observer = new MutationObserver(() => {
  const cells = run.querySelectorAll('.cell').length;
  window.__frames.push({step: Number(counter.dataset.step), cells,
                        masked: run.querySelectorAll('.cell.masked').length,
                        committed: run.querySelectorAll('.cell.committed').length});
});
window.__observer.observe(counter, {attributes: true, attributeFilter: ['data-step']});
"""

RUN_STATE = """
const run = document.querySelector(`.run[data-run="${arguments[0]}"]`);
if (!run) return null;
const stat = (k) => { const d = run.querySelector(`[data-stat="${k}"] dd`); return d ? d.textContent : null; };
return {state: run.dataset.state, id: run.dataset.generationId || null,
        step: Number(run.querySelector('.step-count').dataset.step),
        cells: run.querySelectorAll('.cell').length,
        masked: run.querySelectorAll('.cell.masked').length,
        committed: run.querySelectorAll('.cell.committed').length,
        ended: run.querySelectorAll('.cell.ended').length,
        output: run.querySelector('.output-text').textContent,
        error: run.querySelector('.run-error').hidden ? null : run.querySelector('.run-error').textContent,
        hint: run.querySelector('.run-hint').hidden ? null : run.querySelector('.run-hint-text').textContent,
        params: [...run.querySelectorAll('.run-params .chip')].map(c => c.textContent),
        specials: run.querySelectorAll('.cell.special').length,
        widths: [...new Set([...run.querySelectorAll('.cell')].map(c => Math.round(c.getBoundingClientRect().width)))],
        answerTokens: stat('answer tokens'),
        forwards: stat('forward calls'), tps: stat('tokens/s'), tpf: stat('tokens / forward'),
        sliderMax: Number(run.querySelector('.replay-slider').max)};
"""


def run_state(b, run="a"):
    return b.js(RUN_STATE, run)


def mode(b):
    return b.js("const a = document.querySelector('#mode .active'); return a ? a.dataset.mode : null")


def shown_errors(b):
    """Error texts the page shows: run panels' errors and field errors."""
    return b.js("return [...document.querySelectorAll('.run-error:not([hidden]), .field-error')]"
                ".map(e => e.textContent).filter(Boolean)")


def console_errors(b, allowed=()):
    """SEVERE browser console entries but those whose message contains all of one `allowed`
    tuple's strings."""
    return [e for e in b.console() if e.get("level") == "SEVERE" and not any(
        all(part in e.get("message", "") for part in parts) for parts in allowed)]


def check_no_overflow(b, what):
    """No horizontal scrolling: nothing is wider than the window."""
    sizes = b.js("return [document.documentElement.scrollWidth, innerWidth]")
    wide = b.js("return [...document.querySelectorAll('body *')].filter(e => e.offsetParent !== null"
                " && e.getBoundingClientRect().right > innerWidth + 0.5).slice(0, 5)"
                ".map(e => `${e.tagName}.${e.className}#${e.id}`)")
    check(sizes[0] <= sizes[1], f"{what}: the page scrolls sideways (scrollWidth {sizes[0]} > "
                                f"innerWidth {sizes[1]}; wider than the window: {wide})")
    log(f"{what}: scrollWidth {sizes[0]} <= innerWidth {sizes[1]}")


def wait_run_finished(b, run, timeout=90):
    def done():
        s = run_state(b, run)
        return s if s and s["state"] in ("done", "error", "cancelled") else None
    s = wait_for(f"run {run.upper()} to finish", done, timeout)
    check(s["state"] == "done", f"run {run.upper()} ended as {s['state']}: {s['error']}")
    return s


# The scenario -----------------------------------------------------------------------------

def check_form_defaults(b, server, model):
    """The parameter form shows exactly the defaults GET /v1/models/<model> reports."""
    status, entry, _ = http_json("GET", f"{server.url}/v1/models/{model}")
    check(status == 200, f"GET /v1/models/{model}: {status}")
    defaults = entry.get("diffusion_defaults")
    check(isinstance(defaults, dict) and defaults, f"{model}: no diffusion_defaults: {entry!r}")
    keys = [k["name"] for k in entry["diffusion_schema"]]

    def mismatches():
        values = b.js("return Object.fromEntries([...document.querySelectorAll("
                      "'#params-a [data-param]')].map(i => [i.dataset.param, i.value]))")
        if not values:
            return ["the form is empty"]
        out = []
        for key in keys:
            if key not in defaults:
                continue
            d, v = defaults[key], values.get(key)
            if v is None:
                out.append(f"no field {key}")
            elif d is None:
                ok = v == ""
            elif isinstance(d, bool):
                ok = v == ("true" if d else "false")
            elif isinstance(d, (int, float)):
                ok = v != "" and float(v) == float(d)
            else:
                ok = v == str(d)
            if v is not None and not ok:
                out.append(f"form {key}={v!r}, server default {d!r}")
        return out

    # The form is rebuilt from the server's answer after a model is picked: wait for it.
    wait_for(f"the form to show {model}'s defaults", lambda: not mismatches(), 20)
    log(f"{model}: the form shows the server's {len(keys)} defaults")


def scenario(b, server, artifacts):
    b.cmd("POST", "/url", {"url": server.url + "/"})
    check(b.js("return document.title").startswith("DiffuLex Edge"), "page title")

    # The model picker is fed by /v1/models; the health badge turns ready.
    wait_for("the model picker to list llada",
             lambda: b.js("return [...document.querySelectorAll('#model option')].map(o => o.value)")
             == ["llada"], 20)
    wait_for("the health badge to say ready",
             lambda: b.js("return document.getElementById('health').dataset.state") == "ok", 20)
    info = b.js("return document.getElementById('model-info').textContent")
    check("llada" in info.lower() and "loaded" in info, f"model info line: {info!r}")
    check_form_defaults(b, server, "llada")
    # The fixture has a chat template, so the page opens in Chat mode; this scenario is Plain.
    wait_for("Chat mode (the model has a chat template)", lambda: mode(b) == "chat", 10)
    b.click("#mode [data-mode='plain']")

    # 1. A plain prompt streams into the canvas.
    b.type("#prompt", "The quick brown fox")
    b.js(WATCH_RUN)
    b.click("#generate")
    s = wait_run_finished(b, "a")
    frames = b.js("return window.__frames")
    log(f"run A: {s['step']} steps, {s['cells']} cells ({s['committed']} committed, "
        f"{s['ended']} past the end), forwards {s['forwards']}, {s['tps']} tok/s; "
        f"{len(frames)} counter updates observed")
    # Distinct counter values (resets show 0; a re-render repeats the value).
    steps_seen = []
    for f in frames:
        if f["step"] > 0 and (not steps_seen or steps_seen[-1] != f["step"]):
            steps_seen.append(f["step"])
    check(len(set(steps_seen)) >= 2, f"the step counter never advanced: {steps_seen}")
    check(all(x < y for x, y in zip(steps_seen, steps_seen[1:])),
          f"the step counter went backwards: {steps_seen}")
    check(any(0 < f["committed"] and f["masked"] > 0 for f in frames),
          "no frame showed a partly filled canvas (committed and masked cells together)")
    check(s["step"] > 1 and s["cells"] > 0, f"final state: {s}")
    check(s["masked"] == 0, f"{s['masked']} cells are still masked after the run")
    check(s["committed"] > 0 and s["committed"] + s["ended"] == s["cells"], f"cells: {s}")
    check(len(s["widths"]) == 1, f"canvas cells of different widths: {s['widths']}")
    check(s["forwards"] == str(s["step"]),
          f"the step counter ({s['step']}) does not match the forward calls ({s['forwards']})")
    check(s["tps"] not in (None, "–") and s["tpf"] not in (None, "–"), f"stats: {s}")
    check(s["output"] != "", "no output text")
    gen_id = s["id"]
    check(gen_id and gen_id.startswith("gen-"), f"generation id on the run panel: {gen_id!r}")

    # The API agrees with what the page shows.
    status, g, _ = http_json("GET", f"{server.url}/v1/generations/{gen_id}")
    check(status == 200 and g["status"] == "ok", f"GET /v1/generations/{gen_id}: {status} {g}")
    check(g["forward_calls"] == s["step"], f"log forward_calls {g['forward_calls']} vs {s['step']}")
    # LLaDA's defaults commit one token per forward, so every forward was one replayable event.
    check(s["sliderMax"] == g["forward_calls"],
          f"replay slider range {s['sliderMax']}, log {g['forward_calls']} forwards")

    # Replay: the slider at 1 shows the canvas after the first step only.
    b.js("const r = document.querySelector('.run[data-run=\"a\"] .replay-slider');"
         "r.value = 1; r.dispatchEvent(new Event('input'));")
    first = run_state(b, "a")
    check(1 <= first["step"] <= steps_seen[0] and first["masked"] > 0 and first["committed"] > 0,
          f"replay of step 1: {first}")

    # 2. History lists the generation. The screenshot shows the replay part-way through.
    wait_for("the history to list the generation",
             lambda: b.js("return !!document.querySelector(`.history-item[data-id='${arguments[0]}']`)",
                          gen_id), 20)
    b.js("const r = document.querySelector('.run[data-run=\"a\"] .replay-slider');"
         "r.value = Math.round(r.max * 0.45); r.dispatchEvent(new Event('input'));")
    time.sleep(0.5)  # let the cells' colour transitions finish
    b.screenshot(os.path.join(artifacts, "playground.png"))
    b.js("const r = document.querySelector('.run[data-run=\"a\"] .replay-slider');"
         "r.value = r.max; r.dispatchEvent(new Event('input'));")
    check(run_state(b, "a")["masked"] == 0, "replay at the last step still shows masked cells")

    # Clicking the history entry shows its parameters and output.
    b.click(f".history-item[data-id='{gen_id}']")
    wait_for("the detail dialog", lambda: b.js("return document.getElementById('detail-dialog').open"), 10)
    detail = b.js("return document.getElementById('detail-content').textContent")
    check("gen_length" in detail and "The quick brown fox" in detail, f"detail dialog: {detail[:300]!r}")
    b.screenshot(os.path.join(artifacts, "playground-detail.png"))
    b.click("#detail-close")

    # 3. An invalid parameter: the API's error appears under that control.
    b.type("#params-a-top_p", "1.5")
    b.click("#generate")
    err = wait_for("an error under top_p", lambda: b.js(
        "return document.querySelector('#params-a [data-error-for=\"top_p\"]').textContent"), 20)
    log(f"error under top_p: {err!r}")
    check("top_p" in err, f"error text: {err!r}")
    check(b.js("return document.querySelector('#params-a .param[data-key=\"top_p\"]')"
               ".classList.contains('invalid')"), "top_p is not marked invalid")
    b.click("#reset-params")

    # 4. Side by side: the same prompt with two parameter sets.
    b.click(".switch")
    wait_for("run panel B", lambda: run_state(b, "b"), 5)
    b.js(WATCH_RUN)
    b.click("#generate")
    sa = wait_run_finished(b, "a")
    sb = wait_run_finished(b, "b")
    check(sa["masked"] == 0 and sb["masked"] == 0, f"masked cells in A {sa} or B {sb}")
    check(sa["id"] != sb["id"], "A and B share a generation id")
    summary = wait_for("the comparison summary",
                       lambda: b.js("return document.getElementById('compare-summary').textContent"), 10)
    log(f"side by side: {summary}")
    b.screenshot(os.path.join(artifacts, "playground-side-by-side.png"))

    # 5. Infill: text with [____] holes. The fixed text shows from the start and never changes;
    # the holes fill through the stream; the output marks what the model wrote.
    b.click(".switch")  # side by side off
    b.click("#mode [data-mode='infill']")
    check(mode(b) == "infill", f"mode after clicking Infill: {mode(b)}")
    check(b.js("return document.getElementById('generate').textContent") == "Fill", "button label")
    b.type("#prompt", "The quick [____] fox jumps[__:3] the lazy dog")
    b.js(WATCH_RUN)
    b.click("#generate")
    s = wait_run_finished(b, "a")
    fixed = b.js("return [...document.querySelectorAll('.run[data-run=\"a\"] .cell.fixed')]"
                 ".map(c => c.textContent)")
    frames = b.js("return window.__frames")
    log(f"infill: {s['step']} steps, {len(fixed)} fixed cells {fixed}, output {s['output']!r}")
    check(len(fixed) > 0, "no fixed-text cells on the canvas")
    check(b.js("return !document.querySelector('.run[data-run=\"a\"] .legend-fixed').hidden"),
          "the legend does not explain the fixed cells")
    # The cells show a leading space as "·" and a lone space as "␣"; the prompt is not drawn.
    shown = "".join(fixed).replace("·", " ").replace("␣", " ")
    check(shown == " fox jumps the lazy dog", f"fixed cells {fixed} read {shown!r}")
    check(s["masked"] == 0, f"{s['masked']} hole cells still masked after the run")
    check(s["committed"] == 7, f"{s['committed']} committed cells, the holes hold 7")
    check(any(f["masked"] > 0 and f["committed"] > 0 for f in frames) or s["step"] == 1,
          "no frame showed the holes partly filled")
    check(s["answerTokens"] == "7", f"answer tokens {s['answerTokens']} (holes of 4 and 3)")
    marks = b.js("return [...document.querySelectorAll('.run[data-run=\"a\"] .output-text "
                 "mark.hole-fill')].map(m => m.textContent)")
    check(len(marks) == 2, f"hole marks in the output: {marks}")
    check(s["output"] == "The quick " + marks[0] + " fox jumps" + marks[1] + " the lazy dog",
          f"output {s['output']!r} is not the fixed text with the holes {marks} filled in")
    status, g, _ = http_json("GET", f"{server.url}/v1/generations/{s['id']}")
    check(status == 200 and g["params"].get("template") == [
        {"text": "The quick "}, {"hole": 4}, {"text": " fox jumps"}, {"hole": 3},
        {"text": " the lazy dog"}], f"logged template: {g.get('params')}")
    b.screenshot(os.path.join(artifacts, "playground-infill.png"))
    # A hole the server refuses: the error lands under the prompt, naming the part.
    b.type("#prompt", "broken [__:0] hole")
    b.click("#generate")
    err = wait_for("an error under the prompt", lambda: b.js(
        "return document.querySelector('[data-error-for=\"prompt\"]').textContent"), 20)
    log(f"infill error under the prompt: {err!r}")
    check("template[1].hole" in err, f"error text: {err!r}")

    # 6. JSON: a schema. The skeleton (keys, quotes, commas) shows as fixed cells from the start,
    # the values fill in through the stream, and the output is a document with the schema's keys
    # in declaration order and values of their types.
    b.click("#mode [data-mode='json']")
    check(mode(b) == "json", f"mode after clicking JSON: {mode(b)}")
    check(b.js("return !document.getElementById('json-area').hidden"), "the schema box is hidden")
    check(b.js("return document.getElementById('schema').value.includes('properties')"),
          "the schema box has no example schema")
    schema = ('{"type": "object", "properties": {"name": {"type": "string", "maxLength": 6}, '
              '"count": {"type": "integer", "minimum": 0, "maximum": 99}, '
              '"ok": {"type": "boolean"}, "size": {"enum": ["S", "M", "L"]}}}')
    b.type("#schema", schema)
    b.type("#prompt", "Describe the fox as JSON")
    b.js(WATCH_RUN)
    b.click("#generate")
    s = wait_run_finished(b, "a")
    fixed = b.js("return [...document.querySelectorAll('.run[data-run=\"a\"] .cell.fixed')]"
                 ".map(c => c.textContent)")
    log(f"json: {s['step']} steps, {len(fixed)} fixed cells, output {s['output']!r}")
    check(len(fixed) > 0, "no skeleton cells on the canvas")
    check(s["masked"] == 0, f"{s['masked']} value cells still masked after the run")
    try:
        doc = json.loads(s["output"])
    except ValueError as e:
        raise Failure(f"the JSON output does not parse ({e}): {s['output']!r}")
    check(list(doc.keys()) == ["name", "count", "ok", "size"], f"keys of {doc}")
    check(isinstance(doc["name"], str) and len(doc["name"]) <= 6, f"name of {doc}")
    check(isinstance(doc["count"], int) and 0 <= doc["count"] <= 99, f"count of {doc}")
    check(isinstance(doc["ok"], bool) and doc["size"] in ("S", "M", "L"), f"ok / size of {doc}")
    b.screenshot(os.path.join(artifacts, "playground-json.png"))
    # A schema the server refuses: the error lands under the schema box, naming the part.
    b.type("#schema", '{"type": "object", "properties": {"tags": {"type": "array", '
                      '"items": {"type": "string"}}}}')
    b.click("#generate")
    err = wait_for("an error under the schema", lambda: b.js(
        "return document.querySelector('[data-error-for=\"schema\"]').textContent"), 20)
    log(f"json error under the schema: {err!r}")
    check("/properties/tags" in err, f"error text: {err!r}")
    # Not JSON at all: caught in the page before any request.
    b.type("#schema", "{not json")
    b.click("#generate")
    err = wait_for("a parse error under the schema", lambda: b.js(
        "return document.querySelector('[data-error-for=\"schema\"]').textContent"), 5)
    check("not JSON" in err, f"error text: {err!r}")

    # No console errors (a CSP violation or a missing file would show here) but the 400s that
    # steps 3, 5 and 6 asked for.
    severe = console_errors(b, allowed=[("/v1/generate", "400")])
    check(not severe, f"browser console errors: {severe}")


def demo_scenario(b, server, artifacts):
    """The bundled demo model, as a new user meets it: the page opens in Chat mode (the model
    answers through its chat template), side by side works at once, chat replies are the tasks'
    true answers (computed here) and a fortune in words, Plain mode explains an empty answer,
    and a 420 px wide window does not scroll sideways. Saves the README's screenshot."""
    # The model's entry (schema and defaults) comes 3 s late, so side by side is switched on
    # before the form exists: set B must still get the defaults, and A's other commit rule.
    b.cmd("POST", "/goog/cdp/execute", {"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {
        "source": "const fetch0 = window.fetch; window.fetch = (url, opts) => "
                  "/^\\/v1\\/models\\/[^/]+$/.test(String(url)) ? new Promise((r) => "
                  "setTimeout(r, 3000)).then(() => fetch0(url, opts)) : fetch0(url, opts);"}})
    b.cmd("POST", "/url", {"url": server.url + "/"})
    # 1. Side by side on first use: switched on before anything else, both runs finish without
    # an error.
    wait_for("the model picker", lambda: b.js("return document.getElementById('model').value"), 10)
    check(b.js("return document.querySelectorAll('#params-a [data-param]').length") == 0,
          "the form was built before side by side was switched on")
    b.click(".switch")
    wait_for("the health badge to say ready",
             lambda: b.js("return document.getElementById('health').dataset.state") == "ok", 20)
    check_form_defaults(b, server, server.name)
    wait_for("Chat mode by default (the model has a chat template)", lambda: mode(b) == "chat", 10)
    b.type("#prompt", "sort: 5391")
    b.click("#generate")
    sa = wait_run_finished(b, "a")
    sb = wait_run_finished(b, "b")
    check(not shown_errors(b), f"side by side on first use shows errors: {shown_errors(b)}")
    check(sa["output"].strip() == "1359" and sb["output"].strip() == "1359",
          f"side by side: A {sa['output']!r}, B {sb['output']!r}")
    # A has the demo model's own default (generation_config.json: threshold decoding), B the
    # other rule.
    check("commit threshold" in sa["params"] and "commit schedule" in sb["params"],
          f"B is A with the other commit rule: A {sa['params']}, B {sb['params']}")
    summary = wait_for("the comparison summary",
                       lambda: b.js("return document.getElementById('compare-summary').textContent"), 10)
    log(f"side by side on first use: {summary}")
    # An emptied field of a key that cannot be null (block_length) is left out, not sent as null.
    b.cmd("POST", f"/element/{b.find('#params-a-block_length')}/clear", {})
    b.click("#generate")
    sa = wait_run_finished(b, "a")
    wait_run_finished(b, "b")
    check(not shown_errors(b) and "block 32" in sa["params"],
          f"an emptied block_length: errors {shown_errors(b)}, A ran with {sa['params']}")
    b.click("#reset-params")
    b.click(".switch")

    # 2. Chat mode (the default, never clicked): the tasks' true answers, counted as answers.
    for prompt, want in (("sort: 5391", "".join(sorted("5391"))), ("62+89=", str(62 + 89)),
                         ("reverse: 4588", "4588"[::-1])):
        b.click("#new-chat")  # one user turn each: the tasks are single-turn
        b.js("document.getElementById('prompt').value = ''")
        b.type("#prompt", prompt)
        b.click("#generate")
        s = wait_run_finished(b, "a")
        log(f"demo {prompt!r}: {s['output']!r} in {s['forwards']} forwards, "
            f"{s['answerTokens']} answer tokens, {s['specials']} end/padding cells")
        check(s["output"].strip() == want, f"{prompt!r} gave {s['output']!r}, want {want!r}")
        # The answer's digits are its tokens; the end token and padding are not counted.
        check(s["answerTokens"] == str(len(want)), f"answer tokens {s['answerTokens']}, want {len(want)}")
        check(s["specials"] > 0 and len(s["widths"]) == 1,
              f"end/padding cells {s['specials']}, cell widths {s['widths']}")
        check(s["hint"] is None, f"a hint on a real answer: {s['hint']!r}")
    b.click("#new-chat")
    b.js("document.getElementById('prompt').value = ''")
    b.type("#prompt", "Tell me a fortune.")
    b.click("#generate")
    s = wait_run_finished(b, "a")
    log(f"demo fortune: {s['output']!r}")
    words = re.findall(r"[A-Za-z]+", s["output"])
    check(len(words) >= 3, f"the fortune has no words: {s['output']!r}")
    time.sleep(0.5)
    b.screenshot(os.path.join(artifacts, "playground-demo.png"))

    # The README's screenshot: a task's replay at the step where about half of its answer has
    # appeared (LLaDA commits the end and padding first, the answer last), at a size that keeps
    # the PNG small (web/playground.png is a copy of it). One token per forward (commit
    # schedule) so there are steps to show: the model's own default answers in one forward.
    b.click("#new-chat")
    b.js("document.getElementById('prompt').value = ''")
    b.js("const c = document.getElementById('params-a-commit'); c.value = 'schedule';"
         "c.dispatchEvent(new Event('input')); c.dispatchEvent(new Event('change'));")
    b.type("#prompt", "sort: 5391")
    b.click("#generate")
    run = wait_run_finished(b, "a")
    check("commit schedule" in run["params"], f"the screenshot run: {run['params']}")
    b.cmd("POST", "/window/rect", {"width": 1280, "height": 1100})
    b.js("""window.scrollTo(0, 0);
            const run = document.querySelector('.run[data-run="a"]');
            const r = run.querySelector('.replay-slider');
            const words = () => run.querySelectorAll('.cell.committed:not(.special)').length;
            const show = (k) => { r.value = k; r.dispatchEvent(new Event('input')); };
            show(r.max);
            const half = Math.ceil(words() / 2);
            let k = Number(r.max);
            while (k > 0 && words() > half) show(--k);""")
    time.sleep(0.6)  # let the cells' colour transitions finish
    b.screenshot(os.path.join(artifacts, "playground.png"))
    b.js("const r = document.querySelector('.run[data-run=\"a\"] .replay-slider');"
         "r.value = r.max; r.dispatchEvent(new Event('input'));")
    b.click("#reset-params")

    # 3. Plain mode: the model answers nothing without its template, and the page says why.
    b.click("#mode [data-mode='plain']")
    b.js("document.getElementById('prompt').value = ''")
    b.type("#prompt", "sort: 5391")
    b.click("#generate")
    s = wait_run_finished(b, "a")
    log(f"plain {s['output']!r}: hint {s['hint']!r}")
    check(s["output"].strip() == "" and s["answerTokens"] == "0", f"plain answer: {s}")
    check(s["hint"] and "chat template" in s["hint"] and "Chat mode" in s["hint"],
          f"no empty-answer hint: {s['hint']!r}")
    b.screenshot(os.path.join(artifacts, "playground-empty-hint.png"))
    b.click('.run[data-run="a"] .run-hint-action')
    check(mode(b) == "chat", f"the hint's button did not switch to Chat mode ({mode(b)})")

    # 4. A phone-wide window: the controls stack, nothing scrolls sideways, also with a run.
    b.cmd("POST", "/window/rect", {"width": 420, "height": 900})
    wait_for("the window to be 420 px wide", lambda: b.js("return innerWidth") <= 420, 10)
    check_no_overflow(b, "420 px")
    b.click("#new-chat")
    b.js("document.getElementById('prompt').value = ''")
    b.type("#prompt", "copy: 7044")
    b.click("#generate")
    s = wait_run_finished(b, "a")
    check(s["output"].strip() == "7044", f"copy: 7044 at 420 px gave {s['output']!r}")
    check_no_overflow(b, "420 px, chat answered")
    b.click(".switch")
    wait_for("run panel B", lambda: run_state(b, "b"), 5)
    check_no_overflow(b, "420 px, side by side")
    b.js("document.querySelector('.run[data-run=\"a\"]').scrollIntoView()")
    time.sleep(0.3)
    b.screenshot(os.path.join(artifacts, "playground-420px.png"))

    severe = console_errors(b)
    check(not severe, f"browser console errors: {severe}")


FAMILIES = ("llada", "dream", "sdar", "fast_dllm_v2")


NO_TEMPLATE = "no_template"  # the LLaDA fixture without its chat template


def without_chat_template(fixture, folder):
    """A copy of a fixture model whose tokenizer_config.json has no chat_template."""
    os.makedirs(folder)
    for name in ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json"):
        shutil.copy(os.path.join(fixture, name), folder)
    with open(os.path.join(fixture, "tokenizer_config.json")) as f:
        config = json.load(f)
    config.pop("chat_template", None)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(config, f)
    return folder


def families_scenario(b, server, artifacts):
    """Each family's fixture in the model picker: the form shows that model's defaults (they
    differ: block sizes, commit rules, caches), as GET /v1/models/<name> reports them, and the
    prompt mode follows the model: Chat for models with a chat template, Plain (Chat off) for a
    model without one."""
    b.cmd("POST", "/url", {"url": server.url + "/"})
    names = FAMILIES + (NO_TEMPLATE,)
    wait_for("the model picker to list every family",
             lambda: sorted(b.js("return [...document.querySelectorAll('#model option')]"
                                 ".map(o => o.value)")) == sorted(names), 20)
    chat_tab_off = "return document.querySelector('#mode [data-mode=\"chat\"]').disabled"
    for name in names:
        b.js(f"const s = document.getElementById('model'); s.value = '{name}';"
             "s.dispatchEvent(new Event('change'));")
        check_form_defaults(b, server, name)
        want = "plain" if name == NO_TEMPLATE else "chat"
        wait_for(f"{name}: {want} mode", lambda: mode(b) == want and b.js(chat_tab_off) == (
            name == NO_TEMPLATE), 10)
        log(f"{name}: opens in {want} mode")
    b.screenshot(os.path.join(artifacts, "playground-families.png"))
    # Until GET /v1/models/{name} reports has_chat_template, the page asks POST /tokenize,
    # which answers 400 for the model without a template.
    severe = console_errors(b, allowed=[("/tokenize", "400")])
    check(not severe, f"browser console errors: {severe}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--name", default="llada", help="the name the server gives --model")
    ap.add_argument("--demo", action="store_true",
                    help="the bundled demo model: chat-mode task answers and a fortune")
    ap.add_argument("--families", action="store_true",
                    help="serve every family's fixture (folders beside --model) and check each "
                         "one's form defaults")
    args = ap.parse_args()

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        print("SKIP: chromium and chromium-driver are not installed "
              "(scripts/install-deps.sh installs them)", flush=True)
        return SKIP

    os.makedirs(args.artifacts, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="dlx-browser-")
    server = browser = None
    try:
        extra = []
        if args.families:
            root = os.path.dirname(os.path.abspath(args.model))
            extra = [a for f in FAMILIES if f != "llada"
                     for a in ("--model", f"{f}={os.path.join(root, f)}")]
            plain = without_chat_template(args.model, os.path.join(tmp, NO_TEMPLATE))
            extra += ["--model", f"{NO_TEMPLATE}={plain}"]
        server = Server(args.binary, args.model, args.name, tmp, extra)
        log(f"server at {server.url}")
        browser = Browser(chromium, chromedriver, os.path.join(tmp, "profile"),
                          os.path.join(args.artifacts, "chromedriver.log"))
        run = demo_scenario if args.demo else families_scenario if args.families else scenario
        run(browser, server, args.artifacts)
        log("PASS")
        return 0
    except Failure as e:
        log(f"FAIL: {e}")
        if browser:
            try:
                browser.screenshot(os.path.join(args.artifacts, "failure.png"))
            except Exception:  # the browser may be what failed
                pass
        return 1
    finally:
        if browser:
            browser.quit()
        if server:
            server.stop()
            shutil.copy(os.path.join(tmp, "server.log"), os.path.join(args.artifacts, "server.log"))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
