// The built-in catalog: data/catalog/aws-ec2.catalog, copied into the object file by the assembler's .incbin
// (no Python or generated source at build time). src/spawn/CMakeLists.txt passes the path as SPAWN_BUILTIN_CATALOG
// and makes this file depend on it, so editing the catalog rebuilds only this object.
#include "catalog/catalog.hpp"

#ifndef SPAWN_BUILTIN_CATALOG
#error "SPAWN_BUILTIN_CATALOG must name data/catalog/aws-ec2.catalog (set in src/spawn/CMakeLists.txt)"
#endif

#if defined(__APPLE__)
#define SPAWN_SYMBOL(name) "_" #name
#define SPAWN_RODATA ".const_data"
#else
#define SPAWN_SYMBOL(name) #name
#define SPAWN_RODATA ".section .rodata"
#endif

// A trailing NUL byte keeps the data usable as a C string too; it is not part of the text.
asm(SPAWN_RODATA "\n"
    ".balign 16\n"
    ".globl " SPAWN_SYMBOL(spawn_builtin_catalog_begin) "\n" SPAWN_SYMBOL(spawn_builtin_catalog_begin) ":\n"
    ".incbin \"" SPAWN_BUILTIN_CATALOG "\"\n"
    ".globl " SPAWN_SYMBOL(spawn_builtin_catalog_end) "\n" SPAWN_SYMBOL(spawn_builtin_catalog_end) ":\n"
    ".byte 0\n"
    ".text\n");

extern "C" const char spawn_builtin_catalog_begin[];
extern "C" const char spawn_builtin_catalog_end[];

namespace spawn::catalog {

std::string_view builtin_catalog_text() {
  return {spawn_builtin_catalog_begin, static_cast<std::size_t>(spawn_builtin_catalog_end - spawn_builtin_catalog_begin)};
}

} // namespace spawn::catalog
