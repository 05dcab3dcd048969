#include "service/db/migrations.h"

#include <cctype>

#include "engine/util/error.h"

namespace dlx::db {

std::vector<Migration> ordered_migrations(const std::vector<EmbeddedFile>& files) {
  std::vector<Migration> out;
  for (const auto& f : files) {
    const std::string name(f.path);
    const bool ok = name.size() > 9 && std::isdigit(static_cast<unsigned char>(name[0])) &&
                    std::isdigit(static_cast<unsigned char>(name[1])) &&
                    std::isdigit(static_cast<unsigned char>(name[2])) &&
                    std::isdigit(static_cast<unsigned char>(name[3])) && name[4] == '_' &&
                    name.ends_with(".sql");
    if (!ok) {
      throw Error(ErrorCode::kInternal, "migration file '" + name + "' is not named NNNN_name.sql");
    }
    Migration m;
    m.version = std::stoi(name.substr(0, 4));
    m.name = name;
    m.sql = f.data;
    if (m.version != static_cast<int>(out.size()) + 1) {
      throw Error(ErrorCode::kInternal, "migration '" + name + "' should be number " +
                                            std::to_string(out.size() + 1) +
                                            " (migrations are numbered 1, 2, 3, ... without gaps)");
    }
    out.push_back(m);
  }
  return out;
}

}  // namespace dlx::db
