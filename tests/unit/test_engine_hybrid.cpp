// The engine with a provider per task (a hybrid job: part of an array on a cluster, the rest in a cloud): each task
// is launched, polled and cancelled through the provider its record names, each provider has its own capacity, the
// array's throttle bounds the job as a whole; stores made before tasks had a provider gain the column.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sqlite3.h>
#include <unistd.h>

#include "engine/engine.hpp"
#include "engine/store.hpp"
#include "slurm/grammar.hpp"

using namespace spawn;
using namespace spawn::engine;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "spawn-engine-hybrid-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Tasks run until the test ends them; launch_many records each group it was handed.
class NamedFake : public Provider {
public:
  explicit NamedFake(std::string name, std::uint64_t capacity = 1000) : m_name(std::move(name)), m_capacity(capacity) {}
  std::string name() const override { return m_name; }
  std::uint64_t capacity(const Plan&) const override { return m_capacity; }
  Expected<void> check(const Plan&) const override { return {}; }
  Expected<std::string> launch(const LaunchRequest& request) override {
    auto handle = m_name + ":" + std::to_string(request.task.index);
    statuses[handle] = {TaskState::running, std::nullopt, ""};
    return handle;
  }
  std::vector<Expected<std::string>> launch_many(const std::vector<LaunchRequest>& requests) override {
    std::vector<std::uint64_t> group;
    for (const auto& r : requests) group.push_back(r.task.index);
    groups.push_back(group);
    return Provider::launch_many(requests);
  }
  TaskStatus poll(const LaunchRequest&, const std::string& handle) override { return statuses.at(handle); }
  void cancel(const LaunchRequest&, const std::string& handle) override {
    cancelled.push_back(handle);
    statuses[handle] = {TaskState::cancelled, 143, "cancelled"};
  }
  void wait_for_change(int) override {}
  void end(std::uint64_t index, TaskState state, int exit_code) {
    statuses[m_name + ":" + std::to_string(index)] = {state, exit_code, ""};
  }

  std::vector<std::vector<std::uint64_t>> groups;
  std::vector<std::string> cancelled;
  std::map<std::string, TaskStatus> statuses;

private:
  std::string m_name;
  std::uint64_t m_capacity;
};

struct HybridEngine : ::testing::Test {
  TempDir dir;
  Store store = *Store::open(dir.path / "state.db");
  NamedFake cluster{"slurm"};
  NamedFake cloud{"local"};
  Plan plan;
  std::unique_ptr<Engine> engine;
  std::uint64_t id = 0;

  // An array split as given: provider names per index (in index order).
  void submit(const std::string& array, const std::vector<std::string>& providers) {
    plan.job_name = "split";
    plan.array = *slurm::parse_array(array, 1000001);
    NewJob j;
    j.name = "split";
    j.user = "alice";
    j.provider = "slurm";
    j.plan_document = "{}";
    j.is_array = true;
    j.indices = plan.array->indices();
    j.task_providers = providers;
    auto created = store.create_job(j, 1000);
    ASSERT_TRUE(created) << created.error();
    id = *created;
    engine = std::make_unique<Engine>(store, cluster, **store.job(id), plan,
                                      EngineOptions{dir.path / "jobs" / std::to_string(id), [] { return std::int64_t{1000}; }, 64});
    engine->add_provider(cloud);
    ASSERT_TRUE(engine->recover());
  }
  bool step() {
    auto r = engine->step();
    EXPECT_TRUE(r) << r.error();
    return r.value_or(false);
  }
  TaskRecord task(std::uint64_t index) {
    auto all = *store.tasks(id);
    for (const auto& t : all)
      if (t.ref.index == index) return t;
    ADD_FAILURE() << "no task " << index;
    return {};
  }
};

const std::vector<std::string> k_half = {"slurm", "slurm", "slurm", "local", "local", "local"};

} // namespace

