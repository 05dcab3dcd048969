#include "engine/model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "engine/model/weight_layout.h"
#include "engine/util/error.h"

namespace dlx {

Precision default_precision(DType weights) {
  // Block-quantized weights: integer products (what they are for; "exact" dequantizes them
  // tile by tile, slowly). bf16 weights: bf16 products with f32 sums, what PyTorch computes
  // for a bf16 model (accuracy against the f32 goldens: tests/engine/model/
  // bf16_precision_test.cpp, README "CPU kernels and precision"); the backend falls back to
  // f32 products where it has no bf16 dot. f32 / f16 weights: f32 products.
  if (dtype_is_quantized(weights)) return Precision::kInt8;
  if (weights == DType::kBF16) return Precision::kBF16;
  return Precision::kExact;
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kExact:
      return "exact";
    case Precision::kBF16:
      return "bf16";
    case Precision::kInt8:
      return "int8";
  }
  return "?";
}

std::optional<Precision> parse_precision(const std::string& s) {
  if (s == "auto" || s.empty()) return std::nullopt;
  for (Precision p : {Precision::kExact, Precision::kBF16, Precision::kInt8}) {
    if (s == precision_name(p)) return p;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "precision: '" + s + "' is not one of auto, exact, bf16, int8", "precision");
}

std::shared_ptr<Model> Model::load(const std::string& dir, std::shared_ptr<Backend> backend,
                                   const LoadOptions& opts) {
  ModelConfig config = load_model_config(dir);
  auto store = std::make_unique<TensorStore>(TensorStore::open(dir, opts.weights));
  return create(std::move(config), std::move(store), std::move(backend), opts);
}

std::shared_ptr<Model> Model::create(ModelConfig config, std::unique_ptr<WeightSource> weights,
                                     std::shared_ptr<Backend> backend, const LoadOptions& opts) {
  std::shared_ptr<Model> m(new Model());
  m->config_ = std::move(config);
  m->backend_ = std::move(backend);
  m->store_ = std::move(weights);
  m->file_bytes_ = m->store_->total_bytes();
  m->load_weights(*m->store_, opts);
  m->check_weights();  // changed while loading: what was uploaded is not one model
  return m;
}

void Model::rope_tables(int64_t positions, Tensor* cos, Tensor* sin) const {
  std::lock_guard<std::mutex> lock(rope_mu_);
  if (rope_cos_.empty() || rope_cos_.rows < positions) {
    // Grow geometrically (at least 256 rows) so sessions of slowly rising length do not
    // rebuild the table each time; never past the model's maximum.
    const ModelConfig& c = config_;
    const int64_t rows = std::min<int64_t>(
        c.max_positions, std::max<int64_t>({positions, 2 * rope_cos_.rows, int64_t{256}}));
    // Float32 throughout, as the reference code computes them:
    // inv_freq = 1 / theta^(2i/hd), angle = pos * inv_freq.
    const int half = c.head_dim / 2;
    std::vector<float> cs(static_cast<size_t>(rows) * half), sn(cs.size());
    for (int i = 0; i < half; ++i) {
      const float expo = static_cast<float>(2 * i) / static_cast<float>(c.head_dim);
      const float inv_freq = 1.0f / std::pow(static_cast<float>(c.rope_theta), expo);
      for (int64_t p = 0; p < rows; ++p) {
        const float angle = static_cast<float>(p) * inv_freq;
        cs[static_cast<size_t>(p) * half + i] = std::cos(angle);
        sn[static_cast<size_t>(p) * half + i] = std::sin(angle);
      }
    }
    rope_cos_ = backend_->upload_f32(cs.data(), rows, half);
    rope_sin_ = backend_->upload_f32(sn.data(), rows, half);
  }
  *cos = rope_cos_;
  *sin = rope_sin_;
}

