#pragma once
// What the C++ benchmarks share: timing a function over rounds and keeping the median (the machine is shared and
// noisy: medians, and ratios against a floor measured in the same run, are what the benchmarks report).
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace spawn::bench {

using Clock = std::chrono::steady_clock;

// Runs fn `rounds` times; the median wall time in seconds.
template <typename Fn> double median_seconds(int rounds, Fn&& fn) {
  std::vector<double> times;
  for (int r = 0; r < rounds; ++r) {
    auto start = Clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// One run in a child process: its wall time and its own peak memory (max RSS from wait4).
struct ChildSample {
  double seconds = 0;
  double max_rss_mib = 0;
};

// Runs fn() (returning an exit status, 0 for success) in a forked child; a failed child ends the benchmark.
template <typename Fn> ChildSample run_in_child(Fn&& fn) {
  auto start = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "benchmark child failed (status %d)\n", status);
    std::exit(1);
  }
  return {std::chrono::duration<double>(Clock::now() - start).count(), static_cast<double>(usage.ru_maxrss) / 1024.0};
}

// The local EC2+S3 endpoint (tests/aws_endpoint/endpoint.py) on a free loopback port, stopped when destroyed.
class LocalEndpoint {
public:
  // state: its state directory (S3 objects under state/s3/BUCKET/); config: its JSON configuration.
  LocalEndpoint(const std::filesystem::path& state, const std::string& config) {
    const std::string port_file = (state / "port").string();
    std::filesystem::create_directories(state);
    m_pid = ::fork();
    if (m_pid == 0) {
      ::execlp("python3", "python3", SPAWN_AWS_ENDPOINT, "--port", "0", "--port-file", port_file.c_str(), "--state-dir",
               state.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 400 && !std::filesystem::exists(port_file); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    std::ifstream in(port_file);
    std::string port((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (port.empty()) {
      std::fprintf(stderr, "the local endpoint did not start\n");
      std::exit(1);
    }
    url = "http://127.0.0.1:" + port;
  }
  ~LocalEndpoint() {
    ::kill(m_pid, SIGTERM);
    ::waitpid(m_pid, nullptr, 0);
  }
  LocalEndpoint(const LocalEndpoint&) = delete;
  LocalEndpoint& operator=(const LocalEndpoint&) = delete;
  std::string url;

private:
  pid_t m_pid = -1;
};

// Results are written here so the optimiser cannot drop the work being timed.
inline volatile std::size_t g_sink = 0;

} // namespace spawn::bench
