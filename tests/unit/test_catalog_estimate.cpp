#include <gtest/gtest.h>

#include <limits>

#include "catalog/estimate.hpp"

using namespace spawn;
using namespace spawn::catalog;

namespace {

EstimateInput input(std::uint64_t tasks, std::int64_t runtime, std::optional<std::uint64_t> max_concurrent = {},
                    std::int64_t boot = 0) {
  EstimateInput in;
  in.tasks = tasks;
  in.runtime_seconds = runtime;
  in.max_concurrent = max_concurrent;
  in.boot_overhead_seconds = boot;
  in.spot_per_hour = 243100;        // $0.2431
  in.on_demand_per_hour = 752000;   // $0.752
  return in;
}

Estimate run(const EstimateInput& in) {
  auto e = estimate_run(in);
  if (!e) throw std::runtime_error(e.error());
  return *e;
}

std::string error_of(const EstimateInput& in) {
  auto e = estimate_run(in);
  return e ? "(estimated)" : e.error();
}

} // namespace

TEST(CatalogEstimate, IssueExampleWavesWallTimeAndCost) {
  // 100 tasks of 2 h, 20 at a time, 2 minutes of boot per instance.
  Estimate e = run(input(100, 7200, 20, 120));
  EXPECT_EQ(e.instances, 100u);
  EXPECT_EQ(e.concurrent_tasks, 20u);
  EXPECT_EQ(e.waves, 5u);
  EXPECT_EQ(e.seconds_per_instance, 7320);
  EXPECT_EQ(e.wall_seconds, 36600);  // 10 h 10 m
  EXPECT_EQ(e.instance_seconds, 732000);
  EXPECT_NEAR(instance_hours(e.instance_seconds), 203.333, 0.001);
  EXPECT_EQ(e.spot_cost, 49430333);       // 732000 s x $0.2431/h = $49.430333
  EXPECT_EQ(e.on_demand_cost, 152906667);  // $152.906667
  EXPECT_EQ(e.spot_cost_per_task, 494303);
}

TEST(CatalogEstimate, WavesRoundUp) {
  EXPECT_EQ(run(input(101, 60, 20)).waves, 6u);
  EXPECT_EQ(run(input(100, 60, 100)).waves, 1u);
  EXPECT_EQ(run(input(1, 60, 1)).waves, 1u);
  EXPECT_EQ(run(input(7, 60, 2)).waves, 4u);
}

TEST(CatalogEstimate, NoThrottleMeansAllAtOnceAndALargeThrottleIsCapped) {
  Estimate all = run(input(50, 600));
  EXPECT_EQ(all.concurrent_tasks, 50u);
  EXPECT_EQ(all.waves, 1u);
  EXPECT_EQ(all.wall_seconds, 600);
  Estimate capped = run(input(50, 600, 1000));
  EXPECT_EQ(capped.concurrent_tasks, 50u);
  EXPECT_EQ(capped.waves, 1u);
}

TEST(CatalogEstimate, ThrottleChangesWallTimeNotCost) {
  Estimate fast = run(input(40, 3600, 40));
  Estimate slow = run(input(40, 3600, 4));
  EXPECT_EQ(fast.wall_seconds, 3600);
  EXPECT_EQ(slow.wall_seconds, 36000);
  EXPECT_EQ(fast.spot_cost, slow.spot_cost);
  EXPECT_EQ(fast.instance_seconds, slow.instance_seconds);
}

TEST(CatalogEstimate, EveryInstanceIsBilledAtLeastSixtySeconds) {
  Estimate e = run(input(10, 5));
  EXPECT_EQ(e.billed_seconds_per_instance, 60);
  EXPECT_EQ(e.instance_seconds, 600);
  EXPECT_EQ(e.wall_seconds, 5);  // billing minimum does not stretch the wall time
  EXPECT_EQ(e.spot_cost, 40517);  // 600 s x $0.2431/h
  // Boot overhead counts towards the minimum.
  EXPECT_EQ(run(input(1, 30, {}, 30)).billed_seconds_per_instance, 60);
  EXPECT_EQ(run(input(1, 31, {}, 30)).billed_seconds_per_instance, 61);
}

TEST(CatalogEstimate, BootOverheadIsBilledAndPaidEveryWave) {
  Estimate without = run(input(10, 3600, 5));
  Estimate with = run(input(10, 3600, 5, 90));
  EXPECT_EQ(with.wall_seconds - without.wall_seconds, 2 * 90);
  EXPECT_EQ(with.instance_seconds - without.instance_seconds, 10 * 90);
}

