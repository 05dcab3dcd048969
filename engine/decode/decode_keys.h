// The one table of decoding keys: name, type, allowed values, bounds, where the default comes
// from, and a one-line doc. It drives the parser (set_param, apply_json), the simple range
// checks of validate(), the JSON of resolved parameters (to_json), the CLI's --help, the README
// table (decode_keys_markdown; a test keeps the README in sync) and the web playground's form
// (decode_key_schema, served by GET /v1/models/{name}).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/decode/decode_params.h"

namespace dlx {

enum class KeyType { kInt, kFloat, kBool, kEnum };

struct KeyBound {
  double value;
  bool open;  // strict: the bound itself is not allowed
};

struct DecodeKey {
  const char* name;
  KeyType type;
  bool nullable;                     // null is a value ("unset": see null_means)
  std::vector<std::string> options;  // kEnum: the allowed values, in documentation order
  std::optional<KeyBound> min, max;  // checked by validate(); other rules are in validate()
  const char* values;                // the README's "values" column
  const char* doc;                   // what it does (README "meaning", --help, the web form)
  const char* default_from;          // where its default comes from
  const char* null_means;            // nullable keys: what null means ("" otherwise)
  bool advanced;                     // shown under "More parameters" in the playground
  double ui_step;                    // kFloat: the form's step (0: any)
  void (*set)(DecodeParams& p, const std::string& text);  // text form, see set_param
  nlohmann::json (*get)(const DecodeParams& p);
};

// Every key, in documentation order.
const std::vector<DecodeKey>& decode_keys();
// nullptr when `name` is not a decoding key.
const DecodeKey* find_decode_key(const std::string& name);
// The table as JSON for clients: [{name, type, nullable, options, minimum, maximum,
// exclusive_minimum, exclusive_maximum, values, doc, default_from, null_means, advanced, step}].
nlohmann::json decode_key_schema();
// The table as the README's Markdown table (header included).
std::string decode_keys_markdown();
// Checks every table bound of `p`; throws Error kInvalidArgument naming the first key out of
// its range.
void check_key_bounds(const DecodeParams& p);

// Text forms of the enum values (parse: throws Error kInvalidArgument naming `key`).
Schedule parse_schedule(const std::string& key, const std::string& v);
ConfidenceKind parse_confidence(const std::string& key, const std::string& v);
CommitRule parse_commit(const std::string& key, const std::string& v);
CacheMode parse_cache(const std::string& key, const std::string& v);
Preset parse_preset(const std::string& key, const std::string& v);

}  // namespace dlx
