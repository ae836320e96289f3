#pragma once
// The one interface every provider (local, aws, slurm) implements (the registry is providers/registry.hpp).
// A provider knows how to start, watch and stop a task on its substrate; the engine knows states, concurrency,
// dependencies and retries. Providers are found by name (`--provider`, the config's provider key).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/plan.hpp"
#include "core/task.hpp"
#include "util/error.hpp"

namespace spawn::engine {

// Everything a provider needs to start one task.
struct LaunchRequest {
  const Plan* plan = nullptr;
  TaskRef task;                       // job id and array index
  std::uint64_t task_job_id = 0;      // SLURM_JOB_ID of this task (differs from the array's job id, as in Slurm)
  int restart_count = 0;              // SLURM_RESTART_COUNT after a requeue
  std::filesystem::path state_dir;    // private directory of this task attempt (runtime files, markers)
};

// What the provider last knew about a task it started.
struct TaskStatus {
  TaskState state = TaskState::running;  // running, or a final state, or preempted
  std::optional<int> exit_code;          // for final states
  std::string reason;                    // "exit 3", "time limit", "spot interruption", "killed by signal 9"
};

class Provider {
public:
  virtual ~Provider() = default;
  virtual std::string name() const = 0;
  // Most tasks of this plan that may run at once on this substrate (the local provider: CPUs / CPUs per task).
  virtual std::uint64_t capacity(const Plan& plan) const = 0;
  // Checks a plan can run here at all (memory of this machine, credentials, ...): an error says why not.
  virtual Expected<void> check(const Plan& plan) const = 0;
  // Starts the task; returns a handle the engine records (a process id, instance ids). Called only after the
  // engine has recorded the task as LAUNCHING, so a crash between the two is found by resume.
  virtual Expected<std::string> launch(const LaunchRequest& request) = 0;
  // Starts several tasks of one job at once (all recorded LAUNCHING before the call); one result per request, in
  // order. Providers that can start tasks together (EC2: one RunInstances for many) override it; the default calls
  // launch() for each.
  virtual std::vector<Expected<std::string>> launch_many(const std::vector<LaunchRequest>& requests);
  // The task's status from its handle and state directory; works in a new process after a crash (resume).
  virtual TaskStatus poll(const LaunchRequest& request, const std::string& handle) = 0;
  // Asks the task to stop (SIGTERM then SIGKILL for processes; terminate for instances).
  virtual void cancel(const LaunchRequest& request, const std::string& handle) = 0;
  // After a crash between recording LAUNCHING and recording the handle: the handle if the task started (or will),
  // nullopt when the provider guarantees it never started and never will (the engine then launches it again), an
  // error when it cannot tell (the engine then records the task FAILED rather than risk running it twice).
  // The default answers with the start claim of engine/claim.hpp when the provider's tasks take it, else an error.
  virtual Expected<std::optional<std::string>> recover_launch(const LaunchRequest& request);
  // Blocks until a task this provider started may have changed state, or timeout_ms passed (default: sleeps).
  virtual void wait_for_change(int timeout_ms);
  // Called once every task is final, before the engine returns: finishes cleanup the provider deferred so as not to
  // hold up the run (the AWS provider deletes ended MPI cohorts' groups once their instances are gone). May block.
  virtual void settle() {}
};

} // namespace spawn::engine
