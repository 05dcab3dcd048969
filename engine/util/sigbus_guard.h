// SIGBUS guard for memory-mapped model files. A file rewritten or truncated in place while it
// is mapped (`cp new.safetensors model.safetensors`, `truncate`) makes the next read of a page
// past its new end raise SIGBUS, which kills the process. Mappings registered here are instead
// replaced by zero pages when that happens and marked spoiled: the read that faulted continues
// on zeros, and the owner checks spoiled() after its work and fails that request with an error.
// A SIGBUS outside every registered mapping keeps its default action (a crash, as before).
#pragma once

#include <cstddef>

namespace dlx::sigbus_guard {

// Registers [begin, begin + size) (a whole read-only mapping); returns a slot for spoiled() and
// unregister(), or -1 when every slot is taken (the mapping is then simply unguarded).
// Installs the process's SIGBUS handler on first use.
int register_mapping(const void* begin, size_t size);
void unregister(int slot);
// True once a SIGBUS hit this mapping.
bool spoiled(int slot);

}  // namespace dlx::sigbus_guard
