// The statuses the service keeps for models and generations. Code uses the enums; the string
// forms below are the only ones, used where a status leaves the process (the SQLite rows, the
// JSON of the HTTP API, metric labels) and where one comes back in (rows, query parameters).
#pragma once

#include <optional>
#include <string_view>

namespace dlx::db {

enum class ModelStatus { kUnloaded, kLoading, kLoaded, kError };
enum class GenerationStatus { kRunning, kOk, kError, kCancelled, kInterrupted };

const char* status_name(ModelStatus s);       // unloaded | loading | loaded | error
const char* status_name(GenerationStatus s);  // running | ok | error | cancelled | interrupted
std::optional<ModelStatus> parse_model_status(std::string_view s);
std::optional<GenerationStatus> parse_generation_status(std::string_view s);
// "running, ok, error, cancelled, interrupted": for error messages.
const char* generation_status_list();

}  // namespace dlx::db
