// `diffulex chat` on a pseudo-terminal, typed into as a user does: line editing and history
// (up-arrow recalls, the history file), multi-line input, Ctrl-C during a reply and at the
// prompt, Ctrl-D. Every wait reads until the expected text appears, with generous timeouts
// for slow machines.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/test_util.h"

namespace dlx::test {
namespace {

constexpr int kTimeoutS = 120;

// The chat on the master side of a pty; the child has its own XDG_STATE_HOME and HOME (so no
// ~/.editrc of the machine applies).
class PtyChat {
 public:
  PtyChat(const std::vector<std::string>& args, const std::string& home) {
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 120;
    pid_ = forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      setenv("HOME", home.c_str(), 1);
      setenv("XDG_STATE_HOME", (home + "/state").c_str(), 1);
      setenv("TERM", "xterm", 1);
      std::vector<char*> argv;
      std::string bin = binary();
      argv.push_back(bin.data());
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  ~PtyChat() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  PtyChat(const PtyChat&) = delete;
  PtyChat& operator=(const PtyChat&) = delete;

  bool started() const { return pid_ > 0; }

  void type(const std::string& keys) {
    size_t done = 0;
    while (done < keys.size()) {
      const ssize_t n = write(fd_, keys.data() + done, keys.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

  // Reads until `text` appears after what earlier expects consumed; then consumes up to its end.
  bool expect(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kTimeoutS);
    while (true) {
      const size_t at = out_.find(text, mark_);
      if (at != std::string::npos) {
        mark_ = at + text.size();
        return true;
      }
      if (std::chrono::steady_clock::now() > deadline || !read_some(200)) return false;
    }
  }

  // Output after the last expect (for what must not be there).
  std::string pending() const { return out_.substr(mark_); }
  const std::string& output() const { return out_; }

  // Exit status once the child has exited (reading the pty meanwhile), -1 on a timeout or
  // a signal.
  int wait_exit() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kTimeoutS);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        while (read_some(0)) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      if (!read_some(100)) usleep(50 * 1000);  // EOF on the pty comes before the exit
    }
    return -1;
  }

 private:
  // False on a timeout, EOF or error (EIO once the child has closed the pty).
  bool read_some(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return timeout_ms > 0 && p.revents == 0 && !eof_;
    char buf[4096];
    const ssize_t n = read(fd_, buf, sizeof(buf));
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    out_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  bool eof_ = false;
  std::string out_;
  size_t mark_ = 0;
};

// A fresh directory for HOME and XDG_STATE_HOME.
std::string temp_home() {
  std::string t = (std::filesystem::temp_directory_path() / "dlx_chat_pty_XXXXXX").string();
  if (!mkdtemp(t.data())) return "";
  return t;
}

std::vector<int> prompt_sizes(const std::string& out) {
  std::vector<int> sizes;
  const std::regex re(R"(prompt (\d+) tokens)");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator();
       ++it) {
    sizes.push_back(std::stoi((*it)[1]));
  }
  return sizes;
}

const char* kUp = "\x1b[A";
const char* kBackspace = "\x7f";

TEST(CliChatPty, EditsRecallsAndSavesTheHistory) {
  const std::string home = temp_home();
  ASSERT_FALSE(home.empty());
  {
    PtyChat chat(
        {"chat", "--model", model_dir("llada"), "--gen-length", "8", "--block-length", "8"}, home);
    ASSERT_TRUE(chat.started());
    ASSERT_TRUE(chat.expect("you>")) << chat.output();
    chat.type("Hello there\r");
    ASSERT_TRUE(chat.expect("finish ")) << chat.output();
    ASSERT_TRUE(chat.expect("you>")) << chat.output();

    // A command, then recalled with up-arrow, edited (backspace, a new digit) and sent again.
    chat.type("/max 7\r");
    ASSERT_TRUE(chat.expect("gen_length = 7")) << chat.output();
    ASSERT_TRUE(chat.expect("you>"));
    chat.type(std::string(kUp) + kBackspace + "5\r");
    ASSERT_TRUE(chat.expect("gen_length = 5")) << chat.output();
    ASSERT_TRUE(chat.expect("you>"));

    // Three lines back is the first message: after /clear its prompt is the first prompt again
    // (had the escape sequence been sent, it would not be).
    chat.type("/clear\r");
    ASSERT_TRUE(chat.expect("(conversation cleared)"));
    ASSERT_TRUE(chat.expect("you>"));
    chat.type(std::string(kUp) + kUp + kUp + kUp + "\r");
    ASSERT_TRUE(chat.expect("[5 tokens,")) << chat.output();
    ASSERT_TRUE(chat.expect("you>"));
    EXPECT_EQ(chat.output().find("^[[A"), std::string::npos) << chat.output();
    const std::vector<int> sizes = prompt_sizes(chat.output());
    ASSERT_EQ(sizes.size(), 2u) << chat.output();
    EXPECT_EQ(sizes[1], sizes[0]) << chat.output();

    // A line ending in a backslash continues: one message of two lines, one reply.
    chat.type("first line \\\r");
    ASSERT_TRUE(chat.expect("...")) << chat.output();
    EXPECT_EQ(chat.pending().find("finish"), std::string::npos) << chat.output();
    chat.type("second line\r");
    ASSERT_TRUE(chat.expect("finish ")) << chat.output();
    ASSERT_TRUE(chat.expect("you>"));

    chat.type("\x04");  // Ctrl-D at an empty prompt
    EXPECT_EQ(chat.wait_exit(), 0) << chat.output();
    EXPECT_EQ(prompt_sizes(chat.output()).size(), 3u) << chat.output();
  }

  const std::string file = home + "/state/diffulex/chat_history";
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0) << file;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string saved = read_file(file);
  EXPECT_NE(saved.find("Hello"), std::string::npos) << saved;
  EXPECT_NE(saved.find("/max"), std::string::npos) << saved;

