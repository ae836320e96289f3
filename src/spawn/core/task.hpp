#pragma once
// Tasks as the engine tracks them: ids like Slurm's (a job id; array tasks JOBID_INDEX) and explicit states.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spawn {

enum class TaskState {
  pending,    // waiting: see the reason (dependency, throttle, capacity, begin time, held)
  launching,  // recorded before the provider is asked to start it
  running,
  completed,  // exit code 0
  failed,     // non-zero exit code, or the provider could not run it
  timeout,    // killed at its time limit
  cancelled,
  preempted,  // the instance was reclaimed; re-queued when the job allows it
};
const char* to_string(TaskState state);
std::optional<TaskState> task_state_from_string(std::string_view text);
// completed, failed, timeout, cancelled: nothing more will happen to the task (preempted is not final).
bool is_final(TaskState state);

// One task of one job. index is the array index; a job that is not an array has one task, index 0.
struct TaskRef {
  std::uint64_t job_id = 0;
  std::uint64_t index = 0;
  bool operator==(const TaskRef&) const = default;
  auto operator<=>(const TaskRef&) const = default;
};

// "12" for a job that is not an array, "12_7" for an array task.
std::string format_task_id(const TaskRef& task, bool is_array);

} // namespace spawn
