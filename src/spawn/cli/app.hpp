#pragma once
// The command-line interface: one table of commands, dispatched by name.
#include <string>
#include <string_view>
#include <vector>

namespace spawn::cli {

// A command receives the arguments after its name ("spawn slurm inspect -t5 job.sbatch" -> {"-t5", "job.sbatch"}).
using CommandFn = int (*)(const std::vector<std::string>& args);

struct Command {
  std::string_view name;     // "slurm inspect"
  std::string_view usage;    // "[SBATCH OPTIONS] SCRIPT [--json]"
  std::string_view summary;  // one line for `spawn --help`
  CommandFn run;
};

// Every command spawn has, in the order `spawn --help` lists them.
const std::vector<Command>& commands();
// Runs the command named by argv; returns the exit status. Throws Error on failure.
int run(int argc, char** argv);

} // namespace spawn::cli
