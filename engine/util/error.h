// Error: the one exception type the engine and the service layers below HTTP throw for expected
// failures (bad input, bad files, unsupported models, conflicts, overload, time limits). Callers
// translate it at one boundary each: the CLI to an exit code, service/http/ to a status and body.
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
  kConflict,         // the request clashes with the current state (a name that exists)
  kUnavailable,      // cannot be served now: not loaded, shutting down, out of memory (retryable)
  kTimeout,          // a time limit passed before the work finished
  kCancelled,        // the caller asked to stop (or went away)
  kInternal,         // a broken invariant: a bug
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, std::string param = {})
      : std::runtime_error(message), code_(code), param_(std::move(param)) {}
  ErrorCode code() const { return code_; }
  // Name of the offending parameter, when the error is about one (for HTTP `param`).
  const std::string& param() const { return param_; }
  // A machine-readable refinement of the code (e.g. "shutting_down", "model_not_loaded"): the
  // HTTP edge sends it as the error's `code`. Empty: the code's default name.
  const std::string& reason() const { return reason_; }
  // Seconds after which a retry may succeed (kUnavailable); 0 = no hint.
  int retry_after_s() const { return retry_after_s_; }

  Error& with_reason(std::string reason) {
    reason_ = std::move(reason);
    return *this;
  }
  Error& with_retry_after(int seconds) {
    retry_after_s_ = seconds;
    return *this;
  }

 private:
  ErrorCode code_;
  std::string param_, reason_;
  int retry_after_s_ = 0;
};

[[noreturn]] inline void throw_invalid_argument(const std::string& param, const std::string& msg) {
  std::string m;
  m.append(param).append(": ").append(msg);
  throw Error(ErrorCode::kInvalidArgument, m, param);
}

const char* error_code_name(ErrorCode code);

// Any exception as an Error: an Error as it is, std::bad_alloc as kUnavailable
// ("out_of_memory"), anything else as kInternal with its message. For layers that hand an
// outcome to another thread instead of rethrowing.
Error to_error(std::exception_ptr ep);

}  // namespace dlx
