#pragma once
// The environment of one batch task: what a Slurm 22.05 batch script sees (SLURM_*, ENVIRONMENT=BATCH, the
// caller's variables as --export says) plus SPAWN_*. Pure: every run-time fact comes in through TaskIdentity.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/plan.hpp"

namespace spawn::runtime {

using Environment = std::map<std::string, std::string>;

// Who and where one task is; the provider fills it (local: this machine and emulated nodes; aws: instances).
struct TaskIdentity {
  std::uint64_t job_id = 0;                 // the submitted job (SLURM_ARRAY_JOB_ID of an array)
  std::optional<std::uint64_t> array_index; // nullopt: not an array task
  std::uint64_t task_job_id = 0;            // SLURM_JOB_ID of this task (== job_id when not an array)
  int restart_count = 0;                    // SLURM_RESTART_COUNT when > 0
  std::vector<std::string> node_names;      // every node of the task, in order; node 0 runs the script
  std::uint32_t node_id = 0;                // this node's number in node_names
  std::optional<std::uint32_t> cpus_on_node;  // CPUs allocated on every node (--exclusive: the whole node);
                                            // nullopt: tasks on the node x CPUs per task, as Slurm allocates them
  std::string submit_host;
  std::string user;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string cluster_name = "spawn";
  std::string partition = "spawn";          // SLURM_JOB_PARTITION when the job names none
  std::string hostfile;                     // path of the MPI hostfile (SPAWN_HOSTFILE)
  std::string runtime_dir;                  // the task directory the runtime works in (SPAWN_RUNTIME_DIR)
};

// Tasks (ranks) on each node of the task, as Slurm lays out the batch allocation.
std::vector<std::uint32_t> tasks_per_node(const Plan& plan);

// The full environment of the batch script of one task. caller is the submitting environment (--export ALL copies
// it, NONE drops it, a list picks from it); SLURM_* variables of the caller never leak into the task.
Environment task_environment(const Plan& plan, const TaskIdentity& identity, const Environment& caller);

// The environment of the current process.
Environment current_environment();

} // namespace spawn::runtime
