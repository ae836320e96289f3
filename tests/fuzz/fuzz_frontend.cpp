// libFuzzer target for the sbatch front end: any bytes as a batch script (and, split off its first
// line, as sbatch command-line words) must give a Job or an Error, never a crash, leak or UB.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/job_view.hpp"
#include "slurm/frontend.hpp"
#include "slurm/grammar.hpp"
#include "slurm/scanner.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  // First line: words for the command line; the rest: the script.
  auto newline = input.find('\n');
  std::string first = newline == std::string::npos ? input : input.substr(0, newline);
  std::string script = newline == std::string::npos ? std::string() : input.substr(newline + 1);

  spawn::slurm::ReadRequest request;
  request.script_path = "fuzz.sbatch";
  request.script_text = script;
  request.max_array_size = 100001;  // keeps a fuzzed array's index list small enough
  for (auto& word : spawn::util::split(first, ' ')) {
    if (!word.empty()) request.command_line.push_back(word);
  }
  try {
    auto job = spawn::slurm::read_job(request);
    (void)spawn::cli::dump_json(spawn::cli::job_to_json(job));
  } catch (const spawn::Error&) {
  }
  // The grammars on their own, with the raw first line as the value.
  (void)spawn::slurm::parse_time_limit(first);
  (void)spawn::slurm::parse_megabytes(first);
  (void)spawn::slurm::parse_nodes(first);
  (void)spawn::slurm::parse_array(first, 100001);
  (void)spawn::slurm::parse_gres(first);
  (void)spawn::slurm::parse_gpus(first);
  (void)spawn::slurm::parse_dependency(first);
  (void)spawn::slurm::check_begin(first);
  (void)spawn::slurm::parse_signal(first);
  (void)spawn::slurm::tokenize_directive(first);
  return 0;
}
