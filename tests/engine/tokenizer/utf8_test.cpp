// UTF-8 repair and streaming boundaries (engine/tokenizer/utf8.h): U+FFFD substitution of
// maximal subparts, as Python's errors="replace" does, and complete-character prefixes.
#include "engine/tokenizer/utf8.h"

#include <gtest/gtest.h>

namespace dlx {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, ValidTextIsUnchanged) {
  const std::string s = "plain ASCII, caf\xC3\xA9, \xE4\xBD\xA0\xE5\xA5\xBD, \xF0\x9F\x98\x80";
  EXPECT_TRUE(utf8::is_valid(s));
  EXPECT_EQ(utf8::sanitize(s), s);
  EXPECT_EQ(utf8::length(s), 24u);
}

TEST(Utf8, InvalidSequencesBecomeReplacementCharacters) {
  // Expected values are Python's bytes.decode("utf-8", "replace").
  EXPECT_EQ(utf8::sanitize("a\xFF"
                           "b"),
            "a" + kFffd + "b");
  EXPECT_EQ(utf8::sanitize("\xC3"), kFffd);                          // truncated 2-byte
  EXPECT_EQ(utf8::sanitize("a\xF0\x9F\x98"), "a" + kFffd);           // truncated 4-byte: one U+FFFD
  EXPECT_EQ(utf8::sanitize("\xE2\x82x"), kFffd + "x");               // cut by an ASCII byte
  EXPECT_EQ(utf8::sanitize("\xC0\xAF"), kFffd + kFffd);              // overlong
  EXPECT_EQ(utf8::sanitize("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // surrogate
  EXPECT_EQ(utf8::sanitize("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(utf8::sanitize("\x80\x80"), kFffd + kFffd);  // stray continuations
  EXPECT_FALSE(utf8::is_valid("\xED\xA0\x80"));
  EXPECT_TRUE(utf8::is_valid(utf8::sanitize("\xFE\xFF\xC3")));
}

TEST(Utf8, CompletePrefixHoldsBackOnlyAnIncompleteCharacter) {
  EXPECT_EQ(utf8::complete_prefix("abc"), 3u);
  EXPECT_EQ(utf8::complete_prefix("a\xE2\x82"), 1u);  // euro sign cut after 2 bytes
  EXPECT_EQ(utf8::complete_prefix("a\xE2\x82\xAC"), 4u);
  EXPECT_EQ(utf8::complete_prefix("\xF0\x9F"), 0u);
  EXPECT_EQ(utf8::complete_prefix("a\xFF"), 2u);          // can never become valid
  EXPECT_EQ(utf8::complete_prefix("\xE2\x82x\xC3"), 3u);  // invalid middle, held tail
}

}  // namespace
}  // namespace dlx
