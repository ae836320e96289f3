#pragma once
// File helpers with no project types.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace spawn::util {

// The whole file as bytes; an error names the path and the reason.
Expected<std::string> read_file(const std::filesystem::path& path);
// Writes through a temporary file in the same directory and renames it over path, so a reader
// never sees a half-written file.
Expected<void> write_file_atomic(const std::filesystem::path& path, std::string_view content);

// A file written in chunks through a temporary beside its path (".NAME.XXXXXX"), renamed over the path by commit():
// a reader never sees it half-written, whatever its size. Dropped uncommitted, the temporary is removed.
class AtomicFile {
public:
  // Creates the temporary; an error names path and the reason.
  static Expected<AtomicFile> create(const std::filesystem::path& path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();

  Expected<void> write(std::string_view chunk);
  // Writes chunk at offset of the temporary (pwrite: safe from several threads writing different ranges).
  Expected<void> write_at(std::uint64_t offset, std::string_view chunk);
  // Empties the temporary (a download that starts over).
  Expected<void> restart();
  // Flushes to disk, sets mode (and the modification time, seconds since the epoch) and renames over the path.
  Expected<void> commit(std::uint32_t mode = 0644, std::optional<std::int64_t> mtime = std::nullopt);
  const std::filesystem::path& path() const { return m_path; }

private:
  AtomicFile(std::filesystem::path path, std::string temporary, int fd)
      : m_path(std::move(path)), m_temporary(std::move(temporary)), m_fd(fd) {}
  std::filesystem::path m_path;
  std::string m_temporary;
  int m_fd = -1;
};

} // namespace spawn::util
