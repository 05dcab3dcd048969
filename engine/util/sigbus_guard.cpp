#include "engine/util/sigbus_guard.h"

#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace dlx::sigbus_guard {
namespace {

// Fixed storage: the handler must not allocate or lock. A slot is live while size != 0.
constexpr int kSlots = 256;
struct Slot {
  std::atomic<uintptr_t> begin{0};
  std::atomic<size_t> size{0};
  std::atomic<bool> spoiled{false};
};
Slot g_slots[kSlots];
std::mutex g_register_mu;  // registration only; never taken by the handler
struct sigaction g_previous {};
bool g_installed = false;

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Slot& s : g_slots) {
    const size_t size = s.size.load(std::memory_order_acquire);
    const uintptr_t begin = s.begin.load(std::memory_order_acquire);
    if (size == 0 || addr < begin || addr >= begin + size) continue;
    // Zero pages over the whole mapping (mmap is a plain system call: safe here). Reading the
    // rest of a changed file would give a mix of old and new weights anyway.
    void* p = ::mmap(reinterpret_cast<void*>(begin), size, PROT_READ,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) break;
    s.spoiled.store(true, std::memory_order_release);
    return;  // the faulting read runs again, on zeros
  }
  // Not ours: what would have happened without the guard.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) return g_previous.sa_sigaction(sig, info, ctx);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    return g_previous.sa_handler(sig);
  }
  ::signal(SIGBUS, SIG_DFL);  // the faulting instruction runs again and gets the default action
}

}  // namespace

int register_mapping(const void* begin, size_t size) {
  if (size == 0) return -1;
  std::lock_guard<std::mutex> lock(g_register_mu);
  if (!g_installed) {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGBUS, &sa, &g_previous) != 0) return -1;
    g_installed = true;
  }
  for (int i = 0; i < kSlots; ++i) {
    Slot& s = g_slots[i];
    if (s.size.load(std::memory_order_acquire) != 0) continue;
    s.spoiled.store(false, std::memory_order_relaxed);
    s.begin.store(reinterpret_cast<uintptr_t>(begin), std::memory_order_release);
    s.size.store(size, std::memory_order_release);
    return i;
  }
  return -1;
}

void unregister(int slot) {
  if (slot < 0 || slot >= kSlots) return;
  std::lock_guard<std::mutex> lock(g_register_mu);
  g_slots[slot].size.store(0, std::memory_order_release);
  g_slots[slot].begin.store(0, std::memory_order_release);
}

bool spoiled(int slot) {
  return slot >= 0 && slot < kSlots && g_slots[slot].spoiled.load(std::memory_order_acquire);
}

}  // namespace dlx::sigbus_guard
