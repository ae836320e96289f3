#include <gtest/gtest.h>

#include "config/values.hpp"

using namespace spawn::config;

TEST(ConfigValues, DurationAcceptsGoStyleAndPlainSeconds) {
  EXPECT_EQ(parse_duration("4h"), 14400);
  EXPECT_EQ(parse_duration("90m"), 5400);
  EXPECT_EQ(parse_duration("1h30m"), 5400);
  EXPECT_EQ(parse_duration("45s"), 45);
  EXPECT_EQ(parse_duration("90"), 90);
  EXPECT_EQ(parse_duration("1.5h"), 5400);
  EXPECT_EQ(parse_duration("2d"), 172800);
  EXPECT_EQ(parse_duration("1h0m5s"), 3605);
}

TEST(ConfigValues, DurationRejectsMissingUnitsAndOtherUnits) {
  for (const char* bad : {"", "4 hours", "1h30", "5ms", "-1h", "h", "1.h", "4H"}) {
    auto parsed = parse_duration(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error(), std::string("expected a duration like 4h, 90m, 1h30m or 45s, got \"") + bad + "\"");
  }
}

TEST(ConfigValues, DurationRangeIsOneDurationOrTwo) {
  EXPECT_EQ(parse_duration_range("2h-24h"), (DurationRange{7200, 86400}));
  EXPECT_EQ(parse_duration_range("4h"), (DurationRange{14400, 14400}));
  EXPECT_EQ(parse_duration_range("24h-2h").error(), "expected the shorter duration first, got \"24h-2h\"");
  EXPECT_EQ(parse_duration_range("2h-").error(), "expected a duration or a range like 2h-24h, got \"2h-\"");
}

TEST(ConfigValues, DurationFormatsLargestUnitsFirst) {
  EXPECT_EQ(format_duration(5400), "1h30m");
  EXPECT_EQ(format_duration(90), "1m30s");
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(90000), "1d1h");
  EXPECT_EQ(format_duration_range({7200, 86400}), "2h-1d");
}

TEST(ConfigValues, DollarsAreMicroDollars) {
  EXPECT_EQ(parse_dollars("0.02"), 20000);
  EXPECT_EQ(parse_dollars("$1.5"), 1500000);
  EXPECT_EQ(parse_dollars("3"), 3000000);
  EXPECT_EQ(parse_dollars("0.000001"), 1);
  EXPECT_EQ(parse_dollars("0.0000001").error(), "expected an amount in dollars like 0.02, got \"0.0000001\"");
  EXPECT_EQ(parse_dollars("-1").error(), "expected an amount in dollars like 0.02, got \"-1\"");
  EXPECT_EQ(format_dollars(20000), "0.02");
  EXPECT_EQ(format_dollars(3000000), "3");
  EXPECT_EQ(format_dollars(1), "0.000001");
}

TEST(ConfigValues, MemoryIsMibWithSlurmUnits) {
  EXPECT_EQ(parse_memory_mib("512"), 512u);
  EXPECT_EQ(parse_memory_mib("64G"), 65536u);
  EXPECT_EQ(parse_memory_mib("64GB"), 65536u);
  EXPECT_EQ(parse_memory_mib("1t"), 1048576u);
  EXPECT_EQ(parse_memory_mib("100K"), 1u);
  EXPECT_EQ(parse_memory_mib("lots").error(), "expected a memory size like 512M or 64G, got \"lots\"");
  EXPECT_EQ(format_memory_mib(65536), "64G");
  EXPECT_EQ(format_memory_mib(1500), "1500M");
}

TEST(ConfigValues, RegionIsCheckedByShape) {
  for (const char* good : {"us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"}) {
    EXPECT_TRUE(parse_region(good)) << good;
  }
  for (const char* bad : {"us-east", "US-EAST-1", "useast1", "us-east-1a", "u-east-1"}) {
    auto parsed = parse_region(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error(), std::string("expected an AWS region like us-east-1, got \"") + bad + "\"");
  }
}

TEST(ConfigValues, AmiInstanceTypeAndFamily) {
  EXPECT_TRUE(parse_ami("ami-0123456789abcdef0"));
  EXPECT_TRUE(parse_ami("ami-12345678"));
  EXPECT_TRUE(parse_ami("resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"));
  EXPECT_EQ(parse_ami("ami-xyz").error(), "expected an AMI id like ami-0123456789abcdef0, got \"ami-xyz\"");
  EXPECT_TRUE(parse_instance_type("c7i.4xlarge"));
  EXPECT_TRUE(parse_instance_type("u-6tb1.metal"));
  EXPECT_TRUE(parse_instance_type("c7i.metal-24xl"));
  EXPECT_EQ(parse_instance_type("c7i").error(), "expected an instance type like c7i.4xlarge, got \"c7i\"");
  EXPECT_EQ(parse_family("C7i").error(), "expected an instance family like c7i, got \"C7i\"");
}

TEST(ConfigValues, BoolAndCount) {
  EXPECT_EQ(parse_bool("Yes"), true);
  EXPECT_EQ(parse_bool("off"), false);
  EXPECT_EQ(parse_bool("maybe").error(), "expected true or false, got \"maybe\"");
  EXPECT_EQ(parse_count("0", 1).error(), "expected a whole number of at least 1, got \"0\"");
  EXPECT_EQ(parse_count("-2", 0).error(), "expected a whole number, got \"-2\"");
  EXPECT_EQ(parse_count("4294967296", 0).error(), "expected a whole number, got \"4294967296\"");
}

TEST(ConfigValues, DidYouMeanFindsNearTyposOnly) {
  std::vector<std::string> keys = {"region", "spot", "max_concurrent", "architectures"};
  EXPECT_EQ(did_you_mean("regon", keys), "region");
  EXPECT_EQ(did_you_mean("spto", keys), "spot");
  EXPECT_EQ(did_you_mean("max_concurent", keys), "max_concurrent");
  EXPECT_EQ(did_you_mean("architecture", keys), "architectures");
  EXPECT_EQ(did_you_mean("colour", keys), std::nullopt);
}
