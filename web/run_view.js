// RunView: one run's panel. The canvas has one cell per generated position; masked cells are
// placeholders until a "denoise" step event commits them, the latest step's cells are
// highlighted, and after the run every step can be replayed with the slider. A template run
// (Infill) shows its fixed text as known cells from the start (the start event's "canvas").

const FIXED = -2;  // commitStep of a template's fixed token: known before the first step

const MAX_LABEL = 12;  // characters of a token piece shown in a cell (the tooltip has all)
const END_GLYPH = "⏎";  // what an end-of-text or padding token's cell shows, dimmed

// Special tokens as the tokenizer writes them: <|endoftext|>, <|eot_id|>, <|im_end|>, </s>…
// Past an answer they are its end token and the padding after it.
export function isSpecialPiece(piece) {
  return typeof piece === "string" && /^(<\|[^<>|]*\|>|<\/?s>|<(pad|eos|unk)>)$/i.test(piece);
}

// A token piece as cell text: whitespace made visible, long pieces shortened (the cell's CSS
// cuts what does not fit its fixed width).
function cellText(piece) {
  if (piece === undefined || piece === null) return "?";
  if (piece === "") return "∅";
  if (isSpecialPiece(piece)) return END_GLYPH;
  let t = piece.replace(/\n/g, "↵").replace(/\t/g, "⇥");
  if (/^ +$/.test(t)) t = t.replace(/ /g, "␣");
  else t = t.replace(/^ /, "·");  // a leading space starts a word: show it as a faint dot
  return t.length > MAX_LABEL ? `${t.slice(0, MAX_LABEL - 1)}…` : t;
}

// How many output tokens are the answer: output_ids without the end token and the padding
// after it (special tokens at the end). `pieceOf(id)` is the token's text where the stream
// gave it; without pieces (a model with no tokenizer) a "stop" output's last id is its end token.
export function answerLength(result, pieceOf) {
  const ids = result.output_ids || [];
  let n = ids.length;
  if (!ids.every((id) => typeof pieceOf(id) === "string")) {
    return result.finish_reason === "stop" && n > 0 ? n - 1 : n;
  }
  while (n > 0 && isSpecialPiece(pieceOf(ids[n - 1]))) n--;
  return n;
}

function fmt(n, digits = 1) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return n.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

// A short summary of effective decoding parameters for the panel header.
function paramSummary(d) {
  if (!d) return [];
  // The preset first: "fast" trades the official algorithm for fewer forwards (README).
  const parts = d.preset ? [d.preset === "fast" ? "preset fast (fewer forwards)" : `preset ${d.preset}`] : [];
  parts.push(`gen ${d.gen_length}`, d.block_length ? `block ${d.block_length}` : "one block");
  if (d.steps !== null && d.steps !== undefined) parts.push(`steps ${d.steps}`);
  if (d.block_steps !== null && d.block_steps !== undefined) parts.push(`block_steps ${d.block_steps}`);
  const noBudget = (d.steps === null || d.steps === undefined) &&
                   (d.block_steps === null || d.block_steps === undefined);
  if (noBudget && d.commit !== "threshold") parts.push("1 token/step");
  parts.push(`commit ${d.commit}`);
  if (d.commit !== "schedule") parts.push(`threshold ${d.threshold}`);
  parts.push(`conf ${d.confidence}`, `cache ${d.cache}`);
  if (d.sub_block_length) parts.push(`sub-block ${d.sub_block_length}`);
  parts.push(d.temperature > 0 ? `T ${d.temperature}` : "greedy");
  return parts;
}

export class RunView {
  constructor(container, template, tag) {
    const node = template.content.firstElementChild.cloneNode(true);
    container.append(node);
    this.el = node;
    this.el.dataset.run = tag.toLowerCase();
    this.q = (sel) => node.querySelector(sel);
    this.q(".run-tag").textContent = tag;
    this.canvas = this.q(".canvas");
    this.slider = this.q(".replay-slider");
    this.playButton = this.q(".replay-play");
    this.slider.addEventListener("input", () => this.showReplay(Number(this.slider.value)));
    this.playButton.addEventListener("click", () => this.togglePlay());
    this.reset();
  }

  remove() {
    this.stopPlay();
    this.el.remove();
  }

  setState(state, text) {
    this.el.dataset.state = state;
    this.q(".run-status").textContent = text;
  }

