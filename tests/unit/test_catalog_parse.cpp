#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "catalog/catalog.hpp"

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

// A small valid catalog; tests break one line of it at a time.
const std::string k_small = "spawn-catalog 1\n"
                            "provider aws\n"
                            "snapshot 2026-01-02\n"
                            "source test\n"
                            "type c7i.large c7i x86_64 2 4096 none 0 - 0 -\n"
                            "price us-east-1 0.08925 use1-az1=0.03 use1-az2=- use1-az4=0.05 use1-az6=0.02\n"
                            "price eu-west-1 0.1 euw1-az1=-\n"
                            "type g4dn.xlarge g4dn x86_64 4 16384 nvidia-gpu 1 T4 16384 -\n"
                            "price us-east-1 0.526 use1-az1=0.2\n"
                            "end\n";

std::string replace_line(const std::string& text, std::size_t line, const std::string& with) {
  std::string out;
  std::size_t n = 1, pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    std::string current = text.substr(pos, end - pos);
    out += (n == line ? with : current) + "\n";
    pos = end + 1;
    ++n;
  }
  return out;
}

std::string parse_error(const std::string& text) {
  auto parsed = Catalog::parse(text, "test.catalog");
  return parsed ? std::string("(parsed)") : parsed.error();
}

// Each test that touches files gets its own directory.
class CatalogFiles : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "spawn-catalog-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(m_dir); }
  std::filesystem::path write(const std::string& name, const std::string& text) {
    auto path = m_dir / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path m_dir;
};

} // namespace

TEST(CatalogParse, ReadsHeaderTypesAndPrices) {
  auto parsed = Catalog::parse(k_small, "test.catalog");
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->format_version(), 1);
  EXPECT_EQ(parsed->provider(), "aws");
  EXPECT_EQ(parsed->snapshot_date(), "2026-01-02");
  EXPECT_EQ(parsed->source(), "test");
  EXPECT_EQ(parsed->origin(), "test.catalog");
  ASSERT_EQ(parsed->types().size(), 2u);
  EXPECT_EQ(parsed->types()[0].name, "c7i.large");
  EXPECT_EQ(parsed->regions(), (std::vector<std::string>{"eu-west-1", "us-east-1"}));
  const InstanceType* g4 = parsed->find_type("g4dn.xlarge");
  ASSERT_NE(g4, nullptr);
  EXPECT_EQ(g4->accelerator_kind, AcceleratorKind::nvidia_gpu);
  EXPECT_EQ(g4->accelerator_model, "T4");
  EXPECT_EQ(g4->memory_mib, 16384u);
  const RegionPrice* price = parsed->find_price("c7i.large", "us-east-1");
  ASSERT_NE(price, nullptr);
  EXPECT_EQ(price->on_demand_per_hour, 89250);
  ASSERT_EQ(price->zones.size(), 4u);
  EXPECT_EQ(price->zones[1].zone, "use1-az2");
  EXPECT_FALSE(price->zones[1].spot_per_hour);
  EXPECT_EQ(price->spot_per_hour, 30000);  // lower median of 0.02, 0.03, 0.05
  EXPECT_EQ(parsed->find_price("g4dn.xlarge", "eu-west-1"), nullptr);
  EXPECT_EQ(parsed->regions_offering("c7i.large"), (std::vector<std::string>{"eu-west-1", "us-east-1"}));
  EXPECT_EQ(parsed->accelerator_models(), std::vector<std::string>{"T4"});
}

