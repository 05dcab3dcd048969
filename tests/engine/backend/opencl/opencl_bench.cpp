// opencl_bench: start-up, per-forward and per-op timings of a model on the CPU backend and on
// an OpenCL device (not a test; numbers for the record). Per-op times come from a decorator
// that waits for the device after every op, so their sum exceeds a plain forward's time.
// usage: opencl_bench MODEL_DIR [--device opencl:0] [--tokens T] [--iters N] [--threads N]
//                     [--weights FILE] [--quantize q8_0|q4_0]
// --quantize quantizes the folder's matrices on the host first (QuantizedSource), for the
// Q8_0 / Q4_0 kernels without a GGUF file.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "engine/backend/backend_factory.h"
#include "engine/model/model.h"
#include "engine/model/model_config.h"
#include "tests/engine/backend/opencl/quantized_source.h"

#ifdef DIFFULEX_HAVE_OPENCL
#include "engine/backend/opencl/opencl_backend.h"
#endif

namespace dlx {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Forwards every call to `inner` and times the ops (with a sync after each).
class TimingBackend final : public Backend {
 public:
  explicit TimingBackend(std::shared_ptr<Backend> inner) : in_(std::move(inner)) {}
  std::string name() const override { return in_->name(); }
  Tensor upload_weight(const HostTensor& s, int64_t r, int64_t c, Precision p) override {
    Tensor t = in_->upload_weight(s, r, c, p);
#ifdef DIFFULEX_HAVE_OPENCL
    if (auto* cs = dynamic_cast<ocl::ClStorage*>(t.storage.get())) device_weight_bytes += cs->bytes;
#endif
    return t;
  }
  Tensor upload_f32(const float* d, int64_t r, int64_t c) override {
    return in_->upload_f32(d, r, c);
  }
  Tensor alloc(int64_t r, int64_t c) override {
    return in_->alloc(r, c);
  }
  void write(Tensor& d, const float* s) override {
    time("write", [&] { in_->write(d, s); });
  }
  void read(const Tensor& s, float* d) override {
    time("read", [&] { in_->read(s, d); });
  }
  void copy(const Tensor& s, Tensor& d) override {
    time("copy", [&] { in_->copy(s, d); });
  }
  void embedding(const Tensor& t, std::span<const int32_t> ids, Tensor& o) override {
    time("embedding", [&] { in_->embedding(t, ids, o); });
  }
  void matmul(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) override {
    time("matmul", [&] { in_->matmul(x, w, b, y); });
  }
  void rmsnorm(const Tensor& x, const Tensor& w, float e, int g, Tensor& y) override {
    time("rmsnorm", [&] { in_->rmsnorm(x, w, e, g, y); });
  }
  void rope(Tensor& x, const Tensor& c, const Tensor& s, int h, int hd, int64_t p) override {
    time("rope", [&] { in_->rope(x, c, s, h, hd, p); });
  }
  void attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                 Tensor& o) override {
    time("attention", [&] { in_->attention(q, k, v, p, o); });
  }
  void swiglu(const Tensor& g, const Tensor& u, Tensor& o) override {
    time("swiglu", [&] { in_->swiglu(g, u, o); });
  }
  void add(Tensor& x, const Tensor& y) override {
    time("add", [&] { in_->add(x, y); });
  }
  void sync() override {
    in_->sync();
  }

  std::map<std::string, std::pair<double, int>> ops;  // name -> (total ms, calls)
  uint64_t device_weight_bytes = 0;                   // OpenCL buffers of uploaded weights

 private:
  template <typename F>
  void time(const char* op, F&& f) {
    const auto t0 = Clock::now();
    f();
    in_->sync();
    auto& e = ops[op];
    e.first += ms_since(t0);
    e.second += 1;
  }
  std::shared_ptr<Backend> in_;
};