  reset() {
    this.stopPlay();
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = null;
    this.queue = [];  // step events not drawn yet
    this.pendingResult = null;
    this.committedCount = 0;
    this.events = [];
    this.endRegion = null;  // the one collapsed cell for the positions after the end token
    this.cells = [];
    this.commitStep = [];  // per position: index of the event that committed it (-1: masked)
    this.tokens = [];
    this.pieces = [];
    this.confidences = [];
    this.tokenPieces = new Map();  // token id -> piece, from the step events as they arrive
    this.answer = null;  // {tokens, tokensPerSecond, text} of the result
    this.outputLength = null;  // set by the result: positions from here on are after the end
    this.result = null;
    this.template = null;  // the start event's canvas of a template run
    this.renderOutput = null;
    this.generationId = null;
    this.canvas.replaceChildren();
    this.q(".run-params").replaceChildren();
    this.q(".stats").replaceChildren();
    this.q(".output").hidden = true;
    this.q(".legend-fixed").hidden = true;
    this.q(".run-error").hidden = true;
    this.q(".run-hint").hidden = true;
    this.slider.disabled = true;
    this.playButton.disabled = true;
    this.slider.max = 0;
    this.slider.value = 0;
    this.q(".replay-label").textContent = "replay";
    this.setStep(0);
    this.setState("idle", "Ready");
  }

  // ---- live run ----

  start(info) {
    this.reset();
    this.generationId = info.id;
    this.el.dataset.generationId = info.id;
    this.setState("running", "Denoising…");
    const chips = this.q(".run-params");
    for (const p of paramSummary(info.diffusion)) {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.textContent = p;
      chips.append(chip);
    }
    this.resize(info.diffusion ? info.diffusion.gen_length : 0);
    if (info.canvas) this.placeTemplate(info.canvas);
  }

  // Fixed text of a template: known cells from the start; the holes stay masked.
  placeTemplate(canvas) {
    this.template = canvas;
    this.q(".legend-fixed").hidden = false;
    if (this.cells.length < canvas.ids.length) this.resize(canvas.ids.length);
    canvas.ids.forEach((id, pos) => {
      if (id === canvas.mask_id) return;
      this.commitStep[pos] = FIXED;
      this.tokens[pos] = id;
      this.pieces[pos] = canvas.pieces[pos];
      this.committedCount++;
    });
    this.render(0);
  }

  resize(n) {
    while (this.cells.length < n) {
      const i = this.cells.length;
      const cell = document.createElement("span");
      cell.className = "cell masked";
      cell.dataset.pos = i;
      cell.title = `position ${i}: masked`;
      this.canvas.append(cell);
      this.cells.push(cell);
      this.commitStep.push(-1);
      this.tokens.push(null);
      this.pieces.push(null);
      this.confidences.push(null);
    }
    while (this.cells.length > n) {
      this.cells.pop().remove();
      this.commitStep.pop();
      this.tokens.pop();
      this.pieces.pop();
      this.confidences.pop();
    }
  }

  // Events are queued and drawn on animation frames: a fast model delivers a whole run in one
  // network read, and drawing each frame's share (an eighth of the backlog, at least one step)
  // keeps the denoising visible while lagging the stream by well under a second.
  step(e) {
    if (e.pieces) e.tokens.forEach((t, k) => this.tokenPieces.set(t, e.pieces[k]));
    this.queue.push(e);
    this.schedule();
  }

  // `renderOutput(el)`, when given, fills the output box (Infill shows the filled template).
  finish(result, renderOutput = null) {
    this.renderOutput = renderOutput;
    this.answer = this.answerOf(result);
    this.pendingResult = result;
    this.schedule();
  }

