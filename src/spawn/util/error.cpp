#include "util/error.hpp"

namespace spawn {

namespace {
std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}
} // namespace

Error::Error(std::string message) : Error(std::vector<std::string>{std::move(message)}) {}

Error::Error(std::vector<std::string> messages)
    : std::runtime_error(join_lines(messages)), m_messages(std::move(messages)) {}

Error& Error::with_exit_status(int status) {
  m_exit_status = status;
  return *this;
}

} // namespace spawn
