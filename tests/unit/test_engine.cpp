// The engine against a fake provider defined here: states, order of recording and acting, concurrency,
// dependencies, requeue, cancel and recovery after a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <unistd.h>

#include "engine/claim.hpp"
#include "engine/engine.hpp"
#include "engine/store.hpp"
#include "slurm/grammar.hpp"

using namespace spawn;
using namespace spawn::engine;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "spawn-engine-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// A provider whose tasks run until the test ends them. Each launch checks, through a second connection, that the
// store already says LAUNCHING (recorded before acting).
class FakeProvider : public Provider {
public:
  explicit FakeProvider(std::filesystem::path db) : m_db(std::move(db)) {}
  std::string name() const override { return "fake"; }
  std::uint64_t capacity(const Plan&) const override { return m_capacity; }
  Expected<void> check(const Plan&) const override { return {}; }
  Expected<std::string> launch(const LaunchRequest& request) override {
    auto other = Store::open(m_db);
    EXPECT_TRUE(other.has_value());
    auto tasks = other->tasks(request.task.job_id);
    for (const auto& t : *tasks) {
      if (t.ref == request.task) {
        EXPECT_EQ(t.state, TaskState::launching) << "task " << t.ref.index << " launched before LAUNCHING was committed";
        EXPECT_FALSE(t.handle.has_value());
      }
    }
    launches.push_back(request);
    if (m_fail_launch) return Unexpected("no capacity in the fake");
    auto handle = "h" + std::to_string(request.task.job_id) + "_" + std::to_string(request.task.index) + "_" +
                  std::to_string(launches.size());
    statuses[handle] = {TaskState::running, std::nullopt, ""};
    return handle;
  }
  TaskStatus poll(const LaunchRequest&, const std::string& handle) override {
    events.push_back("poll " + handle);
    return statuses.at(handle);
  }
  void cancel(const LaunchRequest&, const std::string& handle) override {
    events.push_back("cancel " + handle);
    cancelled.push_back(handle);
    statuses[handle] = {TaskState::failed, 143, "killed by signal 15"};
  }
  Expected<std::optional<std::string>> recover_launch(const LaunchRequest& request) override {
    recovered.push_back(request);
    if (m_recover_error) return Unexpected("cannot tell");
    return m_recover_handle;
  }
  void wait_for_change(int) override {}

  // Ends the running attempt of job_index with the given state.
  void end(std::uint64_t job, std::uint64_t index, TaskState state, std::optional<int> exit_code) {
    for (auto it = launches.rbegin(); it != launches.rend(); ++it) {
      if (it->task.job_id == job && it->task.index == index) {
        auto handle = "h" + std::to_string(job) + "_" + std::to_string(index) + "_" +
                      std::to_string(launches.size() - static_cast<std::size_t>(it - launches.rbegin()));
        statuses[handle] = {state, exit_code, ""};
        return;
      }
    }
    ADD_FAILURE() << "task " << job << "_" << index << " was never launched";
  }

  std::uint64_t m_capacity = 1000;
  bool m_fail_launch = false;
  bool m_recover_error = false;
  std::optional<std::string> m_recover_handle;
  std::vector<LaunchRequest> launches;
  std::vector<LaunchRequest> recovered;
  std::vector<std::string> cancelled;
  std::vector<std::string> events;  // "poll h1_0_1", "cancel h1_0_1" in call order
  std::map<std::string, TaskStatus> statuses;

private:
  std::filesystem::path m_db;
};

Plan plan_of(std::optional<std::string> array = std::nullopt, std::optional<std::string> dependency = std::nullopt) {
  Plan p;
  p.job_name = "job";
  p.script_text = "#!/bin/bash\ntrue\n";
  if (array) p.array = *slurm::parse_array(*array, 1000001);
  if (dependency) p.dependency = *slurm::parse_dependency(*dependency).value();
  return p;
}

struct Fixture : ::testing::Test {
  TempDir dir;
  Store store = *Store::open(dir.path / "state.db");
  FakeProvider provider{dir.path / "state.db"};
  std::int64_t clock = 1000;
  std::vector<std::unique_ptr<Plan>> plans;
  std::vector<std::unique_ptr<Engine>> engines;

