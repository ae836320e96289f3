#include "plan/split.hpp"

#include <algorithm>
#include <cmath>

#include "config/values.hpp"

namespace spawn::plan {

namespace {

std::uint64_t waves(std::uint64_t tasks, std::uint64_t slots) { return (tasks + slots - 1) / std::max<std::uint64_t>(slots, 1); }

std::string usd(MicroDollars amount) { return "$" + format_usd(amount); }
std::string span(std::int64_t seconds) { return config::format_duration(seconds); }

Split make(const SplitInputs& in, std::uint64_t cluster_tasks) {
  Split s;
  auto n = in.indices.size();
  s.cluster.assign(in.indices.begin(), in.indices.begin() + static_cast<std::ptrdiff_t>(cluster_tasks));
  s.cloud.assign(in.indices.begin() + static_cast<std::ptrdiff_t>(cluster_tasks), in.indices.end());
  s.cluster_finish_seconds = cluster_finish_seconds(in, cluster_tasks);
  s.cloud_finish_seconds = cloud_finish_seconds(in, n - cluster_tasks);
  s.cluster_cost = static_cast<MicroDollars>(cluster_tasks) * in.cluster_cost_per_task;
  s.cloud_cost = static_cast<MicroDollars>(n - cluster_tasks) * in.cloud_cost_per_task;
  return s;
}

std::int64_t makespan(const Split& s) { return std::max(s.cluster_finish_seconds, s.cloud_finish_seconds); }

} // namespace

std::int64_t cluster_finish_seconds(const SplitInputs& in, std::uint64_t tasks) {
  if (tasks == 0) return 0;
  return in.queue_wait_seconds + static_cast<std::int64_t>(waves(tasks, in.cluster_slots)) * in.task_seconds;
}

std::int64_t cloud_finish_seconds(const SplitInputs& in, std::uint64_t tasks) {
  if (tasks == 0) return 0;
  auto slots = in.cloud_slots.value_or(tasks);
  return static_cast<std::int64_t>(waves(tasks, slots)) * (in.cloud_boot_seconds + in.task_seconds);
}

Expected<Split> split_array(const SplitInputs& in, const SplitRequest& request) {
  const auto n = in.indices.size();
  if (n == 0) return Unexpected("nothing to split: the array has no task");
  if (in.task_seconds <= 0) return Unexpected("the split needs the runtime of a task (--time or --runtime)");
  switch (request.policy) {
  case SplitPolicy::share: {
    if (!(request.cloud_share >= 0 && request.cloud_share <= 1))
      return Unexpected("--cloud-share: expected a fraction from 0 to 1");
    auto cloud = static_cast<std::uint64_t>(std::llround(request.cloud_share * static_cast<double>(n)));
    auto s = make(in, n - cloud);
    s.why = "a fixed share: " + std::to_string(s.cloud.size()) + " of " + std::to_string(n) + " tasks (" +
            std::to_string(static_cast<int>(std::lround(request.cloud_share * 100))) + "%) to the cloud";
    return s;
  }
  case SplitPolicy::deadline: {
    if (!request.deadline_seconds) return Unexpected("--deadline: missing");
    const auto deadline = *request.deadline_seconds;
    std::uint64_t k = 0;  // the most tasks the cluster finishes by the deadline (finish time grows with k)
    while (k < n && cluster_finish_seconds(in, k + 1) <= deadline) ++k;
    auto s = make(in, k);
    if (s.cloud_finish_seconds > deadline)
      return Unexpected("the deadline of " + span(deadline) + " cannot be met: the cluster finishes " + std::to_string(k) +
                        " task(s) by then (queue " + span(in.queue_wait_seconds) + ", " + std::to_string(in.cluster_slots) +
                        " at a time), and the cloud needs " + span(s.cloud_finish_seconds) + " for the other " +
                        std::to_string(s.cloud.size()));
    if (request.budget && s.cloud_cost > *request.budget)
      return Unexpected("the deadline of " + span(deadline) + " needs " + std::to_string(s.cloud.size()) +
                        " task(s) in the cloud, " + usd(s.cloud_cost) + ", over the budget of " + usd(*request.budget));
    s.why = k == n ? "the cluster finishes all " + std::to_string(n) + " tasks within the deadline of " + span(deadline) +
                         " (queue " + span(in.queue_wait_seconds) + ")"
                   : "the cluster finishes " + std::to_string(k) + " task(s) within the deadline of " + span(deadline) +
                         " (queue " + span(in.queue_wait_seconds) + ", " + std::to_string(in.cluster_slots) +
                         " at a time, " + span(in.task_seconds) + " each); the cloud takes the other " +
                         std::to_string(n - k);
    return s;
  }
  case SplitPolicy::budget: {
    if (!request.budget) return Unexpected("--budget: missing");
    const auto budget = *request.budget;
    std::optional<Split> best;
    std::optional<Split> cheapest_in_time;  // for the message when the budget is too small
    for (std::uint64_t k = 0; k <= n; ++k) {
      auto s = make(in, k);
      auto total = s.cluster_cost + s.cloud_cost;
      if (request.deadline_seconds) {
        if (makespan(s) > *request.deadline_seconds) continue;
        if (!cheapest_in_time || total < cheapest_in_time->cluster_cost + cheapest_in_time->cloud_cost) cheapest_in_time = s;
        if (s.cloud_cost > budget) continue;
        // The cheapest in all (cluster and cloud); on a tie, more on the cluster.
        if (!best || total <= best->cluster_cost + best->cloud_cost) best = s;
      } else {
        if (s.cloud_cost > budget) continue;
        // The soonest finish; on a tie, the cheaper.
        if (!best || makespan(s) < makespan(*best) ||
            (makespan(s) == makespan(*best) && total <= best->cluster_cost + best->cloud_cost))
          best = s;
      }
    }
    if (!best) {
      if (request.deadline_seconds && !cheapest_in_time)
        return Unexpected("the deadline of " + span(*request.deadline_seconds) + " cannot be met by any split (queue " +
                          span(in.queue_wait_seconds) + ", tasks of " + span(in.task_seconds) + ")");
      if (cheapest_in_time)
        return Unexpected("the budget of " + usd(budget) + " is too small: meeting the deadline of " +
                          span(*request.deadline_seconds) + " needs " + std::to_string(cheapest_in_time->cloud.size()) +
                          " task(s) in the cloud, " + usd(cheapest_in_time->cloud_cost));
      return Unexpected("the budget of " + usd(budget) + " is too small");
    }
    best->why = request.deadline_seconds
                    ? "the cheapest split that meets the deadline of " + span(*request.deadline_seconds) + " within " +
                          usd(budget) + ": " + std::to_string(best->cloud.size()) + " task(s) to the cloud for " +
                          usd(best->cloud_cost)
                    : "the soonest finish within " + usd(budget) + ": " + std::to_string(best->cloud.size()) +
                          " task(s) to the cloud for " + usd(best->cloud_cost) + ", all done in " + span(makespan(*best));
    return *best;
  }
  }
  return Unexpected("unknown split policy");
}

} // namespace spawn::plan
