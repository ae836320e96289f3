// Front-end benchmark: batch scripts parsed per second over the test corpus, and `inspect --json` of a
// 1,000,000-task array; each against a floor measured in the same run (medians of several rounds).
//   bench_frontend [CORPUS_DIR]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/job_view.hpp"
#include "slurm/frontend.hpp"
#include "slurm/scanner.hpp"
#include "util/error.hpp"
#include "util/files.hpp"

#include "bench_util.hpp"

using spawn::bench::Clock;
using spawn::bench::g_sink;
using spawn::bench::median_seconds;

int main(int argc, char** argv) {
  std::filesystem::path dir = argc > 1 ? argv[1] : SPAWN_CORPUS_DIR;
  std::vector<std::pair<std::string, std::string>> scripts;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".sbatch") continue;
    auto text = spawn::util::read_file(entry.path());
    if (text) scripts.emplace_back(entry.path().filename().string(), std::move(*text));
  }
  std::sort(scripts.begin(), scripts.end());
  std::size_t bytes = 0;
  for (const auto& s : scripts) bytes += s.second.size();
  std::printf("corpus: %zu scripts, %zu bytes (%s)\n", scripts.size(), bytes, dir.c_str());

  const int passes = 200;
  // Floor: touch every byte once (count lines), what any reader must do.
  double floor = median_seconds(7, [&] {
    for (int p = 0; p < passes; ++p)
      for (const auto& s : scripts) g_sink = g_sink + static_cast<std::size_t>(std::count(s.second.begin(), s.second.end(), '\n'));
  });
  double scan = median_seconds(7, [&] {
    for (int p = 0; p < passes; ++p)
      for (const auto& s : scripts) g_sink = g_sink + spawn::slurm::scan_script(s.second).sbatch_tokens.size();
  });
  std::size_t rejected = 0;
  double full = median_seconds(7, [&] {
    rejected = 0;
    for (int p = 0; p < passes; ++p) {
      for (const auto& s : scripts) {
        spawn::slurm::ReadRequest request;
        request.script_path = s.first;
        request.script_text = s.second;
        try {
          g_sink = g_sink + spawn::slurm::read_job(request).directives.size();
        } catch (const spawn::Error&) {
          ++rejected;
        }
      }
    }
  });
  double n = static_cast<double>(passes * scripts.size());
  std::printf("read_job (scan + getopt + grammars + checks): %.0f scripts/s (%.2f us/script), %zu of %zu rejected\n",
              n / full, full / n * 1e6, rejected / passes, scripts.size());
  std::printf("scan only:                                    %.0f scripts/s\n", n / scan);
  std::printf("floor (count newlines):                       %.0f scripts/s\n", n / floor);
  std::printf("ratio read_job / floor: %.1fx   read_job / scan: %.1fx\n", full / floor, full / scan);

  // A 1,000,000-task array: parse and render the whole --json document (every index listed).
  std::string script = "#!/bin/bash\n#SBATCH --array=0-999999%500\n#SBATCH -t 10 --mem=1G\necho $SLURM_ARRAY_TASK_ID\n";
  std::size_t json_bytes = 0;
  double big = median_seconds(5, [&] {
    spawn::slurm::ReadRequest request;
    request.script_path = "big.sbatch";
    request.script_text = script;
    auto job = spawn::slurm::read_job(request);
    json_bytes = spawn::cli::dump_json(spawn::cli::job_to_json(job)).size();
  });
  // Floor: print the same million indices as text with snprintf.
  double print_floor = median_seconds(5, [&] {
    std::string out;
    out.reserve(8 * 1000000);
    char buf[32];
    for (int i = 0; i < 1000000; ++i) {
      int len = std::snprintf(buf, sizeof buf, "    %d,\n", i);
      out.append(buf, static_cast<std::size_t>(len));
    }
    g_sink = g_sink + out.size();
  });
  std::printf("inspect --json of a 1,000,000-task array: %.3f s, %zu bytes of JSON; floor (snprintf the indices) %.3f s; "
              "ratio %.1fx\n",
              big, json_bytes, print_floor, big / print_floor);
  return 0;
}
