#include "providers/local/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/strings.hpp"

namespace spawn::providers::local {

namespace {

// Reads /proc/PID/stat into buf with async-signal-safe calls only (used between fork and exit).
// Returns the state character and sets start_time; 0 when the process does not exist.
char read_stat(int pid, std::uint64_t& start_time) {
  char path[64] = "/proc/";
  char digits[24];
  int n = 0;
  for (int v = pid; v > 0 || n == 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  std::size_t p = 6;
  while (n > 0) path[p++] = digits[--n];
  const char tail[] = "/stat";
  for (char c : tail) path[p++] = c;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t len = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (len <= 0) return 0;
  buf[len] = '\0';
  // The command name may contain spaces and parentheses: fields are counted after the last ')'.
  char* close = nullptr;
  for (char* q = buf; *q; ++q) {
    if (*q == ')') close = q;
  }
  if (!close || close[1] != ' ') return 0;
  char state = close[2];
  int field = 3;
  char* q = close + 2;
  while (*q && field < 22) {
    if (*q == ' ') ++field;
    ++q;
  }
  std::uint64_t value = 0;
  while (*q >= '0' && *q <= '9') value = value * 10 + static_cast<std::uint64_t>(*q++ - '0');
  start_time = value;
  return state;
}

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

std::size_t format_uint(std::uint64_t value, char* out) {
  char digits[24];
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  for (std::size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  return n;
}

} // namespace

std::string format_handle(const ProcessId& process) {
  return std::to_string(process.pid) + ":" + std::to_string(process.start_time);
}

Expected<ProcessId> parse_handle(const std::string& handle) {
  auto colon = handle.find(':');
  auto pid = util::parse_uint(handle.substr(0, colon));
  auto start = colon == std::string::npos ? std::nullopt : util::parse_uint(handle.substr(colon + 1));
  if (!pid || !start || *pid == 0 || *pid > 0x7fffffff)
    return Unexpected("local task handle " + util::quote(handle) + " is not PID:STARTTIME");
  return ProcessId{static_cast<int>(*pid), *start};
}

Expected<ProcessId> start_detached(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                   const std::filesystem::path& cwd, const std::filesystem::path& log) {
  if (argv.empty()) return Unexpected("start_detached: no command");
  // Everything the children need is prepared before fork: after it only async-signal-safe calls are made.
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Unexpected(log.string() + ": cannot open: " + std::strerror(errno));
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    ::close(log_fd);
    return Unexpected(std::string("/dev/null: cannot open: ") + std::strerror(errno));
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ::close(log_fd);
    ::close(null_fd);
    return Unexpected(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  const std::string cwd_text = cwd.string();

  pid_t middle = ::fork();
  if (middle < 0) {
    auto reason = std::strerror(errno);
    for (int fd : {log_fd, null_fd, fds[0], fds[1]}) ::close(fd);
    return Unexpected(std::string("cannot fork: ") + reason);
  }
  if (middle == 0) {
    // The middle child: starts the runtime, reports its pid and start time, and exits, so the runtime is
    // reparented to init (or the nearest subreaper) and never waits on this process.
    ::close(fds[0]);
    pid_t child = ::fork();
    if (child < 0) ::_exit(1);
    if (child == 0) {
      ::close(fds[1]);
      ::setsid();
      for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      if (::dup2(null_fd, 0) < 0 || ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0) ::_exit(126);
      if (::chdir(cwd_text.c_str()) != 0) ::_exit(126);
      ::execve(args[0], args.data(), envp.data());
      const char message[] = "spawn: cannot execute the runtime\n";
      write_all(2, message, sizeof(message) - 1);
      ::_exit(127);
    }
    std::uint64_t start = 0;
    read_stat(child, start);
    char buf[64];
    std::size_t n = format_uint(static_cast<std::uint64_t>(child), buf);
    buf[n++] = ':';
    n += format_uint(start, buf + n);
    write_all(fds[1], buf, n);
    ::_exit(0);
  }
  ::close(fds[1]);
  ::close(log_fd);
  ::close(null_fd);
  std::string reply;
  char buf[64];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  auto process = parse_handle(reply);
  if (!process) return Unexpected("could not start " + argv[0] + " (no pid reported)");
  return process;
}

std::optional<std::uint64_t> process_start_time(int pid) {
  std::uint64_t start = 0;
  if (read_stat(pid, start) == 0) return std::nullopt;
  return start;
}

bool is_running(const ProcessId& process) {
  std::uint64_t start = 0;
  char state = read_stat(process.pid, start);
  return state != 0 && state != 'Z' && state != 'X' && start == process.start_time;
}

} // namespace spawn::providers::local
