#include <gtest/gtest.h>

#include "runtime/environment.hpp"

using namespace spawn;
using namespace spawn::runtime;

namespace {

Plan base_plan() {
  Plan plan;
  plan.job_name = "single.sh";
  plan.submit_dir = "/tmp/rt_probe";
  plan.work_dir = "/tmp/rt_probe";
  return plan;
}

TaskIdentity base_identity() {
  TaskIdentity id;
  id.job_id = 4844;
  id.task_job_id = 4844;
  id.node_names = {"vm"};
  id.submit_host = "vm";
  id.user = "root";
  id.partition = "debug";
  return id;
}

Environment slurm_only(const Environment& env) {
  Environment out;
  for (const auto& [k, v] : env) {
    if (k.rfind("SLURM", 0) == 0 || k == "ENVIRONMENT" || k == "HOSTNAME") out[k] = v;
  }
  return out;
}

} // namespace

// The variables real Slurm 22.05.8 gave `sbatch single.sh` on this test machine (SLURM_CONF, SLURM_TASK_PID and
// SLURM_WORKING_CLUSTER are site or run-time values the runtime adds or that spawn has no equivalent of).
TEST(RuntimeEnvironment, SingleTaskMatchesSlurm) {
  auto env = slurm_only(task_environment(base_plan(), base_identity(), {}));
  Environment want = {
      {"ENVIRONMENT", "BATCH"},          {"HOSTNAME", "vm"},
      {"SLURMD_NODENAME", "vm"},         {"SLURM_CLUSTER_NAME", "spawn"},
      {"SLURM_CPUS_ON_NODE", "1"},       {"SLURM_GTIDS", "0"},
      {"SLURM_JOBID", "4844"},           {"SLURM_JOB_CPUS_PER_NODE", "1"},
      {"SLURM_JOB_GID", "0"},            {"SLURM_JOB_ID", "4844"},
      {"SLURM_JOB_NAME", "single.sh"},   {"SLURM_JOB_NODELIST", "vm"},
      {"SLURM_JOB_NUM_NODES", "1"},      {"SLURM_JOB_PARTITION", "debug"},
      {"SLURM_JOB_UID", "0"},            {"SLURM_JOB_USER", "root"},
      {"SLURM_LOCALID", "0"},            {"SLURM_NNODES", "1"},
      {"SLURM_NODEID", "0"},             {"SLURM_NODELIST", "vm"},
      {"SLURM_NODE_ALIASES", "(null)"},  {"SLURM_PRIO_PROCESS", "0"},
      {"SLURM_PROCID", "0"},             {"SLURM_SUBMIT_DIR", "/tmp/rt_probe"},
      {"SLURM_SUBMIT_HOST", "vm"},       {"SLURM_TASKS_PER_NODE", "1"},
      {"SLURM_TOPOLOGY_ADDR", "vm"},     {"SLURM_TOPOLOGY_ADDR_PATTERN", "node"},
  };
  EXPECT_EQ(env, want);
}

// Real Slurm for `#SBATCH --array=1-5:2%2 -n 2 --mem=100`, task 1 (job 4847 of array 4846).
TEST(RuntimeEnvironment, ArrayTaskMatchesSlurm) {
  Plan plan = base_plan();
  plan.job_name = "probe.sh";
  ArraySpec array;
  array.spec = "1-5:2%2";
  array.ranges = {{1, 5, 2}};
  array.max_running = 2;
  array.count = 3;
  array.min = 1;
  array.max = 5;
  plan.array = array;
  plan.ntasks = 2;
  plan.tasks_per_node = 2;
  plan.ntasks_requested = true;
  plan.mem_per_node_mb = 100;
  TaskIdentity id = base_identity();
  id.job_id = 4846;
  id.task_job_id = 4847;
  id.array_index = 1;
  auto env = task_environment(plan, id, {});
  EXPECT_EQ(env["SLURM_ARRAY_JOB_ID"], "4846");
  EXPECT_EQ(env["SLURM_ARRAY_TASK_ID"], "1");
  EXPECT_EQ(env["SLURM_ARRAY_TASK_COUNT"], "3");
  EXPECT_EQ(env["SLURM_ARRAY_TASK_MIN"], "1");
  EXPECT_EQ(env["SLURM_ARRAY_TASK_MAX"], "5");
  EXPECT_EQ(env["SLURM_ARRAY_TASK_STEP"], "2");
  EXPECT_EQ(env["SLURM_JOB_ID"], "4847");
  EXPECT_EQ(env["SLURM_JOBID"], "4847");
  EXPECT_EQ(env["SLURM_CPUS_ON_NODE"], "2");
  EXPECT_EQ(env["SLURM_JOB_CPUS_PER_NODE"], "2");
  EXPECT_EQ(env["SLURM_MEM_PER_NODE"], "100");
  EXPECT_EQ(env["SLURM_NTASKS"], "2");
  EXPECT_EQ(env["SLURM_NPROCS"], "2");
  EXPECT_EQ(env["SLURM_TASKS_PER_NODE"], "2");
  EXPECT_EQ(env["SPAWN_PARAM_INDEX"], "1");
  EXPECT_EQ(env["SPAWN_SWEEP_ID"], "4846");
  EXPECT_EQ(env["SPAWN_JOB_ID"], "4846");
  EXPECT_EQ(env["SPAWN_TASK_ID"], "4846_1");
}

