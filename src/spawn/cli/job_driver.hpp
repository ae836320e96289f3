#pragma once
// What the job commands share: the state store, job references ("12", "12_4"), recording a plan as a job, and
// driving a job with the engine in this process (a supervisor) or in a detached one.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/plan.hpp"
#include "engine/store.hpp"

namespace spawn::cli {

// The store under the user's data directory ($SPAWN_HOME overrides); throws Error naming the file.
engine::Store open_store();

// "12" or "12_4" (an array task), or an array task's own job id. Throws Error naming the reference.
struct JobReference {
  std::uint64_t job_id = 0;
  std::optional<std::uint64_t> index;
};
JobReference parse_job_reference(engine::Store& store, const std::string& text);
// The job's record; throws Error "job 12 not found" when the store has no such job.
engine::JobRecord require_job(engine::Store& store, std::uint64_t id);
// The job's plan, read back from its document. Throws Error naming the job.
Plan load_plan(const engine::JobRecord& job);

// Records the plan as a new job (refusing dependencies on jobs spawn does not know, as sbatch does); its id.
// task_providers: one provider name per task (in index order) for a job split between providers (--hybrid).
std::uint64_t record_job(engine::Store& store, const Plan& plan, const std::vector<std::string>& task_providers = {});

enum class ProgressStyle { none, lines, bar };
// Runs the job's supervisor in this process until every task ended (or SIGINT/SIGTERM); the exit status of
// `sbatch --wait`. Throws Error when another live process already drives the job.
int supervise(std::uint64_t job_id, ProgressStyle progress);
// Starts a detached supervisor (`spawn resume JOB --foreground`, its own session, output to the job's
// directory) and returns its process id.
long start_detached_supervisor(std::uint64_t job_id);

// "1:05", "2:03:04", "1-02:03:04" as squeue prints TIME.
std::string format_elapsed(std::int64_t seconds);

} // namespace spawn::cli