  // Submits a plan and returns its engine (recover() already called).
  Engine& submit(Plan plan, const std::string& name = "job") {
    plan.job_name = name;
    NewJob j;
    j.name = name;
    j.user = "alice";
    j.provider = "fake";
    j.plan_document = "{}";
    j.is_array = plan.array.has_value();
    j.indices = plan.array ? plan.array->indices() : std::vector<std::uint64_t>{0};
    j.kill_on_invalid_dep = plan.kill_on_invalid_dep;
    j.requeue = plan.requeue;
    auto id = store.create_job(j, clock);
    EXPECT_TRUE(id.has_value()) << id.error();
    plans.push_back(std::make_unique<Plan>(std::move(plan)));
    EngineOptions options{dir.path / "jobs" / std::to_string(*id), [this] { return clock; }, 64};
    engines.push_back(std::make_unique<Engine>(store, provider, **store.job(*id), *plans.back(), options));
    EXPECT_TRUE(engines.back()->recover().has_value());
    return *engines.back();
  }
  bool step(Engine& e) {
    auto r = e.step();
    EXPECT_TRUE(r.has_value()) << r.error();
    return r.value_or(false);
  }
  std::vector<TaskRecord> tasks(std::uint64_t job) { return *store.tasks(job); }
  TaskRecord task(std::uint64_t job, std::uint64_t index) {
    for (const auto& t : tasks(job))
      if (t.ref.index == index) return t;
    ADD_FAILURE() << "no task " << index;
    return {};
  }
  std::uint64_t count(std::uint64_t job, TaskState state) {
    std::uint64_t n = 0;
    for (const auto& t : tasks(job)) n += t.state == state;
    return n;
  }
};

using EngineTest = Fixture;

} // namespace

TEST_F(EngineTest, SingleTaskRunsAndCompletes) {
  auto& e = submit(plan_of());
  EXPECT_FALSE(step(e));
  EXPECT_EQ(task(1, 0).state, TaskState::running);
  EXPECT_EQ(task(1, 0).handle, "h1_0_1");
  EXPECT_EQ(task(1, 0).start_time, 1000);
  clock = 1005;
  provider.end(1, 0, TaskState::completed, 0);
  EXPECT_TRUE(step(e));
  auto t = task(1, 0);
  EXPECT_EQ(t.state, TaskState::completed);
  EXPECT_EQ(t.exit_code, 0);
  EXPECT_EQ(t.end_time, 1005);
  EXPECT_EQ(t.reason, "exit 0");
  // The log holds every transition in order.
  std::vector<std::pair<TaskState, TaskState>> seen;
  auto log = *store.transitions(1);
  for (const auto& r : log) seen.emplace_back(r.from, r.to);
  std::vector<std::pair<TaskState, TaskState>> expected{{TaskState::pending, TaskState::pending},
                                                        {TaskState::pending, TaskState::launching},
                                                        {TaskState::launching, TaskState::running},
                                                        {TaskState::running, TaskState::completed}};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(job_exit_status(tasks(1)), 0);
}

TEST_F(EngineTest, LaunchRequestCarriesIdsAndStateDirectory) {
  auto& e = submit(plan_of("3-5"));
  step(e);
  ASSERT_EQ(provider.launches.size(), 3u);
  EXPECT_EQ(provider.launches[0].task, (TaskRef{1, 3}));
  EXPECT_EQ(provider.launches[0].task_job_id, 1u);  // the first task shares the array's id
  EXPECT_EQ(provider.launches[1].task_job_id, 2u);
  EXPECT_EQ(provider.launches[2].task_job_id, 3u);
  EXPECT_EQ(provider.launches[2].state_dir, dir.path / "jobs" / "1" / "5.1");
  EXPECT_TRUE(std::filesystem::is_directory(provider.launches[2].state_dir));
  // The next job's id comes after every task id of this one.
  auto& next = submit(plan_of());
  (void)next;
  EXPECT_TRUE(store.job(4)->has_value());
}