// One visitor drives lookup, shape validation and upload of every weight.
void Model::load_weights(const WeightSource& store, const LoadOptions& opts) {
  const ModelConfig& c = config_;
  const std::string where = store.files().size() == 1 ? store.files()[0] : c.dir;
  auto get = [&](const std::string& name, int64_t rows, int64_t cols, bool required = true) {
    const HostTensor* t = store.find(name);
    if (!t) {
      if (!required) return Tensor{};
      throw Error(ErrorCode::kInvalidModel, where + ": tensor '" + name + "' is missing");
    }
    const bool is_vector = rows == 1;
    const bool ok = is_vector
                        ? (t->shape.size() == 1 && t->shape[0] == cols)
                        : (t->shape.size() == 2 && t->shape[0] == rows && t->shape[1] == cols);
    if (!ok) {
      std::string want = is_vector ? "[" + std::to_string(cols) + "]"
                                   : "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
      throw Error(ErrorCode::kInvalidModel, t->file + ": tensor '" + name + "' has shape " +
                                                t->shape_str() + ", the config needs " + want);
    }
    if (t->dtype == DType::kI32) {
      throw Error(ErrorCode::kInvalidModel,
                  t->file + ": tensor '" + name + "' is not floating point");
    }
    // Vectors (norms, biases) are always read exactly.
    const Precision prec =
        is_vector ? Precision::kExact : opts.precision.value_or(default_precision(t->dtype));
    parameter_count_ += rows * cols;
    return backend_->upload_weight(*t, rows, cols, prec);
  };

  // Biases are f32 on every backend (the CPU kernels read them as floats).
  auto bias_to_f32 = [&](const std::string& name) {
    const HostTensor* h = store.find(name);
    std::vector<float> f(h->numel());
    for (int64_t j = 0; j < h->numel(); ++j) {
      uint16_t u;
      std::memcpy(&u, h->data + 2 * j, 2);
      f[j] = h->dtype == DType::kBF16 ? bf16_to_f32(u) : f16_to_f32(u);
    }
    return backend_->upload_f32(f.data(), 1, h->numel());
  };
  // Layers grow one validated layer at a time: sizing them from the config up front would let
  // a bogus num_hidden_layers (up to 2^30) allocate hundreds of GiB before any tensor is checked.
  layers_.clear();
  using W = WeightField;
  for_each_weight(*c.spec, weight_dims(c), [&](const WeightSlot& w) {
    if (w.layer >= static_cast<int>(layers_.size())) layers_.emplace_back();
    Tensor t = get(w.name, w.rows, w.cols, w.required);
    LayerWeights* L = w.layer >= 0 ? &layers_[w.layer] : nullptr;
    switch (w.field) {
      case W::kEmbed:
        embed_ = t;
        break;
      case W::kFinalNorm:
        final_norm_ = t;
        break;
      case W::kLmHead:
        lm_head_ = t.empty() ? embed_ : t;
        break;
      case W::kQ:
        L->q = t;
        // The body's type (a q4_0 file keeps its embedding and LM head at q8_0).
        if (w.layer == 0) weight_dtype_ = t.dtype, precision_ = t.precision;
        break;
      case W::kK:
        L->k = t;
        break;
      case W::kV:
        L->v = t;
        break;
      case W::kO:
        L->o = t;
        break;
      case W::kQBias:
        L->q_bias = t.dtype == DType::kF32 ? t : bias_to_f32(w.name);
        break;
      case W::kKBias:
        L->k_bias = t.dtype == DType::kF32 ? t : bias_to_f32(w.name);
        break;
      case W::kVBias:
        L->v_bias = t.dtype == DType::kF32 ? t : bias_to_f32(w.name);
        break;
      case W::kQNorm:
        L->q_norm = t;
        break;
      case W::kKNorm:
        L->k_norm = t;
        break;
      case W::kGate:
        L->gate = t;
        break;
      case W::kUp:
        L->up = t;
        break;
      case W::kDown:
        L->down = t;
        break;
      case W::kAttnNorm:
        L->attn_norm = t;
        break;
      case W::kFfnNorm:
        L->ffn_norm = t;
        break;
    }
  });
}

uint64_t session_bytes(const ModelConfig& c, int64_t max_tokens, int64_t max_span,
                       int64_t max_logit_rows) {
  const uint64_t f = sizeof(float);
  const uint64_t kv = 2ull * c.layers * max_tokens * c.kv_dim();
  const uint64_t act = uint64_t(max_span) * (3ull * c.hidden + 2ull * c.q_dim() +
                                             2ull * c.kv_dim() + 2ull * c.intermediate);
  const uint64_t logits = 2ull * max_logit_rows * c.vocab;  // device + host
  return f * (kv + act + logits);
}

