#pragma once
// SPAWN_EMBED_FILE(name, "path"): the bytes of a file copied into the object file by the assembler's .incbin
// (no generated source, no Python at build time), as `extern "C" const char name##_begin[], name##_end[]`,
// followed by a NUL byte that is not part of the data. The including .cpp must list the file as an object
// dependency (src/spawn/CMakeLists.txt does) so that editing it rebuilds that one object.
#include <cstddef>
#include <string_view>

#if defined(__APPLE__)
#define SPAWN_EMBED_SYMBOL(name) "_" #name
#define SPAWN_EMBED_SECTION ".const_data"
#else
#define SPAWN_EMBED_SYMBOL(name) #name
#define SPAWN_EMBED_SECTION ".section .rodata"
#endif

#define SPAWN_EMBED_FILE(name, path)                                                                                  \
  asm(SPAWN_EMBED_SECTION "\n"                                                                                        \
                          ".balign 16\n"                                                                              \
                          ".globl " SPAWN_EMBED_SYMBOL(name##_begin) "\n" SPAWN_EMBED_SYMBOL(name##_begin) ":\n"      \
                          ".incbin \"" path "\"\n"                                                                    \
                          ".globl " SPAWN_EMBED_SYMBOL(name##_end) "\n" SPAWN_EMBED_SYMBOL(name##_end) ":\n"          \
                          ".byte 0\n"                                                                                 \
                          ".text\n");                                                                                 \
  extern "C" const char name##_begin[];                                                                               \
  extern "C" const char name##_end[]

namespace spawn::util {

// The embedded bytes between two SPAWN_EMBED_FILE symbols.
inline std::string_view embedded(const char* begin, const char* end) {
  return {begin, static_cast<std::size_t>(end - begin)};
}

} // namespace spawn::util
