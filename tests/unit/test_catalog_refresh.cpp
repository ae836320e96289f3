// The refresh's pure parts: merging one region into a catalog, and turning DescribeInstanceTypes,
// DescribeSpotPriceHistory and Price List answers into catalog facts.
#include <gtest/gtest.h>

#include "catalog/catalog.hpp"
#include "catalog/refresh.hpp"
#include "cli/catalog_refresh.hpp"

using namespace spawn;
using namespace spawn::catalog;

namespace {

Catalog parse(const std::string& text) {
  auto c = Catalog::parse(text, "test");
  if (!c) throw std::runtime_error(c.error());
  return std::move(*c);
}

const std::string k_base = "spawn-catalog 1\n"
                           "provider aws\n"
                           "snapshot 2026-01-02\n"
                           "source snapshot.csv\n"
                           "type c5.large c5 x86_64 2 4096 none 0 - 0 -\n"
                           "price eu-west-1 0.096 euw1-az1=0.04\n"
                           "price us-east-1 0.085 use1-az1=0.03 use1-az2=0.05\n"
                           "type p4de.24xlarge p4de x86_64 96 1179648 nvidia-gpu 8 A100-80GB 81920 -\n"
                           "price us-east-1 40.96 use1-az1=12\n"
                           "type m4.large m4 x86_64 2 8192 none 0 - 0 -\n"
                           "price us-east-1 0.1 use1-az1=0.04\n"
                           "end\n";

InstanceType type(std::string name, std::uint32_t vcpus, std::uint64_t mib) {
  InstanceType t;
  t.name = std::move(name);
  t.family = t.name.substr(0, t.name.find('.'));
  t.vcpus = vcpus;
  t.memory_mib = mib;
  return t;
}

RegionPrice price(std::optional<MicroDollars> on_demand, std::vector<ZoneSpotPrice> zones) {
  RegionPrice p;
  p.on_demand_per_hour = on_demand;
  p.zones = std::move(zones);
  return p;
}

} // namespace

TEST(CatalogRefresh, MergeReplacesOneRegionAndKeepsTheOthers) {
  const Catalog base = parse(k_base);
  RegionSnapshot snap;
  snap.region = "us-east-1";
  snap.types = {type("c5.large", 2, 4096), type("c7i.large", 2, 4096)};
  snap.prices = {price(90000, {{"use1-az4", 31000}, {"use1-az1", 33000}}), price(89250, {})};
  auto merged = merge_region(base, snap, "2026-03-04", "/cache/aws-ec2.catalog");
  ASSERT_TRUE(merged) << merged.error();
  EXPECT_EQ(merged->snapshot_date(), "2026-03-04");
  EXPECT_EQ(merged->origin(), "/cache/aws-ec2.catalog");
  // The refreshed region holds exactly what the refresh saw (m4.large and p4de are no longer offered there).
  const RegionPrice* c5 = merged->find_price("c5.large", "us-east-1");
  ASSERT_NE(c5, nullptr);
  EXPECT_EQ(c5->on_demand_per_hour, 90000);
  ASSERT_EQ(c5->zones.size(), 2u);
  EXPECT_EQ(c5->zones[0].zone, "use1-az1");  // sorted by zone id
  EXPECT_EQ(c5->spot_per_hour, 31000);       // lower median of 31000 and 33000
  EXPECT_NE(merged->find_price("c7i.large", "us-east-1"), nullptr);
  EXPECT_EQ(merged->find_price("m4.large", "us-east-1"), nullptr);
  EXPECT_EQ(merged->find_price("p4de.24xlarge", "us-east-1"), nullptr);
  // Another region is untouched.
  const RegionPrice* eu = merged->find_price("c5.large", "eu-west-1");
  ASSERT_NE(eu, nullptr);
  EXPECT_EQ(eu->on_demand_per_hour, 96000);
  EXPECT_EQ(refreshed_regions(*merged), (std::vector<std::pair<std::string, std::string>>{{"us-east-1", "2026-03-04"}}));
  EXPECT_EQ(merged->source(), "refresh us-east-1=2026-03-04; base 2026-01-02 snapshot.csv");
  // The written file reads back the same.
  auto again = Catalog::parse(write_catalog(*merged), "again");
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(write_catalog(*again), write_catalog(*merged));

  // A second region later: both refreshes are recorded, the first region's prices stay.
  RegionSnapshot eu_snap;
  eu_snap.region = "eu-west-1";
  eu_snap.types = {type("c5.large", 2, 4096)};
  eu_snap.prices = {price(99000, {})};
  auto second = merge_region(*again, eu_snap, "2026-03-05", "/cache/aws-ec2.catalog");
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(second->find_price("c5.large", "us-east-1")->on_demand_per_hour, 90000);
  EXPECT_EQ(second->find_price("c5.large", "eu-west-1")->on_demand_per_hour, 99000);
  EXPECT_EQ(second->snapshot_date(), "2026-03-05");
  EXPECT_EQ(second->source(), "refresh eu-west-1=2026-03-05 us-east-1=2026-03-04; base 2026-01-02 snapshot.csv");
}

