#pragma once
// spawn slurm submit --hybrid: one job split between the Slurm cluster (the slurm provider) and a cloud provider
// (aws, or local standing in for it), by a policy on measured inputs (plan/split.hpp); and spawn cost, the cost
// of each side before (estimate) and after the run.
#include <string>
#include <vector>

#include "cli/plan_builder.hpp"
#include "cli/slurm_args.hpp"

namespace spawn::cli {

// spawn's options of --hybrid (added to `slurm submit`).
std::vector<SpawnOption> hybrid_options();

// Measures the cluster (sbatch --test-only, sinfo), prices both sides, splits the array, shows the plan, and
// (unless --dry-run) records one job whose tasks name their provider and drives it. Exit status as submit's.
int submit_hybrid(BuiltPlan& built, const SlurmArgs& args);

} // namespace spawn::cli
