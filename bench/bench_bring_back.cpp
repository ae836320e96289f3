// What streaming saves when a task's result comes back: a MiB-sized random file packed as a task packs it (tar
// --format=gnu, gzip), stored in the local S3 endpoint (tests/aws_endpoint), brought back into a directory by
// bring_back (GetObject into a file, the archive read in chunks, the member written through a temporary), against
// the whole-in-memory path it replaced (GetObject into a string, the archive gunzipped into a string, every member's
// content kept, then written), measured in the same run. Each round runs in a child process so its peak memory
// (max RSS, from wait4) is its own; a child that only sets up its S3 client is the floor. The streamed way runs twice:
// its download one range at a time (SPAWN_AWS_TRANSFER_CONCURRENCY=1) and 8 ranges at a time (the default), against
// an endpoint that answers each S3 request after a latency (a real S3 round trip is 20-50 ms) and, when given,
// carries each connection's bytes at a limited rate (one stream from S3 carries far less than a link can).
// Not a test: prints each round, the medians and the ratios.
// Usage: bench_bring_back [MiB, default 512] [rounds, 3] [latency ms, 30] [MB/s per connection, 0: no limit]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include <zlib.h>

#include "aws/s3.hpp"
#include "bench_util.hpp"
#include "providers/aws/workdir.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

using namespace spawn;
namespace fs = std::filesystem;

namespace {

constexpr const char* k_bucket = "bench";
constexpr const char* k_key = "jobs/1/tasks/0.1/back-1.tar.gz";

void die(const std::string& what) {
  std::fprintf(stderr, "bench_bring_back: %s\n", what.c_str());
  std::_Exit(1);
}

void shell(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) die("failed: " + cmd);
}

// The way back before the streaming reader (providers/aws/workdir.cpp until this benchmark's commit), kept here
// as the baseline: the whole object, the whole tar and every member's content in memory at once.
std::string gunzip_whole(const std::string& bytes) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) die("zlib");
  std::string out;
  std::vector<char> buf(1 << 16);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(std::min<std::size_t>(bytes.size(), UINT32_MAX));
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - z.avail_out);
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) die("not a whole gzip stream");
  return out;
}

std::uint64_t octal(std::string_view field) {
  std::uint64_t n = 0;
  for (char c : field)
    if (c >= '0' && c <= '7') n = n * 8 + static_cast<std::uint64_t>(c - '0');
  return n;
}

void bring_back_in_memory(aws::S3Client& s3, const fs::path& dest) {
  auto body = s3.get_object(k_bucket, std::string(k_key) + ".000");
  if (!body) die(body.error().to_string());
  std::string tar = gunzip_whole(*body);
  std::vector<std::pair<std::string, std::string>> members;  // path, content
  for (std::size_t at = 0; at + 512 <= tar.size();) {
    std::string_view h(tar.data() + at, 512);
    if (h.find_first_not_of('\0') == std::string_view::npos) break;
    std::uint64_t size = octal(h.substr(124, 12));
    if (h[156] == '0') members.emplace_back(std::string(h.substr(0, h.find('\0'))), tar.substr(at + 512, size));
    at += 512 + (size + 511) / 512 * 512;
  }
  for (const auto& [path, content] : members)
    if (auto w = util::write_file_atomic(dest / path, content); !w) die(w.error());
}

void bring_back_streamed(aws::S3Client& s3, const fs::path& dest, const fs::path& state) {
  if (auto w = util::write_file_atomic(state / "files.record", std::string(k_key) + "\t" + dest.string() + "\n"); !w) die(w.error());
  auto problems = providers::aws::bring_back(s3, k_bucket, state / "files.record");
  if (!problems.empty()) die(util::join(problems, "; "));
}

} // namespace

