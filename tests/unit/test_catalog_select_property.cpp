// Property test: for thousands of random requirement sets and policies, select_instances agrees with a brute-force
// search over every type of the catalog, written here independently of the selection code.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <tuple>

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

const std::vector<std::string> k_site_models = {"a100",  "a100_80gb", "tesla_v100", "v100-sxm2-32gb", "t4",
                                                "t4g",   "a10g",      "l4",         "l40s",           "h100",
                                                "h200",  "v520",      "inferentia", "inferentia2",    "trainium",
                                                "gaudi", "fpga",      "u30"};

struct Feasible {
  const InstanceType* type;
  const RegionPrice* price;
  MicroDollars per_hour;
};

bool key_less(const Feasible& a, const Feasible& b) {
  return std::make_tuple(a.per_hour, a.type->vcpus, a.type->memory_mib, a.type->accelerator_count, a.type->name) <
         std::make_tuple(b.per_hour, b.type->vcpus, b.type->memory_mib, b.type->accelerator_count, b.type->name);
}

bool matches(const std::string& family, const std::string& pattern) {
  if (!pattern.empty() && pattern.back() == '*') return family.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  return family == pattern;
}

// Every type of the catalog that satisfies r under p, cheapest first.
std::vector<Feasible> brute_force(const NodeRequirements& r, const SelectionPolicy& p,
                                  const std::vector<std::string>& models) {
  // Prices of every type in every region, looked up once by name (find_price, not the offers selection walks).
  static const std::map<std::string, std::vector<const RegionPrice*>> prices = [] {
    std::map<std::string, std::vector<const RegionPrice*>> out;
    for (const auto& region : builtin().regions()) {
      for (const InstanceType& t : builtin().types()) out[region].push_back(builtin().find_price(t.name, region));
    }
    return out;
  }();
  std::vector<Feasible> out;
  std::uint32_t gpus = r.gpu_model ? std::max<std::uint32_t>(r.gpus, 1) : r.gpus;
  const auto& region_prices = prices.at(p.region);
  for (std::size_t i = 0; i < builtin().types().size(); ++i) {
    const InstanceType& t = builtin().types()[i];
    const RegionPrice* price = region_prices[i];
    if (!price) continue;
    auto per_hour = p.market == Market::spot ? price->spot_per_hour : price->on_demand_per_hour;
    if (!per_hour) continue;
    if (std::find(p.architectures.begin(), p.architectures.end(), t.arch) == p.architectures.end()) continue;
    if ((t.burstable && !p.allow_burstable) || (t.previous_generation && !p.allow_previous_generation) ||
        (t.macos && !p.allow_macos))
      continue;
    if (std::any_of(p.denied_families.begin(), p.denied_families.end(),
                    [&](const std::string& f) { return matches(t.family, f); }))
      continue;
    if (!p.allowed_families.empty() &&
        std::none_of(p.allowed_families.begin(), p.allowed_families.end(),
                     [&](const std::string& f) { return matches(t.family, f); }))
      continue;
    if (gpus == 0 && t.accelerator_kind != AcceleratorKind::none) continue;
    if (gpus > 0 && !r.gpu_model && t.accelerator_kind != AcceleratorKind::nvidia_gpu) continue;
    if (r.gpu_model && std::find(models.begin(), models.end(), t.accelerator_model) == models.end()) continue;
    if (t.accelerator_count < gpus || t.vcpus < r.vcpus || t.memory_mib < r.memory_mib) continue;
    out.push_back({&t, price, *per_hour});
  }
  std::sort(out.begin(), out.end(), key_less);
  return out;
}

// The candidate list the rules ask for: the cheapest of each family in rank order, then the next cheapest.
std::vector<std::string> expected_candidates(const std::vector<Feasible>& feasible, std::size_t n) {
  std::vector<std::size_t> picked;
  std::vector<std::string> families;
  for (std::size_t i = 0; i < feasible.size() && picked.size() < n; ++i) {
    if (std::find(families.begin(), families.end(), feasible[i].type->family) != families.end()) continue;
    families.push_back(feasible[i].type->family);
    picked.push_back(i);
  }
  for (std::size_t i = 0; i < feasible.size() && picked.size() < n; ++i) {
    if (std::find(picked.begin(), picked.end(), i) == picked.end()) picked.push_back(i);
  }
  std::sort(picked.begin(), picked.end());
  std::vector<std::string> out;
  for (auto i : picked) out.push_back(feasible[i].type->name);
  return out;
}

} // namespace