TEST_F(EngineTest, ThrottleLimitsConcurrency) {
  provider.m_capacity = 5;
  auto plan = plan_of("0-9%3");
  plan.max_concurrent = 4;
  auto& e = submit(std::move(plan));
  step(e);
  EXPECT_EQ(count(1, TaskState::running), 3u);
  EXPECT_EQ(task(1, 9).reason, "JobArrayTaskLimit");
  provider.end(1, 0, TaskState::completed, 0);
  step(e);
  EXPECT_EQ(count(1, TaskState::running), 3u);
  EXPECT_EQ(count(1, TaskState::completed), 1u);
  EXPECT_EQ(task(1, 3).state, TaskState::running);
}

TEST_F(EngineTest, MaxConcurrentAndCapacityLimitConcurrency) {
  provider.m_capacity = 5;
  auto plan = plan_of("0-9%8");
  plan.max_concurrent = 4;
  auto& e = submit(std::move(plan));
  step(e);
  EXPECT_EQ(count(1, TaskState::running), 4u);
  EXPECT_EQ(task(1, 9).reason, "JobArrayTaskLimit");

  provider.m_capacity = 2;
  auto& f = submit(plan_of("0-9"));
  step(f);
  EXPECT_EQ(count(11, TaskState::running), 2u);
  EXPECT_EQ(task(11, 9).reason, "Resources");
}

TEST_F(EngineTest, JobCompletesOnlyIfEveryTaskCompleted) {
  auto& e = submit(plan_of("0-2"));
  step(e);
  provider.end(1, 0, TaskState::completed, 0);
  provider.end(1, 1, TaskState::failed, 3);
  provider.end(1, 2, TaskState::failed, 7);
  EXPECT_TRUE(step(e));
  EXPECT_EQ(job_state(count_states(*store.state_counts(1))), TaskState::failed);
  EXPECT_EQ(job_exit_status(tasks(1)), 7);
  EXPECT_EQ(task(1, 1).reason, "exit 3");
}

TEST_F(EngineTest, TimeoutIsItsOwnState) {
  auto& e = submit(plan_of());
  step(e);
  provider.end(1, 0, TaskState::timeout, std::nullopt);
  EXPECT_TRUE(step(e));
  EXPECT_EQ(task(1, 0).state, TaskState::timeout);
  EXPECT_EQ(job_exit_status(tasks(1)), 1);
}

TEST_F(EngineTest, AfterOkWaitsThenRuns) {
  auto& a = submit(plan_of());
  auto& b = submit(plan_of(std::nullopt, "afterok:1"));
  step(a);
  step(b);
  EXPECT_EQ(task(2, 0).state, TaskState::pending);
  EXPECT_EQ(task(2, 0).reason, "Dependency");
  provider.end(1, 0, TaskState::completed, 0);
  step(a);
  step(b);
  EXPECT_EQ(task(2, 0).state, TaskState::running);
}

TEST_F(EngineTest, AfterOkOnAFailedJobIsNeverSatisfied) {
  auto& a = submit(plan_of());
  auto& b = submit(plan_of(std::nullopt, "afterok:1"));
  step(a);
  provider.end(1, 0, TaskState::failed, 1);
  step(a);
  EXPECT_FALSE(step(b));
  EXPECT_EQ(task(2, 0).state, TaskState::pending);
  EXPECT_EQ(task(2, 0).reason, "DependencyNeverSatisfied");
}

TEST_F(EngineTest, KillOnInvalidDepCancels) {
  auto& a = submit(plan_of());
  auto plan = plan_of("0-3", "afterok:1");
  plan.kill_on_invalid_dep = true;
  auto& b = submit(std::move(plan));
  step(a);
  provider.end(1, 0, TaskState::failed, 1);
  step(a);
  step(b);
  EXPECT_TRUE(step(b));
  EXPECT_EQ(count(2, TaskState::cancelled), 4u);
  EXPECT_EQ(task(2, 3).reason, "DependencyNeverSatisfied");
  EXPECT_TRUE(provider.launches.size() == 1u);
}

