// ApiError and the one translator from exceptions (ApiError, dlx::Error, JSON errors, anything
// else) to an HTTP status and the error body {"error":{"message","type","param","code"}}.
#pragma once

#include <exception>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace dlx {
class Error;
}

namespace dlx::http {

// An error that already knows its HTTP status: thrown inside service/http/ only, for conditions
// that exist only in HTTP (auth, a full queue, a bad route). Layers below throw dlx::Error.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, std::string code, const std::string& message,
           std::string param = {}, int retry_after_s = 0)
      : std::runtime_error(message),
        status_(status),
        type_(std::move(type)),
        code_(std::move(code)),
        param_(std::move(param)),
        retry_after_s_(retry_after_s) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& code() const { return code_; }
  const std::string& param() const { return param_; }
  int retry_after_s() const { return retry_after_s_; }

 private:
  int status_;
  std::string type_, code_, param_;
  int retry_after_s_;
};

struct ErrorInfo {
  int status = 500;
  std::string type = "server_error";
  std::string code = "internal_error";
  std::string message;
  std::string param;      // empty -> null
  int retry_after_s = 0;  // > 0: sent as Retry-After (429, 503)
};

ErrorInfo error_info(int status, std::string type, std::string code, std::string message,
                     std::string param = {}, int retry_after_s = 0);

// The translator: every handler's exception goes through here.
ErrorInfo to_error_info(std::exception_ptr ep);
// An engine or service error (code, reason, param, retry hint) as a status and body.
ErrorInfo to_error_info(const Error& e);
nlohmann::json error_json(const ErrorInfo& e);

// Shorthands for the statuses the service raises itself.
ApiError bad_request(const std::string& param, const std::string& message);
ApiError not_found(const std::string& message, const std::string& param = {});

}  // namespace dlx::http