Session Model::new_session(int64_t max_tokens, int64_t max_span, int64_t max_logit_rows) const {
  const ModelConfig& c = config_;
  if (max_logit_rows < 0) max_logit_rows = max_span;
  if (max_tokens <= 0 || max_span <= 0 || max_logit_rows > max_span) {
    throw Error(ErrorCode::kInternal,
                "new_session: max_tokens and max_span must be positive, logits rows <= span");
  }
  if (max_tokens > c.max_positions) {
    throw Error(ErrorCode::kOutOfRange, "sequence of " + std::to_string(max_tokens) +
                                            " positions exceeds the model's maximum of " +
                                            std::to_string(c.max_positions));
  }
  Backend& b = *backend_;
  Session st;
  st.max_tokens = max_tokens;
  st.max_span = max_span;
  st.max_logit_rows = max_logit_rows;
  for (int i = 0; i < c.layers; ++i) {
    st.k_cache.push_back(b.alloc(max_tokens, c.kv_dim()));
    st.v_cache.push_back(b.alloc(max_tokens, c.kv_dim()));
  }
  st.x = b.alloc(max_span, c.hidden);
  st.h = b.alloc(max_span, c.hidden);
  st.q = b.alloc(max_span, c.q_dim());
  st.k = b.alloc(max_span, c.kv_dim());
  st.v = b.alloc(max_span, c.kv_dim());
  st.att = b.alloc(max_span, c.q_dim());
  st.proj = b.alloc(max_span, c.hidden);
  st.gate = b.alloc(max_span, c.intermediate);
  st.up = b.alloc(max_span, c.intermediate);
  if (max_logit_rows > 0) st.logits = b.alloc(max_logit_rows, c.vocab);
  st.logits_host.resize(static_cast<size_t>(max_logit_rows) * c.vocab);
  rope_tables(max_tokens, &st.rope_cos, &st.rope_sin);
  return st;
}