TEST_F(EngineTest, AfterNotOkRunsOnlyAfterAFailure) {
  auto& a = submit(plan_of());
  auto& b = submit(plan_of(std::nullopt, "afternotok:1"));
  auto& c = submit(plan_of());
  auto& d = submit(plan_of(std::nullopt, "afternotok:3"));
  step(a);
  step(c);
  provider.end(1, 0, TaskState::failed, 2);
  provider.end(3, 0, TaskState::completed, 0);
  step(a);
  step(c);
  step(b);
  step(d);
  EXPECT_EQ(task(2, 0).state, TaskState::running);
  EXPECT_EQ(task(4, 0).reason, "DependencyNeverSatisfied");
}

TEST_F(EngineTest, AfterWaitsForTheStartOnly) {
  auto& a = submit(plan_of());
  auto& b = submit(plan_of(std::nullopt, "after:1"));
  step(b);
  EXPECT_EQ(task(2, 0).reason, "Dependency");
  step(a);
  step(b);
  EXPECT_EQ(task(2, 0).state, TaskState::running);
  EXPECT_EQ(task(1, 0).state, TaskState::running);
}

TEST_F(EngineTest, AfterAnyAcceptsAnyEnd) {
  auto& a = submit(plan_of());
  auto& b = submit(plan_of(std::nullopt, "afterany:1"));
  step(a);
  step(b);
  EXPECT_EQ(task(2, 0).state, TaskState::pending);
  provider.end(1, 0, TaskState::failed, 9);
  step(a);
  step(b);
  EXPECT_EQ(task(2, 0).state, TaskState::running);
}

TEST_F(EngineTest, PlusMinutesDelaysAfterTheEvent) {
  auto& a = submit(plan_of());
  auto& b = submit(plan_of(std::nullopt, "afterany:1+2"));
  step(a);
  clock = 1010;
  provider.end(1, 0, TaskState::completed, 0);
  step(a);
  clock = 1010 + 119;
  step(b);
  EXPECT_EQ(task(2, 0).reason, "Dependency");
  clock = 1010 + 120;
  step(b);
  EXPECT_EQ(task(2, 0).state, TaskState::running);
}

TEST_F(EngineTest, AftercorrPairsTasksOfTwoArrays) {
  auto& a = submit(plan_of("0-3"));
  auto& b = submit(plan_of("0-3", "aftercorr:1"));
  step(a);
  provider.end(1, 1, TaskState::completed, 0);
  provider.end(1, 2, TaskState::failed, 1);
  step(a);
  step(b);
  EXPECT_EQ(task(5, 1).state, TaskState::running);
  EXPECT_EQ(task(5, 0).reason, "Dependency");
  EXPECT_EQ(task(5, 2).reason, "DependencyNeverSatisfied");
  EXPECT_EQ(task(5, 3).reason, "Dependency");
  provider.end(1, 0, TaskState::completed, 0);
  provider.end(1, 3, TaskState::completed, 0);
  step(a);
  step(b);
  EXPECT_EQ(task(5, 0).state, TaskState::running);
  EXPECT_EQ(task(5, 3).state, TaskState::running);
  EXPECT_EQ(task(5, 2).state, TaskState::pending);
}

TEST_F(EngineTest, SingletonWaitsForEarlierJobsOfTheSameNameAndUser) {
  auto& a = submit(plan_of(), "sweep");
  auto& other = submit(plan_of(), "other");
  auto& b = submit(plan_of(std::nullopt, "singleton"), "sweep");
  step(a);
  step(other);
  step(b);
  EXPECT_EQ(task(3, 0).reason, "Dependency");
  provider.end(1, 0, TaskState::failed, 1);
  step(a);
  step(b);
  EXPECT_EQ(task(3, 0).state, TaskState::running);
}

