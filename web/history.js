// History: the server's generation log (GET /v1/generations), newest first, with a detail
// dialog (GET /v1/generations/{id}) showing a generation's parameters and output.

import { getJson } from "./api.js";

const PAGE = 25;

function relativeTime(ms) {
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleString();
}

// One line of a prompt; special-token markers (a rendered chat template's) are dropped.
function snippet(text, n = 90) {
  if (!text) return "";
  const t = text.replace(/<\|[^|<>]*\|>/g, " ").replace(/\s+/g, " ").trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export class HistoryView {
  // onError(err) handles API errors (e.g. 401 opens the key dialog); onUse(gen) loads a
  // generation's prompt and parameters into the playground.
  constructor({ onError, onUse }) {
    this.list = document.getElementById("history-list");
    this.more = document.getElementById("history-more");
    this.error = document.getElementById("history-error");
    this.dialog = document.getElementById("detail-dialog");
    this.onError = onError;
    this.onUse = onUse;
    this.items = [];
    this.current = null;
    document.getElementById("history-refresh").addEventListener("click", () => this.refresh());
    this.more.addEventListener("click", () => this.loadMore());
    document.getElementById("detail-close").addEventListener("click", () => this.dialog.close());
    document.getElementById("detail-use").addEventListener("click", () => {
      if (this.current) this.onUse(this.current);
      this.dialog.close();
    });
  }

  async refresh() {
    await this.fetchPage(null);
  }

  async loadMore() {
    const last = this.items[this.items.length - 1];
    if (last) await this.fetchPage(last.id);
  }

  async fetchPage(before) {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (before) params.set("before", before);
    try {
      const page = await getJson(`/v1/generations?${params}`);
      this.error.textContent = "";
      this.items = before ? this.items.concat(page.data) : page.data;
      this.more.hidden = !page.has_more;
      this.render();
    } catch (err) {
      this.error.textContent = err.message;
      this.onError(err);
    }
  }

  render() {
    if (this.items.length === 0) {
      this.list.replaceChildren(el("li", "history-empty", "No generations yet."));
      return;
    }
    this.list.replaceChildren(...this.items.map((g) => this.renderItem(g)));
  }

  renderItem(g) {
    const li = el("li", "history-item");
    li.dataset.id = g.id;
    li.dataset.status = g.status;
    li.tabIndex = 0;
    li.setAttribute("role", "button");
    const head = el("div", "history-item-head");
    head.append(el("span", `status-dot status-${g.status}`), el("span", "history-model", g.model),
                el("span", "history-time muted", relativeTime(g.created_at)));
    const prompt = el("div", "history-prompt", snippet(g.prompt) || `${g.prompt_tokens} prompt ids`);
    const meta = el("div", "history-meta muted");
    const parts = [g.endpoint.replace(/^\/v1\//, ""), g.status];
    if (g.completion_tokens !== null) parts.push(`${g.completion_tokens} tok`);
    if (g.forward_calls !== null) parts.push(`${g.forward_calls} fwd`);
    meta.textContent = parts.join(" · ");
    li.append(head, prompt, meta);
    const open = () => this.show(g.id);
    li.addEventListener("click", open);
    li.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        open();
      }
    });
    return li;
  }

  async show(id) {
    let g;
    try {
      g = await getJson(`/v1/generations/${encodeURIComponent(id)}`);
    } catch (err) {
      this.error.textContent = err.message;
      this.onError(err);
      return;
    }
    this.current = g;
    document.getElementById("detail-title").textContent = g.id;
    const content = document.getElementById("detail-content");
    content.replaceChildren();

    const meta = el("dl", "detail-meta");
    const add = (k, v) => {
      if (v === null || v === undefined || v === "") return;
      const div = el("div");
      div.append(el("dt", "", k), el("dd", "", String(v)));
      meta.append(div);
    };
    add("model", g.model);
    add("endpoint", g.endpoint);
    add("status", g.status);
    add("created", new Date(g.created_at).toLocaleString());
    if (g.finished_at) add("duration", `${((g.finished_at - g.created_at) / 1000).toFixed(2)} s`);
    add("prompt tokens", g.prompt_tokens);
    add("completion tokens", g.completion_tokens);
    add("forward calls", g.forward_calls);
    add("finish reason", g.finish_reason);
    if (g.timings && g.timings.tokens_per_second !== undefined) {
      add("tokens/s", g.timings.tokens_per_second.toFixed(1));
    }
    content.append(meta);

    if (g.error) {
      content.append(el("div", "label", "Error"), el("pre", "detail-pre detail-error", g.error));
    }
    content.append(el("div", "label", "Prompt"),
                   el("pre", "detail-pre", g.prompt !== null ? g.prompt : JSON.stringify(g.prompt_ids)));
    content.append(el("div", "label", "Output"),
                   el("pre", "detail-pre", g.output_text !== null ? g.output_text
                                                              : JSON.stringify(g.output_ids)));

    const diffusion = g.params && g.params.diffusion;
    if (diffusion) {
      const table = el("table", "detail-params");
      for (const [k, v] of Object.entries(diffusion)) {
        const tr = el("tr");
        tr.append(el("th", "", k), el("td", "", v === null ? "null" : String(v)));
        table.append(tr);
      }
      content.append(el("div", "label", "Decoding parameters"), table);
    }
    document.getElementById("detail-use").disabled = !diffusion;
    if (!this.dialog.open) this.dialog.showModal();
  }
}
