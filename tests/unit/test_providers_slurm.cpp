// What the slurm provider reads from Slurm 22.05's commands: sbatch --test-only, scontrol show job -o, states and
// exit codes, array index lists. The provider itself runs against the real Slurm in tests/integration/test_hybrid.py.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/plan.hpp"

#include "providers/slurm/cluster.hpp"
#include "providers/slurm/slurm_provider.hpp"
#include "util/strings.hpp"

using namespace spawn;
using namespace spawn::providers::slurm;

TEST(SlurmTestOnly, ReadsStartTimeProcessorsNodesAndPartition) {
  auto t = parse_test_only("sbatch: Job 6543 to start at 2026-11-28T06:43:20 using 1 processors on nodes vm in partition debug\n");
  ASSERT_TRUE(t) << t.error();
  std::tm tm{};
  tm.tm_year = 126;
  tm.tm_mon = 10;
  tm.tm_mday = 28;
  tm.tm_hour = 6;
  tm.tm_min = 43;
  tm.tm_sec = 20;
  tm.tm_isdst = -1;
  EXPECT_EQ(t->start_time, static_cast<std::int64_t>(std::mktime(&tm)));
  EXPECT_EQ(t->processors, 1u);
  EXPECT_EQ(t->nodes, "vm");
  EXPECT_EQ(t->partition, "debug");
}

TEST(SlurmTestOnly, AStartBeyondTheHorizonIsAYearAway) {
  // What 22.05 prints when the jobs ahead have no time limit.
  auto before = static_cast<std::int64_t>(std::time(nullptr));
  auto t = parse_test_only("sbatch: Job 6971 to start at 46940-08-07T06:25:33 using 1 processors on nodes vm in partition debug\n");
  ASSERT_TRUE(t) << t.error();
  EXPECT_TRUE(t->beyond_horizon);
  EXPECT_EQ(t->start_text, "46940-08-07T06:25:33");
  EXPECT_GE(t->start_time, before + 365 * 86400);
  EXPECT_EQ(t->partition, "debug");
}

TEST(SlurmTestOnly, NoStartTimeIsAnError) {
  EXPECT_EQ(parse_test_only("sbatch: error: Batch job submission failed: Invalid partition name specified\n").error(),
            "sbatch --test-only printed no start time: sbatch: error: Batch job submission failed: Invalid partition name specified");
}

TEST(SlurmRecord, SplitsOnKnownKeysKeepingSpacesInValues) {
  auto r = parse_job_record("JobId=6546 ArrayJobId=6545 ArrayTaskId=1 JobName=my job JobState=FAILED Reason=NonZeroExitCode "
                            "ExitCode=3:0 WorkDir=/tmp/a b StdOut=/tmp/a b/out-1.txt Power=");
  EXPECT_EQ(r["JobName"], "my job");
  EXPECT_EQ(r["ArrayTaskId"], "1");
  EXPECT_EQ(r["ExitCode"], "3:0");
  EXPECT_EQ(r["StdOut"], "/tmp/a b/out-1.txt");
  EXPECT_EQ(r["Power"], "");
}

TEST(SlurmStates, MapToSpawnStates) {
  EXPECT_EQ(map_state("PENDING"), TaskState::running);  // submitted: the cluster's queue holds it
  EXPECT_EQ(map_state("COMPLETING"), TaskState::running);
  EXPECT_EQ(map_state("COMPLETED"), TaskState::completed);
  EXPECT_EQ(map_state("OUT_OF_MEMORY"), TaskState::failed);
  EXPECT_EQ(map_state("TIMEOUT"), TaskState::timeout);
  EXPECT_EQ(map_state("CANCELLED+"), TaskState::cancelled);
  EXPECT_EQ(map_state("PREEMPTED"), TaskState::preempted);
  EXPECT_FALSE(map_state("BOGUS"));
}

TEST(SlurmStates, ExitCodesAndReasons) {
  auto ok = outcome_of("COMPLETED", "0:0", "None");
  EXPECT_EQ(ok.state, TaskState::completed);
  EXPECT_EQ(ok.exit_code, 0);
  auto failed = outcome_of("FAILED", "3:0", "NonZeroExitCode");
  EXPECT_EQ(failed.exit_code, 3);
  EXPECT_EQ(failed.reason, "exit 3");
  auto killed = outcome_of("FAILED", "0:9", "NonZeroExitCode");
  EXPECT_EQ(killed.exit_code, 137);
  EXPECT_EQ(killed.reason, "killed by signal 9");
  auto oom = outcome_of("OUT_OF_MEMORY", "0:125", "OutOfMemory");
  EXPECT_EQ(oom.state, TaskState::failed);
  EXPECT_EQ(oom.reason, "killed by signal 125, Slurm OUT_OF_MEMORY (OutOfMemory)");
  auto lost = outcome_of("NODE_FAIL", "0:0", "NodeDown");
  EXPECT_EQ(lost.state, TaskState::failed);
  EXPECT_FALSE(lost.exit_code);  // lost, not failed by its own doing: requeued when the job allows
  auto timeout = outcome_of("TIMEOUT", "0:15", "TimeLimit");
  EXPECT_EQ(timeout.state, TaskState::timeout);
  EXPECT_EQ(timeout.reason, "Slurm TIMEOUT (TimeLimit)");
}

TEST(SlurmArrays, IndexListsBothWays) {
  EXPECT_EQ(util::compress_indices(parse_array_task_ids("0-2,5,7-8").value()), "0-2,5,7-8");
  EXPECT_EQ(parse_array_task_ids("0-6:2%3"), (std::vector<std::uint64_t>{0, 2, 4, 6}));
  EXPECT_EQ(parse_array_task_ids("1,3"), (std::vector<std::uint64_t>{1, 3}));
  EXPECT_FALSE(parse_array_task_ids("4294967294-1"));
}

namespace {
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "spawn-slurm-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};
} // namespace

TEST(SlurmRecoverLaunch, FromTheFilesBesideTheTask) {
  TempDir dir;
  auto provider = make_slurm_provider();
  Plan plan;
  plan.array = ArraySpec{};
  engine::LaunchRequest request;
  request.plan = &plan;
  request.task = {7, 3};
  request.state_dir = dir.path / "3.1";
  std::filesystem::create_directories(request.state_dir);
  // sbatch never ran: the task never started, so the engine may launch it again.
  auto never = provider->recover_launch(request);
  ASSERT_TRUE(never) << never.error();
  EXPECT_FALSE(never->has_value());
  // sbatch answered and the handle was written.
  std::ofstream(request.state_dir / k_submitting_file) << "sbatch ...\n";
  std::ofstream(request.state_dir / k_handle_file) << "6545_3\n";
  auto known = provider->recover_launch(request);
  ASSERT_TRUE(known) << known.error();
  EXPECT_EQ(known->value_or(""), "6545_3");
}

TEST(SlurmDurations, RunTimeAndTimeLimitText) {
  EXPECT_EQ(parse_slurm_duration("00:01:05"), 65);
  EXPECT_EQ(parse_slurm_duration("1-02:03:04"), 93784);
  EXPECT_EQ(parse_slurm_duration("05:00"), 300);
  EXPECT_FALSE(parse_slurm_duration("UNLIMITED"));
}
