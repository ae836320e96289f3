#pragma once
// What the C++ benchmarks share: timing a function over rounds and keeping the median (the machine is shared and
// noisy: medians, and ratios against a floor measured in the same run, are what the benchmarks report).
#include <algorithm>
#include <chrono>
#include <cstddef>
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

// Results are written here so the optimiser cannot drop the work being timed.
inline volatile std::size_t g_sink = 0;

} // namespace spawn::bench
