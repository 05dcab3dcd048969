// Test helper: writable copies of fixture model folders, and a safetensors reader/writer that
// can also produce deliberately malformed files (any header length, header text, data bytes).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/test_util.h"

namespace dlx::test {

namespace stfs = std::filesystem;

// One tensor of an editable checkpoint: safetensors dtype name, shape and raw bytes.
struct StEntry {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

// An editable checkpoint. write() lays tensors out back to back in name order with correct
// offsets; tests then edit `tensors` or the header to break exactly one thing.
struct StCheckpoint {
  std::map<std::string, StEntry> tensors;
  nlohmann::json metadata = nlohmann::json::object();

  // Parses a well-formed file (the fixtures); fails the test on anything unexpected.
  static StCheckpoint read(const std::string& path) {
    StCheckpoint c;
    std::string s = read_file(path);
    EXPECT_GE(s.size(), 8u) << path;
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<uint8_t>(s[i]);
    auto h = nlohmann::json::parse(s.substr(8, n));
    const std::string data = s.substr(8 + n);
    for (auto it = h.begin(); it != h.end(); ++it) {
      if (it.key() == "__metadata__") {
        c.metadata = it.value();
        continue;
      }
      StEntry e;
      e.dtype = it.value()["dtype"].get<std::string>();
      e.shape = it.value()["shape"].get<std::vector<int64_t>>();
      uint64_t b = it.value()["data_offsets"][0], end = it.value()["data_offsets"][1];
      e.bytes = data.substr(b, end - b);
      c.tensors[it.key()] = std::move(e);
    }
    return c;
  }

  // Header with offsets for the back-to-back layout, and the matching data section.
  nlohmann::json header() const {
    nlohmann::json h = nlohmann::json::object();
    uint64_t off = 0;
    for (const auto& [name, e] : tensors) {
      h[name] = {
          {"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes.size()}}};
      off += e.bytes.size();
    }
    if (!metadata.empty()) h["__metadata__"] = metadata;
    return h;
  }
  std::string data() const {
    std::string d;
    for (const auto& [name, e] : tensors) d += e.bytes;
    return d;
  }
  void write(const std::string& path) const;
};

inline std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// A safetensors file with an arbitrary header length field, header text and data, unchecked.
inline void write_raw(const std::string& path, uint64_t header_len, const std::string& header,
                      const std::string& data) {
  write_bytes(path, le64(header_len) + header + data);
}
inline void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  write_raw(path, header.size(), header, data);
}

inline void StCheckpoint::write(const std::string& path) const {
  write_raw(path, header().dump(), data());
}

// A fresh, writable copy of a fixture model folder's files (not its logits/) under the test
// temp dir, named after the running test so parallel test processes never share one.
inline std::string copy_model(const std::string& family) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "_" + info->name();
  for (char& ch : name) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  stfs::path dst = stfs::path(::testing::TempDir()) /
                   ("dlx_" + name + "_" + family + "_" + std::to_string(::getpid()));
  // Removed when the test process exits, so runs do not pile up copies in the temp dir.
  struct Cleanup {
    std::vector<stfs::path> dirs;
    ~Cleanup() {
      std::error_code ec;
      for (const auto& d : dirs) stfs::remove_all(d, ec);
    }
  };
  static Cleanup cleanup;
  stfs::remove_all(dst);
  stfs::create_directories(dst);
  cleanup.dirs.push_back(dst);
  for (const auto& e : stfs::directory_iterator(model_dir(family))) {
    if (!e.is_regular_file()) continue;
    stfs::path to = dst / e.path().filename();
    stfs::copy_file(e.path(), to);
    stfs::permissions(to, stfs::perms::owner_read | stfs::perms::owner_write,
                      stfs::perm_options::add);
  }
  return dst.string();
}

inline nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_file(path));
}
inline void write_json(const std::string& path, const nlohmann::json& j) {
  write_bytes(path, j.dump(2));
}
// Reads a JSON file, lets `edit` change it, writes it back.
inline void edit_json(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = read_json(path);
  edit(j);
  write_json(path, j);
}

}  // namespace dlx::test
