#include "service/db/status.h"

#include <array>
#include <utility>

namespace dlx::db {
namespace {

constexpr std::array<std::pair<ModelStatus, const char*>, 4> kModelStatuses = {{
    {ModelStatus::kUnloaded, "unloaded"},
    {ModelStatus::kLoading, "loading"},
    {ModelStatus::kLoaded, "loaded"},
    {ModelStatus::kError, "error"},
}};

constexpr std::array<std::pair<GenerationStatus, const char*>, 5> kGenerationStatuses = {{
    {GenerationStatus::kRunning, "running"},
    {GenerationStatus::kOk, "ok"},
    {GenerationStatus::kError, "error"},
    {GenerationStatus::kCancelled, "cancelled"},
    {GenerationStatus::kInterrupted, "interrupted"},
}};

template <typename E, size_t N>
const char* name_of(const std::array<std::pair<E, const char*>, N>& table, E value) {
  for (const auto& [e, name] : table)
    if (e == value) return name;
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> parse(const std::array<std::pair<E, const char*>, N>& table, std::string_view s) {
  for (const auto& [e, name] : table)
    if (s == name) return e;
  return std::nullopt;
}

}  // namespace

const char* status_name(ModelStatus s) {
  return name_of(kModelStatuses, s);
}
const char* status_name(GenerationStatus s) {
  return name_of(kGenerationStatuses, s);
}
std::optional<ModelStatus> parse_model_status(std::string_view s) {
  return parse(kModelStatuses, s);
}
std::optional<GenerationStatus> parse_generation_status(std::string_view s) {
  return parse(kGenerationStatuses, s);
}
const char* generation_status_list() {
  return "running, ok, error, cancelled, interrupted";
}

}  // namespace dlx::db
