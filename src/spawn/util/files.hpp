#pragma once
// File helpers with no project types.
#include <filesystem>
#include <string>

#include "util/error.hpp"

namespace spawn::util {

// The whole file as bytes; an error names the path and the reason.
Expected<std::string> read_file(const std::filesystem::path& path);
// Writes through a temporary file in the same directory and renames it over path, so a reader
// never sees a half-written file.
Expected<void> write_file_atomic(const std::filesystem::path& path, std::string_view content);

} // namespace spawn::util
