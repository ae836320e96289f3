#pragma once
// The sbatch front end: a batch script (plus sbatch options from the command line and SBATCH_*
// variables) in, a Job out, with sbatch 22.05's precedence: script < environment < command line.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/job.hpp"

namespace spawn::slurm {

struct ReadRequest {
  std::string script_path;                  // as the user gave it; used in messages
  std::optional<std::string> script_text;   // the script's bytes; read from script_path when absent
  std::vector<std::string> command_line;    // sbatch options given before the script
  std::vector<std::string> script_args;     // arguments after the script ($1 $2 ...)
  std::vector<std::pair<std::string, std::string>> environment;  // the caller's environment (SBATCH_* used)
  // Array indices must be below this (slurm.conf MaxArraySize; spawn's own limit when no cluster says).
  std::uint64_t max_array_size = 1000001;
};

// Reads the job. Throws Error holding every problem found (file:line: option: value: what was expected).
Job read_job(const ReadRequest& request);

// Splits "[SBATCH OPTIONS] SCRIPT [ARGS...]" as sbatch does: options up to the first non-option.
struct CommandLineSplit {
  std::vector<std::string> sbatch_options;
  std::optional<std::string> script;
  std::vector<std::string> script_args;
};
CommandLineSplit split_command_line(const std::vector<std::string>& args);

// The process environment as (name, value) pairs.
std::vector<std::pair<std::string, std::string>> current_environment();

} // namespace spawn::slurm