TEST(CatalogEstimate, SpotAndOnDemandSideBySideAndEitherMayBeMissing) {
  EstimateInput in = input(3, 3600);
  Estimate both = run(in);
  EXPECT_EQ(both.spot_cost, 3 * 243100);
  EXPECT_EQ(both.on_demand_cost, 3 * 752000);
  in.on_demand_per_hour.reset();  // e.g. p5e.48xlarge: spot only
  Estimate spot_only = run(in);
  EXPECT_EQ(spot_only.spot_cost, 3 * 243100);
  EXPECT_FALSE(spot_only.on_demand_cost);
  EXPECT_FALSE(spot_only.on_demand_cost_per_task);
}

TEST(CatalogEstimate, MultiNodeTasksMultiplyInstances) {
  EstimateInput in = input(4, 3600, 2);
  in.nodes_per_task = 8;
  Estimate e = run(in);
  EXPECT_EQ(e.instances, 32u);
  EXPECT_EQ(e.concurrent_instances, 16u);
  EXPECT_EQ(e.waves, 2u);
  EXPECT_EQ(e.wall_seconds, 7200);
  EXPECT_EQ(e.instance_seconds, 32 * 3600);
  EXPECT_EQ(e.spot_cost, 32 * 243100);
  EXPECT_EQ(e.spot_cost_per_task, 8 * 243100);
}

TEST(CatalogEstimate, BadInputsAreNamed) {
  EstimateInput none = input(10, 60);
  none.runtime_seconds.reset();
  EXPECT_EQ(error_of(none), "estimate: no runtime per task (no time limit and no expected runtime given)");
  EXPECT_EQ(error_of(input(10, 0)), "estimate: runtime per task must be at least 1 s (got 0 s)");
  EXPECT_EQ(error_of(input(0, 60)), "estimate: tasks must be at least 1 (got 0)");
  EXPECT_EQ(error_of(input(10, 60, 0)), "estimate: max concurrent tasks must be at least 1 (got 0)");
  EXPECT_EQ(error_of(input(10, 60, {}, -5)), "estimate: boot overhead must not be negative (got -5 s)");
  EstimateInput nodes = input(1, 60);
  nodes.nodes_per_task = 0;
  EXPECT_EQ(error_of(nodes), "estimate: nodes per task must be at least 1 (got 0)");
  EstimateInput negative = input(1, 60);
  negative.spot_per_hour = -1;
  EXPECT_EQ(error_of(negative), "estimate: negative spot price");
}

TEST(CatalogEstimate, HugeInputsFailInsteadOfOverflowing) {
  EstimateInput in = input(std::numeric_limits<std::uint64_t>::max() / 2, 1'000'000'000);
  EXPECT_EQ(error_of(in), "estimate: the numbers are too large to add up (tasks x nodes x runtime overflows)");
  // Large but real: a million tasks of a day each at $100/h.
  EstimateInput big = input(1'000'000, 86400);
  big.on_demand_per_hour = 100'000'000;
  EXPECT_EQ(run(big).on_demand_cost, std::int64_t{2'400'000'000} * 1'000'000);
}

TEST(CatalogEstimate, CostIsRoundedHalfUpToTheMicroDollar) {
  EXPECT_EQ(cost_of(1, 1800), 1);   // 0.5 micro-dollar
  EXPECT_EQ(cost_of(1, 1799), 0);
  EXPECT_EQ(cost_of(3600, 243100), 243100);
  EXPECT_EQ(cost_of(5400, 243100), 364650);
  EXPECT_FALSE(cost_of(-1, 100));
  EXPECT_FALSE(cost_of(std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max()));
}

TEST(CatalogEstimate, ClusterComparison) {
  EXPECT_EQ(task_seconds(100, 7200), 720000);  // 200 task-hours
  ClusterUsage usage{100, 1, 8, 1, 7200};
  EXPECT_EQ(institutional_cost(usage, {}), 0);
  EXPECT_EQ(institutional_cost(usage, {10'000, 0}), 16'000'000);      // 1600 core-hours x $0.01
  EXPECT_EQ(institutional_cost(usage, {10'000, 500'000}), 116'000'000);  // + 200 GPU-hours x $0.50
  usage.nodes_per_task = 2;
  EXPECT_EQ(institutional_cost(usage, {10'000, 0}), 32'000'000);
  // Queue 2-24 h, then 2 h of running, against a cloud wall time of 10 h 10 m.
  QueueTimeRange saved = time_saved({7200, 86400}, 7200, 36600);
  EXPECT_EQ(saved.min_seconds, -22200);  // with a short queue the cloud is slower here
  EXPECT_EQ(saved.max_seconds, 57000);
}
