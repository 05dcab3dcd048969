// The SQL migrations compiled into the binary (generated from migrations/*.sql at build time),
// and the rules for applying them under PRAGMA user_version.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/util/embedded_file.h"

namespace dlx::db {

// Every migrations/*.sql file, sorted by name (generated source).
const std::vector<EmbeddedFile>& embedded_migrations();

struct Migration {
  int version = 0;   // NNNN of NNNN_name.sql; the user_version after it ran
  std::string name;  // file name
  std::string_view sql;
};

// The embedded files as numbered migrations. Throws Error kInternal when the names are not
// NNNN_name.sql numbered 1, 2, 3, ... without gaps (a packaging bug, caught by a unit test).
std::vector<Migration> ordered_migrations(const std::vector<EmbeddedFile>& files);

}  // namespace dlx::db