TEST_F(HybridEngine, EachTaskRunsOnTheProviderItsRecordNames) {
  submit("0-5", k_half);
  EXPECT_FALSE(step());
  EXPECT_EQ(cluster.groups, (std::vector<std::vector<std::uint64_t>>{{0, 1, 2}}));  // one group: one sbatch
  EXPECT_EQ(cloud.groups, (std::vector<std::vector<std::uint64_t>>{{3, 4, 5}}));
  EXPECT_EQ(task(1).handle, "slurm:1");
  EXPECT_EQ(task(4).handle, "local:4");
  EXPECT_EQ(task(4).provider, "local");
  for (std::uint64_t i = 0; i < 3; ++i) cluster.end(i, TaskState::completed, 0);
  cloud.end(3, TaskState::completed, 0);
  cloud.end(4, TaskState::failed, 4);
  cloud.end(5, TaskState::completed, 0);
  EXPECT_TRUE(step());
  EXPECT_EQ(task(4).state, TaskState::failed);
  EXPECT_EQ(task(4).exit_code, 4);
  EXPECT_EQ(task(2).state, TaskState::completed);
  EXPECT_EQ(*store.task_providers(id), (std::vector<std::string>{"local", "slurm"}));
}

TEST_F(HybridEngine, CapacityIsPerProvider) {
  cloud = NamedFake("local", 1);
  submit("0-5", k_half);
  step();
  EXPECT_EQ(cluster.groups, (std::vector<std::vector<std::uint64_t>>{{0, 1, 2}}));
  EXPECT_EQ(cloud.groups, (std::vector<std::vector<std::uint64_t>>{{3}}));
  EXPECT_EQ(task(4).state, TaskState::pending);
  EXPECT_EQ(task(4).reason, "Resources");
  cloud.end(3, TaskState::completed, 0);
  step();
  EXPECT_EQ(cloud.groups.back(), (std::vector<std::uint64_t>{4}));
}

TEST_F(HybridEngine, TheArrayThrottleBoundsTheWholeJob) {
  submit("0-5%2", k_half);
  step();
  EXPECT_EQ(cluster.groups, (std::vector<std::vector<std::uint64_t>>{{0, 1}}));
  EXPECT_TRUE(cloud.groups.empty());
  EXPECT_EQ(task(3).reason, "JobArrayTaskLimit");
  cluster.end(0, TaskState::completed, 0);
  cluster.end(1, TaskState::completed, 0);
  step();
  EXPECT_EQ(cluster.groups.back(), (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(cloud.groups, (std::vector<std::vector<std::uint64_t>>{{3}}));
}

TEST_F(HybridEngine, CancelReachesEachTasksProvider) {
  submit("0-3", {"slurm", "slurm", "local", "local"});
  step();
  ASSERT_TRUE(store.request_cancel(id, std::nullopt));
  EXPECT_TRUE(step());
  EXPECT_EQ(cluster.cancelled, (std::vector<std::string>{"slurm:0", "slurm:1"}));
  EXPECT_EQ(cloud.cancelled, (std::vector<std::string>{"local:2", "local:3"}));
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_EQ(task(i).state, TaskState::cancelled) << i;
}

TEST_F(HybridEngine, ATaskNamingAnAbsentProviderFails) {
  submit("0-1", {"slurm", "gone"});
  step();
  EXPECT_EQ(task(1).state, TaskState::failed);
  EXPECT_EQ(task(1).reason, "launch of task " + std::to_string(id) + "_1 failed: provider gone is not available");
  EXPECT_EQ(task(0).state, TaskState::running);
}

TEST(StoreMigration, AStoreWithoutTaskProvidersGainsTheColumn) {
  TempDir dir;
  auto path = dir.path / "state.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  // The tasks table as the first schema made it.
  ASSERT_EQ(sqlite3_exec(db, R"sql(CREATE TABLE tasks (job_id INTEGER NOT NULL, idx INTEGER NOT NULL, state TEXT NOT NULL,
      reason TEXT NOT NULL DEFAULT '', exit_code INTEGER, restart_count INTEGER NOT NULL DEFAULT 0,
      attempt INTEGER NOT NULL DEFAULT 0, handle TEXT, task_job_id INTEGER NOT NULL, submit_time INTEGER NOT NULL,
      launch_time INTEGER, start_time INTEGER, end_time INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (job_id, idx)) WITHOUT ROWID)sql", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = Store::open(path);
  ASSERT_TRUE(store) << store.error();
  NewJob j;
  j.name = "old";
  j.user = "alice";
  j.provider = "local";
  j.plan_document = "{}";
  j.indices = {0};
  auto id = store->create_job(j, 1);
  ASSERT_TRUE(id) << id.error();
  EXPECT_FALSE(store->tasks(*id)->front().provider.has_value());
  EXPECT_TRUE(Store::open(path).has_value());  // and opening it again changes nothing
}
