// Decoding-parameter forms: one per parameter set (A, and B in side-by-side mode). Fields are
// keys of the API's `diffusion` object; values are pre-filled with the model's family defaults
// when the server has told us them, and only keys that differ from those defaults are sent, so
// the server keeps the family's shape (e.g. a block length that divides a changed gen_length).

// The controls, in display order. `more` ones sit in a collapsed "More parameters" group.
export const FIELDS = [
  { key: "gen_length", label: "gen_length", type: "int", min: 1, help: "positions to generate" },
  { key: "block_length", label: "block_length", type: "int", min: 0, help: "semi-autoregressive block size (0 = one block over the canvas)" },
  { key: "steps", label: "steps", type: "int", min: 1, nullable: true, empty: "1 token/step", help: "step budget over the canvas (empty: one token per step)" },
  { key: "threshold", label: "threshold", type: "float", min: 0, max: 1, step: 0.01, help: "for the threshold commit rules" },
  { key: "commit", label: "commit rule", type: "enum", options: ["schedule", "threshold", "threshold_or_schedule"] },
  { key: "confidence", label: "confidence", type: "enum", options: ["prob", "margin", "neg_entropy", "random"] },
  { key: "cache", label: "cache", type: "enum", options: ["none", "prefix", "dual", "block"] },
  { key: "temperature", label: "temperature", type: "float", min: 0, step: 0.1, help: "0 = greedy" },
  { key: "top_k", label: "top_k", type: "int", min: 0, help: "0 = off" },
  { key: "top_p", label: "top_p", type: "float", min: 0, max: 1, step: 0.05, help: "1 = off" },
  { key: "seed", label: "seed", type: "int", min: 0 },
  { key: "block_steps", label: "block_steps", type: "int", min: 1, nullable: true, empty: "none", more: true, help: "steps per block (instead of steps)" },
  { key: "sub_block_length", label: "sub_block_length", type: "int", min: 1, nullable: true, empty: "off", more: true },
  { key: "schedule", label: "schedule", type: "enum", options: ["uniform", "timestep"], more: true },
  { key: "cfg_scale", label: "cfg_scale", type: "float", min: 0, step: 0.1, more: true },
  { key: "stop_at_eos", label: "stop_at_eos", type: "bool", more: true },
];

// At most one of these may be set; typing in one clears the other.
const EXCLUSIVE = { steps: "block_steps", block_steps: "steps" };

function toText(field, v) {
  if (v === null || v === undefined) return "";
  if (field.type === "bool") return v ? "true" : "false";
  return String(v);
}

function parseValue(field, text) {
  if (text === "") return null;
  switch (field.type) {
    case "int":
    case "float": {
      const n = Number(text);
      return Number.isFinite(n) ? n : text;  // let the server name a bad value
    }
    case "bool":
      return text === "true";
    default:
      return text;
  }
}

export class ParamsForm {
  constructor(form) {
    this.form = form;
    this.defaults = null;  // the model's family defaults, when known
    this.inputs = new Map();
    this.dirty = new Set();  // keys the user edited since the defaults were applied
    this.build();
  }

  build() {
    const main = document.createElement("div");
    main.className = "param-grid";
    const details = document.createElement("details");
    details.className = "more-params";
    const summary = document.createElement("summary");
    summary.textContent = "More parameters";
    const more = document.createElement("div");
    more.className = "param-grid";
    details.append(summary, more);

    for (const f of FIELDS) {
      const wrap = document.createElement("div");
      wrap.className = "param";
      wrap.dataset.key = f.key;
      const id = `${this.form.id}-${f.key}`;
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = f.label;
      if (f.help) label.title = f.help;
      let input;
      if (f.type === "enum" || f.type === "bool") {
        input = document.createElement("select");
      } else {
        input = document.createElement("input");
        input.type = "number";
        input.inputMode = f.type === "int" ? "numeric" : "decimal";
        if (f.min !== undefined) input.min = f.min;
        if (f.max !== undefined) input.max = f.max;
        input.step = f.step !== undefined ? f.step : (f.type === "int" ? 1 : "any");
      }
      input.id = id;
      input.name = f.key;
      input.dataset.param = f.key;
      input.addEventListener("input", () => this.onInput(f.key));
      input.addEventListener("change", () => this.onInput(f.key));
      const error = document.createElement("div");
      error.className = "field-error";
      error.dataset.errorFor = f.key;
      wrap.append(label, input, error);
      (f.more ? more : main).append(wrap);
      this.inputs.set(f.key, { field: f, input, error, wrap });
    }
    this.form.replaceChildren(main, details);
    this.form.addEventListener("submit", (e) => e.preventDefault());
    this.applyDefaults(null);
  }

