#pragma once
// File names of a batch task's stdin/stdout/stderr from --input/--output/--error patterns, as slurmstepd makes
// them (slurmd/common/fname.c, checked against 22.05.8): %A %a %j %J (= %j for the batch step) %x %u %N %n %t
// %s ("batch") %%, zero padding ("%3a", at most 10 digits),
// unknown "%c" kept, any backslash disables substitution, relative names against the working directory.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/plan.hpp"

namespace spawn::runtime {

// Slurm's %a for a task that is not part of an array (NO_VAL - 1).
inline constexpr std::uint64_t k_no_array_task = 4294967294ULL;

// What the substitutions are replaced by for one task.
struct PatternContext {
  std::uint64_t job_id = 0;                    // %j: the task's own job id (SLURM_JOB_ID)
  std::uint64_t array_job_id = 0;              // %A: the array's job id (the job id when not an array)
  std::optional<std::uint64_t> array_task_id;  // %a; nullopt: not an array task (prints 4294967294)
  std::string job_name;                        // %x
  std::string user;                            // %u
  std::string node_name;                       // %N: the first node of the job
  std::uint32_t node_id = 0;                   // %n (0 for the batch script)
  std::uint32_t task_id = 0;                   // %t (0 for the batch script)
};

// The pattern with every substitution made; relative results are joined to work_dir.
std::string expand_pattern(std::string_view pattern, const PatternContext& context, std::string_view work_dir);

// The resolved standard streams of one batch task.
struct StdioPaths {
  std::string input = "/dev/null";
  std::string output;
  std::optional<std::string> error;  // nullopt: stderr goes to the output file (no --error)
};

// Paths for the plan's --input/--output/--error, with Slurm's defaults (slurm-%j.out, slurm-%A_%a.out for arrays).
StdioPaths stdio_paths(const Plan& plan, const PatternContext& context);

} // namespace spawn::runtime
