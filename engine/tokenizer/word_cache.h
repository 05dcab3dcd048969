// WordCache: pre-token -> token ids, for words seen before. An open-addressing hash table over
// two arenas (key bytes, ids), so a lookup touches one slot and two contiguous ranges instead
// of chasing list nodes; when full it is simply cleared. Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dlx {

class WordCache {
 public:
  explicit WordCache(size_t max_entries = size_t{1} << 16);

  // Appends the cached ids of word to out and returns true, or returns false.
  bool lookup(std::string_view word, std::vector<int32_t>& out) const;
  void insert(std::string_view word, std::span<const int32_t> ids);

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_off = 0, ids_off = 0;
    uint16_t key_len = 0, ids_len = 0;
    bool used = false;
  };
  static uint64_t hash_of(std::string_view s);
  size_t find_slot(std::string_view word, uint64_t h) const;  // the word's slot or an empty one
  void clear_locked();

  size_t max_entries_;
  size_t mask_;  // slots_.size() - 1 (a power of two, twice max_entries)
  size_t count_ = 0;
  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<int32_t> ids_;
  mutable std::mutex mu_;
};

}  // namespace dlx