TEST_F(EngineTest, AllOfCommaAndAnyOfQuestionMark) {
  auto& a = submit(plan_of());
  auto& b = submit(plan_of());
  auto& all = submit(plan_of(std::nullopt, "afterok:1,afterok:2"));
  auto& any = submit(plan_of(std::nullopt, "afterok:1?afterok:2"));
  auto& any_never = submit(plan_of(std::nullopt, "afterok:1?afternotok:2"));
  step(a);
  step(b);
  provider.end(1, 0, TaskState::completed, 0);
  step(a);
  step(all);
  step(any);
  EXPECT_EQ(task(3, 0).reason, "Dependency");
  EXPECT_EQ(task(4, 0).state, TaskState::running);
  provider.end(2, 0, TaskState::failed, 1);
  step(b);
  step(all);
  step(any_never);
  EXPECT_EQ(task(3, 0).reason, "DependencyNeverSatisfied");
  EXPECT_EQ(task(5, 0).state, TaskState::running);  // afterok:1 holds, so one is enough
}

TEST_F(EngineTest, AnyOfIsNeverOnlyWhenEveryPartIsNever) {
  auto& a = submit(plan_of());
  auto& b = submit(plan_of(std::nullopt, "afterok:1?afternotok:1"));
  auto& c = submit(plan_of(std::nullopt, "afternotok:1?afternotok:1+5"));
  step(a);
  provider.end(1, 0, TaskState::completed, 0);
  step(a);
  step(b);
  step(c);
  EXPECT_EQ(task(2, 0).state, TaskState::running);
  EXPECT_EQ(task(3, 0).reason, "DependencyNeverSatisfied");
}

TEST_F(EngineTest, DependencyOnOneArrayTask) {
  auto& a = submit(plan_of("0-3"));
  auto& b = submit(plan_of(std::nullopt, "afterok:1_2"));
  auto& c = submit(plan_of(std::nullopt, "afterok:3"));  // job id 3 is task 1_2's own SLURM_JOB_ID
  step(a);
  provider.end(1, 2, TaskState::completed, 0);
  step(a);
  step(b);
  step(c);
  EXPECT_EQ(task(5, 0).state, TaskState::running);
  EXPECT_EQ(task(6, 0).state, TaskState::running);
}

TEST_F(EngineTest, PreemptedTaskIsRequeuedWithRestartCount) {
  auto plan = plan_of();
  plan.requeue = true;
  auto& e = submit(std::move(plan));
  step(e);
  provider.end(1, 0, TaskState::preempted, std::nullopt);
  step(e);
  auto t = task(1, 0);
  EXPECT_EQ(t.state, TaskState::running);
  EXPECT_EQ(t.restart_count, 1);
  ASSERT_EQ(provider.launches.size(), 2u);
  EXPECT_EQ(provider.launches[1].restart_count, 1);
  EXPECT_EQ(provider.launches[1].state_dir, dir.path / "jobs" / "1" / "0.2");
  provider.end(1, 0, TaskState::completed, 0);
  EXPECT_TRUE(step(e));
  EXPECT_EQ(task(1, 0).state, TaskState::completed);
}

TEST_F(EngineTest, PreemptedWithoutRequeueEndsPreempted) {
  auto& e = submit(plan_of());
  step(e);
  provider.end(1, 0, TaskState::preempted, std::nullopt);
  EXPECT_TRUE(step(e));
  EXPECT_EQ(task(1, 0).state, TaskState::preempted);
  EXPECT_EQ(job_exit_status(tasks(1)), 1);
}

TEST_F(EngineTest, LostTaskIsRequeuedButAFailedExitIsNot) {
  auto plan = plan_of("0-1");
  plan.requeue = true;
  auto& e = submit(std::move(plan));
  step(e);
  provider.end(1, 0, TaskState::failed, std::nullopt);  // no exit code: the node was lost
  provider.end(1, 1, TaskState::failed, 4);
  step(e);
  EXPECT_EQ(task(1, 0).restart_count, 1);
  EXPECT_EQ(task(1, 0).state, TaskState::running);
  EXPECT_EQ(task(1, 1).state, TaskState::failed);
  EXPECT_EQ(task(1, 1).restart_count, 0);
}

