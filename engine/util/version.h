// What build this is: the project version (CMakeLists.txt) and the git revision it was
// configured from ("unknown" outside a git checkout, e.g. the container's build context).
#pragma once

namespace dlx {

const char* version();
const char* build_revision();

}  // namespace dlx
