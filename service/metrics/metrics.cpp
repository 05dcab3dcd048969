#include "service/metrics/metrics.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace dlx {
namespace {

// Forward passes of the tiny test models take well under a millisecond; real 1-8B models on a
// CPU take 0.1-10 s.
const std::vector<double> kStepBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const std::vector<double> kRequestBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                             1,     2.5,   5,    10,    30,   60,  120,  300};

// Shortest text that reads back as the same double ("0.025", not "0.025000000000000001").
std::string num(double v) {
  char buf[64];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

}  // namespace

std::string prometheus_escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? num(bounds_[i]) : "+Inf";
    out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) +
           "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + num(sum_) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
}

Metrics::Metrics() : step_seconds_(kStepBuckets) {}

void Metrics::request(const std::string& endpoint, int code, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{endpoint, code}];
  auto it = request_seconds_.find(endpoint);
  if (it == request_seconds_.end()) {
    it = request_seconds_.emplace(endpoint, Histogram(kRequestBuckets)).first;
  }
  it->second.observe(seconds);
}

void Metrics::forward(const std::string& model, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  step_seconds_.observe(seconds);
  ++forwards_[model];
}

void Metrics::first_token(const std::string& model, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = first_token_seconds_.find(model);
  if (it == first_token_seconds_.end()) {
    it = first_token_seconds_.emplace(model, Histogram(kRequestBuckets)).first;
  }
  it->second.observe(seconds);
}

void Metrics::generation_finished(const std::string& model, db::GenerationStatus status,
                                  int64_t completion_tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generations_[{model, status}];
  if (completion_tokens > 0) tokens_[model] += static_cast<uint64_t>(completion_tokens);
}

void Metrics::model_loaded(const std::string& model, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  load_seconds_[model] = seconds;
}

void Metrics::rejected_queue_full() {
  std::lock_guard<std::mutex> lock(mu_);
  ++queue_rejections_;
}

std::string Metrics::render(const GaugeSnapshot& g) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  auto model_label = [](const std::string& m) { return "model=\"" + prometheus_escape(m) + "\""; };

  header(out, "dlx_http_requests_total", "counter", "HTTP requests by endpoint and status code.");
  for (const auto& [key, n] : requests_) {
    out += "dlx_http_requests_total{endpoint=\"" + prometheus_escape(key.first) + "\",code=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  header(out, "dlx_http_request_duration_seconds", "histogram",
         "Time from request start to the last byte of the response, by endpoint.");
  for (const auto& [endpoint, h] : request_seconds_) {
    h.render(out, "dlx_http_request_duration_seconds",
             "endpoint=\"" + prometheus_escape(endpoint) + "\"");
  }
  header(out, "dlx_queue_depth", "gauge", "Generation jobs waiting for a worker.");
  out += "dlx_queue_depth " + std::to_string(g.queue_depth) + "\n";
  header(out, "dlx_active_generations", "gauge", "Generation jobs running on a worker.");
  out += "dlx_active_generations " + std::to_string(g.active_generations) + "\n";
  header(out, "dlx_queue_rejections_total", "counter",
         "Generation requests answered 429 because the queue was full.");
  out += "dlx_queue_rejections_total " + std::to_string(queue_rejections_) + "\n";
  header(out, "dlx_generated_tokens_total", "counter",
         "Completion tokens of finished generations, by model.");
  for (const auto& [m, n] : tokens_) {
    out += "dlx_generated_tokens_total{" + model_label(m) + "} " + std::to_string(n) + "\n";
  }
  header(out, "dlx_forward_calls_total", "counter", "Model forward passes, by model.");
  for (const auto& [m, n] : forwards_) {
    out += "dlx_forward_calls_total{" + model_label(m) + "} " + std::to_string(n) + "\n";
  }
  header(out, "dlx_generations_total", "counter", "Finished generations by model and status.");
  for (const auto& [key, n] : generations_) {
    out += "dlx_generations_total{" + model_label(key.first) + ",status=\"" +
           db::status_name(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  header(out, "dlx_step_duration_seconds", "histogram", "Duration of one denoising forward pass.");
  step_seconds_.render(out, "dlx_step_duration_seconds", "");
  header(out, "dlx_time_to_first_token_seconds", "histogram",
         "From acceptance (queue time included) to a generation's first final token, by model.");
  for (const auto& [m, h] : first_token_seconds_) {
    h.render(out, "dlx_time_to_first_token_seconds", model_label(m));
  }
  header(out, "dlx_model_load_seconds", "gauge", "Duration of the latest load of each model.");
  for (const auto& [m, s] : load_seconds_) {
    out += "dlx_model_load_seconds{" + model_label(m) + "} " + num(s) + "\n";
  }
  header(out, "dlx_model_loaded", "gauge", "1 when the model is loaded, by model and status.");
  for (const auto& [m, status] : g.model_status) {
    out += "dlx_model_loaded{" + model_label(m) + ",status=\"" + db::status_name(status) + "\"} " +
           (status == db::ModelStatus::kLoaded ? "1" : "0") + "\n";
  }
  header(out, "dlx_log_queue_depth", "gauge", "Generation log records waiting to be written.");
  out += "dlx_log_queue_depth " + std::to_string(g.log_queue_depth) + "\n";
  header(out, "dlx_log_dropped_total", "counter",
         "Generation log records lost: the log queue was full, or the database refused them.");
  out += "dlx_log_dropped_total " + std::to_string(g.log_dropped) + "\n";
  header(out, "dlx_log_write_errors_total", "counter",
         "Failed writes of generation log records (each retry counts).");
  out += "dlx_log_write_errors_total " + std::to_string(g.log_write_errors) + "\n";
  header(out, "dlx_database_writable", "gauge",
         "0 while writes to the database fail (disk full, I/O error), else 1.");
  out += std::string("dlx_database_writable ") + (g.database_writable ? "1" : "0") + "\n";
  header(out, "dlx_http_connections", "gauge",
         "HTTP connections waiting for their request headers (no thread) or being served.");
  out += "dlx_http_connections{state=\"waiting\"} " + std::to_string(g.connections_waiting) + "\n";
  out += "dlx_http_connections{state=\"serving\"} " + std::to_string(g.connections_busy) + "\n";
  header(out, "dlx_http_connections_closed_total", "counter",
         "HTTP connections the server closed: request not complete within --header-timeout, "
         "oldest waiting over --max-connections, or pipelined requests.");
  out += "dlx_http_connections_closed_total{reason=\"header_timeout\"} " +
         std::to_string(g.connections_timed_out) + "\n";
  out += "dlx_http_connections_closed_total{reason=\"max_connections\"} " +
         std::to_string(g.connections_evicted) + "\n";
  out += "dlx_http_connections_closed_total{reason=\"pipelined\"} " +
         std::to_string(g.connections_pipelined) + "\n";
  return out;
}

}  // namespace dlx
