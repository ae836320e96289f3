#pragma once
// The slurm provider: runs (part of) a job on the Slurm cluster the local Slurm commands reach. The batch script is
// submitted unchanged with the real sbatch (`--parsable`, `--array=` with exactly the indices the engine hands it,
// the script's own #SBATCH options and the sbatch options given on spawn's command line); Slurm's own environment
// replaces spawn's runtime there. Tasks are tracked with `scontrol show job -o` while slurmctld keeps their records
// (MinJobAge after the end), then with sacct where the cluster has accounting; cancelled with scancel.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "engine/provider.hpp"

namespace spawn::providers::slurm {

// Files the provider keeps beside each task attempt (LaunchRequest::state_dir) and the job.
inline constexpr const char* k_submitting_file = "slurm-submitting";  // written before sbatch runs
inline constexpr const char* k_handle_file = "slurm-job";             // "ARRAYJOBID_INDEX" (or "JOBID") after it
inline constexpr const char* k_stdout_file = "slurm-stdout";          // StdOut path as slurmctld recorded it
inline constexpr const char* k_stderr_file = "slurm-stderr";
inline constexpr const char* k_runtime_file = "slurm-runtime";        // seconds the task ran (RunTime), once ended
inline constexpr const char* k_state_file = "slurm-state";            // "PENDING Priority", "RUNNING None": Slurm's view
// In the job directory: sbatch options given on spawn's command line, one per line, passed before the script.
inline constexpr const char* k_sbatch_options_file = "sbatch-options";

struct SlurmOptions {
  int refresh_ms = 1000;  // a job's scontrol record is read at most this often
};

std::unique_ptr<engine::Provider> make_slurm_provider(const SlurmOptions& options = {});

// The output (or error, when stderr is true) file of a task the slurm provider ran, nullopt while unknown (the task
// has not started in Slurm yet).
std::optional<std::filesystem::path> task_output_path(const std::filesystem::path& state_dir, bool stderr);

// Slurm's state and reason of a task as last seen ("PENDING", "Priority"), nullopt before the first look.
std::optional<std::pair<std::string, std::string>> task_slurm_state(const std::filesystem::path& state_dir);

// How long a task the slurm provider ran took in Slurm (its RunTime once it ended), nullopt while unknown.
std::optional<std::int64_t> task_runtime_seconds(const std::filesystem::path& state_dir);
// scontrol's RunTime/TimeLimit text ("00:01:05", "1-02:03:04", "05:00") in seconds; nullopt for UNLIMITED and the like.
std::optional<std::int64_t> parse_slurm_duration(const std::string& text);

// The indices an ArrayTaskId value names ("0-15%4", "1,3", "0-90:10"), nullopt when it is not an array list.
std::optional<std::vector<std::uint64_t>> parse_array_task_ids(const std::string& text);

} // namespace spawn::providers::slurm
