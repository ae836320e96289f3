#include <gtest/gtest.h>

#include <set>

#include "catalog/select.hpp"

using namespace spawn;
using namespace spawn::catalog;

namespace {

const Catalog& builtin() {
  static const Catalog catalog = [] {
    auto parsed = Catalog::parse(builtin_catalog_text(), "built-in");
    if (!parsed) throw std::runtime_error(parsed.error());
    return std::move(*parsed);
  }();
  return catalog;
}

NodeRequirements node(std::uint32_t vcpus, std::uint64_t memory_gib, std::uint32_t gpus = 0,
                      std::optional<std::string> model = std::nullopt) {
  NodeRequirements r;
  r.vcpus = vcpus;
  r.memory_mib = memory_gib * 1024;
  r.gpus = gpus;
  r.gpu_model = std::move(model);
  return r;
}

SelectionPolicy spot(std::string region = "us-east-1") {
  SelectionPolicy p;
  p.region = std::move(region);
  p.market = Market::spot;
  return p;
}

std::vector<std::string> names(const Expected<std::vector<Candidate>>& result) {
  if (!result) return {"error: " + result.error()};
  std::vector<std::string> out;
  for (const auto& c : *result) out.push_back(c.type.name);
  return out;
}

// The candidates, by value (a range-for over *select_instances(...) would dangle).
std::vector<Candidate> chosen(const NodeRequirements& r, const SelectionPolicy& p) {
  auto result = select_instances(builtin(), r, p);
  if (!result) throw std::runtime_error(result.error());
  return *result;
}

std::string error_of(const Expected<std::vector<Candidate>>& result) { return result ? "(selected)" : result.error(); }

using Names = std::vector<std::string>;

} // namespace

TEST(CatalogSelect, GpuTrainingNodeGetsACheapT4L4OrA10GType) {
  // 8 CPUs, 16 GB, 1 GPU on spot in us-east-1: the example.
  auto result = select_instances(builtin(), node(8, 16, 1), spot());
  EXPECT_EQ(names(result), (Names{"g4dn.2xlarge", "g6.2xlarge", "g5.2xlarge"}));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->front().price_per_hour, 311900);
  EXPECT_EQ(result->front().market, Market::spot);
  EXPECT_EQ(result->front().price.region, "us-east-1");
  EXPECT_GE(result->front().price.zones.size(), 2u);  // per-zone prices travel with the candidate
}

TEST(CatalogSelect, SmallJobGetsNoBurstableType) {
  auto result = select_instances(builtin(), node(1, 1), SelectionPolicy{});
  EXPECT_EQ(names(result), (Names{"c7a.medium", "m7a.medium", "r7a.medium"}));
  SelectionPolicy burstable;
  burstable.allow_burstable = true;
  EXPECT_EQ(names(select_instances(builtin(), node(1, 1), burstable)), (Names{"t3a.micro", "t3.micro", "t2.micro"}));
}

TEST(CatalogSelect, Arm64OnlyWhenAllowed) {
  for (const auto& c : chosen(node(4, 8), SelectionPolicy{})) EXPECT_EQ(c.type.arch, Arch::x86_64);
  SelectionPolicy any;
  any.architectures = {Arch::x86_64, Arch::arm64};
  EXPECT_EQ(names(select_instances(builtin(), node(4, 0), any)), (Names{"c6g.xlarge", "c7g.xlarge", "c6a.xlarge"}));
  SelectionPolicy arm;
  arm.architectures = {Arch::arm64};
  for (const auto& c : chosen(node(4, 0), arm)) EXPECT_EQ(c.type.arch, Arch::arm64);
}

