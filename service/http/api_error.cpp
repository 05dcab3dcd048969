#include "service/http/api_error.h"

#include "engine/util/error.h"

namespace dlx::http {

ErrorInfo error_info(int status, std::string type, std::string code, std::string message,
                     std::string param, int retry_after_s) {
  ErrorInfo e;
  e.status = status;
  e.type = std::move(type);
  e.code = std::move(code);
  e.message = std::move(message);
  e.param = std::move(param);
  e.retry_after_s = retry_after_s;
  return e;
}

ErrorInfo to_error_info(const Error& x) {
  ErrorInfo e;
  e.message = x.what();
  e.param = x.param();
  e.retry_after_s = x.retry_after_s();
  switch (x.code()) {
    case ErrorCode::kInvalidArgument:
      e.status = 400, e.type = "invalid_request_error", e.code = "invalid_parameter";
      break;
    case ErrorCode::kOutOfRange:
      e.status = 400, e.type = "invalid_request_error", e.code = "context_length_exceeded";
      break;
    case ErrorCode::kInvalidModel:
      e.status = 400, e.type = "invalid_request_error", e.code = "invalid_model";
      break;
    case ErrorCode::kUnsupported:
      e.status = 400, e.type = "invalid_request_error", e.code = "unsupported";
      break;
    case ErrorCode::kNotFound:
      e.status = 404, e.type = "not_found_error", e.code = "not_found";
      break;
    case ErrorCode::kConflict:
      e.status = 409, e.type = "conflict_error", e.code = "conflict";
      break;
    case ErrorCode::kUnavailable:
      e.status = 503, e.type = "service_unavailable", e.code = "unavailable";
      break;
    case ErrorCode::kTimeout:
      e.status = 504, e.type = "timeout_error", e.code = "request_timeout";
      break;
    case ErrorCode::kCancelled:
      // Nobody is left to read it when the client went away; nginx's 499 in the log.
      e.status = 499, e.type = "cancelled", e.code = "client_closed_request";
      break;
    case ErrorCode::kInternal:
      e.status = 500, e.type = "server_error", e.code = "internal_error";
      break;
  }
  if (!x.reason().empty()) e.code = x.reason();
  return e;
}

ErrorInfo to_error_info(std::exception_ptr ep) {
  ErrorInfo e;
  try {
    std::rethrow_exception(ep);
  } catch (const ApiError& x) {
    e = error_info(x.status(), x.type(), x.code(), x.what(), x.param(), x.retry_after_s());
  } catch (const Error& x) {
    e = to_error_info(x);
  } catch (const nlohmann::json::parse_error& x) {
    e = error_info(400, "invalid_request_error", "invalid_json",
                   std::string("request body is not valid JSON: ") + x.what());
  } catch (const nlohmann::json::exception& x) {
    // Only request data is read through nlohmann::json in handlers, so a type or range error
    // here is a malformed request.
    e = error_info(400, "invalid_request_error", "invalid_request",
                   std::string("invalid request: ") + x.what());
  } catch (...) {
    // std::bad_alloc (503 out_of_memory) and anything else (500), the same way the jobs layer
    // records a failed generation.
    e = to_error_info(to_error(std::current_exception()));
  }
  return e;
}

nlohmann::json error_json(const ErrorInfo& e) {
  nlohmann::json err;
  err["message"] = e.message;
  err["type"] = e.type;
  err["param"] = e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param);
  err["code"] = e.code;
  return {{"error", err}};
}

ApiError bad_request(const std::string& param, const std::string& message) {
  return ApiError(400, "invalid_request_error", "invalid_parameter",
                  param.empty() ? message : param + ": " + message, param);
}

ApiError not_found(const std::string& message, const std::string& param) {
  return ApiError(404, "not_found_error", "not_found", message, param);
}

}  // namespace dlx::http
