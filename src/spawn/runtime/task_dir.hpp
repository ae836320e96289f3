#pragma once
// The task directory: the files the C++ side writes for the on-node runtime (runtime.sh, embedded in the binary),
// and the exit-status marker the runtime writes back. The same layout serves every provider: locally the
// directory is the task's state directory; on an instance it is shipped in the user data or through S3.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/plan.hpp"
#include "core/task.hpp"
#include "runtime/environment.hpp"
#include "runtime/output_pattern.hpp"
#include "util/error.hpp"

namespace spawn::runtime {

// Slurm's default KillWait: seconds between SIGTERM and SIGKILL at a time limit or a cancel.
inline constexpr std::uint32_t k_default_kill_wait_seconds = 30;

// Everything the runtime needs besides the environment.
struct TaskSpec {
  std::string job_label;                      // "12" or "12_3": messages ("*** JOB 12 ON ...")
  std::string script_text;                    // verbatim
  std::vector<std::string> args;
  std::string work_dir;
  StdioPaths stdio;
  OpenMode open_mode = OpenMode::truncate;
  std::optional<std::int64_t> time_limit_seconds;  // counted from the task's start; nullopt: none
  std::optional<SignalSpec> signal;
  std::uint32_t kill_wait_seconds = k_default_kill_wait_seconds;
  std::vector<std::string> node_names;        // node 0 runs the script
  std::vector<std::uint32_t> tasks_per_node;  // srun's layout and the hostfile's slots
  std::vector<ModuleUse> modules;             // the `module` shim's mapping
  std::optional<std::string> container;       // image the batch script runs in (runtime.sh: SPAWN_RT_CONTAINER)
  ContainerRuntime container_runtime = ContainerRuntime::auto_detect;
  bool login_environment = false;             // start from the user's login environment (--export given), as
                                              // slurmd does for SLURM_GET_USER_ENV; env entries override it
};

// The spec of one task of plan (stdio patterns expanded for identity, Slurm's open mode and limits).
TaskSpec make_task_spec(const Plan& plan, const TaskIdentity& identity);

// The embedded runtime script (src/spawn/runtime/runtime.sh).
std::string_view runtime_script();

// Writes the task directory dir (created if missing): settings, job.env, args, slurm_script, modules, hostfile,
// runtime.sh and bin/srun. An error names the file that could not be written.
Expected<void> write_task_dir(const std::filesystem::path& dir, const TaskSpec& spec, const Environment& env);

// The command that runs the task of dir in the foreground: {"bash", "DIR/runtime.sh", "run", "DIR"}.
std::vector<std::string> runtime_command(const std::filesystem::path& dir);

// What the runtime wrote when the task ended.
struct ExitMarker {
  TaskState state = TaskState::failed;  // completed, failed, timeout or cancelled
  int exit_code = 0;                    // the script's exit status (128+N when killed by signal N)
  int signal = 0;                       // the signal that ended it, 0 if it exited
  std::string reason;                   // "exit 3", "killed by signal 9", "time limit of 60 s reached (...)"
  std::int64_t start = 0;               // epoch seconds
  std::int64_t end = 0;
};

// Parses a marker's text; an error names the bad line.
Expected<ExitMarker> parse_exit_marker(std::string_view text);
// The marker's text, as the runtime writes it.
std::string format_exit_marker(const ExitMarker& marker);
// dir/marker if it exists (nullopt while the task runs); a marker that cannot be parsed is an error.
Expected<std::optional<ExitMarker>> read_exit_marker(const std::filesystem::path& dir);
// Writes dir/marker atomically (used when the runtime could not, e.g. it died before starting the script).
Expected<void> write_exit_marker(const std::filesystem::path& dir, const ExitMarker& marker);

// The file names inside a task directory.
inline constexpr std::string_view k_marker_file = "marker";
inline constexpr std::string_view k_cancel_file = "cancel";
inline constexpr std::string_view k_batch_pid_file = "batch.pid";
inline constexpr std::string_view k_hostfile = "hostfile";
inline constexpr std::string_view k_runtime_log = "runtime.log";

} // namespace spawn::runtime
