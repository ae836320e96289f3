#include "catalog/estimate.hpp"

#include <algorithm>
#include <limits>
#include <string>

namespace spawn::catalog {

namespace {

constexpr std::int64_t k_seconds_per_hour = 3600;

std::optional<std::int64_t> checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

std::optional<std::int64_t> to_signed(std::uint64_t value) {
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

} // namespace

std::optional<MicroDollars> cost_of(std::int64_t seconds, MicroDollars price_per_hour) {
  if (seconds < 0 || price_per_hour < 0) return std::nullopt;
  // seconds x price / 3600 without overflowing the product: whole hours first, then the remainder.
  auto whole = checked_mul(seconds / k_seconds_per_hour, price_per_hour);
  auto part = checked_mul(seconds % k_seconds_per_hour, price_per_hour);
  if (!whole || !part) return std::nullopt;
  std::int64_t rest = (*part + k_seconds_per_hour / 2) / k_seconds_per_hour;
  if (*whole > std::numeric_limits<std::int64_t>::max() - rest) return std::nullopt;
  return *whole + rest;
}

double instance_hours(std::int64_t instance_seconds) {
  return static_cast<double>(instance_seconds) / static_cast<double>(k_seconds_per_hour);
}

Expected<Estimate> estimate_run(const EstimateInput& input) {
  if (input.tasks == 0) return Unexpected("estimate: tasks must be at least 1 (got 0)");
  if (input.nodes_per_task == 0) return Unexpected("estimate: nodes per task must be at least 1 (got 0)");
  if (!input.runtime_seconds)
    return Unexpected("estimate: no runtime per task (no time limit and no expected runtime given)");
  if (*input.runtime_seconds <= 0)
    return Unexpected("estimate: runtime per task must be at least 1 s (got " +
                      std::to_string(*input.runtime_seconds) + " s)");
  if (input.max_concurrent && *input.max_concurrent == 0)
    return Unexpected("estimate: max concurrent tasks must be at least 1 (got 0)");
  if (input.boot_overhead_seconds < 0)
    return Unexpected("estimate: boot overhead must not be negative (got " +
                      std::to_string(input.boot_overhead_seconds) + " s)");
  for (const auto& [name, price] : {std::pair{"spot", input.spot_per_hour}, {"on-demand", input.on_demand_per_hour}}) {
    if (price && *price < 0) return Unexpected(std::string("estimate: negative ") + name + " price");
  }

  Estimate e;
  const std::string too_large = "estimate: the numbers are too large to add up (tasks x nodes x runtime overflows)";
  std::uint64_t instances = 0;
  if (__builtin_mul_overflow(input.tasks, static_cast<std::uint64_t>(input.nodes_per_task), &instances))
    return Unexpected(too_large);
  e.instances = instances;
  e.concurrent_tasks = std::min(input.max_concurrent.value_or(input.tasks), input.tasks);
  e.concurrent_instances = e.concurrent_tasks * input.nodes_per_task;  // <= instances, cannot overflow
  e.waves = (input.tasks + e.concurrent_tasks - 1) / e.concurrent_tasks;
  if (__builtin_add_overflow(*input.runtime_seconds, input.boot_overhead_seconds, &e.seconds_per_instance))
    return Unexpected(too_large);
  e.billed_seconds_per_instance = std::max(e.seconds_per_instance, k_minimum_billed_seconds);
  auto waves = to_signed(e.waves);
  auto signed_instances = to_signed(e.instances);
  if (!waves || !signed_instances) return Unexpected(too_large);
  auto wall = checked_mul(*waves, e.seconds_per_instance);
  auto billed = checked_mul(*signed_instances, e.billed_seconds_per_instance);
  auto per_task = checked_mul(input.nodes_per_task, e.billed_seconds_per_instance);
  if (!wall || !billed || !per_task) return Unexpected(too_large);
  e.wall_seconds = *wall;
  e.instance_seconds = *billed;
  if (input.spot_per_hour) {
    e.spot_cost = cost_of(e.instance_seconds, *input.spot_per_hour);
    e.spot_cost_per_task = cost_of(*per_task, *input.spot_per_hour);
    if (!e.spot_cost || !e.spot_cost_per_task) return Unexpected(too_large);
  }
  if (input.on_demand_per_hour) {
    e.on_demand_cost = cost_of(e.instance_seconds, *input.on_demand_per_hour);
    e.on_demand_cost_per_task = cost_of(*per_task, *input.on_demand_per_hour);
    if (!e.on_demand_cost || !e.on_demand_cost_per_task) return Unexpected(too_large);
  }
  return e;
}

std::int64_t task_seconds(std::uint64_t tasks, std::int64_t runtime_seconds) {
  auto signed_tasks = to_signed(tasks);
  auto out = signed_tasks ? checked_mul(*signed_tasks, runtime_seconds) : std::nullopt;
  return out.value_or(std::numeric_limits<std::int64_t>::max());
}

std::optional<MicroDollars> institutional_cost(const ClusterUsage& usage, const InstitutionalRates& rates) {
  auto tasks = to_signed(usage.tasks);
  if (!tasks) return std::nullopt;
  auto node_seconds = checked_mul(*tasks, usage.runtime_seconds);
  if (!node_seconds) return std::nullopt;
  node_seconds = checked_mul(*node_seconds, usage.nodes_per_task);
  if (!node_seconds) return std::nullopt;
  auto core_seconds = checked_mul(*node_seconds, usage.cores_per_node);
  auto gpu_seconds = checked_mul(*node_seconds, usage.gpus_per_node);
  if (!core_seconds || !gpu_seconds) return std::nullopt;
  auto cores = cost_of(*core_seconds, rates.per_core_hour);
  auto gpus = cost_of(*gpu_seconds, rates.per_gpu_hour);
  if (!cores || !gpus || *cores > std::numeric_limits<std::int64_t>::max() - *gpus) return std::nullopt;
  return *cores + *gpus;
}

QueueTimeRange time_saved(const QueueTimeRange& queue, std::int64_t cluster_run_seconds,
                          std::int64_t cloud_wall_seconds) {
  return {queue.min_seconds + cluster_run_seconds - cloud_wall_seconds,
          queue.max_seconds + cluster_run_seconds - cloud_wall_seconds};
}

} // namespace spawn::catalog
