#include "engine/claim.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

#include "util/files.hpp"

namespace spawn::engine {

namespace {

// Creates path with content if it does not exist yet: true when this call created it.
Expected<bool> create_exclusive(const std::filesystem::path& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    return Unexpected(path.string() + ": cannot create: " + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < content.size()) {
    auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto reason = std::strerror(errno);
      ::close(fd);
      return Unexpected(path.string() + ": cannot write: " + reason);
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return true;
}

} // namespace

Expected<bool> claim_start(const std::filesystem::path& state_dir, const std::string& handle) {
  // The content ends with a newline so a reader can tell a complete claim from one being written.
  return create_exclusive(state_dir / k_claim_file, handle + "\n");
}

Expected<std::optional<std::string>> abandon_launch(const std::filesystem::path& state_dir, int wait_ms) {
  auto path = state_dir / k_claim_file;
  auto created = create_exclusive(path, std::string(k_claim_abandoned) + "\n");
  if (!created) return Unexpected(created.error());
  if (*created) return std::optional<std::string>();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    auto text = util::read_file(path);
    if (!text) return Unexpected(text.error());
    if (!text->empty() && text->back() == '\n') {
      text->pop_back();
      if (*text == k_claim_abandoned) return std::optional<std::string>();
      return std::optional<std::string>(*text);
    }
    if (std::chrono::steady_clock::now() > deadline)
      return Unexpected(path.string() + ": the task claimed its start but never wrote its handle");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool uses_claim(const std::filesystem::path& state_dir) {
  std::error_code ec;
  return std::filesystem::exists(state_dir / "uses-claim", ec);
}

Expected<void> mark_uses_claim(const std::filesystem::path& state_dir) {
  auto r = create_exclusive(state_dir / "uses-claim", "");
  if (!r) return Unexpected(r.error());
  return {};
}

} // namespace spawn::engine