TEST(CatalogSelect, PreviousGenerationOnlyWhenAllowed) {
  SelectionPolicy policy;
  policy.allowed_families = {"m4", "m5"};
  EXPECT_EQ(names(select_instances(builtin(), node(2, 8), policy)), (Names{"m5.large", "m5.xlarge", "m5.2xlarge"}));
  policy.allow_previous_generation = true;
  auto result = select_instances(builtin(), node(2, 8), policy);
  ASSERT_TRUE(result);
  std::set<std::string> families;
  for (const auto& c : *result) families.insert(c.type.family);
  EXPECT_EQ(families, (std::set<std::string>{"m4", "m5"}));
}

TEST(CatalogSelect, BioinformaticsMpiAndMemoryHeavyNodes) {
  EXPECT_EQ(names(select_instances(builtin(), node(16, 64), SelectionPolicy{})),
            (Names{"m5a.4xlarge", "m6a.4xlarge", "m7i-flex.4xlarge"}));
  EXPECT_EQ(names(select_instances(builtin(), node(96, 0), SelectionPolicy{})),
            (Names{"c6a.24xlarge", "c5a.24xlarge", "c5.24xlarge"}));
  EXPECT_EQ(names(select_instances(builtin(), node(4, 512), SelectionPolicy{})),
            (Names{"x2iedn.4xlarge", "x2iezn.4xlarge", "r5a.16xlarge"}));
}

TEST(CatalogSelect, WholeNodeMemoryAndExclusiveDoNotEnlargeTheRequest) {
  NodeRequirements whole = node(4, 0);
  whole.whole_node_memory = true;
  EXPECT_EQ(names(select_instances(builtin(), whole, SelectionPolicy{})),
            names(select_instances(builtin(), node(4, 0), SelectionPolicy{})));
  NodeRequirements exclusive = node(4, 8);
  exclusive.exclusive = true;
  EXPECT_EQ(names(select_instances(builtin(), exclusive, SelectionPolicy{})),
            names(select_instances(builtin(), node(4, 8), SelectionPolicy{})));
  // --mem=0 with an explicit minimum keeps the minimum.
  whole.memory_mib = 64 * 1024;
  for (const auto& c : chosen(whole, SelectionPolicy{})) EXPECT_GE(c.type.memory_mib, 65536u);
}

TEST(CatalogSelect, UntypedGpuMeansNvidia) {
  for (std::uint32_t gpus : {1u, 2u, 4u, 8u}) {
    auto result = select_instances(builtin(), node(1, 0, gpus), spot());
    ASSERT_TRUE(result) << result.error();
    for (const auto& c : *result) {
      EXPECT_EQ(c.type.accelerator_kind, AcceleratorKind::nvidia_gpu) << c.type.name;
      EXPECT_GE(c.type.accelerator_count, gpus);
    }
  }
}

TEST(CatalogSelect, OtherAcceleratorsOnlyByName) {
  EXPECT_EQ(names(select_instances(builtin(), node(1, 0, 1, "v520"), SelectionPolicy{})),
            (Names{"g4ad.xlarge", "g4ad.2xlarge", "g4ad.4xlarge"}));
  EXPECT_EQ(names(select_instances(builtin(), node(1, 0, 1, "inferentia2"), SelectionPolicy{})),
            (Names{"inf2.xlarge", "inf2.8xlarge", "inf2.24xlarge"}));
  // A CPU job never lands on an accelerator type.
  SelectionPolicy any;
  any.architectures = {Arch::x86_64, Arch::arm64};
  auto cpu = matching_instances(builtin(), node(1, 0), any);
  ASSERT_TRUE(cpu);
  for (const auto& c : *cpu) EXPECT_EQ(c.type.accelerator_kind, AcceleratorKind::none) << c.type.name;
}

