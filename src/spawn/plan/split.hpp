#pragma once
// Splitting an array between a Slurm cluster and a cloud (spawn slurm submit --hybrid): which indices run where,
// by a stated policy, from measured inputs (the cluster's queue wait from `sbatch --test-only`, the task runtime,
// the cluster's free slots, institutional rates and cloud prices). The cluster keeps the lowest indices (it runs an
// array in index order); the cloud takes the tail the cluster would reach last.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/instance.hpp"
#include "util/error.hpp"

namespace spawn::plan {

struct SplitInputs {
  std::vector<std::uint64_t> indices;      // the array, increasing
  std::int64_t task_seconds = 0;           // runtime of one task, at least 1
  // The cluster.
  std::int64_t queue_wait_seconds = 0;     // until its first task would start
  std::uint64_t cluster_slots = 1;         // tasks it runs at once (free CPUs / CPUs per task, the array's throttle)
  MicroDollars cluster_cost_per_task = 0;  // at institutional rates
  // The cloud.
  std::int64_t cloud_boot_seconds = 0;     // before a task starts on a new instance
  std::optional<std::uint64_t> cloud_slots;  // tasks at once; nullopt: all at once
  MicroDollars cloud_cost_per_task = 0;    // price x nodes x billed (boot + runtime)
};

enum class SplitPolicy {
  share,     // a fixed fraction to the cloud
  deadline,  // the cloud takes what the cluster would not finish by the deadline
  budget,    // the cheapest split that meets the deadline (or, without one, the fastest) within the budget
};

struct SplitRequest {
  SplitPolicy policy = SplitPolicy::share;
  double cloud_share = 0;                  // share: 0..1
  std::optional<std::int64_t> deadline_seconds;  // from now
  std::optional<MicroDollars> budget;      // for the cloud side (the institution's cost is not the user's money)
};

struct Split {
  std::vector<std::uint64_t> cluster, cloud;  // indices, increasing
  std::int64_t cluster_finish_seconds = 0;    // from now; 0 when the side has no task
  std::int64_t cloud_finish_seconds = 0;
  MicroDollars cluster_cost = 0, cloud_cost = 0;
  std::string why;                            // the policy's reasoning in one sentence
};

// Seconds from now until the cluster (cloud) has finished `tasks` tasks; 0 for none.
std::int64_t cluster_finish_seconds(const SplitInputs& in, std::uint64_t tasks);
std::int64_t cloud_finish_seconds(const SplitInputs& in, std::uint64_t tasks);

// The split a policy chooses; an error says why no split satisfies it (with the best that could be done).
Expected<Split> split_array(const SplitInputs& in, const SplitRequest& request);

} // namespace spawn::plan
