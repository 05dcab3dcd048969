// The OpenAI request fields of /v1/completions and /v1/chat/completions, each implemented,
// mapped onto a decoding key, accepted at its neutral value only, or refused with a 400 naming
// it: a client never gets a 200 that quietly ignored what it asked for.
#pragma once

#include <nlohmann/json.hpp>

#include "service/jobs/job.h"

namespace dlx::http {

// Throws ApiError 400 (param = the field) for an unknown field, a field of the other endpoint,
// or a field we do not implement set to anything but its neutral value.
void check_openai_fields(Endpoint endpoint, const nlohmann::json& body);

}  // namespace dlx::http