TEST(CatalogParse, ErrorsNameOriginLineAndValue) {
  EXPECT_EQ(parse_error(replace_line(k_small, 1, "spawn-catalog 2")),
            "test.catalog:1: catalog format 2 is newer than this spawn reads (1)");
  EXPECT_EQ(parse_error(replace_line(k_small, 1, "hello")),
            "test.catalog:1: not a spawn catalog (expected \"spawn-catalog 1\" as the first line)");
  EXPECT_EQ(parse_error(replace_line(k_small, 3, "snapshot 28/11/2026")),
            "test.catalog:3: snapshot date must be YYYY-MM-DD, got \"28/11/2026\"");
  EXPECT_EQ(parse_error(replace_line(k_small, 5, "type c7i.large c7i x86_64 2 4096 none 0 -")),
            "test.catalog:5: type line needs 11 fields, got 9");
  EXPECT_EQ(parse_error(replace_line(k_small, 5, "type c7i.large c7i sparc 2 4096 none 0 - 0 -")),
            "test.catalog:5: c7i.large: bad architecture \"sparc\" (expected x86_64 or arm64)");
  EXPECT_EQ(parse_error(replace_line(k_small, 5, "type c7i.large c7i x86_64 two 4096 none 0 - 0 -")),
            "test.catalog:5: c7i.large: bad vCPU count \"two\"");
  EXPECT_EQ(parse_error(replace_line(k_small, 5, "type c7i.large c7i x86_64 2 4096 none 0 - 0 fast")),
            "test.catalog:5: c7i.large: bad flag \"fast\" (expected burstable, previous, macos or -)");
  EXPECT_EQ(parse_error(replace_line(k_small, 6, "price us-east-1 0.0x9 use1-az1=0.03")),
            "test.catalog:6: c7i.large in us-east-1: bad on-demand price \"0.0x9\"");
  EXPECT_EQ(parse_error(replace_line(k_small, 6, "price us-east-1 0.09 use1-az1")),
            "test.catalog:6: c7i.large in us-east-1: expected ZONE=PRICE, got \"use1-az1\"");
  EXPECT_EQ(parse_error(replace_line(k_small, 6, "price us-east-1 0.09 use1-az1=cheap")),
            "test.catalog:6: c7i.large in use1-az1: bad spot price \"cheap\"");
  EXPECT_EQ(parse_error(replace_line(k_small, 7, "price us-east-1 0.1")),
            "test.catalog:7: c7i.large: second price line for region us-east-1");
  EXPECT_EQ(parse_error(replace_line(k_small, 8, "type c7i.large c7i x86_64 2 4096 none 0 - 0 -")),
            "test.catalog:8: type c7i.large is listed twice");
  EXPECT_EQ(parse_error(replace_line(k_small, 10, "")), "test.catalog:9: missing \"end\" line (is the file truncated?)");
  EXPECT_EQ(parse_error(replace_line(k_small, 10, "stop")),
            "test.catalog:10: unknown line kind \"stop\" (expected provider, snapshot, source, type, price or end)");
  EXPECT_EQ(parse_error(""), "test.catalog:1: empty catalog (no \"spawn-catalog\" line)");
}

TEST(CatalogParse, CollectsSeveralErrorsAndSkipsPricesOfABadType) {
  std::string text = replace_line(replace_line(k_small, 5, "type c7i.large c7i x86_64 0 4096 none 0 - 0 -"), 9,
                                  "price us-east-1 x");
  EXPECT_EQ(parse_error(text), "test.catalog:5: c7i.large: bad vCPU count \"0\"\n"
                               "test.catalog:9: g4dn.xlarge in us-east-1: bad on-demand price \"x\"");
}

TEST(CatalogParse, ParseUsdIsExactToTheMicroDollar) {
  EXPECT_EQ(parse_usd("0.2568"), 256800);
  EXPECT_EQ(parse_usd("12"), 12000000);
  EXPECT_EQ(parse_usd(".5"), 500000);
  EXPECT_EQ(parse_usd("360.98695"), 360986950);
  EXPECT_EQ(parse_usd("0.0000005"), 1);   // half up
  EXPECT_EQ(parse_usd("0.00000049"), 0);
  EXPECT_FALSE(parse_usd(""));
  EXPECT_FALSE(parse_usd("."));
  EXPECT_FALSE(parse_usd("-1"));
  EXPECT_FALSE(parse_usd("1.2.3"));
  EXPECT_FALSE(parse_usd("1e3"));
}