TEST_F(EngineTest, RequeueStopsAfterTheLimit) {
  auto plan = plan_of();
  plan.requeue = true;
  auto& e = submit(std::move(plan));
  for (int i = 0; i <= k_max_requeue; ++i) {
    step(e);
    provider.end(1, 0, TaskState::preempted, std::nullopt);
  }
  EXPECT_TRUE(step(e));
  EXPECT_EQ(task(1, 0).state, TaskState::preempted);
  EXPECT_EQ(task(1, 0).restart_count, k_max_requeue);
}

TEST_F(EngineTest, CancelEndsPendingAndSignalsRunning) {
  provider.m_capacity = 2;
  auto& e = submit(plan_of("0-4"));
  step(e);
  ASSERT_TRUE(store.request_cancel(1, std::nullopt).has_value());
  EXPECT_TRUE(step(e));
  EXPECT_EQ(count(1, TaskState::cancelled), 5u);
  EXPECT_EQ(provider.cancelled.size(), 2u);
  EXPECT_EQ(provider.launches.size(), 2u);
  EXPECT_EQ(job_state(count_states(*store.state_counts(1))), TaskState::cancelled);
}

TEST_F(EngineTest, CancelsOfAPassReachTheProviderBeforeItsPolls) {
  // EC2 terminates many instances in one call: the provider must see every cancel before the poll that sends it.
  auto& e = submit(plan_of("0-3"));
  step(e);
  provider.events.clear();
  ASSERT_TRUE(store.request_cancel(1, std::nullopt).has_value());
  EXPECT_TRUE(step(e));
  ASSERT_EQ(provider.events.size(), 8u) << ::testing::PrintToString(provider.events);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(provider.events[i].starts_with("cancel ")) << provider.events[i];
    EXPECT_TRUE(provider.events[i + 4].starts_with("poll ")) << provider.events[i + 4];
  }
  EXPECT_EQ(count(1, TaskState::cancelled), 4u);
}

TEST_F(EngineTest, CancelOneTask) {
  auto& e = submit(plan_of("0-2"));
  step(e);
  ASSERT_TRUE(store.request_cancel(1, 1).has_value());
  step(e);
  EXPECT_EQ(task(1, 1).state, TaskState::cancelled);
  EXPECT_EQ(task(1, 0).state, TaskState::running);
}

TEST_F(EngineTest, LaunchFailureIsRecordedWithTheTaskId) {
  provider.m_fail_launch = true;
  auto& e = submit(plan_of("4-4"));
  EXPECT_FALSE(step(e));
  EXPECT_TRUE(step(e));
  EXPECT_EQ(task(1, 4).state, TaskState::failed);
  EXPECT_EQ(task(1, 4).reason, "launch of task 1_4 failed: no capacity in the fake");
}

// A crash between "LAUNCHING" and the handle: the store says LAUNCHING with no handle.
struct RecoverTest : Fixture {
  std::uint64_t crashed_job() {
    NewJob j;
    j.name = "job";
    j.user = "alice";
    j.provider = "fake";
    j.plan_document = "{}";
    j.indices = {0};
    auto id = *store.create_job(j, clock);
    EXPECT_EQ(*store.apply({{{id, 0}, TaskState::pending, TaskState::launching, ""}}, clock), std::vector<bool>{true});
    return id;
  }
  Engine& resume(std::uint64_t id) {
    plans.push_back(std::make_unique<Plan>(plan_of()));
    EngineOptions options{dir.path / "jobs" / std::to_string(id), [this] { return clock; }, 64};
    engines.push_back(std::make_unique<Engine>(store, provider, **store.job(id), *plans.back(), options));
    EXPECT_TRUE(engines.back()->recover().has_value());
    return *engines.back();
  }
};

