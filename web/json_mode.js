// JSON mode: structured output. The schema box holds a JSON Schema; the request sends it as
// `schema` on /v1/generate, the server lays the skeleton out as fixed text with one
// constrained hole per value (README: Structured output), and the canvas shows the skeleton
// from the start while the values fill in.

export const EXAMPLE_SCHEMA = JSON.stringify({
  type: "object",
  properties: {
    answer: { type: "string", maxLength: 8 },
    digits: { type: "array", items: { type: "integer", minimum: 0, maximum: 9 }, minItems: 4, maxItems: 4 },
    sure: { type: "boolean" },
  },
}, null, 2);

// The schema box's text as an object; throws an Error whose message says what is wrong.
export function parseSchema(text) {
  let schema;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    throw new Error(`the schema is not JSON: ${err.message}`);
  }
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
    throw new Error("the schema must be a JSON object");
  }
  return schema;
}

// The generated document, indented for reading (the text itself when it does not parse, which
// the server never sends).
export function prettyDocument(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