TEST(RuntimeEnvironment, SingleJobHasNoArrayVariables) {
  auto env = task_environment(base_plan(), base_identity(), {});
  for (const auto& [k, v] : env) EXPECT_EQ(k.rfind("SLURM_ARRAY", 0), std::string::npos) << k;
  EXPECT_FALSE(env.count("SLURM_NTASKS"));
  EXPECT_FALSE(env.count("SLURM_MEM_PER_NODE"));
  EXPECT_FALSE(env.count("SLURM_RESTART_COUNT"));
  EXPECT_EQ(env["SPAWN_PARAM_INDEX"], "0");
  EXPECT_EQ(env["SPAWN_TASK_ID"], "4844");
}

TEST(RuntimeEnvironment, MultiNodeJob) {
  Plan plan = base_plan();
  plan.nodes = 4;
  plan.ntasks = 64;
  plan.tasks_per_node = 16;
  plan.ntasks_per_node = 16;
  plan.ntasks_requested = true;
  plan.cpus_per_task = 2;
  TaskIdentity id = base_identity();
  id.node_names = {"spawn-0", "spawn-1", "spawn-2", "spawn-3"};
  id.hostfile = "/state/hostfile";
  auto env = task_environment(plan, id, {});
  EXPECT_EQ(env["SLURM_JOB_NODELIST"], "spawn-[0-3]");
  EXPECT_EQ(env["SLURM_NODELIST"], "spawn-[0-3]");
  EXPECT_EQ(env["SLURM_NNODES"], "4");
  EXPECT_EQ(env["SLURM_JOB_NUM_NODES"], "4");
  EXPECT_EQ(env["SLURM_TASKS_PER_NODE"], "16(x4)");
  EXPECT_EQ(env["SLURM_NTASKS"], "64");
  EXPECT_EQ(env["SLURM_NTASKS_PER_NODE"], "16");
  EXPECT_EQ(env["SLURM_CPUS_PER_TASK"], "2");
  EXPECT_EQ(env["SLURM_JOB_CPUS_PER_NODE"], "32(x4)");
  EXPECT_EQ(env["SLURM_CPUS_ON_NODE"], "32");
  EXPECT_EQ(env["SLURMD_NODENAME"], "spawn-0");
  EXPECT_EQ(env["SLURM_NODEID"], "0");
  EXPECT_EQ(env["SPAWN_HOSTFILE"], "/state/hostfile");
  EXPECT_EQ(env["SPAWN_NODE_COUNT"], "4");
}

TEST(RuntimeEnvironment, UnevenTasksOverNodes) {
  Plan plan = base_plan();
  plan.nodes = 2;
  plan.ntasks = 3;
  plan.ntasks_requested = true;
  TaskIdentity id = base_identity();
  id.node_names = {"spawn-0", "spawn-1"};
  auto env = task_environment(plan, id, {});
  EXPECT_EQ(env["SLURM_TASKS_PER_NODE"], "2,1");
  EXPECT_EQ(env["SLURM_JOB_CPUS_PER_NODE"], "2,1");
}

