#include <gtest/gtest.h>

#include "catalog/gpu_models.hpp"

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

std::vector<std::string> resolve(std::string_view name, const GpuAliases& aliases = {}) {
  auto models = resolve_gpu_model(name, aliases, builtin());
  return models ? *models : std::vector<std::string>{"error: " + models.error()};
}

using Models = std::vector<std::string>;

const std::string k_aws_models = "A100, A100-80GB, A10G, Gaudi HL-205, H100, H200, Inferentia, Inferentia2, L4, L40S, "
                                 "Qualcomm AI100, Radeon Pro V520, T4, T4g, Trainium, V100, V100-32GB, "
                                 "Virtex UltraScale (VU9P), Virtex UltraScale+ (VU47P), Xilinx U30";

} // namespace

TEST(CatalogGpuModels, KeyDropsVendorBrandAndFormFactor) {
  EXPECT_EQ(gpu_model_key("Tesla_V100-SXM2-32G"), "v10032gb");
  EXPECT_EQ(gpu_model_key("A100-80GB"), "a10080gb");
  EXPECT_EQ(gpu_model_key("a100_80gb"), "a10080gb");
  EXPECT_EQ(gpu_model_key("nvidia_a100-sxm4-80gib"), "a10080gb");
  EXPECT_EQ(gpu_model_key("Quadro RTX 6000"), "rtx6000");
  EXPECT_EQ(gpu_model_key("Radeon Pro V520"), "radeonprov520");
  EXPECT_EQ(gpu_model_key("Virtex UltraScale+ (VU47P)"), "virtexultrascalevu47p");
  EXPECT_EQ(gpu_model_key("--"), "");
}

TEST(CatalogGpuModels, SiteNamesMapToAwsAccelerators) {
  EXPECT_EQ(resolve("a100"), (Models{"A100", "A100-80GB"}));
  EXPECT_EQ(resolve("a100_80gb"), Models{"A100-80GB"});
  EXPECT_EQ(resolve("a100-80gb"), Models{"A100-80GB"});
  EXPECT_EQ(resolve("A100-SXM4-40GB"), (Models{"A100", "A100-80GB"}));
  EXPECT_EQ(resolve("tesla_v100"), (Models{"V100", "V100-32GB"}));
  EXPECT_EQ(resolve("v100-sxm2"), (Models{"V100", "V100-32GB"}));
  EXPECT_EQ(resolve("v100s"), Models{"V100-32GB"});
  EXPECT_EQ(resolve("t4"), (Models{"T4", "T4g"}));
  EXPECT_EQ(resolve("a10"), Models{"A10G"});
  EXPECT_EQ(resolve("a10g"), Models{"A10G"});
  EXPECT_EQ(resolve("l4"), Models{"L4"});
  EXPECT_EQ(resolve("l40s"), Models{"L40S"});
  EXPECT_EQ(resolve("h100"), (Models{"H100", "H200"}));
  EXPECT_EQ(resolve("h200"), Models{"H200"});
  EXPECT_EQ(resolve("inferentia2"), Models{"Inferentia2"});
  EXPECT_EQ(resolve("gaudi"), Models{"Gaudi HL-205"});
  EXPECT_EQ(resolve("v520"), Models{"Radeon Pro V520"});
  // AWS's own names work too, through the catalog.
  EXPECT_EQ(resolve("Qualcomm AI100"), Models{"Qualcomm AI100"});
  EXPECT_EQ(resolve("virtex_ultrascale_vu9p"), Models{"Virtex UltraScale (VU9P)"});
}

TEST(CatalogGpuModels, ModelsWithoutAwsEquivalentNameTheNearestSuccessor) {
  EXPECT_EQ(resolve("k80"), Models{"error: GPU model \"k80\" has no AWS equivalent (NVIDIA K80, retired from AWS with "
                                   "p2); nearest successor: T4 (g4dn)"});
  EXPECT_EQ(resolve("tesla_p100"),
            Models{"error: GPU model \"tesla_p100\" has no AWS equivalent (NVIDIA P100); nearest successor: V100 (p3)"});
  EXPECT_EQ(resolve("rtx6000"), Models{"error: GPU model \"rtx6000\" has no AWS equivalent (NVIDIA Quadro RTX 6000, "
                                       "24 GB); nearest successor: A10G (g5)"});
  EXPECT_EQ(resolve("rtx8000"), Models{"error: GPU model \"rtx8000\" has no AWS equivalent (NVIDIA Quadro RTX 8000, "
                                       "48 GB); nearest successor: L40S (g6e)"});
  EXPECT_EQ(resolve("mi250x"), Models{"error: GPU model \"mi250x\" has no AWS equivalent (AMD Instinct MI250X); "
                                      "nearest successor: A100-80GB (p4de)"});
}

TEST(CatalogGpuModels, UnknownModelListsWhatAwsHas) {
  EXPECT_EQ(resolve("warp9"), Models{"error: unknown GPU model \"warp9\" (AWS has: " + k_aws_models +
                                     "; map a site name to one of them with a GPU alias in the config)"});
  EXPECT_EQ(resolve(" "), Models{"error: empty GPU model name \" \""});
}

TEST(CatalogGpuModels, ConfigAliasesComeFirst) {
  GpuAliases aliases = {{"bigmem", "A100-80GB"}, {"rtx6000", "l40s"}, {"Cheap_GPU", "t4"}, {"bad", "k80"}};
  EXPECT_EQ(resolve("bigmem", aliases), Models{"A100-80GB"});
  EXPECT_EQ(resolve("rtx6000", aliases), Models{"L40S"});  // overrides the built-in "no equivalent"
  EXPECT_EQ(resolve("cheap-gpu", aliases), (Models{"T4", "T4g"}));
  EXPECT_EQ(resolve("bad", aliases),
            Models{"error: GPU alias \"bad\" -> \"k80\": \"k80\" is not an AWS accelerator (AWS has: " + k_aws_models + ")"});
}
