#include "engine/util/version.h"

namespace dlx {

const char* version() {
  return DLX_VERSION;
}

const char* build_revision() {
  return DLX_GIT_REVISION;
}

}  // namespace dlx
