// The runtime script, copied into the object file by the assembler's .incbin (as catalog/builtin.cpp does for the
// catalog). src/spawn/CMakeLists.txt passes the path as SPAWN_RUNTIME_SCRIPT and makes this object depend on it.
#include "runtime/task_dir.hpp"

#ifndef SPAWN_RUNTIME_SCRIPT
#error "SPAWN_RUNTIME_SCRIPT must name src/spawn/runtime/runtime.sh (set in src/spawn/CMakeLists.txt)"
#endif

#if defined(__APPLE__)
#define SPAWN_RT_SYMBOL(name) "_" #name
#define SPAWN_RT_RODATA ".const_data"
#else
#define SPAWN_RT_SYMBOL(name) #name
#define SPAWN_RT_RODATA ".section .rodata"
#endif

asm(SPAWN_RT_RODATA "\n"
    ".balign 16\n"
    ".globl " SPAWN_RT_SYMBOL(spawn_runtime_script_begin) "\n" SPAWN_RT_SYMBOL(spawn_runtime_script_begin) ":\n"
    ".incbin \"" SPAWN_RUNTIME_SCRIPT "\"\n"
    ".globl " SPAWN_RT_SYMBOL(spawn_runtime_script_end) "\n" SPAWN_RT_SYMBOL(spawn_runtime_script_end) ":\n"
    ".byte 0\n"
    ".text\n");

extern "C" const char spawn_runtime_script_begin[];
extern "C" const char spawn_runtime_script_end[];

namespace spawn::runtime {

std::string_view runtime_script() {
  return {spawn_runtime_script_begin, static_cast<std::size_t>(spawn_runtime_script_end - spawn_runtime_script_begin)};
}

} // namespace spawn::runtime
