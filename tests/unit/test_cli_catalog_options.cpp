#include <gtest/gtest.h>

#include "cli/catalog_options.hpp"

using namespace spawn;
using namespace spawn::cli;

namespace {

std::string error_of(const std::vector<std::string>& args) {
  auto parsed = parse_catalog_list_args(args);
  return parsed ? "(parsed)" : parsed.error();
}

std::uint64_t mib(std::string_view text) {
  auto v = parse_memory_mib("--mem", text);
  if (!v) throw std::runtime_error(v.error());
  return *v;
}

} // namespace

TEST(CliCatalogOptions, MemorySizesInTheUsualForms) {
  EXPECT_EQ(mib("16G"), 16384u);
  EXPECT_EQ(mib("16GB"), 16384u);
  EXPECT_EQ(mib("16gib"), 16384u);
  EXPECT_EQ(mib("16384M"), 16384u);
  EXPECT_EQ(mib("16384MB"), 16384u);
  EXPECT_EQ(mib("16384"), 16384u);  // bare number: MiB, as Slurm's --mem
  EXPECT_EQ(mib("1.5G"), 1536u);
  EXPECT_EQ(mib("1T"), 1048576u);
  EXPECT_EQ(mib("1500K"), 2u);      // rounded up
  EXPECT_EQ(mib("0"), 0u);
  for (const char* bad : {"", "G", "16X", "-1G", "16 G", "1.2.3G", "16GBB"}) {
    auto v = parse_memory_mib("--mem", bad);
    ASSERT_FALSE(v) << bad;
    EXPECT_EQ(v.error(), std::string("--mem: expected a size such as 16G, 16GB or 16384M, got \"") + bad + "\"");
  }
}

TEST(CliCatalogOptions, ParsesEveryOption) {
  auto parsed = parse_catalog_list_args({"--region", "eu-west-1", "--vcpus=8", "--mem", "16G", "--gpus", "1",
                                         "--gpu-type", "a10g", "--arch", "any", "--spot", "--limit", "0", "--json"});
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->region, "eu-west-1");
  EXPECT_EQ(parsed->requirements.vcpus, 8u);
  EXPECT_EQ(parsed->requirements.memory_mib, 16384u);
  EXPECT_EQ(parsed->requirements.gpus, 1u);
  EXPECT_EQ(parsed->requirements.gpu_model, "a10g");
  EXPECT_EQ(parsed->architectures, (std::vector<Arch>{Arch::x86_64, Arch::arm64}));
  EXPECT_EQ(parsed->market, Market::spot);
  EXPECT_EQ(parsed->limit, 0u);
  EXPECT_TRUE(parsed->json);
}

TEST(CliCatalogOptions, ListingLayersTheCommandLineOverTheConfigPolicy) {
  catalog::SelectionPolicy config;  // as plan::selection_policy would make it from the settings
  config.region = "eu-central-1";
  config.market = Market::spot;
  config.architectures = {Arch::x86_64, Arch::arm64};
  config.allowed_families = {"c7*"};

  auto defaults = parse_catalog_list_args({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->requirements.vcpus, 0u);
  EXPECT_EQ(defaults->limit, 20u);
  catalog::SelectionPolicy p = list_policy(*defaults, config);
  EXPECT_EQ(p.region, "eu-central-1");
  EXPECT_EQ(p.market, Market::on_demand);  // a listing quotes on-demand unless --spot
  EXPECT_EQ(p.architectures, (std::vector<Arch>{Arch::x86_64, Arch::arm64}));
  EXPECT_EQ(p.allowed_families, std::vector<std::string>{"c7*"});
  EXPECT_FALSE(p.allow_burstable);

  p = list_policy(*parse_catalog_list_args({"--region", "us-west-2", "--spot", "--arch", "x86_64"}), config);
  EXPECT_EQ(p.region, "us-west-2");
  EXPECT_EQ(p.market, Market::spot);
  EXPECT_EQ(p.architectures, std::vector<Arch>{Arch::x86_64});

  p = list_policy(*parse_catalog_list_args({"--all"}), config);
  EXPECT_TRUE(p.allow_burstable && p.allow_previous_generation && p.allow_macos && p.allow_unrequested_accelerators);
  EXPECT_TRUE(p.allowed_families.empty());
  EXPECT_EQ(p.architectures, (std::vector<Arch>{Arch::x86_64, Arch::arm64}));
  p = list_policy(*parse_catalog_list_args({"--all", "--arch", "arm64"}), config);
  EXPECT_EQ(p.architectures, std::vector<Arch>{Arch::arm64});
}

TEST(CliCatalogOptions, BadValuesNameOptionAndValue) {
  EXPECT_EQ(error_of({"--vcpus", "eight"}), "--vcpus: expected a whole number, got \"eight\"");
  EXPECT_EQ(error_of({"--gpus", "99999999999"}), "--gpus: expected a whole number up to 4294967295, got \"99999999999\"");
  EXPECT_EQ(error_of({"--arch", "sparc"}), "--arch: expected x86_64, arm64 or any, got \"sparc\"");
  EXPECT_EQ(error_of({"--region"}), "--region: needs a value");
  EXPECT_EQ(error_of({"--spot=yes"}), "--spot: takes no value (got \"yes\")");
  EXPECT_EQ(error_of({"--colour"}), "catalog list: unknown option \"--colour\" (see spawn catalog list --help)");
  EXPECT_EQ(error_of({"c5.large"}), "catalog list: unexpected argument \"c5.large\"");
  // Every problem at once.
  EXPECT_EQ(error_of({"--mem", "lots", "--limit", "-3"}),
            "--mem: expected a size such as 16G, 16GB or 16384M, got \"lots\"\n"
            "--limit: expected a whole number, got \"-3\"");
}
