// API client of the playground: JSON requests with the API key, the server's error shape as an
// ApiError, and Server-Sent Events read from a POST response (EventSource cannot POST).

const KEY_STORAGE = "diffulex.apiKey";

export function getApiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

// {"error":{"message","type","param","code"}} from the server, or a network failure (status 0).
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.type = e.type || null;
    this.code = e.code || null;
    this.param = e.param || null;
  }
}

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const key = getApiKey();
  if (key) h["Authorization"] = `Bearer ${key}`;
  return h;
}

async function errorFrom(res) {
  let body = null;
  try {
    body = await res.json();
  } catch (_) {
    body = null;
  }
  return new ApiError(res.status, body);
}

async function send(method, path, body, signal) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: headers(body !== undefined),
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { error: { message: "cannot reach the server", code: "network" } });
  }
  return res;
}

export async function getJson(path) {
  const res = await send("GET", path);
  if (!res.ok) throw await errorFrom(res);
  return res.json();
}

export async function postJson(path, body) {
  const res = await send("POST", path, body);
  if (!res.ok) throw await errorFrom(res);
  return res.json();
}

// GET /health: {status} with 200 or 503; never throws for a 503.
export async function health() {
  const res = await send("GET", "/health");
  const body = await res.json().catch(() => ({}));
  return { ok: res.ok, status: body.status || `HTTP ${res.status}` };
}

// POSTs `body` and calls onEvent(name, data) for each SSE event until `data: [DONE]` or the end
// of the stream. Errors before the stream starts throw ApiError; `signal` aborts (the server
// then cancels the generation).
export async function postStream(path, body, onEvent, signal) {
  const res = await send("POST", path, body, signal);
  if (!res.ok) throw await errorFrom(res);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    // Events end with a blank line; normalise CRLF first so one split handles both.
    buffer = buffer.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length === 0) continue;
      const text = data.join("\n");
      if (text === "[DONE]") {
        reader.cancel().catch(() => {});
        return;
      }
      onEvent(name, JSON.parse(text));
    }
  }
}