  schedule() {
    if (document.hidden) {  // no frames in a background tab: draw at once
      this.drain(Infinity);
      return;
    }
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.drain(Math.max(1, Math.ceil(this.queue.length / 8)));
      if (this.queue.length > 0 || this.pendingResult) this.schedule();
    });
  }

  drain(n) {
    const batch = this.queue.splice(0, n);
    for (const e of batch) this.applyStep(e);
    if (batch.length > 0) this.render(this.events.length);
    if (this.queue.length === 0 && this.pendingResult) {
      const result = this.pendingResult;
      this.pendingResult = null;
      this.applyResult(result);
    }
  }

  applyStep(e) {
    const index = this.events.length;
    this.events.push(e);
    // The region's length: LLaDA/Dream's is gen_length; block-aligned families end it at a
    // block boundary, which the first event reveals (committed + masks_remaining).
    const total = this.committedCount + e.positions.length + e.masks_remaining;
    if (index === 0 || total > this.cells.length) this.resize(total);
    e.positions.forEach((pos, k) => {
      if (pos >= this.cells.length) this.resize(pos + 1);
      if (this.commitStep[pos] < 0) this.committedCount++;
      this.commitStep[pos] = index;
      this.tokens[pos] = e.tokens[k];
      this.pieces[pos] = e.pieces ? e.pieces[k] : null;
      this.confidences[pos] = e.confidences ? e.confidences[k] : null;
    });
  }

  applyResult(result) {
    this.result = result;
    const ids = result.output_ids || [];
    this.outputLength = ids.length;
    // Positions the result fills but no step reported (should not happen; keeps the canvas true).
    ids.forEach((id, pos) => {
      if (pos >= this.cells.length) this.resize(pos + 1);
      if (this.commitStep[pos] === -1) {
        this.commitStep[pos] = Math.max(0, this.events.length - 1);
        this.tokens[pos] = id;
      }
    });
    const n = this.events.length;
    this.slider.max = n;
    this.slider.value = n;
    this.slider.disabled = n === 0;
    this.playButton.disabled = n === 0;
    this.render(n);
    this.setState("done", result.finish_reason === "stop" ? "Done · end token" : "Done · length");
    this.showStats(result);
    const out = this.q(".output");
    out.hidden = false;
    this.q(".output-text").textContent =
      result.text !== null && result.text !== undefined ? result.text : `ids: ${ids.join(", ")}`;
    if (this.renderOutput) this.renderOutput(this.q(".output-text"));
  }

  // The answer's own tokens (not the end token or padding) and their rate over the run's time.
  answerOf(result) {
    // A template's answer is what its holes hold (the server counts it).
    const tokens = Array.isArray(result.holes) && result.usage
      ? result.usage.completion_tokens
      : answerLength(result, (id) => this.tokenPieces.get(id));
    const ms = result.timings ? result.timings.run_ms : undefined;
    const text = typeof result.text === "string" ? result.text : null;
    return { tokens, tokensPerSecond: ms > 0 ? (1000 * tokens) / ms : null, text };
  }

  // True when the run finished with nothing to show: no answer tokens, or only whitespace.
  answerIsEmpty() {
    if (!this.answer) return false;
    return this.answer.tokens === 0 || (this.answer.text !== null && this.answer.text.trim() === "");
  }

  // A note under the canvas (e.g. why an answer is empty), with an optional button.
  showHint(text, action) {
    const box = this.q(".run-hint");
    this.q(".run-hint-text").textContent = text;
    const button = this.q(".run-hint-action");
    button.hidden = !action;
    button.onclick = action ? action.run : null;
    if (action) button.textContent = action.label;
    box.hidden = false;
  }

  fail(message) {
    this.drain(Infinity);  // show what did arrive
    this.stopPlay();
    this.setState("error", "Failed");
    const box = this.q(".run-error");
    box.hidden = false;
    box.textContent = message;
  }

  cancelled() {
    this.drain(Infinity);
    this.setState("cancelled", "Stopped");
  }

  // Rates count the answer's tokens: the end token and the padding after it are not output.
  showStats(r) {
    const usage = r.usage || {};
    const t = r.timings || {};
    const forwards = r.forward_calls || usage.forward_calls || 0;
    const answer = this.answer || this.answerOf(r);
    const tokens = answer.tokens;
    const outputIds = (r.output_ids || []).length;
    const note = outputIds !== tokens
      ? `the answer's ${tokens} tokens; the output's ${outputIds} ids also hold its end token` +
        (outputIds - tokens > 1 ? " and padding" : "")
      : `the answer's ${tokens} tokens`;
    const rows = [
      ["tokens/s", fmt(answer.tokensPerSecond), note],
      ["forward calls", fmt(forwards, 0)],
      ["tokens / forward", forwards ? fmt(tokens / forwards, 2) : "–", note],
      ["answer tokens", fmt(tokens, 0), note],
      ["time", t.run_ms !== undefined ? `${fmt(t.run_ms, 0)} ms` : "–"],
      ["ms / forward", fmt(t.ms_per_forward, 2)],
    ];
    const dl = this.q(".stats");
    dl.replaceChildren();
    for (const [k, v, title] of rows) {
      const div = document.createElement("div");
      div.dataset.stat = k;
      if (title) div.title = title;
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      div.append(dt, dd);
      dl.append(div);
    }
  }

  tokensPerSecond() {
    return this.answer ? this.answer.tokensPerSecond : null;
  }

  // ---- drawing ----

  setStep(n) {
    const el = this.q(".step-count");
    el.textContent = String(n);
    el.dataset.step = String(n);
  }

  // Where the canvas collapses after `upto` step events: one past the first committed end
  // token (a special piece), or where the server's eos_fill ended the canvas (end_from).
  collapseFrom(upto) {
    let from = this.cells.length;
    for (let k = 0; k < upto && k < this.events.length; k++) {
      const e = this.events[k];
      if (typeof e.end_from === "number" && e.end_from >= 0) from = Math.min(from, e.end_from);
    }
    // A template's end tokens close its holes; only a final hole's end ends the canvas.
    let first = 0;
    if (this.template) {
      const last = this.template.holes[this.template.holes.length - 1];
      first = last && last.begin + last.length === this.template.ids.length ? last.begin : from;
    }
    for (let pos = first; pos < from; pos++) {
      const s = this.commitStep[pos];
      if (s >= 0 && s < upto && isSpecialPiece(this.pieces[pos])) return pos + 1;
    }
    return from;
  }

  // The collapsed "end" region: one element after the last shown cell (not a .cell).
  drawEndRegion(from) {
    const hidden = this.cells.length - from;
    if (hidden <= 0) {
      if (this.endRegion) this.endRegion.hidden = true;
      return;
    }
    if (!this.endRegion) {
      this.endRegion = document.createElement("span");
      this.endRegion.className = "end-region";
    }
    if (this.endRegion.parentNode !== this.canvas || this.canvas.lastChild !== this.endRegion) {
      this.canvas.append(this.endRegion);
    }
    this.endRegion.hidden = false;
    this.endRegion.textContent = `${END_GLYPH} end ×${hidden}`;
    this.endRegion.title = `positions ${from}–${this.cells.length - 1}: after the end token, ` +
      "not part of the answer (shown as one region)";
  }

  // Draws the canvas as it was after `upto` step events; the cells of event upto-1 are the
  // latest. Once the result is in, positions after the output's end are marked as such;
  // positions after the first committed end token are one collapsed region.
  render(upto) {
    const latest = upto - 1;
    let committed = 0;
    const from = this.collapseFrom(upto);
    this.drawEndRegion(from);
    for (let pos = 0; pos < this.cells.length; pos++) {
      const cell = this.cells[pos];
      if (pos >= from) {
        if (cell.className !== "cell-collapsed") cell.className = "cell-collapsed";
        cell.hidden = true;
        continue;
      }
      cell.hidden = false;
      const s = this.commitStep[pos];
      if (s === FIXED) {
        committed++;
        const text = cellText(this.pieces[pos] === null ? `#${this.tokens[pos]}` : this.pieces[pos]);
        if (cell.className !== "cell fixed") cell.className = "cell fixed";
        if (cell.textContent !== text) cell.textContent = text;
        cell.title = `position ${pos} · token ${this.tokens[pos]} ${JSON.stringify(this.pieces[pos])} · fixed text`;
        continue;
      }
      const isCommitted = s >= 0 && s < upto;
      const afterEnd = this.outputLength !== null && pos >= this.outputLength && upto >= this.events.length;
      const special = isCommitted && isSpecialPiece(this.pieces[pos]);
      let cls = "cell";
      if (afterEnd) cls += " ended";
      else if (!isCommitted) cls += " masked";
      else cls += s === latest ? " committed latest" : " committed";
      if (special) cls += " special";
      if (cell.className !== cls) cell.className = cls;
      if (isCommitted) {
        committed++;
        const piece = this.pieces[pos];
        const text = cellText(piece === null ? `#${this.tokens[pos]}` : piece);
        if (cell.textContent !== text) cell.textContent = text;
        const conf = this.confidences[pos];
        cell.style.setProperty("--conf", conf === null ? 0 : Math.max(0, Math.min(1, conf)));
        cell.title = `position ${pos} · token ${this.tokens[pos]}` +
          (piece !== null ? ` ${JSON.stringify(piece)}` : "") +
          ` · step ${s + 1}` + (conf !== null ? ` · confidence ${conf.toFixed(3)}` : "");
      } else {
        if (cell.textContent !== "") cell.textContent = "";
        cell.title = afterEnd ? `position ${pos}: past the end of the output` : `position ${pos}: masked`;
      }
    }
    const stepNo = upto > 0 && this.events[upto - 1] ? this.events[upto - 1].step + 1 : 0;
    this.setStep(stepNo);
    const total = this.cells.length;
    this.q(".committed-count").textContent = `${committed} / ${total}`;
    this.q(".progress-bar").style.width = total ? `${(100 * committed) / total}%` : "0%";
  }

  // ---- replay ----

  showReplay(k) {
    this.render(k);
    const n = this.events.length;
    this.q(".replay-label").textContent = k === n ? `step ${k} of ${n} (final)` : `step ${k} of ${n}`;
  }

  togglePlay() {
    if (this.timer) {
      this.stopPlay();
      return;
    }
    const n = this.events.length;
    if (n === 0) return;
    let k = Number(this.slider.value) >= n ? 0 : Number(this.slider.value);
    // About three seconds for a whole replay, never slower than 8 steps a second.
    const interval = Math.max(15, Math.min(125, 3000 / n));
    this.playButton.textContent = "Pause";
    this.timer = setInterval(() => {
      k++;
      this.slider.value = k;
      this.showReplay(k);
      if (k >= n) this.stopPlay();
    }, interval);
  }

  stopPlay() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.playButton) this.playButton.textContent = "Play";
  }
}