const float* Model::forward(Session& st, const ForwardSpan& s) const {
  const ModelConfig& c = config_;
  Backend& b = *backend_;
  const int64_t T = static_cast<int64_t>(s.ids.size());
  const int64_t n_keys = s.n_keys > 0 ? s.n_keys : s.pos0 + T;
  const int64_t lb = s.logits_begin, le = s.logits_end < 0 ? T : s.logits_end;
  if (T <= 0 || T > st.max_span || s.pos0 < 0 || n_keys < s.pos0 + T || n_keys > st.max_tokens ||
      lb < 0 || lb > le || le > T || le - lb > st.max_logit_rows) {
    throw Error(ErrorCode::kInternal, "forward: span [" + std::to_string(s.pos0) + ", +" +
                                          std::to_string(T) + ") does not fit the session state");
  }
  check_weights();
  const int hd = c.head_dim;
  Tensor x = st.x.view(0, T), h = st.h.view(0, T), q = st.q.view(0, T), k = st.k.view(0, T),
         v = st.v.view(0, T), att = st.att.view(0, T), proj = st.proj.view(0, T),
         gate = st.gate.view(0, T), up = st.up.view(0, T);

  OpProfile* prof = s.profile;
  if (prof) ++prof->forwards;
  // 2 x rows x weights of a matmul; attention: 4 x visible (query, key) pairs x H x hd.
  auto mm = [&](const Tensor& w, int64_t rows) { return 2.0 * rows * w.rows * w.cols; };
  double attn_flops = 0;
  for (int64_t t = 0; prof && t < T; ++t) {
    const int64_t qpos = s.pos0 + t;
    const int64_t keys =
        s.block_size > 0 ? std::min(n_keys, (qpos / s.block_size + 1) * s.block_size) : n_keys;
    attn_flops += 4.0 * static_cast<double>(keys) * c.heads * hd;
  }
  {
    OpTimer ot(prof, b, "embedding");
    b.embedding(embed_, s.ids, x);  // (T, D)
  }
  AttentionParams ap;
  ap.heads = c.heads;
  ap.kv_heads = c.kv_heads;
  ap.head_dim = hd;
  ap.q_pos0 = s.pos0;
  ap.n_keys = n_keys;
  ap.block_size = s.block_size;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(hd));

  for (const LayerWeights& L : layers_) {
    const size_t li = &L - layers_.data();
    {
      OpTimer ot(prof, b, "rmsnorm");
      b.rmsnorm(x, L.attn_norm, c.norm_eps, c.hidden, h);
    }
    {
      OpTimer ot(prof, b, "matmul q+k+v", mm(L.q, T) + mm(L.k, T) + mm(L.v, T));
      b.matmul(h, L.q, L.q_bias.empty() ? nullptr : &L.q_bias, q);  // (T, H*hd)
      b.matmul(h, L.k, L.k_bias.empty() ? nullptr : &L.k_bias, k);  // (T, KV*hd)
      b.matmul(h, L.v, L.v_bias.empty() ? nullptr : &L.v_bias, v);
    }
    {
      OpTimer ot(prof, b, "q/k norm + rope");
      if (!L.q_norm.empty()) {
        b.rmsnorm(q, L.q_norm, c.norm_eps, hd, q);
        b.rmsnorm(k, L.k_norm, c.norm_eps, hd, k);
      }
      b.rope(q, st.rope_cos, st.rope_sin, c.heads, hd, s.pos0);
      b.rope(k, st.rope_cos, st.rope_sin, c.kv_heads, hd, s.pos0);
    }
    // K/V of the span go to their absolute rows; attention reads rows [0, n_keys).
    Tensor kc = st.k_cache[li].view(s.pos0, T), vc = st.v_cache[li].view(s.pos0, T);
    {
      OpTimer ot(prof, b, "kv cache write");
      b.copy(k, kc);
      b.copy(v, vc);
    }
    {
      OpTimer ot(prof, b, "attention", attn_flops);
      b.attention(q, st.k_cache[li], st.v_cache[li], ap, att);  // (T, H*hd)
    }
    {
      OpTimer ot(prof, b, "matmul o", mm(L.o, T));
      b.matmul(att, L.o, nullptr, proj);  // (T, D)
    }
    {
      OpTimer ot(prof, b, "residual add");
      b.add(x, proj);
    }
    {
      OpTimer ot(prof, b, "rmsnorm");
      b.rmsnorm(x, L.ffn_norm, c.norm_eps, c.hidden, h);
    }
    {
      OpTimer ot(prof, b, "matmul gate+up", mm(L.gate, T) + mm(L.up, T));
      b.matmul(h, L.gate, nullptr, gate);  // (T, F)
      b.matmul(h, L.up, nullptr, up);
    }
    {
      OpTimer ot(prof, b, "swiglu");
      b.swiglu(gate, up, gate);
    }
    {
      OpTimer ot(prof, b, "matmul down", mm(L.down, T));
      b.matmul(gate, L.down, nullptr, proj);  // (T, D)
    }
    {
      OpTimer ot(prof, b, "residual add");
      b.add(x, proj);
    }
    if (s.interrupt) s.interrupt->check();
  }
  if (le == lb) {
    check_weights();
    return st.logits_host.data();
  }
  Tensor xs = x.view(lb, le - lb), hs = h.view(lb, le - lb), logits = st.logits.view(0, le - lb);
  {
    OpTimer ot(prof, b, "rmsnorm");
    b.rmsnorm(xs, final_norm_, c.norm_eps, c.hidden, hs);
  }
  {
    OpTimer ot(prof, b, "lm head", mm(lm_head_, le - lb));
    b.matmul(hs, lm_head_, nullptr, logits);  // (rows, V)
  }
  OpTimer ot(prof, b, "logits to host");
  b.read(logits, st.logits_host.data());
  check_weights();  // a SIGBUS during this forward replaced the weights with zeros
  return st.logits_host.data();
}

void Model::check_weights() const {
  if (!store_) return;
  const std::string what = store_->changed();
  if (what.empty()) return;
  throw Error(ErrorCode::kUnavailable,
              what +
                  "; the loaded model no longer matches its files: reload the model (the "
                  "safe way to replace a model file is to write a new file and rename it "
                  "over the old one)",
              "model")
      .with_reason("model_file_changed");
}

}  // namespace dlx
