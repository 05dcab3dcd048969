// WordCache with linear probing and FNV-1a hashing (pre-tokens are short).
#include "engine/tokenizer/word_cache.h"

#include <cstring>
#include <limits>

namespace dlx {

WordCache::WordCache(size_t max_entries) : max_entries_(max_entries) {
  size_t n = 1;
  while (n < 2 * max_entries) n <<= 1;
  slots_.resize(n);
  mask_ = n - 1;
}

uint64_t WordCache::hash_of(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h ^ (h >> 29);
}

size_t WordCache::find_slot(std::string_view word, uint64_t h) const {
  size_t i = static_cast<size_t>(h) & mask_;
  while (true) {
    const Slot& s = slots_[i];
    if (!s.used) return i;
    if (s.hash == h && s.key_len == word.size() &&
        std::memcmp(keys_.data() + s.key_off, word.data(), word.size()) == 0) {
      return i;
    }
    i = (i + 1) & mask_;
  }
}

bool WordCache::lookup(std::string_view word, std::vector<int32_t>& out) const {
  const uint64_t h = hash_of(word);
  std::lock_guard<std::mutex> lock(mu_);
  const Slot& s = slots_[find_slot(word, h)];
  if (!s.used) return false;
  out.insert(out.end(), ids_.begin() + s.ids_off, ids_.begin() + s.ids_off + s.ids_len);
  return true;
}

void WordCache::insert(std::string_view word, std::span<const int32_t> ids) {
  constexpr size_t kMax16 = std::numeric_limits<uint16_t>::max();
  if (word.size() > kMax16 || ids.size() > kMax16) return;
  const uint64_t h = hash_of(word);
  std::lock_guard<std::mutex> lock(mu_);
  if (count_ >= max_entries_ || keys_.size() + word.size() > UINT32_MAX ||
      ids_.size() + ids.size() > UINT32_MAX) {
    clear_locked();
  }
  Slot& s = slots_[find_slot(word, h)];
  if (s.used) return;  // another thread inserted it meanwhile
  s.used = true;
  s.hash = h;
  s.key_off = static_cast<uint32_t>(keys_.size());
  s.key_len = static_cast<uint16_t>(word.size());
  s.ids_off = static_cast<uint32_t>(ids_.size());
  s.ids_len = static_cast<uint16_t>(ids.size());
  keys_.append(word);
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  ++count_;
}

void WordCache::clear_locked() {
  for (Slot& s : slots_) s.used = false;
  keys_.clear();
  ids_.clear();
  count_ = 0;
}

}  // namespace dlx