TEST(CatalogRefresh, KnownTypesKeepTheirAcceleratorNamesNewFactsWin) {
  const Catalog base = parse(k_base);
  RegionSnapshot snap;
  snap.region = "eu-west-1";
  InstanceType p4de = type("p4de.24xlarge", 96, 1179648);
  p4de.accelerator_kind = AcceleratorKind::nvidia_gpu;
  p4de.accelerator_count = 8;
  p4de.accelerator_model = "A100";  // as AWS names it
  InstanceType m4 = type("m4.large", 2, 8192);
  m4.previous_generation = true;  // AWS's own flag replaces the snapshot's judgement
  snap.types = {p4de, m4};
  snap.prices = {price(45000000, {}), price(111000, {})};
  auto merged = merge_region(base, snap, "2026-03-04", "cache");
  ASSERT_TRUE(merged) << merged.error();
  const InstanceType* gpu = merged->find_type("p4de.24xlarge");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->accelerator_model, "A100-80GB");
  EXPECT_EQ(gpu->accelerator_memory_mib, 81920u);
  EXPECT_TRUE(merged->find_type("m4.large")->previous_generation);
  // The us-east-1 prices of those types were not part of this refresh and stay.
  EXPECT_NE(merged->find_price("p4de.24xlarge", "us-east-1"), nullptr);
}

TEST(CatalogRefresh, MismatchedSnapshotIsAnError) {
  RegionSnapshot snap;
  snap.region = "us-east-1";
  snap.types = {type("c5.large", 2, 4096)};
  auto merged = merge_region(parse(k_base), snap, "2026-03-04", "cache");
  ASSERT_FALSE(merged);
  EXPECT_EQ(merged.error(), "refresh of us-east-1: 1 types but 0 prices");
  snap.prices = {price(1, {})};
  EXPECT_FALSE(merge_region(parse(k_base), snap, "March", "cache"));
}

TEST(CatalogRefresh, InstanceTypeFactsFromDescribeInstanceTypes) {
  aws::InstanceTypeInfo info;
  info.instance_type = "g5g.xlarge";
  info.current_generation = true;
  info.vcpus = 4;
  info.memory_mib = 8192;
  info.architectures = {"arm64"};
  info.accelerators = {{"gpu", "T4g", "NVIDIA", 1, 16384}};
  InstanceType t = cli::instance_type_from_api(info);
  EXPECT_EQ(t.family, "g5g");
  EXPECT_EQ(t.arch, Arch::arm64);
  EXPECT_EQ(t.accelerator_kind, AcceleratorKind::nvidia_gpu);
  EXPECT_EQ(t.accelerator_count, 1u);
  EXPECT_EQ(t.accelerator_model, "T4g");
  EXPECT_FALSE(t.previous_generation);

  info = {};
  info.instance_type = "p4de.24xlarge";
  info.architectures = {"x86_64"};
  info.accelerators = {{"gpu", "A100", "NVIDIA", 8, 81920}};
  t = cli::instance_type_from_api(info);
  EXPECT_EQ(t.accelerator_model, "A100-80GB");
  EXPECT_TRUE(t.previous_generation);  // CurrentGeneration false

  info = {};
  info.instance_type = "trn1.32xlarge";
  info.current_generation = true;
  info.architectures = {"x86_64"};
  info.accelerators = {{"neuron", "Trainium", "", 16, 32768}};
  EXPECT_EQ(cli::instance_type_from_api(info).accelerator_kind, AcceleratorKind::trainium);
  info.accelerators = {{"inference", "Inferentia", "AWS", 1, 0}};
  EXPECT_EQ(cli::instance_type_from_api(info).accelerator_kind, AcceleratorKind::inferentia);
  info.accelerators = {{"media", "U30", "Xilinx", 1, 0}};
  EXPECT_EQ(cli::instance_type_from_api(info).accelerator_kind, AcceleratorKind::video);

  info = {};
  info.instance_type = "mac2.metal";
  info.architectures = {"arm64_mac"};
  info.burstable = false;
  t = cli::instance_type_from_api(info);
  EXPECT_TRUE(t.macos);
  EXPECT_EQ(t.arch, Arch::arm64);
  info.instance_type = "t3.micro";
  info.architectures = {"i386", "x86_64"};
  info.burstable = true;
  t = cli::instance_type_from_api(info);
  EXPECT_TRUE(t.burstable);
  EXPECT_EQ(t.arch, Arch::x86_64);
}

