// Error: the one exception type the engine throws for expected failures (bad input, bad files,
// unsupported models). Callers translate ErrorCode at one boundary (CLI exit code, HTTP status).
#pragma once

#include <stdexcept>
#include <string>

namespace dlx {

enum class ErrorCode {
  kInvalidArgument,  // a parameter the user passed is wrong (CLI exit 2, HTTP 400)
  kInvalidModel,     // a model file is malformed or inconsistent with its config
  kNotFound,         // a file, model or tensor does not exist
  kUnsupported,      // valid input we do not implement (unknown architecture, component type)
  kOutOfRange,       // input too long for the model's context
  kCancelled,        // the caller asked to stop
  kInternal,         // a broken invariant: a bug
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, std::string param = {})
      : std::runtime_error(message), code_(code), param_(std::move(param)) {}
  ErrorCode code() const { return code_; }
  // Name of the offending parameter, when the error is about one (for HTTP `param`).
  const std::string& param() const { return param_; }

 private:
  ErrorCode code_;
  std::string param_;
};

[[noreturn]] inline void throw_invalid_argument(const std::string& param, const std::string& msg) {
  std::string m;
  m.append(param).append(": ").append(msg);
  throw Error(ErrorCode::kInvalidArgument, m, param);
}

const char* error_code_name(ErrorCode code);

}  // namespace dlx
