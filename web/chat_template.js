// Whether a model has a chat template, which picks the prompt mode the playground opens in.
// The model's entry (GET /v1/models/{name}) answers when it has `has_chat_template`; a server
// that does not report it is asked to render a one-message chat (POST /tokenize, the rendering
// chat mode uses): 200 = yes, an error about `messages` = no, anything else = unknown.

import { ApiError, postJson } from "./api.js";

// true, false, or null (unknown: e.g. the model is not loaded, so nothing can be rendered).
export async function hasChatTemplate(model, detail) {
  if (detail && typeof detail.has_chat_template === "boolean") return detail.has_chat_template;
  if (!model || model.status !== "loaded") return null;
  try {
    await postJson("/tokenize", { model: model.id, messages: [{ role: "user", content: "hi" }] });
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 400 && err.param === "messages") return false;
    return null;
  }
}
