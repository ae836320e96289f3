#include "util/files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
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
  auto dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::string tmpl = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return Unexpected(path.string() + ": cannot create a temporary file: " + std::strerror(errno));
  std::size_t done = 0;
  while (done < content.size()) {
    auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto reason = std::strerror(errno);
      ::close(fd);
      ::unlink(tmpl.c_str());
      return Unexpected(path.string() + ": write failed: " + reason);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmpl.c_str());
    return Unexpected(path.string() + ": write failed: " + std::strerror(errno));
  }
  ::chmod(tmpl.c_str(), 0644);
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    auto reason = std::strerror(errno);
    ::unlink(tmpl.c_str());
    return Unexpected(path.string() + ": cannot replace: " + reason);
  }
  return {};
}

} // namespace spawn::util
