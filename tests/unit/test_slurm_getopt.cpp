#include <gtest/gtest.h>

#include <set>

#include "slurm/options.hpp"

using namespace spawn::slurm;

namespace {
GetoptResult run(std::vector<std::string> words) {
  std::vector<ArgToken> args;
  for (auto& w : words) args.push_back({w, 1});
  return getopt_long(args);
}
std::string summary(const GetoptResult& r) {
  std::string out;
  for (const auto& o : r.options) out += std::string(o.spec->long_name) + "=" + o.value.value_or("<none>") + ";";
  for (const auto& e : r.errors) out += "error:" + e.second + ";";
  return out;
}
} // namespace

TEST(SlurmGetopt, ShortOptionsAttachedSeparateAndClustered) {
  EXPECT_EQ(summary(run({"-N2", "-t", "5", "-HJname"})), "nodes=2;time=5;hold=<none>;job-name=name;");
}

TEST(SlurmGetopt, LongOptionsEqualsOrNextWord) {
  EXPECT_EQ(summary(run({"--nodes", "2", "--time=10"})), "nodes=2;time=10;");
}

TEST(SlurmGetopt, UniquePrefixesAndAmbiguity) {
  EXPECT_EQ(summary(run({"--part=debug", "--mem-per-c=1G"})), "partition=debug;mem-per-cpu=1G;");
  EXPECT_EQ(summary(run({"--cpus=2"})),
            "error:option '--cpus' is ambiguous; possibilities: '--cpus-per-gpu' '--cpus-per-task';");
  EXPECT_EQ(summary(run({"--tasks-per-node=2"})), "tasks-per-node=2;");
}

TEST(SlurmGetopt, OptionalArgumentsOnlyWithEquals) {
  auto r = run({"--exclusive", "user"});
  EXPECT_EQ(summary(r), "exclusive=<none>;");
  EXPECT_EQ(r.stopped_at, 1u);  // "user" is a stray word
  EXPECT_EQ(summary(run({"--exclusive=user"})), "exclusive=user;");
}

TEST(SlurmGetopt, ErrorsAreCollected) {
  EXPECT_EQ(summary(run({"--foo", "--hold=1", "-y", "--time"})),
            "error:unrecognized option '--foo';error:option '--hold' doesn't allow an argument;error:invalid option -- "
            "'y';error:option '--time' requires an argument;");
}

TEST(SlurmGetopt, StopsAtFirstNonOptionAndAfterDoubleDash) {
  auto r = run({"-N1", "job.sbatch", "-N2"});
  EXPECT_EQ(r.stopped_at, 1u);
  r = run({"-N1", "--", "-N2"});
  EXPECT_EQ(r.stopped_at, 2u);
}

TEST(SlurmGetopt, EveryOptionHasAUniqueLongName) {
  std::set<std::string_view> names;
  for (const auto& o : option_table()) EXPECT_TRUE(names.insert(o.long_name).second) << o.long_name;
  EXPECT_GE(option_table().size(), 106u);
}
