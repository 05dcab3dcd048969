// StringIndex with linear probing at load factor <= 1/2 and FNV-1a hashes.
#include "engine/tokenizer/string_index.h"

namespace dlx {

void StringIndex::reset(const std::vector<std::string>* strings, size_t n) {
  strings_ = strings;
  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;
  ids_.assign(cap, -1);
  hashes_.assign(cap, 0);
  mask_ = cap - 1;
}

uint32_t StringIndex::hash_of(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return static_cast<uint32_t>(h ^ (h >> 32));
}

void StringIndex::insert(int32_t id) {
  const std::string& s = (*strings_)[static_cast<size_t>(id)];
  const uint32_t h = hash_of(s);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    if (ids_[i] < 0 || (hashes_[i] == h && (*strings_)[static_cast<size_t>(ids_[i])] == s)) {
      ids_[i] = id;
      hashes_[i] = h;
      return;
    }
  }
}

int32_t StringIndex::find(std::string_view s) const {
  if (ids_.empty()) return -1;
  const uint32_t h = hash_of(s);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const int32_t id = ids_[i];
    if (id < 0) return -1;
    if (hashes_[i] == h && (*strings_)[static_cast<size_t>(id)] == s) return id;
  }
}

}  // namespace dlx
