#include <gtest/gtest.h>

#include "slurm/grammar.hpp"

using namespace spawn;
using namespace spawn::slurm;

namespace {
std::uint32_t minutes(std::string_view s) {
  auto t = parse_time_limit(s);
  EXPECT_TRUE(t) << s << ": " << (t ? "" : t.error());
  return t && !t->unlimited ? t->minutes : 0;
}
bool unlimited(std::string_view s) {
  auto t = parse_time_limit(s);
  return t && t->unlimited;
}
} // namespace

TEST(SlurmTime, AllFormsAndRoundingUp) {
  EXPECT_EQ(minutes("5"), 5u);
  EXPECT_EQ(minutes("90"), 90u);
  EXPECT_EQ(minutes("1:30"), 2u);
  EXPECT_EQ(minutes("45:30"), 46u);
  EXPECT_EQ(minutes("45:00"), 45u);
  EXPECT_EQ(minutes("1:2:3"), 63u);
  EXPECT_EQ(minutes("02:00:00"), 120u);
  EXPECT_EQ(minutes("1-0"), 1440u);
  EXPECT_EQ(minutes("2-12"), 3600u);
  EXPECT_EQ(minutes("1-2:30"), 1590u);
  EXPECT_EQ(minutes("1-2:30:01"), 1591u);
  EXPECT_EQ(minutes("0:1"), 1u);
}

TEST(SlurmTime, ZeroAndUnlimitedMeanNoLimit) {
  EXPECT_TRUE(unlimited("0"));
  EXPECT_TRUE(unlimited("00:00:00"));
  EXPECT_TRUE(unlimited("UNLIMITED"));
  EXPECT_TRUE(unlimited("unlimited"));
  EXPECT_TRUE(unlimited("Infinite"));
  EXPECT_TRUE(unlimited("-1"));
}

TEST(SlurmTime, RejectsWithExpectedForms) {
  for (auto bad : {"5m", "2hours", "1::", "1:2-3", "", "1:2:3:4", "1-2-3", ":5", "a"}) {
    EXPECT_FALSE(parse_time_limit(bad)) << bad;
  }
  EXPECT_EQ(parse_time_limit("2hours").error(),
            "invalid value \"2hours\" (expected M, M:S, H:M:S, D-H, D-H:M, D-H:M:S or UNLIMITED)");
}

TEST(SlurmMemory, UnitsAndRounding) {
  EXPECT_EQ(*parse_megabytes("100"), 100u);
  EXPECT_EQ(*parse_megabytes("4G"), 4096u);
  EXPECT_EQ(*parse_megabytes("4g"), 4096u);
  EXPECT_EQ(*parse_megabytes("4GB"), 4096u);
  EXPECT_EQ(*parse_megabytes("2T"), 2u * 1024 * 1024);
  EXPECT_EQ(*parse_megabytes("1500K"), 2u);
  EXPECT_EQ(*parse_megabytes("2048K"), 2u);
  EXPECT_EQ(*parse_megabytes("16M"), 16u);
  EXPECT_EQ(*parse_megabytes("0"), 0u);
  for (auto bad : {"4.5G", "4GiB", "4P", "lots", "-1", "", "G"}) EXPECT_FALSE(parse_megabytes(bad)) << bad;
  EXPECT_EQ(parse_megabytes("4.5G").error(),
            "invalid value \"4.5G\" (expected a whole number with an optional unit K, M, G or T, e.g. 4G or 4000M)");
}

TEST(SlurmNodes, CountsAndRanges) {
  auto r = parse_nodes("2-4");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->min, 2u);
  EXPECT_EQ(r->max, 4u);
  r = parse_nodes("-4");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->min, 1u);
  EXPECT_EQ(r->max, 4u);
  r = parse_nodes("3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->min, 3u);
  EXPECT_EQ(r->max, 3u);
  EXPECT_FALSE(parse_nodes("4-2"));
  EXPECT_EQ(parse_nodes("4-2").error(), "invalid value \"4-2\": maximum node count 2 is less than minimum node count 4");
  EXPECT_FALSE(parse_nodes("two"));
  EXPECT_FALSE(parse_nodes("2x"));
}

