#pragma once
// The engine: drives one job's tasks through their states with a Provider, recording every transition in the
// store BEFORE acting on it. Concurrency is min(the array's %throttle, plan.max_concurrent, the provider's
// capacity); dependencies as in engine/dependency.hpp; PREEMPTED (or lost to the infrastructure) tasks are
// re-queued when the plan says requeue, with the restart count + 1.
//
// Crash safety, by case, for a supervisor killed at any instant:
//   PENDING            nothing was done: the next supervisor launches it.
//   LAUNCHING, handle  cannot happen (the handle is recorded with RUNNING).
//   LAUNCHING, none    the launch may or may not have happened: Provider::recover_launch settles it (the start
//                      claim), and the task is launched again only if it is sure it never started.
//   RUNNING            polled through its handle (the provider's records outlive the supervisor).
//   final              never touched again.
// A job is driven by one supervisor at a time (a lock the kernel drops when the process dies).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/plan.hpp"
#include "engine/dependency.hpp"
#include "engine/provider.hpp"
#include "engine/store.hpp"

namespace spawn::engine {

// At most this many requeues per task (Slurm's MaxBatchRequeue default is 5).
inline constexpr int k_max_requeue = 5;

// The job's directory of runtime files: data_home()/jobs/ID.
std::filesystem::path job_directory(const std::filesystem::path& home, std::uint64_t job_id);

// The exclusive right to drive a job, held while the object lives (flock on JOBDIR/supervisor.lock).
class SupervisorLock {
public:
  // Takes the lock, or nullopt when another live process holds it.
  static Expected<std::optional<SupervisorLock>> try_acquire(const std::filesystem::path& job_dir);
  // Whether some live process holds the lock of job_dir now.
  static bool is_held(const std::filesystem::path& job_dir);
  SupervisorLock(SupervisorLock&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
  SupervisorLock& operator=(SupervisorLock&&) = delete;
  ~SupervisorLock();

private:
  explicit SupervisorLock(int fd) : m_fd(fd) {}
  int m_fd = -1;
};

// Task counts for progress lines and status.
struct Progress {
  std::uint64_t pending = 0, launching = 0, running = 0, completed = 0, failed = 0, timeout = 0, cancelled = 0,
                preempted = 0;
  std::uint64_t total() const {
    return pending + launching + running + completed + failed + timeout + cancelled + preempted;
  }
  std::uint64_t done() const { return completed + failed + timeout + cancelled + preempted; }
};
Progress count_states(const std::vector<std::pair<TaskState, std::uint64_t>>& counts);

// The job's state as one word, Slurm's summary for an array: PENDING, RUNNING, COMPLETED (every task completed),
// else CANCELLED, FAILED, TIMEOUT or PREEMPTED (the first present, in that order).
TaskState job_state(const Progress& progress);

// The exit status of a finished job as `sbatch --wait` gives it: 0 if every task completed, else the highest
// exit code of a task, or 1.
int job_exit_status(const std::vector<TaskRecord>& tasks);

struct EngineOptions {
  std::filesystem::path job_dir;                       // where each attempt's state directory is made
  std::function<std::int64_t()> now;                   // seconds since the epoch (tests pass a fake clock)
  std::size_t launch_batch = 64;                       // LAUNCHING records committed together before launching
};

class Engine {
public:
  Engine(Store& store, Provider& provider, JobRecord job, const Plan& plan, EngineOptions options);

  // Takes up the job from its records (after a crash, or in a new supervisor): settles tasks recorded LAUNCHING
  // without a handle and starts polling the RUNNING ones. Call once before step().
  Expected<void> recover();
  // One pass: cancels, polls, dependencies, launches. True when every task has ended.
  Expected<bool> step();
  // Steps until every task has ended, calling progress after each pass that changed something (and at least
  // every second); stop() asked from progress (or a signal handler) returns early, leaving the records consistent.
  Expected<void> run(const std::function<void(const Progress&)>& progress);
  // Adds a provider for the tasks whose record names it (a hybrid job split between a cluster and a cloud); the
  // constructor's provider runs every other task. Each provider has its own capacity; the array's throttle and
  // max_concurrent bound the job as a whole. Call before recover().
  void add_provider(Provider& provider) { m_providers[provider.name()] = &provider; }
  // Makes run() return after the current pass.
  void stop() { m_stop = true; }

  // The request for a task's attempt (plan, ids, restart count, state directory).
  LaunchRequest request_for(const TaskRecord& task, std::uint32_t attempt) const;
  // Whether the last step changed any record.
  bool changed() const { return m_changed; }

private:
  struct InFlight {
    TaskRecord record;
    std::uint32_t attempt = 0;
    std::string handle;
    bool cancel_sent = false;
  };
  Expected<void> record(const std::vector<Transition>& changes, std::vector<bool>* applied = nullptr);
  Expected<void> poll_in_flight(const JobRecord& job);
  Expected<void> finish(const InFlight& task, const TaskStatus& status, bool cancelled);
  Expected<void> launch(const std::vector<TaskRecord>& tasks);
  // The provider that runs this task (its record's, else the job's); nullptr when the record names one not given.
  Provider* provider_for(const TaskRecord& task) const;

  Store& m_store;
  Provider& m_provider;
  JobRecord m_job;
  const Plan& m_plan;
  EngineOptions m_options;
  std::map<std::string, Provider*> m_providers;    // by name, beside m_provider (add_provider)
  std::map<std::uint64_t, InFlight> m_in_flight;  // by index
  bool m_dependency_cleared = false;              // satisfied once: never evaluated again (as slurmctld)
  bool m_changed = false;
  bool m_stop = false;
};

} // namespace spawn::engine
