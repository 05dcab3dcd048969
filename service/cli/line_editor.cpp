// libedit's native API (histedit.h). Ctrl-C is read as a key, not a signal: the edit mode's
// terminal settings drop ISIG and ^C is bound to a function that ends the line as interrupted.
// (With ISIG, libedit retries a read interrupted by SIGINT, so the first Ctrl-C would be lost.)
#include "service/cli/line_editor.h"

#include <fcntl.h>
#include <histedit.h>
#include <langinfo.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace dlx::cli {
namespace {

constexpr char kIgnore = '\1';  // brackets prompt bytes that take no columns (EL_PROMPT_ESC)

// libedit decodes keys and measures columns with the C library's multibyte functions, which
// need a UTF-8 LC_CTYPE: the user's if it is UTF-8, else C.UTF-8 (a container may set no LANG).
// Null when neither exists: the thread's locale is then left alone.
locale_t utf8_ctype() {
  locale_t l = newlocale(LC_CTYPE_MASK, "", static_cast<locale_t>(0));
  if (l && std::strcmp(nl_langinfo_l(CODESET, l), "UTF-8") == 0) return l;
  if (l) freelocale(l);
  return newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
}

// Switches this thread's locale for the duration of a libedit call (not the whole process').
class LocaleScope {
 public:
  explicit LocaleScope(locale_t l) : old_(l ? uselocale(l) : static_cast<locale_t>(0)) {}
  ~LocaleScope() {
    if (old_) uselocale(old_);
  }
  LocaleScope(const LocaleScope&) = delete;
  LocaleScope& operator=(const LocaleScope&) = delete;

 private:
  locale_t old_;
};

std::string mark_escapes(const std::string& p) {
  std::string out;
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '\x1b' && i + 1 < p.size() && p[i + 1] == '[') {
      size_t j = i + 2;
      while (j < p.size() && !(p[j] >= 0x40 && p[j] <= 0x7e)) ++j;  // up to the final byte
      j = std::min(j + 1, p.size());
      out += kIgnore;
      out.append(p, i, j - i);
      out += kIgnore;
      i = j;
    } else {
      out += p[i++];
    }
  }
  return out;
}

std::string errno_text() {
  return std::strerror(errno);
}

// mkdir -p with mode 0700 (the history is private).
bool make_dirs(const std::filesystem::path& dir, std::string* error) {
  std::filesystem::path p;
  for (const auto& part : dir) {
    p /= part;
    if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) {
      *error = "cannot create " + p.string() + ": " + errno_text();
      return false;
    }
  }
  return true;
}

}  // namespace

struct LineEditor::Impl {
  EditLine* el = nullptr;
  History* hist = nullptr;
  HistEvent ev{};
  locale_t utf8 = static_cast<locale_t>(0);
  std::string prompt;  // with escape sequences marked
  bool interrupted = false;
  std::string typed;  // the line when Ctrl-C was pressed

  static Impl& of(EditLine* el) {
    void* self = nullptr;
    el_get(el, EL_CLIENTDATA, &self);
    return *static_cast<Impl*>(self);
  }

  static char* prompt_of(EditLine* el) { return of(el).prompt.data(); }

  // Bound to ^C: shows "^C" after the text and ends the line through ed-newline (which moves
  // the cursor below a line that wrapped); read() then reports it as interrupted.
  static unsigned char on_interrupt(EditLine* el, int) {
    Impl& self = of(el);
    const LineInfo* li = el_line(el);
    self.interrupted = true;
    self.typed.assign(li->buffer, li->lastchar);
    el_cursor(el, static_cast<int>(li->lastchar - li->cursor));
    el_insertstr(el, "^C");
    el_push(el, "\n");
    return CC_REFRESH;
  }
};