TEST(CatalogParse, SpotSummaryIsTheLowerMedianOfPricedZones) {
  auto zones = [](std::vector<std::optional<MicroDollars>> prices) {
    std::vector<ZoneSpotPrice> out;
    for (std::size_t i = 0; i < prices.size(); ++i) out.push_back({"z" + std::to_string(i), prices[i]});
    return out;
  };
  EXPECT_EQ(summarize_spot(zones({3, 1, 2})), 2);
  EXPECT_EQ(summarize_spot(zones({4, 1, 3, 2})), 2);
  EXPECT_EQ(summarize_spot(zones({std::nullopt, 7, std::nullopt})), 7);
  EXPECT_FALSE(summarize_spot(zones({std::nullopt})));
  EXPECT_FALSE(summarize_spot({}));
}

TEST(CatalogBuiltin, HoldsTheWholeSnapshot) {
  const Catalog& c = builtin();
  EXPECT_EQ(c.snapshot_date(), "2026-11-28");
  EXPECT_EQ(c.provider(), "aws");
  EXPECT_EQ(c.types().size(), 923u);
  EXPECT_EQ(c.regions().size(), 22u);
  std::size_t offers = 0, zones = 0;
  for (std::size_t r = 0; r < c.regions().size(); ++r) {
    offers += c.offers(r).size();
    for (const auto& o : c.offers(r)) zones += o.price.zones.size();
  }
  EXPECT_EQ(offers, 12025u);
  EXPECT_EQ(zones, 36406u);  // 36,411 rows less the 5 p4de.24xlarge duplicates
}

TEST(CatalogBuiltin, DerivedFactsAreRight) {
  const Catalog& c = builtin();
  auto type = [&](const char* name) {
    const InstanceType* t = c.find_type(name);
    if (!t) throw std::runtime_error(std::string("missing ") + name);
    return *t;
  };
  EXPECT_EQ(type("g4dn.2xlarge").vcpus, 8u);
  EXPECT_EQ(type("g4dn.2xlarge").memory_mib, 32768u);
  EXPECT_EQ(type("g4dn.2xlarge").accelerator_model, "T4");
  EXPECT_EQ(type("g4dn.2xlarge").accelerator_memory_mib, 16384u);
  for (const char* arm : {"a1.large", "c6g.large", "c7gn.large", "m8g.large", "r7gd.large", "x2gd.large",
                          "im4gn.large", "is4gen.large", "g5g.xlarge", "hpc7g.4xlarge", "t4g.nano"})
    EXPECT_EQ(type(arm).arch, Arch::arm64) << arm;
  for (const char* x86 : {"g4dn.xlarge", "g4ad.xlarge", "g6e.xlarge", "gr6.4xlarge", "m7i-flex.large", "c7a.medium"})
    EXPECT_EQ(type(x86).arch, Arch::x86_64) << x86;
  for (const char* burst : {"t2.micro", "t3.micro", "t3a.micro", "t4g.micro"}) EXPECT_TRUE(type(burst).burstable);
  EXPECT_FALSE(type("m7i.large").burstable);
  for (const char* old : {"m4.large", "c4.large", "r4.large", "m3.medium", "i2.xlarge", "d2.xlarge", "a1.large"})
    EXPECT_TRUE(type(old).previous_generation) << old;
  for (const char* current : {"p3.2xlarge", "i3.large", "m5.large", "t2.micro"})
    EXPECT_FALSE(type(current).previous_generation) << current;
  EXPECT_TRUE(type("mac1.metal").macos);
  EXPECT_EQ(type("inf2.xlarge").accelerator_kind, AcceleratorKind::inferentia);
  EXPECT_EQ(type("g4ad.xlarge").accelerator_kind, AcceleratorKind::amd_gpu);
  EXPECT_EQ(type("g4ad.xlarge").accelerator_model, "Radeon Pro V520");
  EXPECT_EQ(type("dl1.24xlarge").accelerator_kind, AcceleratorKind::gaudi);
  EXPECT_EQ(type("f1.2xlarge").accelerator_kind, AcceleratorKind::fpga);
  EXPECT_EQ(type("vt1.3xlarge").accelerator_kind, AcceleratorKind::video);
  EXPECT_EQ(type("p4de.24xlarge").accelerator_model, "A100-80GB");
  // The p4de duplicates are merged, keeping the zone's spot price.
  const RegionPrice* p4de = c.find_price("p4de.24xlarge", "us-east-1");
  ASSERT_NE(p4de, nullptr);
  auto az4 = std::find_if(p4de->zones.begin(), p4de->zones.end(), [](auto& z) { return z.zone == "use1-az4"; });
  ASSERT_NE(az4, p4de->zones.end());
  EXPECT_EQ(az4->spot_per_hour, 7807400);
  // Types without a list price keep their spot prices; a type with neither is listed but priceless.
  const RegionPrice* p5e = c.find_price("p5e.48xlarge", "ap-southeast-3");
  ASSERT_NE(p5e, nullptr);
  EXPECT_FALSE(p5e->on_demand_per_hour);
  EXPECT_TRUE(p5e->spot_per_hour);
  EXPECT_FALSE(c.find_price("mac1.metal", "us-east-1")->on_demand_per_hour);
}