TEST(SlurmInt, PositiveOnly) {
  EXPECT_EQ(*parse_positive_int("4"), 4u);
  EXPECT_EQ(*parse_positive_int("+4"), 4u);
  EXPECT_FALSE(parse_positive_int("0"));
  EXPECT_FALSE(parse_positive_int("-2"));
  EXPECT_FALSE(parse_positive_int("4x"));
  EXPECT_EQ(parse_positive_int("four").error(), "invalid value \"four\" (expected a positive whole number)");
}

TEST(SlurmArray, ListsRangesStepsAndThrottle) {
  auto a = parse_array("1-100%20", 1001);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->count, 100u);
  EXPECT_EQ(a->min, 1u);
  EXPECT_EQ(a->max, 100u);
  EXPECT_EQ(a->max_running, 20u);
  a = parse_array("0-90:10%3", 1001);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->indices(), (std::vector<std::uint64_t>{0, 10, 20, 30, 40, 50, 60, 70, 80, 90}));
  a = parse_array("1,3,5-7", 1001);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->indices(), (std::vector<std::uint64_t>{1, 3, 5, 6, 7}));
  EXPECT_FALSE(a->max_running);
  a = parse_array("7", 1001);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->count, 1u);
  a = parse_array("1-10:3", 1001);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->indices(), (std::vector<std::uint64_t>{1, 4, 7, 10}));
  EXPECT_EQ(a->max, 10u);
  a = parse_array("1-5,3-8", 1001);  // overlaps count once
  ASSERT_TRUE(a);
  EXPECT_EQ(a->count, 8u);
}

TEST(SlurmArray, RejectsWhatSlurmctldRejects) {
  for (auto bad : {"10-1", "1-10:0", "-1", "a", "1:2", "1-1001", "1001", "1-5x"}) {
    EXPECT_FALSE(parse_array(bad, 1001)) << bad;
  }
  EXPECT_EQ(parse_array("10-1", 1001).error(),
            "invalid value \"10-1\": \"10-1\" ends before it starts (expected indices N, ranges N-M or N-M:STEP "
            "separated by commas, optionally ending in %MAX_RUNNING; every index below 1001)");
}

TEST(SlurmArray, MillionTasksWithoutMaterialising) {
  auto a = parse_array("0-999999%100", 1000001);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->count, 1000000u);
  std::uint64_t n = 0, last = 0;
  for_each_index(*a, [&](std::uint64_t i) {
    ++n;
    last = i;
  });
  EXPECT_EQ(n, 1000000u);
  EXPECT_EQ(last, 999999u);
}

TEST(SlurmGres, TypedUntypedAndSeveral) {
  auto g = parse_gres("gpu:a100:2,mps:100");
  ASSERT_TRUE(g);
  ASSERT_EQ(g->size(), 2u);
  EXPECT_EQ((*g)[0].name, "gpu");
  EXPECT_EQ((*g)[0].type, "a100");
  EXPECT_EQ((*g)[0].count, 2u);
  EXPECT_EQ((*g)[1].name, "mps");
  EXPECT_FALSE((*g)[1].type);
  EXPECT_EQ((*g)[1].count, 100u);
  g = parse_gres("gpu:k80");
  ASSERT_TRUE(g);
  EXPECT_EQ((*g)[0].type, "k80");
  EXPECT_EQ((*g)[0].count, 1u);
  g = parse_gres("gpu");
  ASSERT_TRUE(g);
  EXPECT_EQ((*g)[0].count, 1u);
  EXPECT_FALSE(parse_gres("gpu:"));
  EXPECT_FALSE(parse_gres("gpu::1"));
}

TEST(SlurmGpus, TypeAndCount) {
  auto g = parse_gpus("a100:4");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->type, "a100");
  EXPECT_EQ(g->count, 4u);
  g = parse_gpus("2");
  ASSERT_TRUE(g);
  EXPECT_FALSE(g->type);
  EXPECT_FALSE(parse_gpus("a100"));
  EXPECT_FALSE(parse_gpus("0"));
}