  // The next session starts with that history: up-arrow recalls the last line of the last one.
  {
    PtyChat chat(
        {"chat", "--model", model_dir("llada"), "--gen-length", "8", "--block-length", "8"}, home);
    ASSERT_TRUE(chat.expect("you>")) << chat.output();
    // Back over "second line", "first line \", "Hello there" to "/clear".
    chat.type(std::string(kUp) + kUp + kUp + kUp + "\r");
    ASSERT_TRUE(chat.expect("(conversation cleared)")) << chat.output();
    ASSERT_TRUE(chat.expect("you>"));
    chat.type("/quit\r");
    EXPECT_EQ(chat.wait_exit(), 0) << chat.output();
  }
  std::filesystem::remove_all(home);
}

TEST(CliChatPty, CtrlCStopsAReplyClearsALineAndTwiceLeaves) {
  const std::string home = temp_home();
  ASSERT_FALSE(home.empty());
  // The demo model and one token per step: hundreds of forwards, long enough to interrupt.
  std::string model = std::string(DLX_SOURCE_DIR) + "/models/dlx-demo-llada";
  if (!std::filesystem::exists(model)) model = model_dir("llada");
  PtyChat chat(
      {"chat", "--model", model, "--gen-length", "400", "--block-length", "400", "--steps", "400"},
      home);
  ASSERT_TRUE(chat.started());
  ASSERT_TRUE(chat.expect("you>")) << chat.output();

  // Ctrl-C during a reply: it stops, the session goes on.
  chat.type("Tell me a story\r");
  ASSERT_TRUE(chat.expect(" masked")) << chat.output();  // the live view's status line
  chat.type("\x03");
  ASSERT_TRUE(chat.expect("(interrupted)")) << chat.output();
  ASSERT_TRUE(chat.expect("you>")) << chat.output();

  // Ctrl-C with text typed drops that text: the next line is a command of its own.
  chat.type("/max 3");
  ASSERT_TRUE(chat.expect("/max 3"));
  chat.type("\x03");
  ASSERT_TRUE(chat.expect("you>")) << chat.output();
  chat.type("/max 4\r");
  ASSERT_TRUE(chat.expect("gen_length = 4")) << chat.output();
  ASSERT_TRUE(chat.expect("you>"));
  EXPECT_EQ(chat.output().find("(Ctrl-C again"), std::string::npos);

  // At an empty prompt: the first Ctrl-C says how to leave, the second leaves.
  chat.type("\x03");
  ASSERT_TRUE(chat.expect("(Ctrl-C again or Ctrl-D to leave)")) << chat.output();
  ASSERT_TRUE(chat.expect("you>"));
  chat.type("\x03");
  EXPECT_EQ(chat.wait_exit(), 0) << chat.output();
  std::filesystem::remove_all(home);
}

TEST(CliChatPty, AnUnreadableHistoryIsOneWarningNotAFailure) {
  const std::string home = temp_home();
  ASSERT_FALSE(home.empty());
  // A directory where the history file should be (permissions would not stop root).
  std::filesystem::create_directories(home + "/state/diffulex/chat_history");
  PtyChat chat({"chat", "--model", model_dir("llada"), "--gen-length", "8", "--block-length", "8"},
               home);
  ASSERT_TRUE(chat.expect("you>")) << chat.output();
  EXPECT_NE(chat.output().find("cannot read the history"), std::string::npos) << chat.output();
  chat.type("Hello\r");
  ASSERT_TRUE(chat.expect("finish ")) << chat.output();
  ASSERT_TRUE(chat.expect("you>"));
  chat.type(std::string(kUp) + "\r");  // kept in memory: recalled all the same
  ASSERT_TRUE(chat.expect("finish ")) << chat.output();
  ASSERT_TRUE(chat.expect("you>"));
  chat.type("\x04");
  EXPECT_EQ(chat.wait_exit(), 0) << chat.output();
  const std::string out = chat.output();
  EXPECT_EQ(out.find("diffulex chat:", out.find("diffulex chat:") + 1), std::string::npos)
      << "one warning: " << out;
  EXPECT_TRUE(std::filesystem::is_directory(home + "/state/diffulex/chat_history"));
  std::filesystem::remove_all(home);
}

}  // namespace
}  // namespace dlx::test
