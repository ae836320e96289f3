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

#include "bench_util.hpp"
#include "providers/aws/workdir.hpp"

using namespace spawn;
using namespace spawn::providers::aws;
namespace fs = std::filesystem;

namespace {

void scan(const fs::path& dir, const ScanOptions& options) {
  auto tree = scan_directory(dir, WorkdirPolicy{}, options);
  if (!tree) {
    std::fprintf(stderr, "scan failed: %s\n", tree.error().c_str());
    std::exit(1);
  }
  spawn::bench::g_sink = spawn::bench::g_sink + tree->files();
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
  ScanOptions hashed;
  hashed.cache = root / "cache.tsv";
  ScanOptions quick;
  quick.hash = false;
  double cold = spawn::bench::median_seconds(runs, [&] {
    fs::remove(root / "cache.tsv");
    scan(dir, hashed);
  });
  double warm = spawn::bench::median_seconds(runs, [&] { scan(dir, hashed); });
  double sizes = spawn::bench::median_seconds(runs, [&] { scan(dir, quick); });
  fs::remove_all(root);
  std::printf("%zu files x %zu bytes, %d runs (medians)\n", files, bytes, runs);
  std::printf("  scan, every file hashed:   %8.1f ms\n", cold * 1e3);
  std::printf("  scan, hashes from cache:   %8.1f ms  (%.1fx faster)\n", warm * 1e3, cold / warm);
  std::printf("  scan, sizes only:          %8.1f ms  (%.1fx faster)\n", sizes * 1e3, cold / sizes);
  return 0;
}
