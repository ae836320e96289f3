#pragma once
// Job + configuration + #SPAWN -> Plan: how many tasks, what one node of a task needs, how many run at once,
// how long each runs, with where each of those came from. Knows Slurm's meaning (via Job) and the key table,
// not how a provider runs anything.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/job.hpp"
#include "core/plan.hpp"
#include "core/resources.hpp"

namespace spawn::plan {

// A value and the words that say where it came from ("--array %20 throttle", "--time", "config max_concurrent").
template <typename T> struct Sourced {
  T value{};
  std::string source;
};

// What plan/ makes of a job: the run plan every provider consumes, and the resolved settings and derivations
// an estimate states.
struct Plan {
  spawn::Plan run;
  std::string job_name;
  std::uint64_t tasks = 1;                    // array tasks, or 1
  std::uint32_t nodes_per_task = 1;           // instances per task (-N)
  std::uint32_t tasks_per_node = 1;           // Slurm tasks (ranks) on each node
  NodeRequirements node;                      // what each instance must have
  std::optional<Sourced<std::uint64_t>> max_concurrent;  // nullopt: all tasks at once
  std::optional<Sourced<std::int64_t>> runtime_seconds;  // per task; nullopt: unknown
  std::optional<Sourced<std::int64_t>> time_limit_seconds;  // the job's --time
  config::Settings settings;                  // resolved for this job (partition, #SPAWN, env, command line)
  std::vector<std::string> notes;             // derivations worth stating ("16 tasks x 2 CPUs = 32 vCPUs per node")
};

// What the command line adds to a plan beyond the configuration keys.
struct PlanOverrides {
  std::optional<std::int64_t> runtime_seconds = {};  // --runtime: the expected runtime per task
  std::optional<std::string> submit_dir = {};        // absolute; default: the current directory
};

// `module load`/`module add`/`ml` lines of the script body with the config's mapping for each module.
std::vector<ModuleUse> find_modules(const Job& job, const config::Config& config);
// Absolute cluster paths and $HOME paths the body uses, with their lines (system directories excluded).
std::vector<ClusterPath> find_cluster_paths(const Job& job);

// The #SPAWN lines of a job as configuration assignments ("--spot true", "--region=us-west-2", "--instance-type a,b").
// A line that is not "--key value" pairs is an error naming script:line.
std::vector<config::Assignment> spawn_assignments(const Job& job);

// Builds the plan. Throws Error with every problem (unknown #SPAWN key, bad value, ...).
Plan make_plan(const Job& job, const config::Config& config, const PlanOverrides& overrides);

// What one node needs (see make_plan): the rules of `spawn slurm estimate`, exposed for tests.
NodeRequirements node_requirements(const Job& job, const config::Settings& settings, std::uint32_t& tasks_per_node,
                                   std::vector<std::string>& notes);

} // namespace spawn::plan