TEST(CatalogSelectProperty, ChoiceIsFeasibleAndCheapestForRandomRequests) {
  std::mt19937_64 rng(20261128);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  auto log_uniform = [&](double lo, double hi) {
    return std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(rng));
  };
  const auto& regions = builtin().regions();
  const std::vector<std::vector<std::string>> family_sets = {{"c7*", "m7*"}, {"g6*"}, {"r*"}, {"p*", "g5"}, {"x2*"}};

  std::size_t feasible_count = 0, infeasible_count = 0;
  constexpr int k_rounds = 4000;
  for (int round = 0; round < k_rounds; ++round) {
    NodeRequirements r;
    r.vcpus = static_cast<std::uint32_t>(log_uniform(1, 1200));
    r.memory_mib = chance(0.2) ? 0 : static_cast<std::uint64_t>(log_uniform(256, 40.0 * 1024 * 1024));
    r.whole_node_memory = chance(0.1);
    if (r.whole_node_memory && chance(0.5)) r.memory_mib = 0;
    r.exclusive = chance(0.1);
    if (chance(0.35)) {
      r.gpus = static_cast<std::uint32_t>(1 + pick(chance(0.8) ? 8 : 20));
      if (chance(0.6)) r.gpu_model = k_site_models[pick(k_site_models.size())];
    } else if (chance(0.05)) {
      r.gpu_model = k_site_models[pick(k_site_models.size())];  // model without a count: one
    }
    SelectionPolicy p;
    p.region = chance(0.5) ? "us-east-1" : regions[pick(regions.size())];
    p.market = chance(0.5) ? Market::spot : Market::on_demand;
    switch (pick(3)) {
      case 0: p.architectures = {Arch::x86_64}; break;
      case 1: p.architectures = {Arch::arm64}; break;
      default: p.architectures = {Arch::x86_64, Arch::arm64}; break;
    }
    p.allow_burstable = chance(0.3);
    p.allow_previous_generation = chance(0.3);
    if (chance(0.15)) p.allowed_families = family_sets[pick(family_sets.size())];
    if (chance(0.15)) p.denied_families = {chance(0.5) ? "g4dn" : "c*"};
    p.candidates = 1 + pick(5);

    std::vector<std::string> models;
    if (r.gpu_model) models = *resolve_gpu_model(*r.gpu_model, p.gpu_aliases, builtin());
    auto feasible = brute_force(r, p, models);
    auto selected = select_instances(builtin(), r, p);
    SCOPED_TRACE("round " + std::to_string(round) + ": " + p.region + " " + to_string(p.market) + " vcpus " +
                 std::to_string(r.vcpus) + " mem " + std::to_string(r.memory_mib) + " gpus " + std::to_string(r.gpus) +
                 " model " + r.gpu_model.value_or("-"));
    if (feasible.empty()) {
      ++infeasible_count;
      ASSERT_FALSE(selected) << "chose " << selected->front().type.name;
      EXPECT_TRUE(selected.error().starts_with("no instance type in " + p.region)) << selected.error();
      continue;
    }
    ++feasible_count;
    ASSERT_TRUE(selected) << selected.error();
    ASSERT_FALSE(selected->empty());
    EXPECT_EQ(selected->front().type.name, feasible.front().type->name);
    EXPECT_EQ(selected->front().price_per_hour, feasible.front().per_hour);
    std::vector<std::string> got;
    for (const auto& c : *selected) got.push_back(c.type.name);
    EXPECT_EQ(got, expected_candidates(feasible, p.candidates));
    // Every candidate meets every requirement (checked on the candidate itself, not through the brute force).
    for (const auto& c : *selected) {
      EXPECT_GE(c.type.vcpus, r.vcpus);
      EXPECT_GE(c.type.memory_mib, r.memory_mib);
      EXPECT_GE(c.type.accelerator_count, r.gpus);
      EXPECT_EQ(c.price.region, p.region);
      EXPECT_EQ(c.price.price(p.market), c.price_per_hour);
    }
  }
  // Both outcomes are exercised in earnest.
  EXPECT_GT(feasible_count, static_cast<std::size_t>(k_rounds / 4));
  EXPECT_GT(infeasible_count, static_cast<std::size_t>(k_rounds / 10));
  std::cout << "[          ] " << feasible_count << " feasible, " << infeasible_count << " infeasible requests\n";
}

TEST(CatalogSelectProperty, MatchingInstancesIsTheWholeBruteForceList) {
  std::mt19937_64 rng(7);
  const auto& regions = builtin().regions();
  for (int round = 0; round < 300; ++round) {
    NodeRequirements r;
    r.vcpus = static_cast<std::uint32_t>(1 + rng() % 64);
    r.memory_mib = (rng() % 256) * 1024;
    if (rng() % 3 == 0) r.gpus = static_cast<std::uint32_t>(1 + rng() % 4);
    SelectionPolicy p;
    p.region = regions[rng() % regions.size()];
    p.market = rng() % 2 ? Market::spot : Market::on_demand;
    auto feasible = brute_force(r, p, {});
    auto all = matching_instances(builtin(), r, p);
    if (feasible.empty()) {
      EXPECT_FALSE(all);
      continue;
    }
    ASSERT_TRUE(all) << all.error();
    ASSERT_EQ(all->size(), feasible.size());
    for (std::size_t i = 0; i < feasible.size(); ++i) EXPECT_EQ((*all)[i].type.name, feasible[i].type->name);
  }
}
