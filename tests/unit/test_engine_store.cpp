// The state store: WAL, two connections, monotonic ids, compare-and-set transitions.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sqlite3.h>
#include <unistd.h>

#include "engine/store.hpp"

using namespace spawn;
using namespace spawn::engine;

namespace {
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "spawn-store-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

NewJob job_of(std::vector<std::uint64_t> indices, const std::string& name = "sweep") {
  NewJob j;
  j.name = name;
  j.user = "alice";
  j.provider = "local";
  j.plan_document = R"({"job":{}})";
  j.dependency = "afterok:1";
  j.is_array = indices.size() > 1;
  j.indices = std::move(indices);
  return j;
}
} // namespace

TEST(EngineStore, CreatesTheFileInWalMode) {
  TempDir dir;
  auto store = Store::open(dir.path / "sub" / "state.db");
  ASSERT_TRUE(store.has_value()) << store.error();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path / "sub" / "state.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST(EngineStore, IdsAreMonotonicAndArrayTasksTakeTheirOwn) {
  TempDir dir;
  auto store = *Store::open(dir.path / "state.db");
  EXPECT_EQ(*store.create_job(job_of({0}), 100), 1u);
  EXPECT_EQ(*store.create_job(job_of({1, 3, 5}), 100), 2u);
  EXPECT_EQ(*store.create_job(job_of({0}), 100), 5u);
  auto tasks = *store.tasks(2);
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].task_job_id, 2u);
  EXPECT_EQ(tasks[2].task_job_id, 4u);
  EXPECT_EQ(tasks[2].ref.index, 5u);
  EXPECT_EQ(*store.find_task_job_id(3), (std::optional<TaskRef>(TaskRef{2, 3})));
  // Reopening keeps counting from where it was.
  auto again = *Store::open(dir.path / "state.db");
  EXPECT_EQ(*again.create_job(job_of({0}), 100), 6u);
  auto jobs = *again.jobs();
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].id, 6u);  // newest first
  EXPECT_EQ(jobs[1].dependency, "afterok:1");
  EXPECT_EQ(jobs[1].plan_document, R"({"job":{}})");
}

TEST(EngineStore, TwoConnectionsSeeEachOthersCommits) {
  TempDir dir;
  auto a = *Store::open(dir.path / "state.db");
  auto b = *Store::open(dir.path / "state.db");
  auto id = *a.create_job(job_of({0}), 10);
  ASSERT_TRUE((*b.job(id)).has_value());
  EXPECT_EQ(*b.apply({{{id, 0}, TaskState::pending, TaskState::launching, ""}}, 11), std::vector<bool>{true});
  EXPECT_EQ((*a.tasks(id))[0].state, TaskState::launching);
  EXPECT_EQ((*a.tasks(id))[0].launch_time, 11);
  EXPECT_EQ((*a.tasks(id))[0].attempt, 1u);
}

TEST(EngineStore, TransitionsAreCompareAndSet) {
  TempDir dir;
  auto store = *Store::open(dir.path / "state.db");
  auto id = *store.create_job(job_of({0, 1}), 10);
  auto r = *store.apply({{{id, 0}, TaskState::pending, TaskState::launching, ""},
                         {{id, 0}, TaskState::pending, TaskState::launching, ""},
                         {{id, 1}, TaskState::running, TaskState::completed, ""}},
                        11);
  EXPECT_EQ(r, (std::vector<bool>{true, false, false}));
  EXPECT_EQ(store.transitions(id)->size(), 2u);  // submitted + one launching
}

TEST(EngineStore, RequeueCountsRestartsAndClearsTheAttempt) {
  TempDir dir;
  auto store = *Store::open(dir.path / "state.db");
  auto id = *store.create_job(job_of({0}), 10);
  ASSERT_TRUE(store.apply({{{id, 0}, TaskState::pending, TaskState::launching, ""},
                           {{id, 0}, TaskState::launching, TaskState::running, "", std::nullopt, "pid:1"},
                           {{id, 0}, TaskState::running, TaskState::preempted, "spot interruption"},
                           {{id, 0}, TaskState::preempted, TaskState::pending, "requeued", std::nullopt, std::nullopt, true}},
                          12)
                  .has_value());
  auto t = (*store.tasks(id))[0];
  EXPECT_EQ(t.state, TaskState::pending);
  EXPECT_EQ(t.restart_count, 1);
  EXPECT_FALSE(t.handle.has_value());
  EXPECT_FALSE(t.start_time.has_value());
  auto log = *store.transitions(id);
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log.back().restart_count, 1);
  EXPECT_EQ(log[3].reason, "spot interruption");
}

TEST(EngineStore, PendingReasonAndCancelRequests) {
  TempDir dir;
  auto store = *Store::open(dir.path / "state.db");
  auto id = *store.create_job(job_of({0, 1, 2}), 10);
  std::vector<std::uint64_t> only{2};
  ASSERT_TRUE(store.set_pending_reason(id, "Dependency").has_value());
  ASSERT_TRUE(store.set_pending_reason(id, "JobArrayTaskLimit", &only).has_value());
  auto tasks = *store.tasks(id);
  EXPECT_EQ(tasks[0].reason, "Dependency");
  EXPECT_EQ(tasks[2].reason, "JobArrayTaskLimit");
  ASSERT_TRUE(store.request_cancel(id, 1).has_value());
  EXPECT_TRUE((*store.tasks(id))[1].cancel_requested);
  EXPECT_FALSE((*store.job(id))->cancel_requested);
  ASSERT_TRUE(store.request_cancel(id, std::nullopt).has_value());
  EXPECT_TRUE((*store.job(id))->cancel_requested);
}

TEST(EngineStore, DataHomeFollowsSpawnHome) {
  ::setenv("SPAWN_HOME", "/tmp/spawn-home-test", 1);
  EXPECT_EQ(default_state_path(), std::filesystem::path("/tmp/spawn-home-test/state.db"));
  ::unsetenv("SPAWN_HOME");
  ::setenv("XDG_DATA_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(default_state_path(), std::filesystem::path("/tmp/xdg/spawn/state.db"));
  ::unsetenv("XDG_DATA_HOME");
}