TEST(CatalogRefresh, LatestLinuxSpotPricePerTypeAndZoneId) {
  std::vector<aws::SpotPrice> history = {
      {"c5.large", "us-east-1a", "Linux/UNIX", "0.040000", "2026-03-03T10:00:00.000Z"},
      {"c5.large", "us-east-1a", "Linux/UNIX", "0.035000", "2026-03-04T10:00:00.000Z"},  // newer: wins
      {"c5.large", "us-east-1a", "Windows", "0.090000", "2026-03-04T11:00:00.000Z"},     // not Linux
      {"c5.large", "us-east-1b", "Linux/UNIX", "0.031200", "2026-03-04T09:00:00.000Z"},
      {"c5.large", "us-east-1z", "Linux/UNIX", "0.050000", "2026-03-04T09:00:00.000Z"},  // unknown zone: its name
      {"m5.large", "us-east-1b", "Linux/UNIX", "cheap", "2026-03-04T09:00:00.000Z"},     // unreadable: skipped
  };
  auto spot = cli::latest_spot_prices(history, {{"us-east-1a", "use1-az4"}, {"us-east-1b", "use1-az1"}});
  ASSERT_EQ(spot.size(), 1u);
  const auto& zones = spot.at("c5.large");
  ASSERT_EQ(zones.size(), 3u);
  EXPECT_EQ(zones[0].zone, "us-east-1z");  // sorted by zone ("-" sorts before "1")
  EXPECT_EQ(zones[1].zone, "use1-az1");
  EXPECT_EQ(zones[1].spot_per_hour, 31200);
  EXPECT_EQ(zones[2].zone, "use1-az4");
  EXPECT_EQ(zones[2].spot_per_hour, 35000);
}

TEST(CatalogRefresh, OnDemandPriceOnlyFromTheOrdinaryLinuxProduct) {
  auto product = [](std::string type, std::string os, std::string tenancy, std::string sw, std::string capacity,
                    std::string usd) {
    return nlohmann::json{
        {"product", {{"attributes", {{"instanceType", type}, {"operatingSystem", os}, {"tenancy", tenancy},
                                     {"preInstalledSw", sw}, {"capacitystatus", capacity}}}}},
        {"terms", {{"OnDemand", {{"T1", {{"priceDimensions", {{"D1", {{"unit", "Hrs"}, {"pricePerUnit", {{"USD", usd}}}}}}}}}}}}}};
  };
  std::vector<nlohmann::json> products = {
      product("c5.large", "Windows", "Shared", "NA", "Used", "0.1770000000"),
      product("c5.large", "Linux", "Dedicated", "NA", "Used", "0.0940000000"),
      product("c5.large", "Linux", "Shared", "NA", "Used", "0.0850000000"),
      product("c5.large", "Linux", "Shared", "SQL Web", "Used", "0.1100000000"),
      product("c5.large", "Linux", "Shared", "NA", "UnusedCapacityReservation", "0.0000000000"),
      product("m5.large", "Linux", "Shared", "NA", "Used", "0.0000000000"),
  };
  auto prices = cli::on_demand_prices(products);
  ASSERT_EQ(prices.size(), 1u);
  EXPECT_EQ(prices.at("c5.large"), 85000);
}
