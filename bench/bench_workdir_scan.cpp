// What the hash cache saves when a working directory travels again: scanning a directory of N files of S bytes
// with every file hashed (the first submission) against the same scan answered from the cache (a resubmission
// where nothing changed), and a sizes-only scan (the estimate and the confirmation at submit).
// Not a test: prints medians and ratios. Usage: bench_workdir_scan [files, default 2000] [bytes each, default 65536]
// [runs, default 5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "providers/aws/workdir.hpp"

using namespace spawn;
using namespace spawn::providers::aws;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double timed(const fs::path& dir, const ScanOptions& options) {
  auto start = Clock::now();
  auto tree = scan_directory(dir, WorkdirPolicy{}, options);
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  if (!tree) {
    std::fprintf(stderr, "scan failed: %s\n", tree.error().c_str());
    std::exit(1);
  }
  return s;
}

} // namespace

int main(int argc, char** argv) {
  const std::size_t files = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000;
  const std::size_t bytes = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 65536;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 5;
  if (!files || runs <= 0) {
    std::fprintf(stderr, "usage: bench_workdir_scan [files] [bytes each] [runs]\n");
    return 2;
  }
  char tmpl[] = "/tmp/spawn-bench-workdir-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  const fs::path root = tmpl, dir = root / "work";
  std::string body(bytes, 'x');
  for (std::size_t i = 0; i < files; ++i) {
    fs::path p = dir / ("d" + std::to_string(i % 50)) / ("f" + std::to_string(i) + ".dat");
    fs::create_directories(p.parent_path());
    body[0] = static_cast<char>('a' + i % 26);
    std::ofstream(p, std::ios::binary) << body;
  }
  std::vector<double> cold, warm, sizes;
  for (int r = 0; r < runs; ++r) {
    fs::remove(root / "cache.tsv");
    ScanOptions hashed;
    hashed.cache = root / "cache.tsv";
    cold.push_back(timed(dir, hashed));
    warm.push_back(timed(dir, hashed));
    ScanOptions quick;
    quick.hash = false;
    sizes.push_back(timed(dir, quick));
  }
  fs::remove_all(root);
  std::printf("%zu files x %zu bytes, %d runs (medians)\n", files, bytes, runs);
  std::printf("  scan, every file hashed:   %8.1f ms\n", median(cold) * 1e3);
  std::printf("  scan, hashes from cache:   %8.1f ms  (%.1fx faster)\n", median(warm) * 1e3, median(cold) / median(warm));
  std::printf("  scan, sizes only:          %8.1f ms  (%.1fx faster)\n", median(sizes) * 1e3, median(cold) / median(sizes));
  return 0;
}
