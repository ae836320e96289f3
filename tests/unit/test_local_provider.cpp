// The local provider with real processes: each test runs small batch scripts through the embedded runtime.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <unistd.h>

#include "engine/claim.hpp"
#include "providers/local/local_provider.hpp"
#include "providers/local/process.hpp"
#include "providers/registry.hpp"
#include "runtime/task_dir.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

using namespace spawn;
using namespace spawn::providers::local;
namespace fs = std::filesystem;

namespace {

class LocalProviderTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spawn-test-local-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    m_root = tmpl;
    fs::create_directories(m_root / "work");
    plan.job_name = "job.sbatch";
    plan.submit_dir = (m_root / "work").string();
    plan.work_dir = plan.submit_dir;
    LocalOptions options;
    options.kill_wait_seconds = 1;
    provider = make_local_provider(options);
  }
  void TearDown() override { fs::remove_all(m_root); }

  engine::LaunchRequest request(std::uint64_t index = 0) {
    engine::LaunchRequest r;
    r.plan = &plan;
    r.task = {41, index};
    r.task_job_id = plan.array ? 100 + index : 41;
    r.state_dir = m_root / "state" / std::to_string(index);
    return r;
  }

  std::string launch(const engine::LaunchRequest& r) {
    auto handle = provider->launch(r);
    EXPECT_TRUE(handle) << (handle ? "" : handle.error());
    return handle ? *handle : "";
  }

  engine::TaskStatus wait_final(engine::Provider& p, const engine::LaunchRequest& r, const std::string& handle,
                                double seconds = 15) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
      auto status = p.poll(r, handle);
      if (is_final(status.state) || std::chrono::steady_clock::now() > deadline) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  engine::TaskStatus run(const std::string& script, std::uint64_t index = 0) {
    plan.script_text = script;
    auto r = request(index);
    return wait_final(*provider, r, launch(r));
  }

  std::string work_file(const std::string& name) {
    auto text = util::read_file(m_root / "work" / name);
    return text ? *text : "<missing " + name + ">";
  }

  fs::path m_root;
  Plan plan;
  std::unique_ptr<engine::Provider> provider;
};

bool have_mpirun() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

// Processes of process group pgid that are not zombies (a killed process may wait a moment for its reaper).
int live_members(int pgid) {
  int count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    auto stat = util::read_file(entry.path() / "stat");
    if (!stat) continue;
    auto close = stat->rfind(')');
    if (close == std::string::npos) continue;
    auto fields = util::split(stat->substr(close + 2), ' ');
    if (fields.size() > 2 && fields[0] != "Z" && fields[2] == std::to_string(pgid)) ++count;
  }
  return count;
}

