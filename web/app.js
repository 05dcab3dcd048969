// Playground wiring: model picker, prompt (plain or chat), parameter sets A/B, runs streamed
// from POST /v1/generate (stream "denoise"), history, API key, and errors shown where they
// belong.

import { ApiError, getApiKey, getJson, health, postJson, postStream, setApiKey } from "./api.js";
import { HistoryView } from "./history.js";
import { filledNodes, parseHoles, templateToText } from "./infill.js";
import { EXAMPLE_SCHEMA, parseSchema, prettyDocument } from "./json_mode.js";
import { ParamsForm } from "./params.js";
import { RunView } from "./run_view.js";

const $ = (id) => document.getElementById(id);

const state = {
  models: [],
  mode: "plain",
  modeChosen: false,  // the user picked a mode; until then it follows the model
  chatTemplate: null,  // whether the selected model has a chat template (null: unknown)
  compare: false,
  running: false,
  abort: null,
  conversation: [],  // chat turns so far: {role, content}
  runs: {},
};

const forms = { a: new ParamsForm($("params-a")), b: new ParamsForm($("params-b")) };
const template = $("run-template");
state.runs.a = new RunView($("runs"), template, "A");

const history = new HistoryView({
  onError: (err) => handleAuth(err),
  onUse: (g) => useGeneration(g),
});

// ---------------------------------------------------------------- errors

function clearErrors() {
  for (const el of document.querySelectorAll("[data-error-for='prompt'], [data-error-for='model']")) {
    el.textContent = "";
  }
  $("prompt").classList.remove("invalid");
  $("model").classList.remove("invalid");
  forms.a.clearErrors();
  forms.b.clearErrors();
}

function showFieldError(key, message) {
  const box = document.querySelector(`[data-error-for='${key}']`);
  if (box) box.textContent = message;
  const control = $(key);
  if (control) {
    control.classList.add("invalid");
    control.focus();
  }
}

// 401: the key is missing or wrong; ask for it. Returns true when handled.
function handleAuth(err) {
  if (!(err instanceof ApiError) || err.status !== 401) return false;
  openKeyDialog(err.message);
  return true;
}

// Puts an API error next to the control that caused it (the error's `param`).
function showApiError(err, set) {
  handleAuth(err);
  const param = err.param || "";
  if (param && forms[set].showError(param, err.message)) {
    if (state.compare) selectSet(set);
    return;
  }
  if (param === "prompt" || param === "prompt_ids" || param.startsWith("messages") ||
      param === "text" || param.startsWith("template")) {
    showFieldError("prompt", err.message);
  } else if (param === "schema") {
    showFieldError("schema", err.message);
  } else if (param === "model") {
    showFieldError("model", err.message);
  }
}

// ---------------------------------------------------------------- API key

function updateKeyState() {
  $("key-state").textContent = getApiKey() ? "set" : "not set";
}

function openKeyDialog(message) {
  $("key-message").textContent = message || "";
  $("key-input").value = getApiKey();
  if (!$("key-dialog").open) $("key-dialog").showModal();
  $("key-input").focus();
}

$("key-button").addEventListener("click", () => openKeyDialog(""));
$("key-clear").addEventListener("click", () => {
  $("key-input").value = "";
});
$("key-dialog").addEventListener("close", () => {
  if ($("key-dialog").returnValue !== "save") return;
  setApiKey($("key-input").value.trim());
  updateKeyState();
  loadModels();
  history.refresh();
});

// ---------------------------------------------------------------- health and models

let lastHealth = null;

async function pollHealth() {
  let h;
  try {
    h = await health();
  } catch (_) {
    h = { ok: false, status: "unreachable" };
  }
  const el = $("health");
  el.dataset.state = h.ok ? "ok" : (h.status === "unreachable" ? "down" : "busy");
  $("health-text").textContent = h.ok ? "ready" : h.status === "loading" ? "loading models" : h.status;
  if (h.ok && lastHealth !== "ok") loadModels();
  lastHealth = h.ok ? "ok" : h.status;
  setTimeout(pollHealth, h.ok ? 15000 : 2000);
}