LineEditor::LineEditor(const char* program, size_t history_size) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.utf8 = utf8_ctype();
  LocaleScope scope(m.utf8);
  m.hist = history_init();
  history(m.hist, &m.ev, H_SETSIZE, static_cast<int>(history_size));
  history(m.hist, &m.ev, H_SETUNIQUE, 1);
  m.el = el_init(program, stdin, stdout, stderr);
  el_set(m.el, EL_CLIENTDATA, static_cast<void*>(&m));
  el_set(m.el, EL_EDITOR, "emacs");
  el_set(m.el, EL_HIST, history, m.hist);
  el_set(m.el, EL_PROMPT_ESC, &Impl::prompt_of, kIgnore);
  el_set(m.el, EL_BIND, "^R", "em-inc-search-prev", nullptr);  // as in bash (not a redraw)
  el_source(m.el, nullptr);  // the user's ~/.editrc (vi keys, bindings)
  el_set(m.el, EL_ADDFN, "dlx-interrupt", "clear the line (Ctrl-C)", &Impl::on_interrupt);
  el_set(m.el, EL_BIND, "^C", "dlx-interrupt", nullptr);
  el_set(m.el, EL_BIND, "-a", "^C", "dlx-interrupt", nullptr);  // vi command mode too
  const char* no_signals[] = {"setty", "-d", "-isig", nullptr};
  el_parse(m.el, 3, no_signals);
}

LineEditor::~LineEditor() {
  LocaleScope scope(impl_->utf8);
  el_end(impl_->el);
  history_end(impl_->hist);
  if (impl_->utf8) freelocale(impl_->utf8);
}

LineEditor::Result LineEditor::read(const std::string& prompt) {
  Impl& m = *impl_;
  LocaleScope scope(m.utf8);
  m.prompt = mark_escapes(prompt);
  m.interrupted = false;
  el_resize(m.el);  // the window may have changed while a reply was drawn
  // Raw mode before the prompt is drawn: el_gets sets it only when it first reads, so keys
  // typed just after the prompt appeared would reach the cooked terminal (echoed as ^[[A, and
  // Ctrl-C as a signal).
  el_set(m.el, EL_PREP_TERM, 1);
  int count = 0;
  const char* s = el_gets(m.el, &count);
  if (m.interrupted) return {Status::kInterrupted, m.typed};
  if (!s) return {Status::kEnd, ""};
  std::string line(s);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return {Status::kLine, line};
}

void LineEditor::add_history(const std::string& line) {
  if (line.empty()) return;
  LocaleScope scope(impl_->utf8);
  history(impl_->hist, &impl_->ev, H_ENTER, line.c_str());
}

bool LineEditor::load_history(const std::string& path, std::string* error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return true;  // no history yet
    *error = errno_text();
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *error = "not a regular file";
    return false;
  }
  if (st.st_size == 0) return true;
  if (::access(path.c_str(), R_OK) != 0) {
    *error = errno_text();
    return false;
  }
  LocaleScope scope(impl_->utf8);
  if (history(impl_->hist, &impl_->ev, H_LOAD, path.c_str()) < 0) {
    *error = "not a libedit history file (delete it to start a new one)";
    return false;
  }
  return true;
}

bool LineEditor::save_history(const std::string& path, std::string* error) {
  if (!make_dirs(std::filesystem::path(path).parent_path(), error)) return false;
  // Written beside it and renamed over it, so a crash or a second session never leaves half a
  // file; created 0600 (a umask can only narrow that).
  const std::string tmp = path + "." + std::to_string(::getpid()) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = errno_text();
    return false;
  }
  FILE* f = ::fdopen(fd, "w");
  if (!f) {
    *error = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  }
  int saved;
  {
    LocaleScope scope(impl_->utf8);
    saved = history(impl_->hist, &impl_->ev, H_SAVE_FP, f);
  }
  bool ok = saved >= 0 && std::fflush(f) == 0;
  if (!ok) *error = "write failed: " + errno_text();
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    *error = "write failed: " + errno_text();
  }
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    *error = errno_text();
  }
  if (!ok) ::unlink(tmp.c_str());
  return ok;
}

}  // namespace dlx::cli
