// The runtime script, embedded at build time (util/embed.hpp). src/spawn/CMakeLists.txt passes the path as
// SPAWN_RUNTIME_SCRIPT and makes this object depend on it.
#include "runtime/task_dir.hpp"
#include "util/embed.hpp"

#ifndef SPAWN_RUNTIME_SCRIPT
#error "SPAWN_RUNTIME_SCRIPT must name src/spawn/runtime/runtime.sh (set in src/spawn/CMakeLists.txt)"
#endif

SPAWN_EMBED_FILE(spawn_runtime_script, SPAWN_RUNTIME_SCRIPT);

namespace spawn::runtime {

std::string_view runtime_script() { return util::embedded(spawn_runtime_script_begin, spawn_runtime_script_end); }

} // namespace spawn::runtime
