// Byte-pair encoding with the Hugging Face tokenizers algorithm: split a word into characters,
// then repeatedly merge the adjacent pair of lowest rank (leftmost on ties), using a min-heap
// of candidate merges that is checked for staleness when popped.
#include "engine/tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>

#include "engine/tokenizer/utf8.h"
#include "engine/util/error.h"

namespace dlx {
namespace {

constexpr size_t kCacheMaxWordBytes = 256;  // longer words are not cached (as in HF)
constexpr size_t kCacheMaxEntries = 1 << 17;

[[noreturn]] void bad_model(const std::string& what) {
  throw Error(ErrorCode::kInvalidModel, "tokenizer.json: " + what);
}

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  uint32_t len;  // bytes of the word it covers; 0 once merged into its left neighbour
};

struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t new_id;
  // std heap functions keep the "largest" on top: invert so the lowest rank (then the
  // leftmost position) comes first.
  bool operator<(const Candidate& o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

}  // namespace

std::unique_ptr<BpeModel> BpeModel::from_json(const nlohmann::json& m) {
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
  const auto& vocab = m.at("vocab");
  if (!vocab.is_object()) bad_model("model.vocab is not an object");
  b.vocab_.reserve(vocab.size());
  int64_t max_id = -1;
  for (const auto& [tok, idj] : vocab.items()) {
    if (!idj.is_number_integer()) bad_model("vocab entry '" + tok + "' has a non-integer id");
    const int64_t id = idj.get<int64_t>();
    if (id < 0 || id >= INT32_MAX) bad_model("vocab entry '" + tok + "' has id out of range");
    b.vocab_.emplace(tok, static_cast<int32_t>(id));
    max_id = std::max(max_id, id);
  }
  b.id_to_token_.resize(static_cast<size_t>(max_id + 1));
  b.has_id_.assign(static_cast<size_t>(max_id + 1), false);
  for (const auto& [tok, id] : b.vocab_) {
    b.id_to_token_[static_cast<size_t>(id)] = tok;
    b.has_id_[static_cast<size_t>(id)] = true;
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

  const auto& merges = m.contains("merges") ? m["merges"] : nlohmann::json::array();
  if (!merges.is_array()) bad_model("model.merges is not an array");
  b.merges_.reserve(merges.size());
  int32_t rank = 0;
  for (const auto& mj : merges) {
    std::string left, right;
    if (mj.is_string()) {
      // Legacy form "a b": exactly one space separates the two parts.
      const std::string s = mj.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        bad_model("merge \"" + s + "\" is not two tokens separated by one space");
      }
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (mj.is_array() && mj.size() == 2 && mj[0].is_string() && mj[1].is_string()) {
      left = mj[0].get<std::string>();
      right = mj[1].get<std::string>();
    } else {
      bad_model("merge " + mj.dump() + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
    const int32_t a = b.token_to_id(left), c = b.token_to_id(right);
    if (a < 0 || c < 0) bad_model("merge \"" + left + " " + right + "\": part not in the vocabulary");
    std::string merged = left;
    merged.append(right.substr(
        !b.prefix_.empty() && right.compare(0, b.prefix_.size(), b.prefix_) == 0 ? b.prefix_.size()
                                                                                   : 0));
    const int32_t id = b.token_to_id(merged);
    if (id < 0) bad_model("merge \"" + left + " " + right + "\": result not in the vocabulary");
    b.merges_.insert_or_assign(pair_key(a, c), Merge{rank++, id});
  }
  return bpe;
}

int32_t BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !has_id_[static_cast<size_t>(id)]) {
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
  if (word.empty()) return;
  const bool cacheable = word.size() < kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out.size();
  if (ignore_merges_) {
    if (int32_t id = token_to_id(word); id >= 0) {
      out.push_back(id);
    } else {
      merge_word(word, out);
    }
  } else {
    merge_word(word, out);
  }
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    cache_.emplace(std::string(word), std::vector<int32_t>(out.begin() + static_cast<std::ptrdiff_t>(start), out.end()));
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  thread_local std::vector<Symbol> sym;
  thread_local std::vector<Candidate> heap;
  sym.clear();
  heap.clear();
  auto add = [&](int32_t id, uint32_t len) {
    const auto n = static_cast<int32_t>(sym.size());
    sym.push_back(Symbol{id, n - 1, -1, len});
    if (n > 0) sym[static_cast<size_t>(n - 1)].next = n;
  };

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

  // 2. Merge the lowest-rank pair until none is left.
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
