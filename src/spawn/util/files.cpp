#include "util/files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace spawn::util {

Expected<std::string> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Unexpected(path.string() + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unexpected(path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Unexpected(path.string() + ": read error");
  return buffer.str();
}

Expected<void> write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  auto file = AtomicFile::create(path);
  if (!file) return Unexpected(file.error());
  if (auto w = file->write(content); !w) return w;
  return file->commit();
}

Expected<AtomicFile> AtomicFile::create(const std::filesystem::path& path) {
  auto dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::string tmpl = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return Unexpected(path.string() + ": cannot create a temporary file: " + std::strerror(errno));
  return AtomicFile(path, std::move(tmpl), fd);
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : m_path(std::move(other.m_path)), m_temporary(std::move(other.m_temporary)), m_fd(other.m_fd) {
  other.m_fd = -1;
  other.m_temporary.clear();
}

AtomicFile::~AtomicFile() {
  if (m_fd >= 0) ::close(m_fd);
  if (!m_temporary.empty()) ::unlink(m_temporary.c_str());
}

Expected<void> AtomicFile::write(std::string_view chunk) {
  if (m_fd < 0) return Unexpected(m_path.string() + ": write failed: already closed");
  std::size_t done = 0;
  while (done < chunk.size()) {
    auto n = ::write(m_fd, chunk.data() + done, chunk.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unexpected(m_path.string() + ": write failed: " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Expected<void> AtomicFile::write_at(std::uint64_t offset, std::string_view chunk) {
  if (m_fd < 0) return Unexpected(m_path.string() + ": write failed: already closed");
  std::size_t done = 0;
  while (done < chunk.size()) {
    auto n = ::pwrite(m_fd, chunk.data() + done, chunk.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unexpected(m_path.string() + ": write failed: " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Expected<void> AtomicFile::restart() {
  if (m_fd < 0 || ::ftruncate(m_fd, 0) != 0 || ::lseek(m_fd, 0, SEEK_SET) != 0)
    return Unexpected(m_path.string() + ": cannot start over: " + std::strerror(errno));
  return {};
}

Expected<void> AtomicFile::commit(std::uint32_t mode, std::optional<std::int64_t> mtime) {
  if (m_fd < 0) return Unexpected(m_path.string() + ": write failed: already closed");
  ::fchmod(m_fd, static_cast<mode_t>(mode & 07777));
  if (mtime) {
    struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(*mtime), 0}};
    ::futimens(m_fd, times);
  }
  int synced = ::fsync(m_fd);
  int closed = ::close(m_fd);
  m_fd = -1;
  if (synced != 0 || closed != 0) return Unexpected(m_path.string() + ": write failed: " + std::strerror(errno));
  if (std::rename(m_temporary.c_str(), m_path.c_str()) != 0)
    return Unexpected(m_path.string() + ": cannot replace: " + std::strerror(errno));
  m_temporary.clear();
  return {};
}

} // namespace spawn::util
