#pragma once
// The one way every `spawn slurm ...` command turns its arguments into a plan: configuration (--config,
// --config-profile, SPAWN_*, command-line keys), the job (script, sbatch options, SBATCH_*), #SPAWN lines, and the
// ranked instance types (configured, else chosen from the catalog).
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/select.hpp"
#include "cli/slurm_args.hpp"
#include "config/config.hpp"
#include "plan/plan.hpp"

namespace spawn::cli {

// spawn's own options shared by the commands that build a plan (config, region, market, concurrency, provider).
std::vector<SpawnOption> plan_options();

struct BuiltPlan {
  Job job;
  plan::Plan plan;                          // plan.run is the spawn::Plan with instance_types filled
  std::optional<catalog::Catalog> catalog;  // loaded when instance types were chosen from it
  std::vector<catalog::Candidate> candidates;
  std::optional<std::string> selection_error;  // why no type fits (an error for paid providers only)
};

// Builds the plan. require_instances: a job no instance type can run is an error (estimate, the aws provider);
// otherwise the reason is kept in selection_error. Throws Error with every problem.
BuiltPlan build_plan(const SlurmArgs& args, bool require_instances);

} // namespace spawn::cli
