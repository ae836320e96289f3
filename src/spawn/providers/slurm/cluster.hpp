#pragma once
// Talking to a real Slurm cluster through its commands (sbatch, squeue, scontrol, scancel, sinfo, sacct), and
// reading what they print. Whatever cluster those commands reach is "the cluster"; nothing here knows spawn's jobs.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/task.hpp"
#include "util/error.hpp"

namespace spawn::providers::slurm {

// What a finished command left: its exit status (-1 when it could not run) and what it printed.
struct CommandResult {
  int status = -1;
  std::string out, err;
};

// Runs argv (argv[0] looked up in PATH) in cwd (empty: this process's), with extra variables added to this
// process's environment; kills it after timeout. Never throws.
CommandResult run_command(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env = {},
                          const std::filesystem::path& cwd = {}, std::chrono::seconds timeout = std::chrono::seconds(60));

// True when slurmctld answers (`scontrol ping` prints "is UP"); why not otherwise.
Expected<void> reachable();

// One `scontrol show job -o` line as Key -> Value, split on the keys scontrol prints (values may hold spaces).
std::map<std::string, std::string> parse_job_record(const std::string& line);

// A Slurm JobState as spawn's task state: PENDING, RUNNING and the other live states -> running; COMPLETED ->
// completed; FAILED, OUT_OF_MEMORY, NODE_FAIL, BOOT_FAIL, DEADLINE -> failed; TIMEOUT -> timeout; CANCELLED ->
// cancelled; PREEMPTED -> preempted. Unknown words are nullopt.
std::optional<TaskState> map_state(const std::string& slurm_state);

// What spawn records for a task that ended in Slurm: its state, exit code and reason from JobState, ExitCode
// ("3:0" exit 3, "0:9" killed by signal 9 -> 137 as the runtime records it) and Reason.
struct SlurmOutcome {
  TaskState state = TaskState::running;
  std::optional<int> exit_code;  // none for NODE_FAIL and BOOT_FAIL (the task never finished: it was lost)
  std::string reason;
};
SlurmOutcome outcome_of(const std::string& job_state, const std::string& exit_code, const std::string& reason);

// `sbatch --test-only` on stderr: "sbatch: Job N to start at 2026-11-28T06:43:20 using 1 processors on nodes vm in
// partition debug".
struct TestOnly {
  std::int64_t start_time = 0;  // seconds since the epoch (the line is in this machine's local time)
  std::string start_text;       // as printed
  // Slurm printed a start beyond any horizon (year 46940: jobs ahead have no time limit); start_time is then a year
  // from now, so a split treats the cluster as not starting in time.
  bool beyond_horizon = false;
  std::uint32_t processors = 0;
  std::string nodes, partition;
};
Expected<TestOnly> parse_test_only(const std::string& stderr_text);

// Runs `sbatch --test-only [--array=SPEC] [extra options] SCRIPT` in cwd; no job is created.
Expected<TestOnly> test_only(const std::string& script, const std::vector<std::string>& options,
                             const std::filesystem::path& cwd);

// CPUs of a partition as sinfo counts them (%C: allocated/idle/other/total).
struct PartitionCpus {
  std::uint64_t allocated = 0, idle = 0, other = 0, total = 0;
};
Expected<PartitionCpus> partition_cpus(const std::string& partition);

// A cluster's MinJobAge in seconds (how long slurmctld keeps a finished job's record), from `scontrol show config`.
std::optional<std::int64_t> min_job_age();

} // namespace spawn::providers::slurm
