// What streaming a large file to S3 saves and what sending its parts side by side buys: the peak memory (max RSS)
// and the time of uploading one file of N MiB to the local S3 endpoint (tests/aws_endpoint/endpoint.py, signatures
// verified) through S3Client::put_file (multipart above 16 MiB) one part at a time (SPAWN_AWS_TRANSFER_CONCURRENCY=1)
// and 8 parts at a time (the default), against the whole-file path workdir used before (read the file, hash it, one
// PutObject), measured in the same run. The endpoint answers each S3 request after a latency (a real S3 round trip
// is 20-50 ms) and, when given, carries each connection's bytes at a limited rate (one stream to S3 carries far less
// than the instance's or a workstation's link). Each upload runs in its own child process, so its max RSS is its own
// (wait4); a child that only sets up the client gives the floor they all stand on.
// Not a test: prints medians and ratios.
// Usage: bench_s3_upload [MiB, default 512] [runs, default 3] [latency ms, default 30] [MB/s per connection, 0: no limit]
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "aws/encoding.hpp"
#include "aws/s3.hpp"
#include "bench_util.hpp"
#include "util/files.hpp"

using namespace spawn;
namespace fs = std::filesystem;

namespace {

constexpr const char* k_key = "AKIDSPAWNBENCH0001";
constexpr const char* k_secret = "SpawnBenchSecret/0123456789";
constexpr const char* k_bucket = "spawn-bench";

enum class Mode { floor, sequential, concurrent, whole };
constexpr unsigned k_concurrency = aws::MultipartSettings{}.concurrency;

// One upload in this (child) process; 0 on success.
int upload(Mode mode, const std::string& url, const fs::path& file) {
  aws::SessionOptions o;
  o.environment = aws::fixed_environment({{"AWS_ACCESS_KEY_ID", k_key}, {"AWS_SECRET_ACCESS_KEY", k_secret},
                                          {"AWS_REGION", "us-east-1"}, {"AWS_ENDPOINT_URL", url},
                                          {"AWS_EC2_METADATA_DISABLED", "true"}, {"HOME", "/nonexistent"}});
  auto session = aws::Session::create(o);
  if (!session) return 3;
  aws::S3Client s3(*session);
  if (mode == Mode::floor) return 0;
  if (mode == Mode::sequential || mode == Mode::concurrent) {
    aws::MultipartSettings settings;
    settings.concurrency = mode == Mode::sequential ? 1 : k_concurrency;
    auto put = s3.put_file(k_bucket, "files/big", file, settings);
    if (!put) std::fprintf(stderr, "put_file: %s\n", put.error().to_string().c_str());
    bench::g_sink = bench::g_sink + (put ? put->sha256.size() : 0);
    return put ? 0 : 1;
  }
  auto body = util::read_file(file);  // what workdir's upload did before put_file
  if (!body) return 1;
  bench::g_sink = bench::g_sink + aws::sha256_hex(*body).size();
  auto put = s3.put_object(k_bucket, "files/big", *body);
  if (!put) std::fprintf(stderr, "put_object: %s\n", put.error().to_string().c_str());
  return put ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  const std::uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 512;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  const double latency_ms = argc > 3 ? std::atof(argv[3]) : 30;
  const double stream_mbs = argc > 4 ? std::atof(argv[4]) : 0;
  if (!mib || runs <= 0 || latency_ms < 0 || stream_mbs < 0) {
    std::fprintf(stderr, "usage: bench_s3_upload [MiB] [runs] [latency ms] [MB/s per connection]\n");
    return 2;
  }
  char tmpl[] = "/tmp/spawn-bench-s3-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  const fs::path root = tmpl, file = root / "big.bin", state = root / "endpoint";
  {  // incompressible bytes, written 1 MiB at a time
    std::ofstream out(file, std::ios::binary);
    std::vector<std::uint64_t> chunk((1 << 20) / 8);
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    for (std::uint64_t m = 0; m < mib; ++m) {
      for (auto& w : chunk) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        w = x;
      }
      out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(chunk.size() * 8));
    }
  }
  fs::create_directories(state / "s3" / k_bucket);
  auto endpoint = std::make_unique<bench::LocalEndpoint>(
      state, nlohmann::json{{"credentials", {{k_key, k_secret}}},
                            {"s3_latency_seconds", latency_ms / 1000},
                            {"s3_stream_bytes_per_second", stream_mbs * 1e6}}.dump());
  const std::string url = endpoint->url;

  std::printf("upload of one %llu MiB file to the local S3 endpoint (%.0f ms a request, %s per connection), %d runs "
              "each (medians)\n",
              static_cast<unsigned long long>(mib), latency_ms,
              stream_mbs > 0 ? (std::to_string(static_cast<int>(stream_mbs)) + " MB/s").c_str() : "no limit", runs);
  const std::string concurrent_name = "put_file, " + std::to_string(k_concurrency) + " at once";
  const char* names[] = {"client only (floor)", "put_file, 1 at a time", concurrent_name.c_str(), "whole file (before)"};
  double rss[4], secs[4];
  for (Mode mode : {Mode::floor, Mode::sequential, Mode::concurrent, Mode::whole}) {
    std::vector<double> r, s;
    for (int i = 0; i < runs; ++i) {
      auto sample = bench::run_in_child([&] { return upload(mode, url, file); });
      r.push_back(sample.max_rss_mib);
      s.push_back(sample.seconds);
    }
    int m = static_cast<int>(mode);
    rss[m] = bench::median(r);
    secs[m] = bench::median(s);
    if (mode == Mode::floor)
      std::printf("  %-24s max RSS %8.1f MiB\n", names[m], rss[m]);
    else
      std::printf("  %-24s max RSS %8.1f MiB  %7.2f s  %7.1f MB/s\n", names[m], rss[m], secs[m],
                  static_cast<double>(mib << 20) / 1e6 / secs[m]);
  }
  std::printf("time 1 at a time / %u at once: %.2fx; peak memory whole/streamed (1 at a time): %.1fx (above the floor: "
              "%.1fx), whole / %u at once: %.1fx; time streamed (1 at a time) / whole: %.2fx\n",
              k_concurrency, secs[1] / secs[2], rss[3] / rss[1], (rss[3] - rss[0]) / std::max(0.1, rss[1] - rss[0]),
              k_concurrency, rss[3] / rss[2], secs[1] / secs[3]);
  endpoint.reset();
  fs::remove_all(root);
  return 0;
}