TEST(RuntimeEnvironment, ExportAllCopiesTheCallerButNeverItsSlurmVariables) {
  Environment caller = {{"HOME", "/home/a"}, {"SLURM_JOB_ID", "999"}, {"SPAWN_JOB_ID", "5"}, {"FOO", "bar"}};
  auto env = task_environment(base_plan(), base_identity(), caller);
  EXPECT_EQ(env["HOME"], "/home/a");
  EXPECT_EQ(env["FOO"], "bar");
  EXPECT_EQ(env["SLURM_JOB_ID"], "4844");
  EXPECT_EQ(env["SPAWN_JOB_ID"], "4844");
  EXPECT_FALSE(env.count("SLURM_EXPORT_ENV"));
  EXPECT_FALSE(env.count("SLURM_GET_USER_ENV"));
}

TEST(RuntimeEnvironment, ExportNoneAndLists) {
  Environment caller = {{"HOME", "/home/a"}, {"FOO", "bar"}, {"BAZ", "q"}};
  Plan plan = base_plan();
  plan.export_env = ExportSpec{false, {}, "NONE"};
  auto none = task_environment(plan, base_identity(), caller);
  EXPECT_FALSE(none.count("HOME"));
  EXPECT_FALSE(none.count("FOO"));
  EXPECT_EQ(none["SLURM_EXPORT_ENV"], "NONE");
  EXPECT_EQ(none["SLURM_GET_USER_ENV"], "1");
  EXPECT_EQ(none["SLURM_JOB_ID"], "4844");

  plan.export_env = ExportSpec{false, {{"FOO", std::nullopt}, {"NEW", "1"}, {"MISSING", std::nullopt}}, "FOO,NEW=1,MISSING"};
  auto list = task_environment(plan, base_identity(), caller);
  EXPECT_EQ(list["FOO"], "bar");
  EXPECT_EQ(list["NEW"], "1");
  EXPECT_FALSE(list.count("MISSING"));
  EXPECT_FALSE(list.count("HOME"));

  plan.export_env = ExportSpec{true, {{"FOO", "override"}}, "ALL,FOO=override"};
  auto all = task_environment(plan, base_identity(), caller);
  EXPECT_EQ(all["FOO"], "override");
  EXPECT_EQ(all["HOME"], "/home/a");
  EXPECT_EQ(all["SLURM_EXPORT_ENV"], "ALL,FOO=override");
}

TEST(RuntimeEnvironment, RequestedValuesAppear) {
  Plan plan = base_plan();
  plan.mem_per_cpu_mb = 2000;
  plan.open_mode = OpenMode::append;
  plan.account = "proj1";
  plan.qos = "high";
  plan.partition = "gpu";
  plan.gpus_per_node = GresRequest{"gpu", "a100", 2};
  plan.dependency = Dependency{"afterok:12", Dependency::Mode::all, {}};
  TaskIdentity id = base_identity();
  id.restart_count = 2;
  auto env = task_environment(plan, id, {});
  EXPECT_EQ(env["SLURM_MEM_PER_CPU"], "2000");
  EXPECT_FALSE(env.count("SLURM_MEM_PER_NODE"));
  EXPECT_EQ(env["SLURM_OPEN_MODE"], "a");
  EXPECT_EQ(env["SLURM_JOB_ACCOUNT"], "proj1");
  EXPECT_EQ(env["SLURM_JOB_QOS"], "high");
  EXPECT_EQ(env["SLURM_JOB_PARTITION"], "gpu");
  EXPECT_EQ(env["SLURM_GPUS_PER_NODE"], "a100:2");
  EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], "0,1");
  EXPECT_EQ(env["SLURM_GPUS_ON_NODE"], "2");
  EXPECT_EQ(env["SLURM_JOB_GPUS"], "0,1");
  EXPECT_EQ(env["SLURM_JOB_DEPENDENCY"], "afterok:12");
  EXPECT_EQ(env["SLURM_RESTART_COUNT"], "2");
}

TEST(RuntimeEnvironment, PlanEnvironmentIsAdded) {
  Plan plan = base_plan();
  plan.environment = {{"OMP_NUM_THREADS", "4"}};
  auto env = task_environment(plan, base_identity(), {});
  EXPECT_EQ(env["OMP_NUM_THREADS"], "4");
}
