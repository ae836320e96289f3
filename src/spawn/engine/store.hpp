#pragma once
// The state store: one SQLite database (WAL) holding every job, every task and every transition. Several spawn
// processes may use it at once (a busy timeout, and every change in one transaction). A transition is committed
// before the engine acts on it, which is what makes a crash at any moment recoverable (engine/engine.hpp).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/task.hpp"
#include "util/error.hpp"

struct sqlite3;

namespace spawn::engine {

// spawn's data directory: $SPAWN_HOME, else ${XDG_DATA_HOME:-~/.local/share}/spawn.
std::filesystem::path data_home();
// The database file: data_home()/state.db.
std::filesystem::path default_state_path();

// What is recorded for a job when it is submitted.
struct NewJob {
  std::string name;
  std::string user;
  std::string provider;                   // "local", "aws", "slurm"
  std::string plan_document;              // the plan as JSON text (plan/params.hpp), opaque to the store
  std::optional<std::string> dependency;  // as written ("afterok:12,singleton")
  bool is_array = false;
  std::vector<std::uint64_t> indices;     // array indices in increasing order; {0} for a single job
  std::vector<std::string> task_providers;  // empty: every task on `provider`; else one name per index (hybrid)
  bool kill_on_invalid_dep = false;
  bool requeue = false;
  std::uint32_t nodes = 1;
};

struct JobRecord {
  std::uint64_t id = 0;
  std::string name;
  std::string user;
  std::int64_t submit_time = 0;  // seconds since the epoch
  std::string provider;
  std::string plan_document;
  std::optional<std::string> dependency;
  bool is_array = false;
  std::uint64_t task_count = 0;
  bool kill_on_invalid_dep = false;
  bool requeue = false;
  std::uint32_t nodes = 1;
  std::optional<std::int64_t> supervisor_pid;  // the last process that drove it
  bool cancel_requested = false;
};

struct TaskRecord {
  TaskRef ref;
  TaskState state = TaskState::pending;
  std::string reason;                 // PENDING: Dependency, JobArrayTaskLimit, ...; final: "exit 3", ...
  std::optional<int> exit_code;
  int restart_count = 0;              // SLURM_RESTART_COUNT of the current (or last) attempt
  std::uint32_t attempt = 0;          // launches so far (names the attempt's state directory)
  std::optional<std::string> handle;  // the provider's handle once launch returned
  std::uint64_t task_job_id = 0;      // this task's own SLURM_JOB_ID
  std::int64_t submit_time = 0;
  std::optional<std::int64_t> launch_time, start_time, end_time;
  bool cancel_requested = false;
  std::optional<std::string> provider;  // the provider that runs it when not the job's (a hybrid job's split)
};

// One recorded change of state (the log; never rewritten).
struct TransitionRecord {
  std::uint64_t seq = 0;
  TaskRef task;
  std::int64_t time = 0;
  TaskState from = TaskState::pending;
  TaskState to = TaskState::pending;
  std::string reason;
  int restart_count = 0;
};

// A change the engine asks for: applied only while the task is still in `from` (compare and set), so two
// processes never both act on one task. Back to PENDING clears the handle, exit code and times of the previous
// attempt; with requeue the restart count grows by one. Every LAUNCHING starts a new attempt (attempt + 1).
struct Transition {
  Transition() = default;
  Transition(TaskRef task_, TaskState from_, TaskState to_, std::string reason_, std::optional<int> exit_code_ = {},
             std::optional<std::string> handle_ = {}, bool requeue_ = false)
      : task(task_), from(from_), to(to_), reason(std::move(reason_)), exit_code(exit_code_), handle(std::move(handle_)),
        requeue(requeue_) {}
  TaskRef task;
  TaskState from = TaskState::pending;
  TaskState to = TaskState::pending;
  std::string reason;
  std::optional<int> exit_code;
  std::optional<std::string> handle;
  bool requeue = false;
};

class Store {
public:
  // Opens (creating the file, its directory and the schema when needed) the store at path.
  static Expected<Store> open(const std::filesystem::path& path);
  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  const std::filesystem::path& path() const { return m_path; }

  // Records a job and all its tasks PENDING in one transaction; returns its id. Ids only grow, and each array
  // task after the first takes its own job id from the same sequence (the first shares the array's, as in Slurm).
  Expected<std::uint64_t> create_job(const NewJob& job, std::int64_t now);
  // The job with this id, or nullopt.
  Expected<std::optional<JobRecord>> job(std::uint64_t id);
  // The job one of whose array tasks has this SLURM_JOB_ID (or the job itself), with that task's index.
  Expected<std::optional<TaskRef>> find_task_job_id(std::uint64_t task_job_id);
  // Every job, newest first.
  Expected<std::vector<JobRecord>> jobs();
  // Jobs with this name and user, oldest first (for singleton).
  Expected<std::vector<JobRecord>> jobs_named(const std::string& name, const std::string& user);
  // Every task of a job, by index.
  Expected<std::vector<TaskRecord>> tasks(std::uint64_t job_id);
  // Tasks of a job that are not final (pending, launching, running, preempted), by index.
  Expected<std::vector<TaskRecord>> live_tasks(std::uint64_t job_id);
  // The providers named by the job's tasks, beyond the job's own (a hybrid job's split), sorted; empty for most jobs.
  Expected<std::vector<std::string>> task_providers(std::uint64_t job_id);
  // Counts of the job's tasks per state.
  Expected<std::vector<std::pair<TaskState, std::uint64_t>>> state_counts(std::uint64_t job_id);
  // The log of a job, oldest first.
  Expected<std::vector<TransitionRecord>> transitions(std::uint64_t job_id);

  // Applies the changes in one transaction; result[i] tells whether changes[i] applied (the task was in `from`).
  Expected<std::vector<bool>> apply(const std::vector<Transition>& changes, std::int64_t now);
  // Sets the reason of the job's PENDING tasks (all of them, or only those listed) where it differs.
  Expected<void> set_pending_reason(std::uint64_t job_id, const std::string& reason,
                                    const std::vector<std::uint64_t>* only = nullptr);
  // Marks the job (index nullopt) or one task as to be cancelled; the driving process acts on it.
  Expected<void> request_cancel(std::uint64_t job_id, std::optional<std::uint64_t> index);
  // Records which process drives the job.
  Expected<void> set_supervisor(std::uint64_t job_id, std::int64_t pid);

private:
  explicit Store(std::filesystem::path path, sqlite3* db) : m_path(std::move(path)), m_db(db) {}
  std::filesystem::path m_path;
  sqlite3* m_db = nullptr;
};

} // namespace spawn::engine
