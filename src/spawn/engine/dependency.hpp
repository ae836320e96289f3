#pragma once
// Dependencies between spawn jobs with Slurm's meaning: after, afterany, afterok, afternotok, aftercorr (task by
// task between arrays), afterburstbuffer (as afterany: no burst buffers here), singleton, +minutes, ',' (all)
// and '?' (any). Evaluated against the records of the state store.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/job.hpp"
#include "engine/store.hpp"

namespace spawn::engine {

enum class DependencyVerdict { satisfied, waiting, never };
const char* to_string(DependencyVerdict verdict);

// Nothing more will happen to a task in this state (a PREEMPTED task not re-queued stays PREEMPTED).
bool is_terminal(TaskState state);

// What a dependency says now, for the job as a whole and, with aftercorr, for each of its tasks.
struct DependencyStatus {
  DependencyVerdict job = DependencyVerdict::satisfied;  // the verdict of every task without its own
  std::map<std::uint64_t, DependencyVerdict> tasks;      // per index, when aftercorr makes them differ
  DependencyVerdict for_task(std::uint64_t index) const;
  // "afterok:12(unfulfilled)"-like text naming what is still awaited or can never be.
  std::string detail;
};

// Evaluates dependency of job (its pending indices given) at time now (seconds).
Expected<DependencyStatus> evaluate_dependency(Store& store, const JobRecord& job, const Dependency& dependency,
                                               const std::vector<std::uint64_t>& pending_indices, std::int64_t now);

// The job ids a dependency names that the store does not know, each as written ("afterok:999").
Expected<std::vector<std::string>> unknown_dependency_jobs(Store& store, const Dependency& dependency);

} // namespace spawn::engine
