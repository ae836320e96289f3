#pragma once
// Errors: functions that fail on input return tl::expected<T, std::string>; the top level throws
// Error, and main() catches once and prints "spawn: error: <message>".
#include <stdexcept>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace spawn {

template <typename T> using Expected = tl::expected<T, std::string>;
using Unexpected = tl::unexpected<std::string>;

// One user-facing failure. Several messages may travel together (all errors of one pass).
class Error : public std::runtime_error {
public:
  explicit Error(std::string message);
  explicit Error(std::vector<std::string> messages);
  // Every message, one per line, in the order they were found.
  const std::vector<std::string>& messages() const { return m_messages; }
  // Exit status main() returns for this error.
  int exit_status() const { return m_exit_status; }
  Error& with_exit_status(int status);

private:
  std::vector<std::string> m_messages;
  int m_exit_status = 1;
};

} // namespace spawn
