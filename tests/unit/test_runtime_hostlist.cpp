#include <gtest/gtest.h>

#include "runtime/hostlist.hpp"

using namespace spawn::runtime;

TEST(RuntimeHostlist, CompressesConsecutiveNumbersIntoRanges) {
  EXPECT_EQ(compress_hostlist({"spawn-0", "spawn-1", "spawn-2", "spawn-3"}), "spawn-[0-3]");
  EXPECT_EQ(compress_hostlist({"spawn-0", "spawn-1", "spawn-3"}), "spawn-[0-1,3]");
  EXPECT_EQ(compress_hostlist({"node001", "node002"}), "node[001-002]");
}

// Each expectation is what `scontrol show hostlist` (Slurm 22.05) prints for the same names.
TEST(RuntimeHostlist, WidthsAsSlurmGroupsThem) {
  EXPECT_EQ(compress_hostlist({"n9", "n10"}), "n[9-10]");
  EXPECT_EQ(compress_hostlist({"n9", "n10", "n11"}), "n[9-11]");
  EXPECT_EQ(compress_hostlist({"n98", "n99", "n100", "n101"}), "n[98-101]");
  EXPECT_EQ(compress_hostlist({"n09", "n10"}), "n[09-10]");
  EXPECT_EQ(compress_hostlist({"n9", "n010"}), "n[9,010]");
  EXPECT_EQ(compress_hostlist({"n099", "n100", "n1000"}), "n[099-100,1000]");
  EXPECT_EQ(compress_hostlist({"n1", "n01"}), "n[1,01]");
  EXPECT_EQ(compress_hostlist({"n10", "n9"}), "n[10,9]");
  EXPECT_EQ(compress_hostlist({"n1", "n2", "n10", "n11"}), "n[1-2,10-11]");
  // EC2's IP-based host names of one cohort.
  EXPECT_EQ(compress_hostlist({"ip-10-0-0-5", "ip-10-0-0-10", "ip-10-0-1-7"}), "ip-10-0-0-[5,10],ip-10-0-1-7");
}

TEST(RuntimeHostlist, SingleAndUnnumberedNamesStayAsTheyAre) {
  EXPECT_EQ(compress_hostlist({"vm"}), "vm");
  EXPECT_EQ(compress_hostlist({"spawn-7"}), "spawn-7");
  EXPECT_EQ(compress_hostlist({"a", "b"}), "a,b");
  EXPECT_EQ(compress_hostlist({"n1", "m1", "m2"}), "n1,m[1-2]");
  EXPECT_EQ(compress_hostlist({}), "");
}

TEST(RuntimeHostlist, ExpandsWhatItCompresses) {
  EXPECT_EQ(expand_hostlist("spawn-[0-1,3]"), (std::vector<std::string>{"spawn-0", "spawn-1", "spawn-3"}));
  EXPECT_EQ(expand_hostlist("node[001-002],vm"), (std::vector<std::string>{"node001", "node002", "vm"}));
  EXPECT_EQ(expand_hostlist("a,b"), (std::vector<std::string>{"a", "b"}));
}

TEST(RuntimeHostlist, CountsUseSlurmsRepeatForm) {
  EXPECT_EQ(compress_counts({16, 16, 16, 16}), "16(x4)");
  EXPECT_EQ(compress_counts({2, 1}), "2,1");
  EXPECT_EQ(compress_counts({3, 3, 1}), "3(x2),1");
  EXPECT_EQ(compress_counts({1}), "1");
}

TEST(RuntimeHostlist, DistributesTasksInBlocks) {
  EXPECT_EQ(distribute_tasks(5, 2), (std::vector<std::uint32_t>{3, 2}));
  EXPECT_EQ(distribute_tasks(8, 4), (std::vector<std::uint32_t>{2, 2, 2, 2}));
  EXPECT_EQ(distribute_tasks(1, 1), (std::vector<std::uint32_t>{1}));
}
