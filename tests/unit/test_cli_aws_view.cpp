// What status, cost and the progress line say an aws job cost: each attempt's instance time (60 s minimum) x the
// catalog price of its pool, from the provider's records in the job's directory (no AWS call without `live`).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "catalog/catalog.hpp"
#include "cli/aws_view.hpp"
#include "engine/engine.hpp"
#include "providers/aws/watch.hpp"

using namespace spawn;
namespace watch = spawn::providers::aws;

namespace {

struct AwsViewTest : ::testing::Test {
  std::filesystem::path dir;
  engine::JobRecord job;
  Plan plan;
  MicroDollars spot = 0, on_demand = 0;

  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "spawn-aws-view-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
    ::setenv("SPAWN_HOME", (dir / "home").c_str(), 1);
    ::setenv("XDG_CACHE_HOME", (dir / "cache").c_str(), 1);  // the built-in catalog, not a user's refreshed one
    job.id = 7;
    job.name = "sweep";
    job.provider = "aws";
    job.is_array = true;
    plan.region = "us-east-1";
    auto catalog = catalog::load_catalog();
    ASSERT_TRUE(catalog.has_value()) << catalog.error();
    const auto* price = catalog->find_price("c5.large", "us-east-1");
    ASSERT_NE(price, nullptr);
    spot = *price->price(Market::spot);
    on_demand = *price->price(Market::on_demand);
  }
  void TearDown() override {
    ::unsetenv("SPAWN_HOME");
    ::unsetenv("XDG_CACHE_HOME");
    std::filesystem::remove_all(dir);
  }
  std::filesystem::path attempt_dir(std::uint64_t index, std::uint32_t attempt) {
    auto d = engine::job_directory(engine::data_home(), job.id) / (std::to_string(index) + "." + std::to_string(attempt));
    std::filesystem::create_directories(d);
    return d;
  }
  engine::TaskRecord task(std::uint64_t index, TaskState state, std::uint32_t attempt) {
    engine::TaskRecord t;
    t.ref = {job.id, index};
    t.state = state;
    t.attempt = attempt;
    return t;
  }
  static MicroDollars cost(MicroDollars per_hour, std::int64_t seconds) {
    return static_cast<MicroDollars>(std::llround(static_cast<double>(per_hour) * static_cast<double>(seconds) / 3600.0));
  }
};

TEST_F(AwsViewTest, EveryAttemptIsBilledItsInstanceTimeAtItsPoolsPrice) {
  const std::int64_t now = 1'800'000'000;
  // Task 0: a 30 s on-demand attempt (billed the 60 s minimum), then two hours on spot.
  watch::record_instance_start(attempt_dir(0, 1), {"i-01", "c5.large", "us-east-1a", Market::on_demand, 1000, std::nullopt, 1});
  watch::record_instance_end(attempt_dir(0, 1), 1030);
  watch::record_instance_start(attempt_dir(0, 2), {"i-02", "c5.large", "us-east-1b", Market::spot, 2000, std::nullopt, 1});
  watch::record_instance_end(attempt_dir(0, 2), 2000 + 7200);
  watch::record_instance_end(attempt_dir(0, 2), 99'999);  // a later sighting keeps the first end
  // Task 1: running for half an hour.
  watch::record_instance_start(attempt_dir(1, 1), {"i-11", "c5.large", "us-east-1c", Market::spot, now - 1800, std::nullopt, 1});
  // Task 2: pending, never launched. Task 3: on another provider (a hybrid job's cluster half).
  auto other = task(3, TaskState::completed, 1);
  other.provider = "slurm";
  std::vector<engine::TaskRecord> tasks = {task(0, TaskState::completed, 2), task(1, TaskState::running, 1),
                                           task(2, TaskState::pending, 0), other};

  auto view = cli::aws_job_view(job, plan, tasks, false, now);
  ASSERT_EQ(view.tasks.size(), 3u);
  EXPECT_TRUE(view.problems.empty()) << view.problems.front();
  const auto& t0 = view.tasks[0];
  EXPECT_EQ(t0.id, "7_0");
  EXPECT_EQ(t0.instance_id, "i-02");
  EXPECT_EQ(t0.zone, "us-east-1b");
  EXPECT_EQ(t0.market, "spot");
  EXPECT_EQ(t0.billed_seconds, 60 + 7200);
  EXPECT_EQ(t0.cost, cost(on_demand, 60) + cost(spot, 7200));
  EXPECT_EQ(t0.price_per_hour, spot);
  EXPECT_FALSE(t0.billing);
  const auto& t1 = view.tasks[1];
  EXPECT_EQ(t1.billed_seconds, 1800);
  EXPECT_EQ(t1.cost, cost(spot, 1800));
  EXPECT_TRUE(t1.billing);
  EXPECT_EQ(cli::aws_node_text(t1), "i-11 (c5.large us-east-1c spot)");
  const auto& t2 = view.tasks[2];
  EXPECT_EQ(t2.cost, 0);
  EXPECT_EQ(cli::aws_node_text(t2), "None");
  EXPECT_EQ(view.total, t0.cost + t1.cost);
  EXPECT_EQ(view.billing, 1u);
  EXPECT_GT(view.total, 0);
}

TEST_F(AwsViewTest, AMultiNodeTaskPaysForEachOfItsInstances) {
  watch::record_instance_start(attempt_dir(0, 1),
                               {"i-a,i-b,i-c", "c5.large", "us-east-1a", Market::on_demand, 1000, std::nullopt, 3});
  watch::record_instance_end(attempt_dir(0, 1), 1600);
  auto view = cli::aws_job_view(job, plan, {task(0, TaskState::completed, 1)}, false, 5000);
  ASSERT_EQ(view.tasks.size(), 1u);
  EXPECT_EQ(view.tasks[0].billed_seconds, 3 * 600);
  EXPECT_EQ(view.total, cost(on_demand, 1800));
}

TEST_F(AwsViewTest, ATypeWithoutAPriceIsNamedNotGuessed) {
  watch::record_instance_start(attempt_dir(0, 1), {"i-01", "no.such", "us-east-1a", Market::spot, 1000, std::nullopt, 1});
  watch::record_instance_end(attempt_dir(0, 1), 5000);
  auto view = cli::aws_job_view(job, plan, {task(0, TaskState::completed, 1)}, false, 6000);
  ASSERT_EQ(view.problems.size(), 1u);
  EXPECT_NE(view.problems[0].find("no.such has no spot price in us-east-1"), std::string::npos) << view.problems[0];
  EXPECT_EQ(view.total, 0);
  EXPECT_EQ(view.tasks[0].billed_seconds, 4000);
  EXPECT_FALSE(view.tasks[0].price_per_hour.has_value());
}

} // namespace