  onInput(key) {
    this.dirty.add(key);
    this.clearError(key);
    const other = EXCLUSIVE[key];
    if (other && this.inputs.get(key).input.value !== "" && this.inputs.get(other).input.value !== "") {
      this.inputs.get(other).input.value = "";
      this.dirty.add(other);
      this.markChanged(other);
    }
    this.markChanged(key);
  }

  // Fills every field the user has not edited with the model's defaults (null: unknown, the
  // fields stay empty and the server applies its defaults).
  applyDefaults(defaults, { force = false } = {}) {
    this.defaults = defaults;
    if (force) this.dirty.clear();
    for (const [key, { field, input }] of this.inputs) {
      const d = defaults ? defaults[key] : undefined;
      if (input.tagName === "SELECT") {
        const current = input.value;
        const options = field.type === "bool" ? ["true", "false"] : field.options;
        const opts = [];
        if (!defaults) opts.push(new Option("default", ""));
        for (const o of options) opts.push(new Option(o, o));
        input.replaceChildren(...opts);
        input.value = this.dirty.has(key) ? current : toText(field, d);
      } else {
        input.placeholder = defaults ? (d === null ? field.empty || "none" : "") : "default";
        if (!this.dirty.has(key)) input.value = toText(field, d);
      }
      this.markChanged(key);
    }
  }

  // Fields whose value differs from the family default get a marker (and are what is sent).
  markChanged(key) {
    const { field, input, wrap } = this.inputs.get(key);
    const value = parseValue(field, input.value);
    const changed = this.defaults && key in this.defaults
      ? value !== this.defaults[key] : value !== null;
    wrap.classList.toggle("changed", Boolean(changed));
    wrap.title = changed && this.defaults && key in this.defaults
      ? `changed from the default ${toText(field, this.defaults[key]) || "none"}` : "";
  }

  resetToDefaults() {
    this.clearErrors();
    this.applyDefaults(this.defaults, { force: true });
  }

  // The `diffusion` object to send: keys whose value differs from the defaults (every
  // non-empty key when the defaults are unknown).
  collect() {
    const out = {};
    for (const [key, { field, input }] of this.inputs) {
      const value = parseValue(field, input.value);
      if (this.defaults && key in this.defaults) {
        const d = this.defaults[key];
        if (value === d || (value === null && d === null)) continue;
        out[key] = value;
      } else if (value !== null) {
        out[key] = value;
      }
    }
    return out;
  }

  // Current values of every field (for copying set A into set B).
  values() {
    const out = {};
    for (const [key, { input }] of this.inputs) out[key] = input.value;
    return out;
  }

  setValues(values) {
    for (const [key, text] of Object.entries(values)) {
      const entry = this.inputs.get(key);
      if (!entry) continue;
      entry.input.value = text;
      this.dirty.add(key);
      this.markChanged(key);
    }
  }

  // Loads an effective parameter object (e.g. from the generation log) into the fields.
  load(params) {
    this.clearErrors();
    for (const [key, { field, input }] of this.inputs) {
      if (!(key in params)) continue;
      input.value = toText(field, params[key]);
      this.dirty.add(key);
      this.markChanged(key);
    }
  }

  // Shows an API error under the field it names; false when no field here has that name.
  showError(param, message) {
    const key = (param || "").replace(/^diffusion\./, "");
    const entry = this.inputs.get(key);
    if (!entry) return false;
    if (entry.field.more) entry.wrap.closest("details").open = true;
    entry.wrap.classList.add("invalid");
    entry.error.textContent = message;
    entry.input.focus();
    return true;
  }

  clearError(key) {
    const entry = this.inputs.get(key);
    if (!entry) return;
    entry.wrap.classList.remove("invalid");
    entry.error.textContent = "";
  }

  clearErrors() {
    for (const key of this.inputs.keys()) this.clearError(key);
  }
}
