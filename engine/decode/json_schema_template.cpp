#include "engine/decode/json_schema_template.h"

#include <algorithm>
#include <string>

#include "engine/decode/json_constraints.h"
#include "engine/util/error.h"

namespace dlx {
namespace {

int decimal_chars(int64_t v) {
  return static_cast<int>(std::to_string(v).size());
}

int64_t pow10(int d) {
  int64_t p = 1;
  for (int i = 0; i < d; ++i) {
    p *= 10;
  }
  return p;
}

class Compiler {
 public:
  Compiler(const Tokenizer& tok, std::shared_ptr<const JsonTokenClasses> classes)
      : tok_(tok), classes_(std::move(classes)) {}

  CanvasTemplate run(const SchemaNode& root) {
    emit(root, "");
    flush();
    return std::move(out_);
  }

 private:
  void text(const std::string& s) { pending_ += s; }
  void flush() {
    if (!pending_.empty()) {
      out_.parts.push_back(CanvasPart::fixed(std::move(pending_)));
      pending_.clear();
    }
  }
  void hole(int min_n, int max_n, std::shared_ptr<const TokenConstraint> c,
            const std::string& where) {
    flush();
    CanvasPart p = CanvasPart::hole_range(min_n, max_n);
    p.constraint = std::move(c);
    p.name = where.empty() ? "/" : where;
    out_.parts.push_back(std::move(p));
  }

  // `where`: the value's JSON pointer in the generated document.
  void emit(const SchemaNode& n, const std::string& where) {
    switch (n.kind) {
      case SchemaKind::kObject: {
        text("{");
        bool first = true;
        for (const auto& [name, sub] : n.properties) {
          text(first ? "" : ", ");
          first = false;
          text(nlohmann::json(name).dump() + ": ");
          emit(sub, where + "/" + name);
        }
        text("}");
        return;
      }
      case SchemaKind::kArray:
        text("[");
        for (size_t i = 0; i < n.items.size(); ++i) {
          text(i == 0 ? "" : ", ");
          emit(n.items[i], where + "/" + std::to_string(i));
        }
        text("]");
        return;
      case SchemaKind::kString: {
        const int max_tokens = n.max_length
                                   ? std::min(*n.max_length, SchemaLimits::kMaxStringTokens)
                                   : std::max(SchemaLimits::kDefaultStringTokens, n.min_length);
        text("\"");
        if (max_tokens > 0) {
          hole(n.min_length, max_tokens,
               make_string_constraint(classes_, n.min_length, max_tokens, n.max_length), where);
        }
        text("\"");
        return;
      }
      case SchemaKind::kInteger: {
        NumberSpec s;
        s.integer = true;
        int chars = SchemaLimits::kIntegerChars;
        if (n.minimum && n.maximum) {
          chars = std::max(decimal_chars(*n.minimum), decimal_chars(*n.maximum));
        } else {
          chars = std::max({chars, n.minimum ? decimal_chars(*n.minimum) : 0,
                            n.maximum ? decimal_chars(*n.maximum) : 0});
        }
        s.max_chars = chars;
        s.lo = n.minimum ? *n.minimum : -(pow10(chars - 1) - 1);
        s.hi = n.maximum ? *n.maximum : pow10(std::min(chars, 18)) - 1;
        hole(1, chars, make_number_constraint(classes_, s), where);
        return;
      }
      case SchemaKind::kNumber: {
        NumberSpec s;
        s.integer = false;
        s.max_chars = SchemaLimits::kNumberChars;
        hole(1, s.max_chars, make_number_constraint(classes_, s), where);
        return;
      }
      case SchemaKind::kChoice: {
        if (n.choices.size() == 1) {
          text(n.choices[0].dump());
          return;
        }
        std::vector<std::vector<int32_t>> seqs;
        size_t lo = SIZE_MAX, hi = 0;
        for (const auto& c : n.choices) {
          seqs.push_back(tok_.encode(c.dump()));
          lo = std::min(lo, seqs.back().size());
          hi = std::max(hi, seqs.back().size());
        }
        hole(static_cast<int>(lo), static_cast<int>(hi),
             make_choice_constraint(classes_, std::move(seqs)), where);
        return;
      }
    }
  }

  const Tokenizer& tok_;
  std::shared_ptr<const JsonTokenClasses> classes_;
  CanvasTemplate out_;
  std::string pending_;
};

}  // namespace

CanvasTemplate compile_schema_template(const SchemaNode& schema, const Tokenizer& tok,
                                       const std::shared_ptr<const JsonTokenClasses>& classes) {
  return Compiler(tok, classes).run(schema);
}

nlohmann::ordered_json check_structured_output(const std::string& text, const SchemaNode& schema) {
  nlohmann::ordered_json value;
  try {
    value = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInternal,
                std::string("structured output did not parse as JSON (a bug): ") + e.what());
  }
  std::string why;
  if (!schema_accepts(schema, value, why)) {
    throw Error(ErrorCode::kInternal,
                "structured output does not validate against the schema (a bug): " + why);
  }
  return value;
}

}  // namespace dlx
