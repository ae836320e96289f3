#pragma once
// Estimate arithmetic: waves, wall time, billed instance time and cost of running tasks on instances, and the
// numbers to compare it with a cluster. Pure functions on integers (seconds, micro-dollars); no Slurm knowledge.
//
// Model: each task runs on nodes_per_task instances of one type. At most max_concurrent tasks run at a time, so
// the tasks run in waves; every instance boots (boot_overhead_seconds, billed) and then runs the task's runtime.
// EC2 bills Linux instances per second with a 60-second minimum per instance.
#include <cstdint>
#include <optional>

#include "core/instance.hpp"
#include "util/error.hpp"

namespace spawn::catalog {

inline constexpr std::int64_t k_minimum_billed_seconds = 60;

struct EstimateInput {
  std::uint64_t tasks = 1;                       // array size; at least 1
  std::uint32_t nodes_per_task = 1;              // instances per task; at least 1
  std::optional<std::int64_t> runtime_seconds;   // per task; required (no runtime, no estimate), at least 1
  std::optional<std::uint64_t> max_concurrent;   // tasks at a time; nullopt: all at once; at least 1
  std::int64_t boot_overhead_seconds = 0;        // per instance, before the task starts; billed; at least 0
  std::optional<MicroDollars> spot_per_hour;     // nullopt: no spot price (cost_spot stays nullopt)
  std::optional<MicroDollars> on_demand_per_hour;
};

struct Estimate {
  std::uint64_t instances = 0;                // tasks x nodes_per_task, over the whole run
  std::uint64_t concurrent_tasks = 0;         // min(max_concurrent, tasks)
  std::uint64_t concurrent_instances = 0;     // concurrent_tasks x nodes_per_task
  std::uint64_t waves = 0;                    // ceil(tasks / concurrent_tasks)
  std::int64_t seconds_per_instance = 0;      // boot + runtime
  std::int64_t billed_seconds_per_instance = 0;  // max(seconds_per_instance, 60)
  std::int64_t wall_seconds = 0;              // waves x seconds_per_instance
  std::int64_t instance_seconds = 0;          // instances x billed_seconds_per_instance
  std::optional<MicroDollars> spot_cost;      // instance_seconds at the spot price, rounded to the micro-dollar
  std::optional<MicroDollars> on_demand_cost;
  std::optional<MicroDollars> spot_cost_per_task;  // nodes_per_task x billed seconds at the price
  std::optional<MicroDollars> on_demand_cost_per_task;
};

// The estimate for input; an error names the bad input value.
Expected<Estimate> estimate_run(const EstimateInput& input);

// price_per_hour for seconds of one instance, rounded half up to the micro-dollar; nullopt on overflow.
std::optional<MicroDollars> cost_of(std::int64_t seconds, MicroDollars price_per_hour);

// Instance-hours as a decimal for display: instance_seconds / 3600.
double instance_hours(std::int64_t instance_seconds);

// --- Cluster comparison ---

// Task time the cluster would account: tasks x runtime_seconds (a multi-node task counts once).
std::int64_t task_seconds(std::uint64_t tasks, std::int64_t runtime_seconds);

// What an institution charges for the same work.
struct InstitutionalRates {
  MicroDollars per_core_hour = 0;
  MicroDollars per_gpu_hour = 0;
};
struct ClusterUsage {
  std::uint64_t tasks = 0;
  std::uint32_t nodes_per_task = 1;
  std::uint32_t cores_per_node = 0;  // cores the job holds on each node
  std::uint32_t gpus_per_node = 0;
  std::int64_t runtime_seconds = 0;
};
// Core-seconds and GPU-seconds of usage at the rates, rounded half up; nullopt on overflow.
std::optional<MicroDollars> institutional_cost(const ClusterUsage& usage, const InstitutionalRates& rates);

// A queue wait range on the cluster, in seconds (min <= max).
struct QueueTimeRange {
  std::int64_t min_seconds = 0;
  std::int64_t max_seconds = 0;
};
// How much sooner the cloud run finishes than the cluster, whose jobs wait in queue and then run for
// cluster_run_seconds: (queue.min + cluster_run - cloud_wall, queue.max + cluster_run - cloud_wall).
// Negative values mean the cloud finishes later.
QueueTimeRange time_saved(const QueueTimeRange& queue, std::int64_t cluster_run_seconds, std::int64_t cloud_wall_seconds);

} // namespace spawn::catalog