int run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: opencl_bench MODEL_DIR [--device D] [--tokens T] [--iters N] "
                 "[--threads N] [--weights FILE] [--quantize q8_0|q4_0]\n");
    return 2;
  }
  std::string dir = argv[1], device = "opencl:0", weights, quantize;
  int tokens = 32, iters = 5, threads = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--device")
      device = v;
    else if (k == "--tokens")
      tokens = std::atoi(v.c_str());
    else if (k == "--iters")
      iters = std::atoi(v.c_str());
    else if (k == "--threads")
      threads = std::atoi(v.c_str());
    else if (k == "--weights")
      weights = v;
    else if (k == "--quantize")
      quantize = v;
  }
  DType qtype = DType::kF32;
  if (!quantize.empty() && (!parse_dtype(quantize, &qtype) || !dtype_is_quantized(qtype))) {
    std::fprintf(stderr, "opencl_bench: --quantize takes q8_0 or q4_0, not '%s'\n",
                 quantize.c_str());
    return 2;
  }
  auto t0 = Clock::now();
  std::string note;
  auto backend = make_backend(device, threads, &note);
  const double start_ms = ms_since(t0);
  if (!note.empty()) std::printf("note: %s\n", note.c_str());
  std::printf("backend %s: start %.1f ms", backend->name().c_str(), start_ms);
#ifdef DIFFULEX_HAVE_OPENCL
  if (auto* cl = dynamic_cast<ocl::OpenClBackend*>(backend.get())) {
    const auto& s = cl->startup();
    std::printf(
        " (%d programs, %d from cache, build %.1f ms, CLBlast start-up product %.1f ms) [%s]",
        s.programs, s.programs_from_cache, s.build_ms, s.gemm_ms, cl->description().c_str());
  }
#endif
  std::printf("\n");
  LoadOptions lo;
  lo.weights = weights;
  auto load = [&](std::shared_ptr<Backend> b) {
    if (quantize.empty()) return Model::load(dir, b, lo);
    return Model::create(load_model_config(dir),
                         std::make_unique<test::QuantizedSource>(dir, qtype, weights), b, lo);
  };
  t0 = Clock::now();
  auto model = load(backend);
  std::printf("load %.1f ms (%s weights, precision %s)\n", ms_since(t0),
              dtype_name(model->weight_dtype()), precision_name(model->precision()));
  const ModelConfig& c = model->config();
  std::vector<int32_t> ids(tokens);
  for (int i = 0; i < tokens; ++i) ids[i] = (i * 7919) % c.vocab;
  Session st = model->new_session(tokens, tokens);
  ForwardSpan span;
  span.ids = ids;
  t0 = Clock::now();
  model->forward(st, span);
  std::printf("first forward (T=%d) %.1f ms\n", tokens, ms_since(t0));
  t0 = Clock::now();
  for (int i = 0; i < iters; ++i) model->forward(st, span);
  std::printf("forward (T=%d) mean of %d: %.2f ms\n", tokens, iters, ms_since(t0) / iters);

  auto timing = std::make_shared<TimingBackend>(backend);
  auto tmodel = load(timing);
  if (timing->device_weight_bytes) {
    std::printf("weights in device memory: %.1f MB\n", timing->device_weight_bytes / 1e6);
  }
  Session ts = tmodel->new_session(tokens, tokens);
  tmodel->forward(ts, span);
  timing->ops.clear();
  for (int i = 0; i < iters; ++i) tmodel->forward(ts, span);
  double sum = 0;
  for (const auto& [op, e] : timing->ops) sum += e.first;
  std::printf("per op (synced after each; ms per forward, calls per forward):\n");
  for (const auto& [op, e] : timing->ops) {
    std::printf("  %-16s %9.3f ms %5d calls  %5.1f%%\n", op.c_str(), e.first / iters,
                e.second / iters, 100.0 * e.first / sum);
  }
  return 0;
}

}  // namespace
}  // namespace dlx

int main(int argc, char** argv) {
  try {
    return dlx::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opencl_bench: %s\n", e.what());
    return 1;
  }
}
