// Infill mode: text with hole markers turned into the `template` of POST /v1/generate, and
// back. "[___]" is a hole of one token per underscore, "[___:N]" one of N tokens, "[___:A-B]"
// a variable hole of A to B tokens; "[[" is a literal "[". The same syntax as
// `diffulex generate --template FILE` (engine/decode/template_text.h).

const MARKER = /\[\[|\[(_+)(?::(\d+)(?:-(\d+))?)?\]/g;

// Text -> {parts: [{text} | {hole}], holes: count}. Throws Error for text without a hole.
export function parseHoles(text) {
  const parts = [];
  let fixed = "";
  let holes = 0;
  let last = 0;
  for (const m of text.matchAll(MARKER)) {
    fixed += text.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[0] === "[[") {
      fixed += "[";
      continue;
    }
    let hole;
    if (m[3] !== undefined) hole = { min: Number(m[2]), max: Number(m[3]) };
    else if (m[2] !== undefined) hole = Number(m[2]);
    else hole = m[1].length;
    if (fixed) parts.push({ text: fixed });
    fixed = "";
    parts.push({ hole });
    holes++;
  }
  fixed += text.slice(last);
  if (fixed) parts.push({ text: fixed });
  if (holes === 0) throw new Error("mark at least one hole, e.g. [____] (one token per underscore) or [____:8]");
  return { parts, holes };
}

// A template (as logged) back to marker text.
export function templateToText(parts) {
  return parts.map((p) => {
    if (p.text !== undefined) return p.text.replace(/\[/g, "[[");
    if (typeof p.hole === "number") return `[${"_".repeat(Math.min(p.hole, 4))}:${p.hole}]`;
    return `[____:${p.hole.min || 0}-${p.hole.max}]`;
  }).join("");
}

// The filled text as DOM nodes: fixed text as is, each hole's text in a <mark class="hole-fill">.
export function filledNodes(parts, holes) {
  const nodes = [];
  let h = 0;
  for (const p of parts) {
    if (p.text !== undefined) {
      nodes.push(document.createTextNode(p.text));
      continue;
    }
    const mark = document.createElement("mark");
    mark.className = "hole-fill";
    mark.dataset.hole = String(h);
    const fill = holes && holes[h] ? holes[h].text : null;
    mark.textContent = fill === null || fill === undefined ? "" : fill;
    if (!mark.textContent) mark.classList.add("empty");
    nodes.push(mark);
    h++;
  }
  return nodes;
}
