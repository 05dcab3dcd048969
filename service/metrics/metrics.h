// Metrics: the service's counters and histograms, rendered in the Prometheus text format
// (version 0.0.4). Thread-safe; gauges that mirror live state are passed in at render time.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "service/db/status.h"

namespace dlx {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // Appends the _bucket/_sum/_count lines of `name` with the given label set ("" or "k=\"v\"").
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Live values read when /metrics is scraped.
struct GaugeSnapshot {
  int queue_depth = 0;
  int active_generations = 0;
  int64_t log_queue_depth = 0;
  uint64_t log_dropped = 0;
  uint64_t log_write_errors = 0;
  bool database_writable = true;
  // HTTP connections (service/http/connection_gate.h).
  int64_t connections_waiting = 0, connections_busy = 0;
  uint64_t connections_timed_out = 0, connections_evicted = 0, connections_pipelined = 0;
  std::vector<std::pair<std::string, db::ModelStatus>> model_status;  // name -> status
};

class Metrics {
 public:
  Metrics();

  void request(const std::string& endpoint, int code, double seconds);
  void forward(const std::string& model, double seconds);
  // From a generation's acceptance to its first final token (text a client can show).
  void first_token(const std::string& model, double seconds);
  void generation_finished(const std::string& model, db::GenerationStatus status,
                           int64_t completion_tokens);
  void model_loaded(const std::string& model, double seconds);
  void rejected_queue_full();

  std::string render(const GaugeSnapshot& g) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (endpoint, code)
  std::map<std::string, Histogram> request_seconds_;          // by endpoint
  Histogram step_seconds_;
  std::map<std::string, Histogram> first_token_seconds_;                          // by model
  std::map<std::string, uint64_t> forwards_, tokens_;                             // by model
  std::map<std::pair<std::string, db::GenerationStatus>, uint64_t> generations_;  // (model, status)
  std::map<std::string, double> load_seconds_;                                    // by model
  uint64_t queue_rejections_ = 0;
};

// Escapes a label value for the text format (backslash, quote, newline).
std::string prometheus_escape(const std::string& v);

}  // namespace dlx
