#include "core/task.hpp"

namespace spawn {

namespace {
constexpr std::pair<TaskState, std::string_view> k_names[] = {
    {TaskState::pending, "PENDING"},     {TaskState::launching, "LAUNCHING"}, {TaskState::running, "RUNNING"},
    {TaskState::completed, "COMPLETED"}, {TaskState::failed, "FAILED"},       {TaskState::timeout, "TIMEOUT"},
    {TaskState::cancelled, "CANCELLED"}, {TaskState::preempted, "PREEMPTED"}};
} // namespace

const char* to_string(TaskState state) {
  for (const auto& [s, name] : k_names) {
    if (s == state) return name.data();
  }
  return "?";
}

std::optional<TaskState> task_state_from_string(std::string_view text) {
  for (const auto& [s, name] : k_names) {
    if (name == text) return s;
  }
  return std::nullopt;
}

bool is_final(TaskState state) {
  return state == TaskState::completed || state == TaskState::failed || state == TaskState::timeout ||
         state == TaskState::cancelled;
}

std::string format_task_id(const TaskRef& task, bool is_array) {
  return is_array ? std::to_string(task.job_id) + "_" + std::to_string(task.index) : std::to_string(task.job_id);
}

} // namespace spawn
