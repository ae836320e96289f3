// The built-in catalog: data/catalog/aws-ec2.catalog, embedded at build time (util/embed.hpp).
// src/spawn/CMakeLists.txt passes the path as SPAWN_BUILTIN_CATALOG and makes this object depend on it.
#include "catalog/catalog.hpp"
#include "util/embed.hpp"

#ifndef SPAWN_BUILTIN_CATALOG
#error "SPAWN_BUILTIN_CATALOG must name data/catalog/aws-ec2.catalog (set in src/spawn/CMakeLists.txt)"
#endif

SPAWN_EMBED_FILE(spawn_builtin_catalog, SPAWN_BUILTIN_CATALOG);

namespace spawn::catalog {

std::string_view builtin_catalog_text() { return util::embedded(spawn_builtin_catalog_begin, spawn_builtin_catalog_end); }

} // namespace spawn::catalog
