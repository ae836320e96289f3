// What streaming a large file to S3 saves: the peak memory (max RSS) and the time of uploading one file of N MiB
// to the local S3 endpoint (tests/aws_endpoint/endpoint.py, signatures verified) through S3Client::put_file
// (multipart above 16 MiB, one part in memory at a time) against the whole-file path workdir used before (read the
// file, hash it, one PutObject), measured in the same run. Each upload runs in its own child process, so its max
// RSS is its own (wait4); a child that only sets up the client gives the floor both stand on.
// Not a test: prints medians and ratios. Usage: bench_s3_upload [MiB, default 512] [runs, default 3]
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

enum class Mode { floor, streamed, whole };

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
  if (mode == Mode::streamed) {
    auto put = s3.put_file(k_bucket, "files/big", file);
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
  if (!mib || runs <= 0) {
    std::fprintf(stderr, "usage: bench_s3_upload [MiB] [runs]\n");
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
  auto endpoint = std::make_unique<bench::LocalEndpoint>(state, nlohmann::json{{"credentials", {{k_key, k_secret}}}}.dump());
  const std::string url = endpoint->url;

  std::printf("upload of one %llu MiB file to the local S3 endpoint, %d runs each (medians)\n",
              static_cast<unsigned long long>(mib), runs);
  const char* names[] = {"client only (floor)", "streamed (put_file)", "whole file (before)"};
  double rss[3], secs[3];
  for (Mode mode : {Mode::floor, Mode::streamed, Mode::whole}) {
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
      std::printf("  %-22s max RSS %8.1f MiB\n", names[m], rss[m]);
    else
      std::printf("  %-22s max RSS %8.1f MiB  %7.2f s  %7.1f MB/s\n", names[m], rss[m], secs[m],
                  static_cast<double>(mib << 20) / 1e6 / secs[m]);
  }
  std::printf("peak memory whole/streamed: %.1fx (above the floor: %.1fx); time streamed/whole: %.2fx\n",
              rss[2] / rss[1], (rss[2] - rss[0]) / std::max(0.1, rss[1] - rss[0]), secs[1] / secs[2]);
  endpoint.reset();
  fs::remove_all(root);
  return 0;
}