// Polls until what() holds, for up to 30 seconds (a loaded machine, an ASan build); what()'s last answer.
template <typename F> bool eventually(F what) {
  for (int i = 0; i < 3000; ++i) {
    if (what()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return what();
}

// Waits up to two seconds for every process of pgid to end.
bool group_ends(int pgid) {
  for (int i = 0; i < 200 && live_members(pgid) > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return live_members(pgid) == 0;
}

} // namespace

TEST_F(LocalProviderTest, RegisteredAsLocal) {
  auto p = providers::make_provider("local");
  ASSERT_TRUE(p);
  EXPECT_EQ((*p)->name(), "local");
}

TEST_F(LocalProviderTest, RunsTheScriptVerbatimWithArgsFromTheWorkDir) {
  plan.script_args = {"one", "two words"};
  auto status = run("#!/bin/bash\n#SBATCH -n 1\necho \"args=$1|$2 n=$# pwd=$(pwd) job=$SLURM_JOB_ID\"\n"
                    "echo \"to stderr\" >&2\necho \"zero=${0##*/}\"\n");
  EXPECT_EQ(status.state, TaskState::completed) << status.reason;
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_EQ(work_file("slurm-41.out"), "args=one|two words n=2 pwd=" + plan.work_dir +
                                           " job=41\nto stderr\nzero=slurm_script\n");
}

TEST_F(LocalProviderTest, OwnShebangIsHonoured) {
  auto status = run("#!/usr/bin/env python3\nimport os\nprint('py', os.environ['SLURM_JOB_ID'])\n");
  EXPECT_EQ(status.state, TaskState::completed) << status.reason;
  EXPECT_EQ(work_file("slurm-41.out"), "py 41\n");
}

TEST_F(LocalProviderTest, FailingTaskKeepsItsExitCode) {
  auto status = run("#!/bin/bash\necho before\nexit 3\n");
  EXPECT_EQ(status.state, TaskState::failed);
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_EQ(status.reason, "exit 3");
}

TEST_F(LocalProviderTest, ArrayTaskDefaultOutputAndSeparateErrorFile) {
  ArraySpec array;
  array.ranges = {{0, 3, 1}};
  array.count = 4;
  array.max = 3;
  plan.array = array;
  auto status = run("#!/bin/bash\necho out $SLURM_ARRAY_TASK_ID\n", 2);
  EXPECT_EQ(status.state, TaskState::completed);
  EXPECT_EQ(work_file("slurm-41_2.out"), "out 2\n");

  plan.output = "o-%A_%3a.txt";
  plan.error = "e-%j.txt";
  status = run("#!/bin/bash\necho out\necho err >&2\n", 3);
  EXPECT_EQ(work_file("o-41_003.txt"), "out\n");
  EXPECT_EQ(work_file("e-103.txt"), "err\n");
}

TEST_F(LocalProviderTest, OpenModeAppendKeepsEarlierOutput) {
  plan.output = "log.txt";
  run("#!/bin/bash\necho first\n");
  run("#!/bin/bash\necho second\n");
  EXPECT_EQ(work_file("log.txt"), "second\n");
  plan.open_mode = OpenMode::append;
  run("#!/bin/bash\necho third\n");
  EXPECT_EQ(work_file("log.txt"), "second\nthird\n");
}

TEST_F(LocalProviderTest, MissingWorkDirRunsInTmpLikeSlurm) {
  plan.work_dir = (m_root / "nowhere").string();
  plan.output = (m_root / "work" / "out.txt").string();
  auto status = run("#!/bin/bash\npwd\n");
  EXPECT_EQ(status.state, TaskState::completed);
  EXPECT_EQ(work_file("out.txt"), "slurmstepd-" + short_hostname() + ": error: couldn't chdir to `" + plan.work_dir +
                                      "': No such file or directory: going to /tmp instead\n/tmp\n");
}

TEST_F(LocalProviderTest, UnwritableOutputFails) {
  plan.output = "no/such/dir/out.txt";
  auto status = run("#!/bin/bash\necho hi\n");
  EXPECT_EQ(status.state, TaskState::failed);
  EXPECT_EQ(status.reason, "cannot open the output file " + plan.work_dir + "/no/such/dir/out.txt");
}

TEST_F(LocalProviderTest, TimeLimitSendsTheSignalToTheBatchShellThenTermThenKill) {
  // USR1 2 s after the start: the batch shell must have set its trap by then, even on a loaded machine.
  plan.time_limit_seconds = 4;
  plan.signal = SignalSpec{10, "USR1", 2, true, false};
  // The script ignores SIGTERM, so only the SIGKILL one kill wait (1 s) after the limit ends it.
  auto start = std::chrono::steady_clock::now();
  auto status = run("#!/bin/bash\ntrap 'echo got USR1 at $SECONDS' USR1\ntrap 'echo got TERM' TERM\n"
                    "while :; do sleep 0.1; done\n");
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(status.state, TaskState::timeout) << status.reason;
  EXPECT_EQ(status.exit_code, 137);
  EXPECT_EQ(status.reason, "time limit of 4 s reached (killed by signal 9)");
  auto out = work_file("slurm-41.out");
  // USR1 comes 2 s before the limit of 4 s (the shell's own clock may have started a little late on a busy
  // machine: at most 2 of its seconds have passed), then the limit message, then TERM; SIGKILL ends it.
  auto usr1 = out.find("got USR1 at ");
  ASSERT_NE(usr1, std::string::npos) << out;
  EXPECT_LE(std::stoi(out.substr(usr1 + 12)), 2) << out;
  auto limit = out.find("slurmstepd-" + short_hostname() + ": error: *** JOB 41 ON ");
  EXPECT_NE(limit, std::string::npos) << out;
  EXPECT_NE(out.find(" DUE TO TIME LIMIT ***\n"), std::string::npos) << out;
  auto term = out.find("got TERM\n");
  EXPECT_NE(term, std::string::npos) << out;
  EXPECT_LT(usr1, limit) << out;
  EXPECT_LT(limit, term) << out;
  EXPECT_GE(elapsed, 4.9);
  EXPECT_LT(elapsed, 20.0);  // a bound for a busy machine; the order above is what the test is about
}

TEST_F(LocalProviderTest, SignalWithoutBatchFlagReachesOnlyTheSteps) {
  // USR1 2 s after the start: the step (srun, then its bash) must have set its trap by then, even on a loaded machine.
  plan.time_limit_seconds = 3;
  plan.signal = SignalSpec{10, "USR1", 1, false, false};
  auto status = run("#!/bin/bash\ntrap 'echo batch got USR1' USR1\ntrap 'echo batch got TERM' TERM\n"
                    "srun bash -c 'trap \"echo step got USR1\" USR1; while :; do sleep 0.1; done'\n");
  EXPECT_EQ(status.state, TaskState::timeout);
  auto out = work_file("slurm-41.out");
  EXPECT_NE(out.find("step got USR1\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("batch got USR1"), std::string::npos) << out;
  EXPECT_NE(out.find("srun: Job step aborted: Waiting up to 3 seconds for job step to finish.\n"), std::string::npos) << out;
  EXPECT_NE(out.find("batch got TERM\n"), std::string::npos) << out;
  // The script's own status (srun's 143), not the runtime's interrupted wait (128 + SIGALRM).
  EXPECT_EQ(status.exit_code, 143) << out << util::read_file(m_root / "state/0/runtime.log").value_or("");
}

TEST_F(LocalProviderTest, CancelEndsEveryProcessAndRecordsCancelled) {
  plan.script_text = "#!/bin/bash\nsleep 300 &\nsrun sleep 300\n";
  auto r = request();
  auto handle = launch(r);
  // Cancelled once the step runs (it is registered in steps/), not after a guessed 300 ms.
  ASSERT_TRUE(eventually([&] {
    std::error_code ec;
    return fs::exists(r.state_dir / "steps") && !fs::is_empty(r.state_dir / "steps", ec);
  })) << "the step never started";
  EXPECT_EQ(provider->poll(r, handle).state, TaskState::running);
  provider->cancel(r, handle);
  auto status = wait_final(*provider, r, handle);
  EXPECT_EQ(status.state, TaskState::cancelled) << status.reason;
  auto batch = util::read_file(r.state_dir / "batch.pid");
  ASSERT_TRUE(batch);
  int pgid = std::stoi(*batch);
  EXPECT_TRUE(group_ends(pgid)) << "processes of the batch script survived the cancel";
  auto out = work_file("slurm-41.out");
  EXPECT_NE(out.find("slurmstepd-" + short_hostname() + ": error: *** STEP 41.0 ON "), std::string::npos) << out;
  EXPECT_NE(out.find("slurmstepd-" + short_hostname() + ": error: *** JOB 41 ON "), std::string::npos) << out;
  EXPECT_TRUE(fs::is_empty(r.state_dir / "steps"));
}

TEST_F(LocalProviderTest, TaskSurvivesItsLauncherAndANewProviderSeesItEnd) {
  // The task runs until the test opens its gate, after the new provider has seen it running.
  auto gate = m_root / "gate";
  plan.script_text = "#!/bin/bash\nwhile [ ! -e " + gate.string() + " ]; do sleep 0.05; done\necho done\nexit 4\n";
  auto r = request();
  std::string handle;
  {
    auto first = make_local_provider();
    auto launched = first->launch(r);
    ASSERT_TRUE(launched);
    handle = *launched;
  }  // the launcher forgets the task
  auto second = make_local_provider();
  EXPECT_EQ(second->poll(r, handle).state, TaskState::running);
  ASSERT_TRUE(util::write_file_atomic(gate, ""));
  auto status = wait_final(*second, r, handle);
  EXPECT_EQ(status.state, TaskState::failed);
  EXPECT_EQ(status.exit_code, 4);
  EXPECT_EQ(work_file("slurm-41.out"), "done\n");
}

TEST_F(LocalProviderTest, RecoveryAfterACrashFindsTheHandleTheTaskClaimed) {
  // The engine recorded LAUNCHING, launch() started the task, and the supervisor died before recording the handle:
  // a new provider recovers the very handle launch() returned, and the task is not started again.
  plan.script_text = "#!/bin/bash\nsleep 0.3\necho once >> ran.txt\n";
  auto r = request();
  std::string handle;
  {
    auto first = make_local_provider();
    auto launched = first->launch(r);
    ASSERT_TRUE(launched);
    handle = *launched;
  }
  // Recovery comes after the task has begun (it claims its start as its first act).
  for (int i = 0; i < 3000 && !fs::exists(r.state_dir / "claim"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto second = make_local_provider();
  auto recovered = second->recover_launch(r);
  ASSERT_TRUE(recovered) << recovered.error();
  ASSERT_TRUE(*recovered);
  EXPECT_EQ(**recovered, handle);
  EXPECT_EQ(wait_final(*second, r, handle).state, TaskState::completed);
  EXPECT_EQ(work_file("ran.txt"), "once\n");
}

TEST_F(LocalProviderTest, AnAbandonedAttemptNeverRuns) {
  // A recovering engine that takes the claim first ("abandoned") has given the attempt up: when its runtime starts
  // late, it runs nothing and writes no exit status, so the task's new attempt is its only run.
  plan.script_text = "#!/bin/bash\necho ran >> ran.txt\n";
  auto r = request();
  auto handle = launch(r);
  EXPECT_EQ(wait_final(*provider, r, handle).state, TaskState::completed);
  fs::remove(r.state_dir / "marker");
  fs::remove(r.state_dir / "claim");
  auto abandoned = engine::abandon_launch(r.state_dir);
  ASSERT_TRUE(abandoned);
  EXPECT_FALSE(*abandoned);
  auto rc = std::system(("bash " + (r.state_dir / "runtime.sh").string() + " run " + r.state_dir.string() + " >/dev/null 2>&1").c_str());
  EXPECT_EQ(rc, 0);
  EXPECT_FALSE(fs::exists(r.state_dir / "marker"));
  EXPECT_EQ(work_file("ran.txt"), "ran\n");
}

TEST_F(LocalProviderTest, RuntimeKilledWithoutMarkerIsFailedAndItsTaskIsKilled) {
  plan.script_text = "#!/bin/bash\nsleep 300\n";
  auto r = request();
  auto handle = launch(r);
  auto process = parse_handle(handle);
  ASSERT_TRUE(process);
  // Killed once the batch script runs (the runtime records its process group first), not after a guessed 300 ms.
  ASSERT_TRUE(eventually([&] {
    auto pid = util::read_file(r.state_dir / "batch.pid");
    return pid && !pid->empty() && pid->back() == '\n';
  })) << "the batch script never started";
  ::kill(process->pid, SIGKILL);
  auto status = wait_final(*provider, r, handle);
  EXPECT_EQ(status.state, TaskState::failed);
  EXPECT_EQ(status.reason, "the runtime (pid " + std::to_string(process->pid) +
                               ") ended without writing an exit status; see " + (r.state_dir / "runtime.log").string());
  int pgid = std::stoi(*util::read_file(r.state_dir / "batch.pid"));
  EXPECT_TRUE(group_ends(pgid)) << "the batch script of a dead runtime was left running";
}

TEST_F(LocalProviderTest, ReusedPidIsNotMistakenForTheTask) {
  plan.script_text = "#!/bin/bash\nexit 0\n";
  auto r = request();
  fs::create_directories(r.state_dir);
  // This test process is alive but started at another time than the handle says.
  std::string handle = std::to_string(::getpid()) + ":1";
  auto status = provider->poll(r, handle);
  EXPECT_EQ(status.state, TaskState::failed);
}

TEST_F(LocalProviderTest, SrunStartsEveryTaskWithItsIds) {
  plan.ntasks = 4;
  plan.tasks_per_node = 4;
  plan.ntasks_requested = true;
  auto status = run("#!/bin/bash\nsrun -n 4 bash -c 'echo $SLURM_PROCID $SLURM_LOCALID $SLURM_NODEID $SLURM_STEP_ID "
                    "$SLURM_STEP_NUM_TASKS $SLURM_GTIDS' | sort\nsrun bash -c 'echo step $SLURM_STEP_ID' | sort -u\n"
                    "srun -n 2 bash -c 'exit $((SLURM_PROCID + 5))'; echo rc=$?\n");
  EXPECT_EQ(status.state, TaskState::completed) << status.reason;
  EXPECT_EQ(work_file("slurm-41.out"), "0 0 0 0 4 0,1,2,3\n1 1 0 0 4 0,1,2,3\n2 2 0 0 4 0,1,2,3\n3 3 0 0 4 0,1,2,3\n"
                                       "step 1\nsrun: error: " + short_hostname() + ": task 0: Exited with exit code 5\n" +
                                       "srun: error: " + short_hostname() + ": task 1: Exited with exit code 6\nrc=6\n");
}

TEST_F(LocalProviderTest, TwoNodeJobHasANodeListHostfileAndSrunAcrossNodes) {
  plan.nodes = 2;
  plan.ntasks = 4;
  plan.tasks_per_node = 2;
  plan.ntasks_requested = true;
  auto status = run("#!/bin/bash\necho $SLURM_JOB_NODELIST $SLURM_NNODES $SLURM_TASKS_PER_NODE $SLURMD_NODENAME\n"
                    "cat $SPAWN_HOSTFILE\nsrun bash -c 'echo $SLURM_PROCID $SLURM_NODEID $SLURMD_NODENAME' | sort\n"
                    "srun -N 2 -n 2 bash -c 'echo $SLURM_PROCID $SLURMD_NODENAME $SLURM_DISTRIBUTION' | sort\n");
  EXPECT_EQ(status.state, TaskState::completed) << status.reason;
  EXPECT_EQ(work_file("slurm-41.out"), "spawn-[0-1] 2 2(x2) spawn-0\nspawn-0 slots=2\nspawn-1 slots=2\n"
                                       "0 0 spawn-0\n1 0 spawn-0\n2 1 spawn-1\n3 1 spawn-1\n"
                                       "0 spawn-0 cyclic\n1 spawn-1 cyclic\n");
}

TEST_F(LocalProviderTest, MpirunRunsAcrossEmulatedNodesWithTheHostfile) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun (openmpi-bin) is not installed";
  plan.nodes = 2;
  plan.ntasks = 4;
  plan.tasks_per_node = 2;
  plan.ntasks_requested = true;
  auto status = run("#!/bin/bash\nmpirun -np 4 --hostfile $SPAWN_HOSTFILE bash -c "
                    "'echo rank=$OMPI_COMM_WORLD_RANK node=$SLURMD_NODENAME' | sort\n"
                    "mpirun hostname | wc -l\n");
  EXPECT_EQ(status.state, TaskState::completed) << status.reason << "\n" << work_file("slurm-41.out");
  EXPECT_EQ(work_file("slurm-41.out"), "rank=0 node=spawn-0\nrank=1 node=spawn-0\nrank=2 node=spawn-1\n"
                                       "rank=3 node=spawn-1\n4\n");
}

TEST_F(LocalProviderTest, ModuleShimAppliesMappingsAndWarnsForOthers) {
  plan.modules = {{2, "python/3.9", "env", "PYVER=3.9"}, {3, "gcc/12", std::nullopt, std::nullopt},
                  {4, "cuda", "ignore", std::nullopt}, {5, "tools", "shell", "echo tools-loaded"}};
  auto status = run("#!/bin/bash\nmodule purge\nmodule load python/3.9 gcc/12\nml cuda\nmodule load tools\n"
                    "echo \"PYVER=$PYVER mods=$LOADEDMODULES\"\n");
  EXPECT_EQ(status.state, TaskState::completed) << status.reason;
  EXPECT_EQ(work_file("slurm-41.out"),
            "spawn: module: 'gcc/12' is not mapped (add it to the modules of the mapping config); continuing without it\n"
            "tools-loaded\nPYVER=3.9 mods=python/3.9:cuda:tools\n");
}

TEST_F(LocalProviderTest, ExportNoneKeepsSlurmVariablesAndTheShims) {
  plan.export_env = ExportSpec{false, {{"KEEP", "yes"}}, "NONE,KEEP=yes"};
  ::setenv("SPAWN_TEST_DROPPED", "1", 1);
  // As under slurmd, --export starts from the user's login environment (so HOME is set) plus the listed variables.
  auto status = run("#!/bin/bash\necho \"${SPAWN_TEST_DROPPED:-unset} $KEEP $SLURM_JOB_ID ${HOME:+home} $SLURM_GET_USER_ENV\"\n"
                    "srun true && echo srun-ok\n");
  ::unsetenv("SPAWN_TEST_DROPPED");
  EXPECT_EQ(status.state, TaskState::completed) << status.reason;
  EXPECT_EQ(work_file("slurm-41.out"), "unset yes 41 home 1\nsrun-ok\n");
}

TEST_F(LocalProviderTest, CapacityIsCpusPerTask) {
  LocalOptions options;
  options.cpus = 8;
  auto p = make_local_provider(options);
  plan.node.vcpus = 2;
  EXPECT_EQ(p->capacity(plan), 4u);
  plan.nodes = 2;
  EXPECT_EQ(p->capacity(plan), 2u);
  plan.node.vcpus = 64;
  EXPECT_EQ(p->capacity(plan), 1u);
}

TEST_F(LocalProviderTest, CheckRefusesMoreMemoryThanTheMachineHas) {
  LocalOptions options;
  options.memory_mb = 1000;
  auto p = make_local_provider(options);
  plan.job_name = "big";
  plan.node.memory_mib = 4096;
  auto refused = p->check(plan);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), "job \"big\" asks for 4096 MB of memory per node, but this machine (" + short_hostname() +
                                 ") has 1000 MB; lower --mem/--mem-per-cpu or use another provider (--provider aws)");
  plan.node.memory_mib = 600;
  plan.nodes = 2;
  EXPECT_EQ(p->check(plan).error(), "job \"big\" asks for 600 MB of memory per node x 2 emulated nodes = 1200 MB, but "
                                    "this machine (" + short_hostname() +
                                    ") has 1000 MB; lower --mem/--mem-per-cpu or use another provider (--provider aws)");
  plan.nodes = 1;
  EXPECT_TRUE(p->check(plan));
  plan.node.whole_node_memory = true;
  plan.node.memory_mib = 0;
  EXPECT_TRUE(p->check(plan));
}

TEST_F(LocalProviderTest, LaunchLatencyOfATrivialTask) {
  plan.script_text = "#!/bin/sh\ntrue\n";
  auto start = std::chrono::steady_clock::now();
  auto r = request();
  auto handle = launch(r);
  auto launched = std::chrono::steady_clock::now();
  auto status = wait_final(*provider, r, handle);
  auto done = std::chrono::steady_clock::now();
  EXPECT_EQ(status.state, TaskState::completed);
  double launch_ms = std::chrono::duration<double, std::milli>(launched - start).count();
  double total_ms = std::chrono::duration<double, std::milli>(done - start).count();
  std::printf("launch() %.1f ms, launch to exit marker %.1f ms\n", launch_ms, total_ms);
  EXPECT_LT(total_ms, 2000);
}

TEST_F(LocalProviderTest, CancelRightAfterLaunchIsNeverLost) {
  plan.script_text = "#!/bin/bash\necho started\nsleep 300\n";
  auto r = request();
  auto handle = launch(r);
  provider->cancel(r, handle);
  auto status = wait_final(*provider, r, handle);
  EXPECT_EQ(status.state, TaskState::cancelled) << status.reason;
}

TEST_F(LocalProviderTest, CheckRefusesGpusTheMachineDoesNotHave) {
  plan.job_name = "gpu";
  plan.node.gpus = machine_gpus() + 1;
  auto refused = provider->check(plan);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), "job \"gpu\" asks for " + std::to_string(plan.node.gpus) + " GPU(s) per node, but this machine (" +
                                 short_hostname() + ") has " + std::to_string(machine_gpus()) +
                                 "; use a provider with GPUs (--provider aws) or drop the GPU request to try the script here");
}