TEST(SlurmDependency, EveryTypeAndSeparators) {
  auto d = parse_dependency("afterok:12345:12346,afterany:777+30,aftercorr:9_3,singleton");
  ASSERT_TRUE(d && *d);
  const auto& dep = **d;
  EXPECT_EQ(dep.mode, Dependency::Mode::all);
  ASSERT_EQ(dep.items.size(), 4u);
  EXPECT_EQ(dep.items[0].type, DependencyType::afterok);
  EXPECT_EQ(dep.items[0].jobs.size(), 2u);
  EXPECT_EQ(dep.items[1].jobs[0].minutes, 30u);
  EXPECT_EQ(dep.items[2].type, DependencyType::aftercorr);
  EXPECT_EQ(dep.items[2].jobs[0].task, "3");
  EXPECT_EQ(dep.items[3].type, DependencyType::singleton);
  d = parse_dependency("afterok:1?afternotok:2");
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->mode, Dependency::Mode::any);
  d = parse_dependency("123,456");
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->items[0].type, DependencyType::afterany);
  d = parse_dependency("AFTER:5");
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->items[0].type, DependencyType::after);
  d = parse_dependency("0");
  ASSERT_TRUE(d);
  EXPECT_FALSE(*d);
}

TEST(SlurmDependency, Rejects) {
  for (auto bad : {"afterok", "afterok:", "afterok:abc", "before:1", "afterok:1+0", "afterok:0", "123?456",
                   "123,afterok:4", "singletonx"}) {
    EXPECT_FALSE(parse_dependency(bad)) << bad;
  }
  EXPECT_EQ(parse_dependency("before:1").error(),
            "invalid value \"before:1\": unknown dependency type \"before\" (expected TYPE:JOBID[:JOBID...] items, TYPE "
            "one of after, afterany, afterok, afternotok, aftercorr, singleton, joined by ',' (all) or '?' (any))");
}

TEST(SlurmBegin, Forms) {
  for (auto ok : {"16:00", "4:00PM", "16:00:30", "0315", "031527", "03/15", "03/15/27", "2027-03-15",
                  "2027-03-15T12:30", "2027-03-15T12:30:45", "now", "now+1hour", "now+60", "now+2days", "today",
                  "tomorrow", "midnight", "noon", "teatime", "fika"}) {
    EXPECT_TRUE(check_begin(ok)) << ok;
  }
  for (auto bad : {"yesterday", "25:00", "13/01", "now+", "2027-13-01", "soon", ""}) {
    EXPECT_FALSE(check_begin(bad)) << bad;
  }
}

TEST(SlurmSignal, Forms) {
  auto s = parse_signal("B:USR1@120");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->batch_shell_only);
  EXPECT_EQ(s->number, 10);
  EXPECT_EQ(s->seconds_before, 120u);
  s = parse_signal("SIGTERM");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->number, 15);
  EXPECT_EQ(s->seconds_before, 60u);
  s = parse_signal("10@30");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->name, "USR1");
  s = parse_signal("RB:2");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->reservation);
  EXPECT_FALSE(parse_signal("FOO"));
  EXPECT_FALSE(parse_signal("USR1@x"));
}

TEST(SlurmMisc, OpenModeExclusiveMailTypeExport) {
  EXPECT_EQ(*parse_open_mode("append"), OpenMode::append);
  EXPECT_EQ(*parse_open_mode("T"), OpenMode::truncate);
  EXPECT_FALSE(parse_open_mode("x"));
  EXPECT_EQ(parse_exclusive(std::nullopt)->mode, Exclusive::exclusive);
  EXPECT_EQ(parse_exclusive(std::string_view("user"))->mode, Exclusive::user);
  EXPECT_EQ(parse_exclusive(std::string_view("MCS"))->mode, Exclusive::mcs);
  EXPECT_FALSE(parse_exclusive(std::string_view("nodes")));
  EXPECT_EQ(*parse_mail_types("BEGIN,end,bogus"), (std::vector<std::string>{"BEGIN", "END"}));
  EXPECT_TRUE(parse_mail_types("NONE")->empty());
  EXPECT_FALSE(parse_mail_types("bogus"));
  auto e = parse_export("NONE,PATH,FOO=bar");
  EXPECT_FALSE(e.all);
  ASSERT_EQ(e.variables.size(), 2u);
  EXPECT_EQ(e.variables[1].second, "bar");
}

TEST(SlurmHostlist, CountsDistinctHosts) {
  EXPECT_EQ(*count_hostlist("cn[01-04,07],gpu1"), 6u);
  EXPECT_EQ(*count_hostlist("a,a,b"), 2u);
  EXPECT_EQ(*count_hostlist("cloud[3-4]"), 2u);
  EXPECT_FALSE(count_hostlist("cn[4-1]"));
  EXPECT_FALSE(count_hostlist("cn[1-2"));
}