int main(int argc, char** argv) {
  const std::uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 512;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const double latency_ms = argc > 3 ? std::atof(argv[3]) : 30;
  const double stream_mbs = argc > 4 ? std::atof(argv[4]) : 0;
  if (!mib || rounds <= 0 || latency_ms < 0 || stream_mbs < 0)
    die("usage: bench_bring_back [MiB] [rounds] [latency ms] [MB/s per connection]");
  char tmpl[] = "/tmp/spawn-bench-back-XXXXXX";
  if (!::mkdtemp(tmpl)) die("mkdtemp");
  const fs::path dir = tmpl;

  // The archive a task would send back, stored where the endpoint keeps the object.
  fs::create_directories(dir / "src");
  shell("head -c " + std::to_string(mib << 20) + " /dev/urandom > " + (dir / "src/result.bin").string());
  shell("tar -czf " + (dir / "back.tar.gz").string() + " --format=gnu -C " + (dir / "src").string() + " result.bin");
  const auto archive_bytes = fs::file_size(dir / "back.tar.gz");
  fs::create_directories(dir / "ep/state/s3" / k_bucket);
  std::string quoted = util::replace_all(std::string(k_key) + ".000", "/", "%2F");
  fs::rename(dir / "back.tar.gz", dir / "ep/state/s3" / k_bucket / quoted);
  fs::remove(dir / "src/result.bin");

  bench::LocalEndpoint ep(dir / "ep/state", "{\"credentials\": {\"AKIDBENCH\": \"bench-secret\"}, \"s3_latency_seconds\": " +
                                                std::to_string(latency_ms / 1000) + ", \"s3_stream_bytes_per_second\": " +
                                                std::to_string(stream_mbs * 1e6) + "}");
  std::map<std::string, std::string> env{{"AWS_ACCESS_KEY_ID", "AKIDBENCH"}, {"AWS_SECRET_ACCESS_KEY", "bench-secret"},
                                         {"AWS_REGION", "us-east-1"}, {"AWS_ENDPOINT_URL", ep.url},
                                         {"AWS_EC2_METADATA_DISABLED", "true"}, {"HOME", dir.string()}};
  auto client = [&](const std::string& concurrency) {
    aws::SessionOptions o;
    auto e = env;
    e["SPAWN_AWS_TRANSFER_CONCURRENCY"] = concurrency;
    o.environment = aws::fixed_environment(e);
    auto session = aws::Session::create(o);
    if (!session) die(session.error().to_string());
    return aws::S3Client(*session);
  };

  std::printf("bring back one %llu MiB result (archive %.1f MiB) into a directory, %d rounds each (%.0f ms a request, %s "
              "per connection)\n",
              static_cast<unsigned long long>(mib), static_cast<double>(archive_bytes) / 1048576.0, rounds, latency_ms,
              stream_mbs > 0 ? (std::to_string(static_cast<int>(stream_mbs)) + " MB/s").c_str() : "no limit");
  std::map<std::string, std::vector<double>> seconds, peaks;
  const std::string at_once = std::to_string(aws::MultipartSettings{}.concurrency);
  for (int r = 0; r < rounds; ++r) {
    for (const std::string& mode : std::vector<std::string>{"floor", "in-memory", "streamed-1", "streamed-" + at_once}) {
      const fs::path dest = dir / ("dest-" + mode), st = dir / ("state-" + mode);
      fs::remove_all(dest);
      fs::create_directories(dest);
      fs::create_directories(st);
      auto round = bench::run_in_child([&] {
        auto s3 = client(mode.starts_with("streamed-") ? mode.substr(9) : at_once);
        if (mode == "in-memory") bring_back_in_memory(s3, dest);
        if (mode.starts_with("streamed-")) bring_back_streamed(s3, dest, st);
        return 0;
      });
      if (mode != "floor" && fs::file_size(dest / "result.bin") != mib << 20) die(mode + ": the result is not whole");
      fs::remove_all(dest);
      seconds[mode].push_back(round.seconds);
      peaks[mode].push_back(round.max_rss_mib);
      std::printf("  round %d %-9s  %7.2f s  max RSS %8.1f MiB\n", r + 1, mode.c_str(), round.seconds, round.max_rss_mib);
    }
  }
  fs::remove_all(dir);

  const double floor = bench::median(peaks["floor"]);
  const std::string fast = "streamed-" + at_once;
  auto peak = [&](const std::string& mode) { return bench::median(peaks[mode]); };
  auto time = [&](const std::string& mode) { return bench::median(seconds[mode]); };
  std::printf("median max RSS: floor %.1f MiB, in-memory %.1f MiB, streamed 1 at a time %.1f MiB, %s at a time %.1f MiB\n",
              floor, peak("in-memory"), peak("streamed-1"), at_once.c_str(), peak(fast));
  std::printf("above the floor: in-memory %.1f MiB, streamed %.1f MiB: %.0fx less\n", peak("in-memory") - floor,
              peak("streamed-1") - floor, (peak("in-memory") - floor) / std::max(0.1, peak("streamed-1") - floor));
  std::printf("median time: in-memory %.2f s, streamed 1 at a time %.2f s, %s at a time %.2f s\n", time("in-memory"),
              time("streamed-1"), at_once.c_str(), time(fast));
  std::printf("ratios: streamed (1 at a time) / in-memory %.2f; 1 at a time / %s at a time %.2fx\n",
              time("streamed-1") / time("in-memory"), at_once.c_str(), time("streamed-1") / time(fast));
  return 0;
}
