// Decoding-parameter forms: one per parameter set (A, and B in side-by-side mode). The fields
// are built from the server's key table (GET /v1/models/{name} -> diffusion_schema: name, type,
// options, bounds, doc) and pre-filled with that model's resolved defaults
// (diffusion_defaults); only keys that differ from those defaults are sent, so the server keeps
// the family's shape. Nothing here knows a key by name but the steps / block_steps pair.

// A schema entry of the server as a form field.
function fieldFromSchema(k) {
  const min = k.minimum ?? k.exclusive_minimum;
  const max = k.maximum ?? k.exclusive_maximum;
  return {
    key: k.name,
    label: k.name,
    type: k.type,
    options: k.options,
    min,
    max,
    step: k.step,
    nullable: k.nullable,
    empty: k.null_means,
    more: k.advanced,
    help: `${k.values}: ${k.doc} (default: ${k.default_from})`,
  };
}

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
    this.defaults = null;  // the model's resolved defaults, when known
    this.schemaText = "";  // the schema the fields were built from
    this.inputs = new Map();
    this.dirty = new Set();  // keys the user edited since the defaults were applied
    this.pending = {};  // setValues() for fields not built yet
    this.form.addEventListener("submit", (e) => e.preventDefault());
    const note = document.createElement("p");
    note.className = "hint";
    note.textContent = "Select a model to see its decoding parameters.";
    this.form.replaceChildren(note);
  }

  // (Re)builds the fields from the server's key table; a table equal to the current one keeps
  // the fields and what the user typed in them.
  setSchema(schema) {
    const text = JSON.stringify(schema || []);
    if (text === this.schemaText) return;
    this.schemaText = text;
    this.build((schema || []).map(fieldFromSchema));
  }

  build(fields) {
    this.inputs = new Map();
    const main = document.createElement("div");
    main.className = "param-grid";
    const details = document.createElement("details");
    details.className = "more-params";
    const summary = document.createElement("summary");
    summary.textContent = "More parameters";
    const more = document.createElement("div");
    more.className = "param-grid";
    details.append(summary, more);

    for (const f of fields) {
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
    this.applyDefaults(this.defaults);
    const pending = this.pending;
    this.pending = {};
    this.setValues(pending);
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
        // An emptied field is the default (see sends()): the placeholder says which.
        input.placeholder = defaults ? (d === null ? field.empty || "none" : toText(field, d)) : "default";
        if (!this.dirty.has(key)) input.value = toText(field, d);
      }
      this.markChanged(key);
    }
  }

  // Whether a field's value is sent: it differs from the model's default (or is set at all
  // when the defaults are unknown), and it is a value the key can take. An empty field of a
  // key that cannot be null is left out, so the server applies its default; a nullable key
  // emptied against a non-null default is sent as null.
  sends(key) {
    const { field, input } = this.inputs.get(key);
    const value = parseValue(field, input.value);
    if (value === null && !field.nullable) return false;
    return this.defaults && key in this.defaults ? value !== this.defaults[key] : value !== null;
  }

  // Fields whose value is sent get a marker.
  markChanged(key) {
    const { field, wrap } = this.inputs.get(key);
    const changed = this.sends(key);
    wrap.classList.toggle("changed", changed);
    wrap.title = changed && this.defaults && key in this.defaults
      ? `changed from the default ${toText(field, this.defaults[key]) || "none"}` : "";
  }

  resetToDefaults() {
    this.clearErrors();
    this.pending = {};
    this.applyDefaults(this.defaults, { force: true });
  }

  // The `diffusion` object to send: the keys sends() picks, with their typed values.
  collect() {
    const out = {};
    for (const [key, { field, input }] of this.inputs) {
      if (this.sends(key)) out[key] = parseValue(field, input.value);
    }
    return out;
  }

  // A key's current value: the field's, else the model's default (null when neither is known).
  current(key) {
    const entry = this.inputs.get(key);
    const value = entry ? parseValue(entry.field, entry.input.value) : null;
    if (value !== null) return value;
    return this.defaults && key in this.defaults ? this.defaults[key] : null;
  }

  // Sets typed values as if the user had typed them (e.g. set B from set A's changes); keys
  // whose fields are not built yet are set once they are.
  setValues(values) {
    for (const [key, v] of Object.entries(values)) {
      const entry = this.inputs.get(key);
      if (!entry) {
        this.pending[key] = v;
        continue;
      }
      entry.input.value = toText(entry.field, v);
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