TEST(CatalogSelect, GpuModelsAndTheirLargerSiblings) {
  EXPECT_EQ(names(select_instances(builtin(), node(1, 0, 8, "a100_80gb"), SelectionPolicy{})), Names{"p4de.24xlarge"});
  EXPECT_EQ(names(select_instances(builtin(), node(1, 0, 1, "tesla_v100"), SelectionPolicy{})),
            (Names{"p3.2xlarge", "p3.8xlarge", "p3dn.24xlarge"}));
  EXPECT_EQ(names(select_instances(builtin(), node(1, 0, 1, "v100-sxm2-32gb"), SelectionPolicy{})),
            Names{"p3dn.24xlarge"});
  // A model with gpus == 0 asks for one.
  EXPECT_EQ(names(select_instances(builtin(), node(1, 0, 0, "l4"), spot())),
            names(select_instances(builtin(), node(1, 0, 1, "l4"), spot())));
}

TEST(CatalogSelect, TypesWithoutAPriceInTheMarketAreNeverChosen) {
  // p5e.48xlarge has spot prices but no on-demand price: on demand, H200 means p5en only.
  EXPECT_EQ(names(select_instances(builtin(), node(1, 0, 8, "h200"), SelectionPolicy{})), Names{"p5en.48xlarge"});
  SelectionPolicy policy;
  policy.region = "ap-southeast-3";
  auto on_demand = matching_instances(builtin(), node(1, 0, 8, "h200"), policy);
  policy.market = Market::spot;
  auto on_spot = matching_instances(builtin(), node(1, 0, 8, "h200"), policy);
  ASSERT_TRUE(on_spot) << on_spot.error();
  Names spot_names = names(on_spot);
  EXPECT_NE(std::find(spot_names.begin(), spot_names.end(), "p5e.48xlarge"), spot_names.end());
  Names on_demand_names = names(on_demand);
  EXPECT_EQ(std::find(on_demand_names.begin(), on_demand_names.end(), "p5e.48xlarge"), on_demand_names.end());
}

TEST(CatalogSelect, CandidatesComeFromDifferentFamiliesThenFillUp) {
  SelectionPolicy policy;
  policy.candidates = 5;
  auto result = select_instances(builtin(), node(2, 4), policy);
  ASSERT_TRUE(result);
  ASSERT_EQ(result->size(), 5u);
  std::set<std::string> families;
  for (const auto& c : *result) families.insert(c.type.family);
  EXPECT_EQ(families.size(), 5u);
  for (std::size_t i = 1; i < result->size(); ++i) EXPECT_LE((*result)[i - 1].price_per_hour, (*result)[i].price_per_hour);
  // One family only: the next sizes fill the list.
  policy.allowed_families = {"c7i"};
  policy.candidates = 3;
  EXPECT_EQ(names(select_instances(builtin(), node(2, 4), policy)), (Names{"c7i.large", "c7i.xlarge", "c7i.2xlarge"}));
}

TEST(CatalogSelect, FamilyPatterns) {
  EXPECT_TRUE(family_matches("g6e", "g6*"));
  EXPECT_TRUE(family_matches("g6", "g6*"));
  EXPECT_FALSE(family_matches("g6e", "g6"));
  EXPECT_TRUE(family_matches("anything", "*"));
  SelectionPolicy policy = spot();
  policy.denied_families = {"g4dn"};
  EXPECT_EQ(names(select_instances(builtin(), node(8, 16, 1), policy)), (Names{"g6.2xlarge", "g5.2xlarge", "gr6.4xlarge"}));
  policy.denied_families.clear();
  policy.allowed_families = {"g6*"};
  EXPECT_EQ(names(select_instances(builtin(), node(8, 16, 1), policy)),
            (Names{"g6.2xlarge", "g6.4xlarge", "g6e.2xlarge"}));  // gr6 is not g6*, so g6 fills up
  policy.allowed_families = {"g6*", "gr6"};
  EXPECT_EQ(names(select_instances(builtin(), node(8, 16, 1), policy)),
            (Names{"g6.2xlarge", "gr6.4xlarge", "g6e.2xlarge"}));
}

