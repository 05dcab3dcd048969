// StringIndex: a fixed vocabulary's string -> id lookup. Open addressing over ids, with the
// strings themselves kept in the caller's id -> string table, so building it allocates one
// array instead of one node per token (a 150k-token vocabulary loads several times faster).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dlx {

class StringIndex {
 public:
  // Prepares for about n strings; `strings` (indexed by id) must outlive the index and hold
  // every inserted id's string.
  void reset(const std::vector<std::string>* strings, size_t n);
  // Maps strings[id] -> id; a later insert of an equal string replaces the earlier id.
  void insert(int32_t id);
  int32_t find(std::string_view s) const;  // -1 when absent

 private:
  static uint32_t hash_of(std::string_view s);
  const std::vector<std::string>* strings_ = nullptr;
  std::vector<int32_t> ids_;      // -1: empty slot
  std::vector<uint32_t> hashes_;  // of the slot's string, to skip most string compares
  size_t mask_ = 0;
};

}  // namespace dlx
