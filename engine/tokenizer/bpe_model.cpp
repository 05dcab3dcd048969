// Byte-pair encoding with the Hugging Face tokenizers algorithm: split a word into characters,
// then repeatedly merge the adjacent pair of lowest rank (leftmost on ties), using a min-heap
// of candidate merges that is checked for staleness when popped.
#include "engine/tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/utf8.h"
#include "engine/util/error.h"

namespace dlx {
namespace {

constexpr size_t kCacheMaxWordBytes = 256;  // longer words are not cached (as in HF)

[[noreturn]] void bad_model(const std::string& what) {
  throw Error(ErrorCode::kInvalidModel, "tokenizer.json: " + what);
}

struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t new_id;
  // std heap functions keep the "largest" on top: invert so the lowest rank (then the
  // leftmost position) comes first.
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

struct BpeModel::Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  uint32_t len;  // bytes of the word it covers; 0 once merged into its left neighbour
};

std::pair<std::string, std::string> BpeModel::split_merge(const std::string& s) {
  const size_t sp = s.find(' ');
  if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
    bad_model("merge \"" + s + "\" is not two tokens separated by one space");
  }
  return {s.substr(0, sp), s.substr(sp + 1)};
}

std::unique_ptr<BpeModel> BpeModel::from_json(const nlohmann::json& m) {
  if (!m.is_object()) bad_model("\"model\" is not an object");
  Vocab vocab;
  if (m.value("type", "BPE") == "BPE") {
    if (!m.contains("vocab") || !m["vocab"].is_object()) bad_model("model.vocab is not an object");
    vocab.reserve(m["vocab"].size());
    for (const auto& [tok, idj] : m["vocab"].items()) {
      if (!idj.is_number_integer()) bad_model("vocab entry '" + tok + "' has a non-integer id");
      vocab.emplace_back(tok, idj.get<int64_t>());
    }
  }
  Merges merges;
  const auto& mj = m.contains("merges") ? m["merges"] : nlohmann::json::array();
  if (!mj.is_array()) bad_model("model.merges is not an array");
  merges.reserve(mj.size());
  for (const auto& e : mj) {
    if (e.is_string()) {
      merges.push_back(split_merge(e.get<std::string>()));
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
    } else {
      bad_model("merge " + e.dump() + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  return build(m, std::move(vocab), merges);
}

std::unique_ptr<BpeModel> BpeModel::build(const nlohmann::json& m, Vocab vocab,
                                          const Merges& merges) {
  const std::string type = m.value("type", "BPE");
  if (type != "BPE") {
    throw Error(ErrorCode::kUnsupported,
                "tokenizer.json: model type '" + type + "' is not supported (supported: BPE)");
  }
  if (m.contains("dropout") && !m["dropout"].is_null() && m["dropout"].get<double>() > 0) {
    throw Error(ErrorCode::kUnsupported, "tokenizer.json: BPE dropout is not supported");
  }
  auto bpe = std::unique_ptr<BpeModel>(new BpeModel());
  BpeModel& b = *bpe;
  int64_t max_id = -1;
  for (const auto& [tok, id] : vocab) {
    if (id < 0 || id >= kMaxTokenIds) {
      bad_model("vocab entry '" + tok + "' has id " + std::to_string(id) + ", outside 0.." +
                std::to_string(kMaxTokenIds - 1));
    }
    max_id = std::max(max_id, id);
  }
  b.id_to_token_.resize(static_cast<size_t>(max_id + 1));
  b.has_id_.assign(static_cast<size_t>(max_id + 1), false);
  b.vocab_.reset(&b.id_to_token_, vocab.size());
  for (auto& [tok, id] : vocab) {
    const auto i = static_cast<size_t>(id);
    if (b.has_id_[i]) bad_model("vocab id " + std::to_string(id) + " is used twice");
    b.id_to_token_[i] = std::move(tok);
    b.has_id_[i] = true;
    b.vocab_.insert(static_cast<int32_t>(id));
  }

  auto str_or_empty = [&](const char* key) {
    return m.contains(key) && m[key].is_string() ? m[key].get<std::string>() : std::string();
  };
  b.prefix_ = str_or_empty("continuing_subword_prefix");
  b.suffix_ = str_or_empty("end_of_word_suffix");
  b.fuse_unk_ = m.value("fuse_unk", false);
  b.byte_fallback_ = m.value("byte_fallback", false);
  b.ignore_merges_ = m.value("ignore_merges", false);
  const std::string unk = str_or_empty("unk_token");
  if (!unk.empty()) {
    b.unk_id_ = b.token_to_id(unk);
    if (b.unk_id_ < 0) bad_model("unk_token '" + unk + "' is not in the vocabulary");
  }

  b.small_char_ids_.fill(-1);
  for (char32_t cp = 0; cp < 512; ++cp) {
    std::string s;
    utf8::append(s, cp);
    b.small_char_ids_[cp] = b.token_to_id(s);
  }
  b.raw_bytes_ok_ = b.prefix_.empty() && b.suffix_.empty();
  for (int byte = 0; byte < 256; ++byte) {
    b.byte_ids_[byte] = b.small_char_ids_[byte_level::byte_to_cp(static_cast<uint8_t>(byte))];
    b.raw_bytes_ok_ = b.raw_bytes_ok_ && b.byte_ids_[byte] >= 0;
  }

  b.merges_.reserve(merges.size());
  int32_t rank = 0;
  std::string merged;
  for (const auto& [left, right] : merges) {
    const int32_t a = b.token_to_id(left), c = b.token_to_id(right);
    if (a < 0 || c < 0)
      bad_model("merge \"" + left + " " + right + "\": part not in the vocabulary");
    const size_t skip = !b.prefix_.empty() && right.compare(0, b.prefix_.size(), b.prefix_) == 0
                            ? b.prefix_.size()
                            : 0;
    merged.assign(left).append(right, skip, std::string::npos);
    const int32_t id = b.token_to_id(merged);
    if (id < 0) bad_model("merge \"" + left + " " + right + "\": result not in the vocabulary");
    b.merges_.insert_or_assign(pair_key(a, c), Merge{rank++, id});
  }
  return bpe;
}

int32_t BpeModel::token_to_id(std::string_view token) const {
  return vocab_.find(token);
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() ||
      !has_id_[static_cast<size_t>(id)]) {
    return nullptr;
  }
  return &id_to_token_[static_cast<size_t>(id)];
}

int32_t BpeModel::char_id(std::string_view ch, char32_t cp, bool first, bool last) const {
  const bool decorated = (!first && !prefix_.empty()) || (last && !suffix_.empty());
  if (!decorated) {
    if (cp < 512) return small_char_ids_[cp];
    return token_to_id(ch);
  }
  std::string s;
  if (!first) s = prefix_;
  s.append(ch);
  if (last) s.append(suffix_);
  return token_to_id(s);
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  tokenize_impl<false>(word, out);
}

void BpeModel::tokenize_bytes(std::string_view word, std::vector<int32_t>& out) const {
  tokenize_impl<true>(word, out);
}

template <bool kRawBytes>
void BpeModel::tokenize_impl(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  // One tokenizer uses one of the two forms, so raw and mapped words never share the cache.
  const bool cacheable = word.size() < kCacheMaxWordBytes;
  if (cacheable && cache_.lookup(word, out)) return;
  const size_t start = out.size();
  int32_t whole = -1;
  if (ignore_merges_) {
    if constexpr (kRawBytes) {
      thread_local std::string mapped;
      mapped.clear();
      byte_level::encode(word, mapped);
      whole = token_to_id(mapped);
    } else {
      whole = token_to_id(word);
    }
  }
  if (whole >= 0) {
    out.push_back(whole);
  } else if constexpr (kRawBytes) {
    merge_bytes(word, out);
  } else {
    merge_word(word, out);
  }
  if (cacheable) cache_.insert(word, std::span<const int32_t>(out).subspan(start));
}

std::vector<BpeModel::Symbol>& BpeModel::scratch_symbols() {
  thread_local std::vector<Symbol> sym;
  sym.clear();
  return sym;
}

void BpeModel::add_symbol(std::vector<Symbol>& sym, int32_t id, uint32_t len) {
  const auto n = static_cast<int32_t>(sym.size());
  sym.push_back(Symbol{id, n - 1, -1, len});
  if (n > 0) sym[static_cast<size_t>(n - 1)].next = n;
}

void BpeModel::merge_bytes(std::string_view word, std::vector<int32_t>& out) const {
  std::vector<Symbol>& sym = scratch_symbols();
  for (char c : word) add_symbol(sym, byte_ids_[static_cast<unsigned char>(c)], 1);
  merge_symbols(sym, out);
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  std::vector<Symbol>& sym = scratch_symbols();
  auto add = [&](int32_t id, uint32_t len) { add_symbol(sym, id, len); };

  // 1. Characters -> initial symbols (unknown characters: byte fallback, then unk).
  int32_t unk_pending = -1;
  uint32_t unk_len = 0;
  size_t i = 0;
  while (i < word.size()) {
    const size_t begin = i;
    const char32_t cp = utf8::next(word, i);
    const std::string_view ch = word.substr(begin, i - begin);
    const auto len = static_cast<uint32_t>(ch.size());
    const int32_t id = char_id(ch, cp, begin == 0, i >= word.size());
    if (id >= 0) {
      if (unk_pending >= 0) {
        add(unk_pending, unk_len);
        unk_pending = -1;
      }
      add(id, len);
      continue;
    }
    if (byte_fallback_) {
      int32_t ids[4];
      bool all = true;
      for (size_t k = 0; k < ch.size(); ++k) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", static_cast<unsigned char>(ch[k]));
        ids[k] = token_to_id(name);
        all = all && ids[k] >= 0;
      }
      if (all) {
        for (size_t k = 0; k < ch.size(); ++k) add(ids[k], 1);
        continue;
      }
    }
    if (unk_id_ >= 0) {
      if (unk_pending >= 0 && fuse_unk_) {
        unk_len += len;
      } else {
        if (unk_pending >= 0) add(unk_pending, unk_len);
        unk_pending = unk_id_;
        unk_len = len;
      }
    }
    // Without unk and byte fallback the character is dropped, as Hugging Face does.
  }
  if (unk_pending >= 0) add(unk_pending, unk_len);
  merge_symbols(sym, out);
}

void BpeModel::merge_symbols(std::vector<Symbol>& sym, std::vector<int32_t>& out) const {
  // Merge the lowest-rank pair until none is left.
  thread_local std::vector<Candidate> heap;
  heap.clear();
  for (size_t k = 0; k + 1 < sym.size(); ++k) {
    if (const Merge* m = find_merge(sym[k].id, sym[k + 1].id)) {
      heap.push_back(Candidate{m->rank, static_cast<int32_t>(k), m->new_id});
    }
  }
  std::make_heap(heap.begin(), heap.end());
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Candidate top = heap.back();
    heap.pop_back();
    Symbol& cur = sym[static_cast<size_t>(top.pos)];
    if (cur.len == 0 || cur.next < 0) continue;
    const auto next_pos = static_cast<size_t>(cur.next);
    const Symbol right = sym[next_pos];
    const Merge* m = find_merge(cur.id, right.id);
    if (!m || m->new_id != top.new_id) continue;  // stale candidate
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    sym[next_pos].len = 0;
    if (right.next >= 0) sym[static_cast<size_t>(right.next)].prev = top.pos;
    if (cur.prev >= 0) {
      if (const Merge* pm = find_merge(sym[static_cast<size_t>(cur.prev)].id, cur.id)) {
        heap.push_back(Candidate{pm->rank, cur.prev, pm->new_id});
        std::push_heap(heap.begin(), heap.end());
      }
    }
    if (cur.next >= 0) {
      if (const Merge* nm = find_merge(cur.id, sym[static_cast<size_t>(cur.next)].id)) {
        heap.push_back(Candidate{nm->rank, top.pos, nm->new_id});
        std::push_heap(heap.begin(), heap.end());
      }
    }
  }
  for (const Symbol& s : sym) {
    if (s.len > 0) out.push_back(s.id);
  }
}

}  // namespace dlx