TEST(CatalogSelect, InfeasibleRequestsSayWhichRequirementFailedAndTheLargest) {
  SelectionPolicy on_demand;
  EXPECT_EQ(error_of(select_instances(builtin(), node(1000, 0), on_demand)),
            "no instance type in us-east-1 has 1000 vCPUs (largest: 896 vCPUs, u7i-12tb.224xlarge)");
  EXPECT_EQ(error_of(select_instances(builtin(), node(512, 0), spot())),
            "no instance type in us-east-1 has 512 vCPUs (largest: 192 vCPUs, c6a.metal); u7i-12tb.224xlarge would fit "
            "on demand");
  EXPECT_EQ(error_of(select_instances(builtin(), node(1, 40000), on_demand)),
            "no instance type in us-east-1 has 40000 GiB of memory (largest: 32768 GiB, u7in-32tb.224xlarge)");
  EXPECT_EQ(error_of(select_instances(builtin(), node(1, 0, 16), on_demand)),
            "no instance type in us-east-1 has 16 NVIDIA GPUs (largest: 8 GPUs, g4dn.metal)");
  EXPECT_EQ(error_of(select_instances(builtin(), node(256, 0, 8, "h100"), on_demand)),
            "no instance type in us-east-1 with 8 H100 or H200 GPUs has 256 vCPUs (largest: 192 vCPUs, p5en.48xlarge)");
  EXPECT_EQ(error_of(select_instances(builtin(), node(8, 1024, 1, "t4"), on_demand)),
            "no instance type in us-east-1 with 1 T4 or T4g GPU and 8 vCPUs has 1024 GiB of memory (largest: 384 GiB, "
            "g4dn.metal)");
  EXPECT_EQ(error_of(select_instances(builtin(), node(1, 0, 8, "a100_80gb"), spot("eu-north-1"))),
            "no instance type in eu-north-1 has A100-80GB GPUs (offered in: us-east-1, us-west-2)");
  EXPECT_EQ(error_of(select_instances(builtin(), node(1, 0, 1, "t4g"), on_demand)),
            "no instance type in us-east-1 has T4g GPUs; g5g.xlarge would fit, but arm64 is not allowed");
  EXPECT_EQ(error_of(select_instances(builtin(), node(1, 0, 1, "k80"), on_demand)),
            "GPU model \"k80\" has no AWS equivalent (NVIDIA K80, retired from AWS with p2); nearest successor: T4 (g4dn)");
  SelectionPolicy nowhere;
  nowhere.region = "mars-1";
  EXPECT_EQ(error_of(select_instances(builtin(), node(1, 0), nowhere)).substr(0, 70),
            "unknown region \"mars-1\" (the catalog of 2026-11-28 has: af-south-1, ap");
  SelectionPolicy none;
  none.allowed_families = {"zz9"};
  EXPECT_EQ(error_of(select_instances(builtin(), node(1, 0), none)),
            "no instance type in us-east-1 is allowed by the selection policy (architectures: x86_64; families: zz9); "
            "c7a.medium would fit, but family c7a is not allowed");
  SelectionPolicy arm_gpu = spot();
  arm_gpu.allowed_families = {"g5g"};
  EXPECT_EQ(error_of(select_instances(builtin(), node(1, 0, 1), arm_gpu)),
            "no instance type in us-east-1 is allowed by the selection policy (architectures: x86_64; families: g5g); "
            "g5g.xlarge would fit, but arm64 is not allowed");
  SelectionPolicy zero;
  zero.candidates = 0;
  EXPECT_EQ(error_of(select_instances(builtin(), node(1, 0), zero)), "selection policy: candidates must be at least 1");
}

TEST(CatalogSelect, ConfigGpuAliasesReachSelection) {
  SelectionPolicy policy = spot();
  policy.gpu_aliases = {{"rtx6000", "l4"}};
  auto result = select_instances(builtin(), node(1, 0, 1, "rtx6000"), policy);
  ASSERT_TRUE(result) << result.error();
  for (const auto& c : *result) EXPECT_EQ(c.type.accelerator_model, "L4");
}