TEST_F(RecoverTest, NeverStartedIsLaunchedAgain) {
  auto id = crashed_job();
  auto& e = resume(id);
  ASSERT_EQ(provider.recovered.size(), 1u);
  EXPECT_EQ(provider.recovered[0].state_dir, dir.path / "jobs" / "1" / "0.1");
  EXPECT_EQ(task(id, 0).state, TaskState::pending);
  step(e);
  EXPECT_EQ(task(id, 0).state, TaskState::running);
  EXPECT_EQ(task(id, 0).restart_count, 0);  // not a requeue: the task never ran
  EXPECT_EQ(provider.launches.at(0).state_dir, dir.path / "jobs" / "1" / "0.2");
}

TEST_F(RecoverTest, StartedIsPolledNotLaunched) {
  auto id = crashed_job();
  provider.m_recover_handle = "h-found";
  provider.statuses["h-found"] = {TaskState::running, std::nullopt, ""};
  auto& e = resume(id);
  EXPECT_EQ(task(id, 0).state, TaskState::running);
  EXPECT_EQ(task(id, 0).handle, "h-found");
  provider.statuses["h-found"] = {TaskState::completed, 0, ""};
  EXPECT_TRUE(step(e));
  EXPECT_TRUE(provider.launches.empty());
  EXPECT_EQ(task(id, 0).state, TaskState::completed);
}

TEST_F(RecoverTest, UnknownOutcomeFailsRatherThanRunsTwice) {
  auto id = crashed_job();
  provider.m_recover_error = true;
  auto& e = resume(id);
  EXPECT_TRUE(step(e));
  EXPECT_TRUE(provider.launches.empty());
  EXPECT_EQ(task(id, 0).state, TaskState::failed);
  EXPECT_NE(task(id, 0).reason.find("cannot tell whether task 1 started"), std::string::npos);
}

TEST_F(RecoverTest, RunningTasksArePolledThroughTheirHandle) {
  auto& e = submit(plan_of("0-1"));
  step(e);
  // A new supervisor (as after kill -9) takes over from the records alone.
  auto& again = resume(1);
  provider.end(1, 0, TaskState::completed, 0);
  provider.end(1, 1, TaskState::failed, 2);
  EXPECT_TRUE(step(again));
  EXPECT_EQ(provider.launches.size(), 2u);
  EXPECT_EQ(task(1, 1).state, TaskState::failed);
}

TEST(EngineClaim, FirstClaimDecides) {
  TempDir dir;
  ASSERT_EQ(claim_start(dir.path, "pid:42"), true);
  EXPECT_EQ(*abandon_launch(dir.path), std::optional<std::string>("pid:42"));
  TempDir other;
  EXPECT_EQ(*abandon_launch(other.path), std::nullopt);
  EXPECT_EQ(claim_start(other.path, "pid:43"), false);
  EXPECT_EQ(*abandon_launch(other.path), std::nullopt);
}

TEST(EngineClaim, DefaultRecoverUsesTheClaimOnlyWhenMarked) {
  TempDir dir;
  struct P : FakeProvider {
    using FakeProvider::FakeProvider;
    Expected<std::optional<std::string>> recover_launch(const LaunchRequest& r) override {
      return Provider::recover_launch(r);
    }
  } p{dir.path / "x.db"};
  LaunchRequest r;
  r.state_dir = dir.path;
  EXPECT_FALSE(p.recover_launch(r).has_value());
  ASSERT_TRUE(mark_uses_claim(dir.path).has_value());
  EXPECT_EQ(*p.recover_launch(r), std::nullopt);
}

TEST(EngineSummary, ArrayStateAndExitStatus) {
  EXPECT_EQ(job_state(count_states({{TaskState::pending, 3}, {TaskState::running, 1}})), TaskState::running);
  EXPECT_EQ(job_state(count_states({{TaskState::pending, 3}, {TaskState::completed, 1}})), TaskState::pending);
  EXPECT_EQ(job_state(count_states({{TaskState::completed, 4}})), TaskState::completed);
  EXPECT_EQ(job_state(count_states({{TaskState::completed, 3}, {TaskState::timeout, 1}})), TaskState::timeout);
  EXPECT_EQ(job_state(count_states({{TaskState::failed, 3}, {TaskState::cancelled, 1}})), TaskState::cancelled);
}
