// fast_agreement: how often the `fast` preset gives the official output on the four fixture
// families. Every required golden case (tests/fixtures/models/<family>/cases.json) is decoded
// with its official parameters and again with `preset fast` on top; the answers (up to and
// including the first end token) are compared and the forwards counted. The fixtures are tiny
// random models, a worst case for keys that trust the model's confidence. Prints a markdown
// table; numbers are reported, never asserted.
//
//   fast_agreement [--fixtures DIR] [--threads N]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend/backend_factory.h"
#include "engine/decode/decode_params.h"
#include "engine/decode/generate.h"
#include "engine/model/model.h"

namespace {

std::vector<int32_t> answer(const dlx::GenerateResult& r) {
  return {r.output_ids.begin(), r.output_ids.begin() + r.answer_tokens};
}

int run(int argc, char** argv) {
  std::string fixtures = DLX_SOURCE_DIR "/tests/fixtures/models";
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--fixtures") {
      fixtures = v;
    } else if (k == "--threads") {
      threads = std::atoi(v.c_str());
    } else {
      std::fprintf(stderr, "fast_agreement: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  auto backend = dlx::make_backend("cpu", threads, nullptr);
  std::printf(
      "| family | required cases | same answer as official | forwards official | forwards fast "
      "| x fewer |\n|---|---|---|---|---|---|\n");
  for (const char* fam : {"llada", "dream", "sdar", "fast_dllm_v2"}) {
    const std::string dir = fixtures + "/" + fam;
    const auto model = dlx::Model::load(dir, backend, {});
    std::ifstream in(dir + "/cases.json");
    std::stringstream text;
    text << in.rdbuf();
    const auto cases = nlohmann::json::parse(text.str());
    int n = 0, same = 0;
    long f_official = 0, f_fast = 0;
    for (const auto& c : cases.at("cases")) {
      if (!c.at("required").get<bool>()) continue;
      const auto prompt = c.at("prompt_ids").get<std::vector<int32_t>>();
      dlx::DecodeParams p = dlx::default_decode_params(model->config());
      nlohmann::json keys = nlohmann::json::object();  // nulls: the family default, as in golden
      for (const auto& [k, v] : c.at("diffulex").items()) {
        if (!v.is_null()) keys[k] = v;
      }
      dlx::apply_json(p, keys);
      const dlx::GenerateResult official = dlx::generate(*model, prompt, p);
      dlx::apply_preset(p, dlx::Preset::kFast);
      const dlx::GenerateResult fast = dlx::generate(*model, prompt, p);
      ++n;
      same += answer(official) == answer(fast);
      f_official += official.forward_calls;
      f_fast += fast.forward_calls;
    }
    std::printf("| %s | %d | %d (%.0f%%) | %ld | %ld | %.2f |\n", fam, n, same,
                n ? 100.0 * same / n : 0.0, f_official, f_fast,
                f_fast ? static_cast<double>(f_official) / f_fast : 0.0);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fast_agreement: %s\n", e.what());
    return 1;
  }
}