TEST(CatalogWrite, RoundTripsAndMatchesTheGeneratorLineForLine) {
  const Catalog& c = builtin();
  std::string text = write_catalog(c);
  auto again = Catalog::parse(text, "written");
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(write_catalog(*again), text);
  // Apart from comments, the C++ writer (used by a refresh) writes exactly what scripts/build-catalog.py wrote.
  auto without_comments = [](std::string_view in) {
    std::string out;
    std::size_t pos = 0;
    while (pos < in.size()) {
      std::size_t end = in.find('\n', pos);
      std::string_view line = in.substr(pos, end - pos);
      if (!line.starts_with("#")) out += std::string(line) + "\n";
      pos = end + 1;
    }
    return out;
  };
  EXPECT_EQ(without_comments(text), without_comments(builtin_catalog_text()));
}

TEST_F(CatalogFiles, CacheCopyReplacesTheBuiltInOne) {
  std::string text = k_small;
  text.replace(text.find("2026-01-02"), 10, "2099-12-31");
  auto path = write("spawn/catalog/aws-ec2.catalog", text);
  auto loaded = load_catalog(path);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->origin(), path.string());
  EXPECT_EQ(loaded->types().size(), 2u);
}

TEST_F(CatalogFiles, CacheCopyOlderThanTheBuiltInOneIsIgnored) {
  auto path = write("aws-ec2.catalog", k_small);  // snapshot 2026-01-02
  auto loaded = load_catalog(path);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->origin(), "built-in");
  EXPECT_EQ(loaded->snapshot_date(), "2026-11-28");
}

TEST_F(CatalogFiles, MalformedCacheCopyIsAnErrorNotAFallback) {
  auto path = write("aws-ec2.catalog", replace_line(k_small, 6, "price us-east-1 cheap"));
  auto loaded = load_catalog(path);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error(), path.string() + ":6: c7i.large in us-east-1: bad on-demand price \"cheap\"");
}

TEST_F(CatalogFiles, MissingCacheCopyMeansBuiltIn) {
  auto loaded = load_catalog(m_dir / "nothing-here.catalog");
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->origin(), "built-in");
  EXPECT_EQ(load_catalog(std::nullopt)->origin(), "built-in");
}

TEST_F(CatalogFiles, DefaultCachePathFollowsXdgThenHome) {
  auto saved = [](const char* name) {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  auto xdg = saved("XDG_CACHE_HOME"), home = saved("HOME");
  setenv("XDG_CACHE_HOME", (m_dir / "xdg").c_str(), 1);
  setenv("HOME", (m_dir / "home").c_str(), 1);
  EXPECT_EQ(default_cache_catalog_path(), m_dir / "xdg/spawn/catalog/aws-ec2.catalog");
  setenv("XDG_CACHE_HOME", "relative/ignored", 1);
  EXPECT_EQ(default_cache_catalog_path(), m_dir / "home/.cache/spawn/catalog/aws-ec2.catalog");
  unsetenv("XDG_CACHE_HOME");
  unsetenv("HOME");
  EXPECT_EQ(default_cache_catalog_path(), std::nullopt);
  if (xdg) setenv("XDG_CACHE_HOME", xdg->c_str(), 1);
  if (home) setenv("HOME", home->c_str(), 1);
}