function selectedModel() {
  return state.models.find((m) => m.id === $("model").value) || null;
}

function formatCount(n) {
  if (!n) return "";
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

async function loadModels() {
  let list;
  try {
    list = await getJson("/v1/models");
  } catch (err) {
    if (!handleAuth(err)) showFieldError("model", err.message);
    return;
  }
  state.models = list.data || [];
  const select = $("model");
  const previous = select.value || sessionStorage.getItem("diffulex.model");
  select.replaceChildren(...state.models.map((m) => new Option(m.id, m.id)));
  if (state.models.length === 0) {
    select.append(new Option("no models registered", ""));
  } else if (previous && state.models.some((m) => m.id === previous)) {
    select.value = previous;
  } else {
    const loaded = state.models.find((m) => m.status === "loaded");
    select.value = (loaded || state.models[0]).id;
  }
  onModelChange();
}

// The form of a model: the server's key table and that model's resolved defaults, from its
// own entry (GET /v1/models/{name}); fetched per selection, never guessed or cached.
let detailRequest = 0;
async function loadModelForm(m) {
  const ticket = ++detailRequest;
  let detail = null;
  if (m) {
    try {
      detail = await getJson(`/v1/models/${encodeURIComponent(m.id)}`);
    } catch (err) {
      detail = null;
    }
  }
  if (ticket !== detailRequest) return;  // a later selection won
  const defaults = detail ? detail.diffusion_defaults : null;
  for (const f of [forms.a, forms.b]) {
    f.setSchema(detail ? detail.diffusion_schema : null);
    f.applyDefaults(defaults);
  }
  keepCommitsApart();
  updateDefaultsHint(m, defaults);
  // true / false from the model's entry; null when its files could not be read.
  applyChatTemplate(detail && typeof detail.has_chat_template === "boolean"
                        ? detail.has_chat_template
                        : null);
}

// Models with a chat template open in Chat mode (they answer through it); models without one
// stay in Plain mode with the Chat tab off. A mode the user picked is kept where it works.
function applyChatTemplate(has) {
  state.chatTemplate = has;
  const chatTab = $("mode").querySelector("[data-mode='chat']");
  chatTab.disabled = has === false;
  chatTab.title = has === false ? "This model has no chat template" : "";
  if (has === false) setMode("plain");
  else if (has && !state.modeChosen) setMode("chat");
}

function onModelChange() {
  const m = selectedModel();
  $("model").classList.remove("invalid");
  document.querySelector("[data-error-for='model']").textContent = "";
  if (m) sessionStorage.setItem("diffulex.model", m.id);
  const info = [];
  if (m) {
    // A GGUF file says so: "llada · GGUF q4_0 · 1.1B params · loaded".
    info.push(m.family, m.format === "gguf" ? `GGUF ${m.dtype}` : m.dtype);
    if (m.parameters) info.push(`${formatCount(m.parameters)} params`);
    info.push(m.status);
  }
  $("model-info").textContent = info.filter(Boolean).join(" · ");
  $("model-info").dataset.status = m ? m.status : "";
  $("model-load").hidden = !m || m.status === "loaded" || m.status === "loading";
  loadModelForm(m);
}

function updateDefaultsHint(m, defaults) {
  $("defaults-hint").textContent = !m ? "" : defaults
    ? `Pre-filled with the ${m.family || "model"} family defaults the server reports; only changed values are sent.`
    : "The server did not report this model's defaults (see its status); empty fields use them.";
}

$("model").addEventListener("change", onModelChange);
$("model-load").addEventListener("click", async () => {
  const m = selectedModel();
  if (!m) return;
  $("model-load").disabled = true;
  $("model-info").textContent = "loading…";
  try {
    await postJson(`/v1/models/${encodeURIComponent(m.id)}/load`, {});
  } catch (err) {
    if (!handleAuth(err)) showFieldError("model", err.message);
  }
  $("model-load").disabled = false;
  await loadModels();
});

// ---------------------------------------------------------------- modes and sets

// Prompt modes: what the prompt box holds and how it becomes a request (buildPrompt). A new
// mode adds its entry here and a tab in index.html.
const MODES = {
  plain: { placeholder: "Write a prompt. Ctrl+Enter generates.", button: "Generate" },
  chat: { placeholder: "Message (the model's chat template is applied). Ctrl+Enter sends.", button: "Generate" },
  infill: {
    placeholder: "Text with holes: [____] is one token per underscore, [____:8] eight tokens, " +
                 "[____:1-8] one to eight. Ctrl+Enter fills them.",
    button: "Fill",
  },
  json: {
    placeholder: "What the document is about (sent through the chat template when the model has " +
                 "one). Ctrl+Enter generates.",
    button: "Generate JSON",
  },
};

function setMode(mode) {
  state.mode = mode;
  for (const b of $("mode").querySelectorAll("button")) b.classList.toggle("active", b.dataset.mode === mode);
  $("chat-area").hidden = mode !== "chat";
  $("new-chat").hidden = mode !== "chat";
  $("json-area").hidden = mode !== "json";
  if (mode === "json" && !$("schema").value.trim()) $("schema").value = EXAMPLE_SCHEMA;
  $("prompt").placeholder = MODES[mode].placeholder;
  if (!state.running) $("generate").textContent = MODES[mode].button;
}

function selectSet(set) {
  for (const b of $("set-tabs").querySelectorAll("button")) b.classList.toggle("active", b.dataset.set === set);
  $("params-a").hidden = set !== "a";
  $("params-b").hidden = set !== "b";
}

function otherCommit(commit) {
  return commit === "threshold" ? "schedule" : "threshold";
}

// B compares A with the other commit rule: when the model's defaults arrive after B was set up
// (or change A's rule), B still differs from A.
function keepCommitsApart() {
  if (!state.runs.b) return;
  const a = forms.a.current("commit");
  if (a && forms.b.current("commit") === a) forms.b.setValues({ commit: otherCommit(a) });
}

function setCompare(on) {
  state.compare = on;
  $("compare").checked = on;
  $("set-tabs").hidden = !on;
  $("runs").classList.toggle("side-by-side", on);
  $("compare-summary").textContent = "";
  if (on && !state.runs.b) {
    state.runs.b = new RunView($("runs"), template, "B");
    // Start B as A's changes with the other commit rule, the comparison people usually want;
    // only values that differ from the model's defaults are copied, so B follows the defaults
    // (also those that arrive later) everywhere else.
    const values = forms.a.collect();
    values.commit = otherCommit(forms.a.current("commit"));
    forms.b.applyDefaults(forms.a.defaults, { force: true });
    forms.b.setValues(values);
  } else if (!on && state.runs.b) {
    state.runs.b.remove();
    delete state.runs.b;
    selectSet("a");
  }
}

$("mode").addEventListener("click", (e) => {
  if (!e.target.dataset.mode || e.target.disabled) return;
  state.modeChosen = true;
  setMode(e.target.dataset.mode);
});
$("set-tabs").addEventListener("click", (e) => {
  if (e.target.dataset.set) selectSet(e.target.dataset.set);
});
$("compare").addEventListener("change", () => setCompare($("compare").checked));
$("reset-params").addEventListener("click", () => {
  forms.a.resetToDefaults();
  forms.b.resetToDefaults();
});
$("new-chat").addEventListener("click", () => {
  state.conversation = [];
  renderTranscript();
});

function renderTranscript() {
  const box = $("transcript");
  box.replaceChildren(...state.conversation.map((m) => {
    const div = document.createElement("div");
    div.className = `bubble bubble-${m.role}`;
    const who = document.createElement("span");
    who.className = "bubble-role";
    who.textContent = m.role;
    const text = document.createElement("div");
    text.textContent = m.content;
    div.append(who, text);
    return div;
  }));
  box.hidden = state.conversation.length === 0;
  box.scrollTop = box.scrollHeight;
}

// ---------------------------------------------------------------- generation

function setRunning(running) {
  state.running = running;
  $("generate").disabled = running;
  $("stop").disabled = !running;
  $("generate").textContent = running ? "Generating…" : MODES[state.mode].button;
}

// The prompt fields of the request: plain text, or the chat rendered with the model's template
// by POST /tokenize (the same rendering /v1/chat/completions uses).
async function buildPrompt(model, text) {
  if (state.mode === "plain") return { prompt: text };
  if (state.mode === "infill") return { template: parseHoles(text).parts };
  if (state.mode === "json") {
    // The instruction as a chat turn when the model has a template; the skeleton is the reply.
    const schema = parseSchema($("schema").value);
    if (state.chatTemplate === false) return { prompt: text, schema };
    const r = await postJson("/tokenize", { model, messages: [{ role: "user", content: text }] });
    return { prompt: r.text, add_special_tokens: false, schema };
  }
  const messages = [];
  const system = $("system").value.trim();
  if (system) messages.push({ role: "system", content: system });
  messages.push(...state.conversation, { role: "user", content: text });
  const r = await postJson("/tokenize", { model, messages });
  return { prompt: r.text, add_special_tokens: false };
}

// One streamed run into `view` with parameter set `set`. Resolves to the result or null.
async function runOne(set, view, model, promptFields, signal) {
  const diffusion = forms[set].collect();
  // The holes (a template's, or a schema's values) decide the length.
  if (promptFields.template || promptFields.schema) delete diffusion.gen_length;
  const body = { model, ...promptFields, stream: "denoise", diffusion };
  view.reset();
  view.setState("running", "Queued…");
  let result = null;
  try {
    await postStream("/v1/generate", body, (name, data) => {
      if (name === "start") {
        view.start(data);
      } else if (name === "step") {
        view.step(data);
      } else if (name === "result") {
        result = data;
        let render = null;
        if (promptFields.template) {
          render = (out) => out.replaceChildren(...filledNodes(promptFields.template, data.holes));
        } else if (promptFields.schema) {
          render = (out) => { out.textContent = prettyDocument(data.text || ""); };
        }
        view.finish(data, render);
      } else if (name === "error") {
        const err = new ApiError(data.error && data.error.code === "cancelled" ? 503 : 500, data);
        view.fail(err.message);
        showApiError(err, set);
      }
    }, signal);
    if (!result && view.el.dataset.state === "running") view.fail("the stream ended without a result");
  } catch (err) {
    if (err.name === "AbortError") {
      view.cancelled();
      throw err;
    }
    view.fail(err.message);
    showApiError(err, set);
  }
  return result;
}

// An answer that ended at once gets a note saying why that happens and what to try.
function hintEmptyAnswer(view) {
  if (!view.answerIsEmpty()) return;
  if (state.mode === "plain" && state.chatTemplate !== false) {
    view.showHint("The model ended its answer at once — models like this one answer through " +
                  "their chat template: try Chat mode.", {
      label: "Switch to Chat",
      run: () => {
        state.modeChosen = true;
        setMode("chat");
        $("prompt").focus();
      },
    });
  } else {
    view.showHint("The model ended its answer at once (its end token came first): try " +
                  "another prompt, or different decoding parameters.");
  }
}

// A against B: answer tokens per second (RunView.tokensPerSecond), forwards, same output.
function compareSummary(a, b) {
  if (!a || !b) return "";
  const ta = state.runs.a.tokensPerSecond();
  const tb = state.runs.b.tokensPerSecond();
  const rate = (t) => (t === null ? "–" : t.toFixed(1));
  const same = JSON.stringify(a.output_ids) === JSON.stringify(b.output_ids);
  const parts = [`A ${rate(ta)} tok/s, ${a.forward_calls} forwards`,
                 `B ${rate(tb)} tok/s, ${b.forward_calls} forwards`];
  if (ta > 0 && tb > 0) parts.push(`B runs at ${(tb / ta).toFixed(2)}× A's speed`);
  parts.push(same ? "identical outputs" : "outputs differ");
  return parts.join(" · ");
}

async function generate() {
  if (state.running) return;
  clearErrors();
  $("compare-summary").textContent = "";
  const model = $("model").value;
  const text = $("prompt").value;
  if (!model) {
    showFieldError("model", "choose a model (none is registered: start the server with --model DIR)");
    return;
  }
  if (!text.trim()) {
    showFieldError("prompt", state.mode === "chat" ? "write a message" : "write a prompt");
    return;
  }
  if (state.mode === "infill") {
    try {
      parseHoles(text);
    } catch (err) {
      showFieldError("prompt", err.message);
      return;
    }
  }
  if (state.mode === "json") {
    try {
      parseSchema($("schema").value);
    } catch (err) {
      showFieldError("schema", err.message);
      return;
    }
  }
  const controller = new AbortController();
  state.abort = controller;
  setRunning(true);
  const sets = state.compare ? ["a", "b"] : ["a"];
  for (const s of sets) state.runs[s].reset();
  const results = {};
  try {
    let promptFields;
    try {
      promptFields = await buildPrompt(model, text);
    } catch (err) {
      showApiError(err, "a");
      if (!err.param) state.runs.a.fail(err.message);
      return;
    }
    // One after the other, so the timings of A and B compare on an otherwise idle server.
    for (const s of sets) {
      results[s] = await runOne(s, state.runs[s], model, promptFields, controller.signal);
      if (results[s] && state.mode !== "infill" && state.mode !== "json") {
        hintEmptyAnswer(state.runs[s]);
      }
    }
    if (state.compare) $("compare-summary").textContent = compareSummary(results.a, results.b);
    if (state.mode === "chat" && !state.compare && results.a) {
      const clean = await postJson("/detokenize", {
        model, ids: results.a.output_ids, skip_special_tokens: true,
      }).then((r) => r.text, () => results.a.text || "");
      state.conversation.push({ role: "user", content: text }, { role: "assistant", content: clean });
      renderTranscript();
      $("prompt").value = "";
    }
  } catch (err) {
    if (err.name !== "AbortError") throw err;
    for (const s of sets) {
      if (state.runs[s].el.dataset.state === "idle") state.runs[s].cancelled();
    }
  } finally {
    state.abort = null;
    setRunning(false);
    history.refresh();
  }
}

$("generate").addEventListener("click", generate);
$("stop").addEventListener("click", () => {
  if (state.abort) state.abort.abort();
});
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    generate();
  }
});
$("prompt").addEventListener("input", () => {
  $("prompt").classList.remove("invalid");
  document.querySelector("[data-error-for='prompt']").textContent = "";
});

// ---------------------------------------------------------------- history "use"

function useGeneration(g) {
  if (state.models.some((m) => m.id === g.model)) {
    $("model").value = g.model;
    onModelChange();
  }
  if (g.params && Array.isArray(g.params.template)) {
    state.modeChosen = true;
    setMode("infill");
    $("prompt").value = templateToText(g.params.template);
  } else if (g.prompt !== null) {
    state.modeChosen = true;  // the logged prompt is the rendered text: replay it as is
    setMode("plain");
    $("prompt").value = g.prompt;
  }
  if (g.params && g.params.diffusion) {
    if (state.compare) setCompare(false);
    forms.a.load(g.params.diffusion);
  }
}

// ---------------------------------------------------------------- start

updateKeyState();
setMode("plain");
renderTranscript();
pollHealth();
history.refresh();
