#include <gtest/gtest.h>

#include "providers/aws/bootstrap.hpp"
#include "providers/aws/pools.hpp"

using namespace spawn;
using namespace spawn::providers::aws;

TEST(AwsPools, RanksTypesThenZonesThenOnDemandFallback) {
  auto pools = rank_pools({"c5.large", "c5.xlarge"}, {{"us-east-1a", "subnet-a"}, {"us-east-1b", std::nullopt}},
                          Market::spot, true);
  std::vector<std::string> names;
  for (const auto& p : pools) names.push_back(describe(p));
  EXPECT_EQ(names, (std::vector<std::string>{
                       "c5.large/us-east-1a/spot", "c5.large/us-east-1b/spot", "c5.xlarge/us-east-1a/spot",
                       "c5.xlarge/us-east-1b/spot", "c5.large/us-east-1a/on-demand", "c5.large/us-east-1b/on-demand",
                       "c5.xlarge/us-east-1a/on-demand", "c5.xlarge/us-east-1b/on-demand"}));
  EXPECT_EQ(pools[0].subnet, std::optional<std::string>("subnet-a"));
}

TEST(AwsPools, NoZonesLetsEc2ChooseAndNoFallbackWithoutTheOption) {
  auto pools = rank_pools({"m5.large"}, {}, Market::spot, false);
  ASSERT_EQ(pools.size(), 1u);
  EXPECT_EQ(describe(pools[0]), "m5.large/any zone/spot");
  EXPECT_EQ(rank_pools({"m5.large"}, {}, Market::on_demand, true).size(), 1u);
}

TEST(AwsPools, CooldownSkipsAFailedPoolUntilItEnds) {
  auto pools = rank_pools({"a.large", "b.large"}, {}, Market::spot, false);
  Cooldown cooldown(600);
  EXPECT_EQ(cooldown.first_available(pools, 1000)->instance_type, "a.large");
  cooldown.fail(pools[0], 1000, "InsufficientInstanceCapacity");
  EXPECT_EQ(cooldown.first_available(pools, 1001)->instance_type, "b.large");
  EXPECT_EQ(cooldown.reason(pools[0]), "InsufficientInstanceCapacity");
  cooldown.fail(pools[1], 1001, "partial fill (3 of 5)");
  EXPECT_FALSE(cooldown.first_available(pools, 1599).has_value());
  EXPECT_EQ(cooldown.first_available(pools, 1600)->instance_type, "a.large");
}

TEST(AwsPools, LaunchBucketAsAwsRefillsIt) {
  LaunchBucket bucket(1000, 2);
  EXPECT_EQ(bucket.available(0), 1000u);
  bucket.take(1000, 0);
  EXPECT_EQ(bucket.available(0), 0u);
  EXPECT_DOUBLE_EQ(bucket.wait_for(1, 0), 0.5);
  EXPECT_DOUBLE_EQ(bucket.wait_for(64, 0), 32.0);
  EXPECT_EQ(bucket.available(10), 20u);        // 2 per second
  bucket.take(20, 10);
  EXPECT_EQ(bucket.available(10.4), 0u);       // 0.8 of an instance
  EXPECT_EQ(bucket.available(10.5), 1u);
  EXPECT_EQ(bucket.available(10000), 1000u);   // never above the capacity
  EXPECT_DOUBLE_EQ(bucket.wait_for(5000, 10000), 0.0);  // asks beyond the capacity wait for a full bucket only
  bucket.take(5000, 10000);                    // a grant larger than the estimate (another limit) empties it
  EXPECT_EQ(bucket.available(10000), 0u);
}

TEST(AwsPools, BatchSizes) {
  EXPECT_EQ(batch_sizes(1000, 500), (std::vector<std::size_t>{500, 500}));
  EXPECT_EQ(batch_sizes(20, 500), (std::vector<std::size_t>{20}));
  EXPECT_EQ(batch_sizes(7, 3), (std::vector<std::size_t>{3, 3, 1}));
  EXPECT_TRUE(batch_sizes(0, 3).empty());
}

TEST(AwsBootstrap, UserDataIsSmallAndCarriesOnlyTheManifestUrl) {
  BootstrapSettings s;
  s.manifest_url = "https://b.s3.amazonaws.com/m?X-Amz-Signature=abc";
  s.backstop_minutes = 12;
  auto script = bootstrap_script(s);
  EXPECT_NE(script.find("manifest_url='https://b.s3.amazonaws.com/m?X-Amz-Signature=abc'"), std::string::npos);
  EXPECT_NE(script.find("backstop_minutes=12"), std::string::npos);
  auto packed = gzip_bytes(script);
  ASSERT_TRUE(packed);
  EXPECT_LT(packed->size(), 16u * 1024);
  EXPECT_EQ(static_cast<unsigned char>((*packed)[0]), 0x1f);
}

TEST(AwsBootstrap, ManifestLines) {
  ManifestEntry e;
  e.launch_index = 2;
  e.task_name = "7.1";
  e.bundle_url = "B";
  e.marker_url = "M";
  e.log_url = "L";
  e.outputs = {{"@SPAWN_ROOT@/work/slurm-3_7.out", "O"}};
  EXPECT_EQ(manifest_text({e}), "2\t7.1\tB\tM\tL\t@SPAWN_ROOT@/work/slurm-3_7.out\tO\n");
}
