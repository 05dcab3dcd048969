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

namespace {

// How each engine error code reads over HTTP; Error::reason() refines the `code` string.
struct HttpForm {
  ErrorCode code;
  int status;
  const char* type;
  const char* code_name;
};
constexpr HttpForm kHttpForms[] = {
    {ErrorCode::kInvalidArgument, 400, "invalid_request_error", "invalid_parameter"},
    {ErrorCode::kOutOfRange, 400, "invalid_request_error", "context_length_exceeded"},
    {ErrorCode::kInvalidModel, 400, "invalid_request_error", "invalid_model"},
    {ErrorCode::kUnsupported, 400, "invalid_request_error", "unsupported"},
    {ErrorCode::kNotFound, 404, "not_found_error", "not_found"},
    {ErrorCode::kConflict, 409, "conflict_error", "conflict"},
    {ErrorCode::kUnavailable, 503, "service_unavailable", "unavailable"},
    {ErrorCode::kTimeout, 504, "timeout_error", "request_timeout"},
    // Nobody is left to read it when the client went away; nginx's 499 in the log.
    {ErrorCode::kCancelled, 499, "cancelled", "client_closed_request"},
    {ErrorCode::kInternal, 500, "server_error", "internal_error"},
};

}  // namespace

ErrorInfo to_error_info(const Error& x) {
  ErrorInfo e;  // kInternal's form unless the table says otherwise
  for (const HttpForm& f : kHttpForms) {
    if (f.code == x.code()) e = error_info(f.status, f.type, f.code_name, {});
  }
  e.message = x.what();
  e.param = x.param();
  e.retry_after_s = x.retry_after_s();
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
