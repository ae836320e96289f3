// The hybrid split policies on measured inputs: a queue wait (as sbatch --test-only reports it), a task runtime,
// the cluster's slots, institutional cost and cloud price per task.
#include <gtest/gtest.h>

#include "plan/split.hpp"

using namespace spawn;
using namespace spawn::plan;

namespace {

// 10 tasks of 1 h; the cluster starts them in 2 h, 2 at a time, at $0.02 a task; the cloud boots in 90 s, runs all
// at once, at $0.10 a task.
SplitInputs measured() {
  SplitInputs in;
  for (std::uint64_t i = 0; i < 10; ++i) in.indices.push_back(i);
  in.task_seconds = 3600;
  in.queue_wait_seconds = 7200;
  in.cluster_slots = 2;
  in.cluster_cost_per_task = 20000;
  in.cloud_boot_seconds = 90;
  in.cloud_cost_per_task = 100000;
  return in;
}

std::vector<std::uint64_t> range(std::uint64_t a, std::uint64_t b) {
  std::vector<std::uint64_t> v;
  for (auto i = a; i <= b; ++i) v.push_back(i);
  return v;
}

} // namespace

TEST(PlanSplit, FinishTimesFromQueueWaitSlotsAndRuntime) {
  auto in = measured();
  EXPECT_EQ(cluster_finish_seconds(in, 0), 0);
  EXPECT_EQ(cluster_finish_seconds(in, 1), 7200 + 3600);
  EXPECT_EQ(cluster_finish_seconds(in, 3), 7200 + 2 * 3600);
  EXPECT_EQ(cloud_finish_seconds(in, 5), 3690);
  in.cloud_slots = 2;
  EXPECT_EQ(cloud_finish_seconds(in, 5), 3 * 3690);
}

TEST(PlanSplit, ShareSendsTheTailToTheCloud) {
  SplitRequest r;
  r.cloud_share = 0.3;
  auto s = split_array(measured(), r);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->cluster, range(0, 6));
  EXPECT_EQ(s->cloud, range(7, 9));
  EXPECT_EQ(s->cloud_cost, 300000);
  EXPECT_EQ(s->cluster_cost, 140000);
  EXPECT_EQ(s->why, "a fixed share: 3 of 10 tasks (30%) to the cloud");
}

TEST(PlanSplit, ShareOfZeroAndOne) {
  SplitRequest r;
  r.cloud_share = 0;
  EXPECT_TRUE(split_array(measured(), r)->cloud.empty());
  r.cloud_share = 1;
  EXPECT_TRUE(split_array(measured(), r)->cluster.empty());
  r.cloud_share = 1.5;
  EXPECT_EQ(split_array(measured(), r).error(), "--cloud-share: expected a fraction from 0 to 1");
}

TEST(PlanSplit, DeadlineKeepsWhatTheClusterFinishesInTime) {
  SplitRequest r;
  r.policy = SplitPolicy::deadline;
  r.deadline_seconds = 6 * 3600;  // 2 h queue + 4 waves of 2
  auto s = split_array(measured(), r);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->cluster, range(0, 7));
  EXPECT_EQ(s->cloud, range(8, 9));
  EXPECT_EQ(s->cluster_finish_seconds, 6 * 3600);
  EXPECT_EQ(s->cloud_finish_seconds, 3690);
}

TEST(PlanSplit, DeadlineBeforeTheQueueEndsSendsEverythingToTheCloud) {
  SplitRequest r;
  r.policy = SplitPolicy::deadline;
  r.deadline_seconds = 2 * 3600;
  auto s = split_array(measured(), r);
  ASSERT_TRUE(s) << s.error();
  EXPECT_TRUE(s->cluster.empty());
  EXPECT_EQ(s->cloud.size(), 10u);
}

TEST(PlanSplit, DeadlineWithAShortQueueKeepsEverythingOnTheCluster) {
  auto in = measured();
  in.queue_wait_seconds = 0;  // --test-only says: starts now
  SplitRequest r;
  r.policy = SplitPolicy::deadline;
  r.deadline_seconds = 5 * 3600;
  auto s = split_array(in, r);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->cluster.size(), 10u);
  EXPECT_TRUE(s->cloud.empty());
}

TEST(PlanSplit, DeadlineThatNothingMeetsIsAnError) {
  SplitRequest r;
  r.policy = SplitPolicy::deadline;
  r.deadline_seconds = 1800;
  EXPECT_EQ(split_array(measured(), r).error(),
            "the deadline of 30m cannot be met: the cluster finishes 0 task(s) by then (queue 2h, 2 at a time), and the "
            "cloud needs 1h1m30s for the other 10");
}

TEST(PlanSplit, BudgetPicksTheCheapestSplitThatMeetsTheDeadline) {
  SplitRequest r;
  r.policy = SplitPolicy::budget;
  r.deadline_seconds = 6 * 3600;
  r.budget = 1000000;
  auto s = split_array(measured(), r);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->cloud, range(8, 9));  // the cluster is cheaper: as much there as the deadline allows
  EXPECT_EQ(s->cloud_cost, 200000);
}

TEST(PlanSplit, BudgetTooSmallForTheDeadlineSaysWhatItWouldTake) {
  SplitRequest r;
  r.policy = SplitPolicy::budget;
  r.deadline_seconds = 6 * 3600;
  r.budget = 150000;
  EXPECT_EQ(split_array(measured(), r).error(),
            "the budget of $0.15 is too small: meeting the deadline of 6h needs 2 task(s) in the cloud, $0.20");
}

TEST(PlanSplit, BudgetWhenTheCloudIsCheaperSpendsItAll) {
  auto in = measured();
  in.cluster_cost_per_task = 500000;  // an expensive service unit
  SplitRequest r;
  r.policy = SplitPolicy::budget;
  r.deadline_seconds = 6 * 3600;
  r.budget = 350000;
  auto s = split_array(in, r);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->cloud, range(7, 9));  // 3 x $0.10 fits, 4 would not
}

TEST(PlanSplit, BudgetWithoutDeadlineFinishesSoonest) {
  SplitRequest r;
  r.policy = SplitPolicy::budget;
  r.budget = 250000;
  auto s = split_array(measured(), r);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->cloud, range(8, 9));
  EXPECT_EQ(s->cluster_finish_seconds, 6 * 3600);
}
