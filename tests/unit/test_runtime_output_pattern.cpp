#include <gtest/gtest.h>

#include "runtime/output_pattern.hpp"

using namespace spawn;
using namespace spawn::runtime;

namespace {

PatternContext array_task() {
  PatternContext c;
  c.job_id = 4847;
  c.array_job_id = 4846;
  c.array_task_id = 7;
  c.job_name = "train.sbatch";
  c.user = "alice";
  c.node_name = "vm";
  return c;
}

PatternContext single_job() {
  PatternContext c;
  c.job_id = 4844;
  c.array_job_id = 4844;
  c.job_name = "single.sh";
  c.user = "root";
  c.node_name = "vm";
  return c;
}

} // namespace

TEST(RuntimeOutputPattern, EverySubstitution) {
  EXPECT_EQ(expand_pattern("%A-%a-%j-%J-%x-%u-%N-%n-%t-%s", array_task(), "/w"),
            "/w/4846-7-4847-4847-train.sbatch-alice-vm-0-0-batch");
}

// What real Slurm 22.05.8 wrote for --output='pat-%A-%a-%j-%J-%x-%u-%N-%n-%t-%s-%q-%3j-%12j-%5q-%%-%'.
TEST(RuntimeOutputPattern, MatchesSlurmOnANonArrayJob) {
  EXPECT_EQ(expand_pattern("pat-%A-%a-%j-%J-%x-%u-%N-%n-%t-%s-%q-%3j-%12j-%5q-%%-%", single_job(), "/tmp/rt_probe"),
            "/tmp/rt_probe/pat-4844-4294967294-4844-4844-single.sh-root-vm-0-0-batch-%q-4844-0000004844-5q-%-%");
}

TEST(RuntimeOutputPattern, ZeroPaddingUpToTenDigits) {
  EXPECT_EQ(expand_pattern("%3a", array_task(), "/w"), "/w/007");
  EXPECT_EQ(expand_pattern("%10A", array_task(), "/w"), "/w/0000004846");
  EXPECT_EQ(expand_pattern("%20j", array_task(), "/w"), "/w/0000004847");
  EXPECT_EQ(expand_pattern("%1a", array_task(), "/w"), "/w/7");
}

TEST(RuntimeOutputPattern, UnknownAndTrailingPercentAreKept) {
  EXPECT_EQ(expand_pattern("x%qy", array_task(), "/w"), "/w/x%qy");
  EXPECT_EQ(expand_pattern("x%", array_task(), "/w"), "/w/x%");
  EXPECT_EQ(expand_pattern("100%%", array_task(), "/w"), "/w/100%");
  EXPECT_EQ(expand_pattern("x%3", array_task(), "/w"), "/w/x3");
}

// Real Slurm: --error='e\%j.txt' -> "e%j.txt", --output='o\\%j.txt' -> "o\%j.txt".
TEST(RuntimeOutputPattern, BackslashDisablesSubstitution) {
  EXPECT_EQ(expand_pattern("e\\%j.txt", array_task(), "/w"), "/w/e%j.txt");
  EXPECT_EQ(expand_pattern("o\\\\%j.txt", array_task(), "/w"), "/w/o\\%j.txt");
}

TEST(RuntimeOutputPattern, AbsolutePathsIgnoreTheWorkDir) {
  EXPECT_EQ(expand_pattern("/logs/%j.out", array_task(), "/w"), "/logs/4847.out");
  EXPECT_EQ(expand_pattern("out", array_task(), "/w/"), "/w/out");
}

TEST(RuntimeOutputPattern, NumberOnlyNamesAnotherTasksOutput) {
  EXPECT_EQ(expand_pattern("3", array_task(), "/w"), "/dev/null");
  EXPECT_EQ(expand_pattern("0", array_task(), "/w"), "/w/0");
}

TEST(RuntimeOutputPattern, SlurmDefaultsAndStderrToOutput) {
  Plan plan;
  plan.work_dir = "/w";
  auto single = stdio_paths(plan, single_job());
  EXPECT_EQ(single.output, "/w/slurm-4844.out");
  EXPECT_FALSE(single.error);
  EXPECT_EQ(single.input, "/dev/null");

  plan.array = ArraySpec{};
  auto task = stdio_paths(plan, array_task());
  EXPECT_EQ(task.output, "/w/slurm-4846_7.out");

  plan.output = "logs/%x.%j.out";
  plan.error = "logs/%x.%j.err";
  plan.input = "in-%a.txt";
  auto named = stdio_paths(plan, array_task());
  EXPECT_EQ(named.output, "/w/logs/train.sbatch.4847.out");
  EXPECT_EQ(named.error, "/w/logs/train.sbatch.4847.err");
  EXPECT_EQ(named.input, "/w/in-7.txt");
}
