// The OpenCL backend end to end through the CLI: `diffulex forward --device opencl:0` on every
// fixture logits case, the CPU fallback with no OpenCL platform, and `diffulex devices`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/support/opencl_test_util.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

struct LogitsCase {
  std::string family;
  nlohmann::json entry;
};

std::vector<LogitsCase> all_logits_cases() {
  std::vector<LogitsCase> out;
  for (const auto& e : std::filesystem::directory_iterator(fixtures() + "/models")) {
    const std::string idx = e.path().string() + "/logits/index.json";
    if (!std::filesystem::exists(idx)) continue;
    const auto index = nlohmann::json::parse(read_file(idx));
    for (const auto& entry : index["entries"]) {
      out.push_back({e.path().filename().string(), entry});
    }
  }
  std::sort(out.begin(), out.end(), [](const LogitsCase& a, const LogitsCase& b) {
    return a.family + a.entry["file"].get<std::string>() <
           b.family + b.entry["file"].get<std::string>();
  });
  return out;
}

std::string forward_cmd(const LogitsCase& c, const std::string& device, const std::string& out) {
  const std::string dir = model_dir(c.family);
  std::string ids;
  for (const auto& id : c.entry["input_ids"]) {
    ids += (ids.empty() ? "" : ",") + std::to_string(id.get<int>());
  }
  std::string cmd = binary() + " forward --model " + dir + " --weights " + dir + "/" +
                    c.entry["weights"].get<std::string>() + " --ids " + ids +
                    " --threads 2 --device " + device + " --precision exact --out " + out;
  if (c.entry["attention"].is_object()) {
    cmd += " --block-length " + std::to_string(c.entry["attention"]["block_causal"].get<int>());
  }
  return cmd;
}

// max|got - ref| / max|ref| against the case's golden logits file.
double normalized_error(const LogitsCase& c, const std::string& out) {
  const auto got = read_f32(out);
  const auto ref = read_f32(model_dir(c.family) + "/logits/" + c.entry["file"].get<std::string>());
  if (got.size() != ref.size() || ref.empty()) return INFINITY;
  double max_d = 0, max_ref = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_d = std::max(max_d, static_cast<double>(std::fabs(got[i] - ref[i])));
    max_ref = std::max(max_ref, static_cast<double>(std::fabs(ref[i])));
  }
  return max_d / max_ref;
}

std::string out_path(const std::string& tag) {
  return ::testing::TempDir() + "/dlx_cl_" + tag + "_" + std::to_string(::getpid()) + ".f32";
}

TEST(OpenClForward, EveryFixtureLogitsCaseMatchesGolden) {
  DLX_REQUIRE_OPENCL();
  const auto cases = all_logits_cases();
  ASSERT_GE(cases.size(), 4u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.family + "/" + c.entry["file"].get<std::string>());
    const std::string out = out_path("fwd");
    const RunResult r = run(forward_cmd(c, "opencl:0", out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find("falling back"), std::string::npos) << r.err;
    EXPECT_LE(normalized_error(c, out), 1e-3);
    std::remove(out.c_str());
  }
}

TEST(OpenClForward, NoPlatformFallsBackToCpuWithCorrectResults) {
  const std::string vendors = ::testing::TempDir() + "/dlx_no_icd_" + std::to_string(::getpid());
  std::filesystem::create_directories(vendors);
  const auto cases = all_logits_cases();
  ASSERT_FALSE(cases.empty());
  const std::string out = out_path("fallback");
  for (const char* device : {"opencl:0", "opencl"}) {
    const RunResult r =
        run("OCL_ICD_VENDORS=" + vendors + " " + forward_cmd(cases[0], device, out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("falling back to CPU: "), std::string::npos) << r.err;
    EXPECT_LE(normalized_error(cases[0], out), 1e-4);
  }
  // auto on a machine without OpenCL is the plain CPU backend: no fallback message.
  const RunResult r = run("OCL_ICD_VENDORS=" + vendors + " " + forward_cmd(cases[0], "auto", out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("falling back"), std::string::npos) << r.err;
  EXPECT_LE(normalized_error(cases[0], out), 1e-4);
  // A malformed --device is a usage error.
  EXPECT_EQ(run(forward_cmd(cases[0], "gpu0", out)).exit_code, 2);
  std::remove(out.c_str());
  std::filesystem::remove_all(vendors);
}

TEST(OpenClDevices, ListsDevicesAndAutoChoice) {
  const RunResult text = run(binary() + " devices");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("\nauto: "), std::string::npos) << text.out;
  const RunResult js = run(binary() + " devices --json");
  ASSERT_EQ(js.exit_code, 0) << js.err;
  const auto j = nlohmann::json::parse(js.out);
  const auto& devs = j["opencl_devices"];
  std::string expect_auto = "cpu";
  for (const auto& d : devs) {
    for (const char* k : {"device", "platform", "name", "type", "compute_units", "global_mem_bytes",
                          "local_mem_bytes", "fp16"}) {
      EXPECT_TRUE(d.contains(k)) << k;
    }
    if (expect_auto == "cpu" && d["type"] == "gpu") expect_auto = d["device"];
  }
  EXPECT_EQ(j["auto"], expect_auto);
  if (opencl_unavailable().empty()) {
    EXPECT_FALSE(devs.empty());
  }
}

}  // namespace
}  // namespace dlx::test
