#include "catalog/select.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <tuple>

#include "util/strings.hpp"

namespace spawn::catalog {

namespace {

// The filters in the order they are applied; an error reports the first one that leaves nothing.
enum Stage : std::size_t { s_market, s_policy, s_accelerator, s_gpus, s_vcpus, s_memory, s_passed, k_stages };

struct Ranked {
  const Offer* offer;
  const InstanceType* type;
  MicroDollars price;
};

// Ranking order: price, vCPUs, memory, accelerators, name (type indices follow names).
bool ranks_before(const Ranked& a, const Ranked& b) {
  return std::tie(a.price, a.type->vcpus, a.type->memory_mib, a.type->accelerator_count, a.offer->type) <
         std::tie(b.price, b.type->vcpus, b.type->memory_mib, b.type->accelerator_count, b.offer->type);
}

struct Request {
  std::uint32_t vcpus = 0;
  std::uint64_t memory_mib = 0;
  std::uint32_t gpus = 0;
  const std::vector<std::string>* models = nullptr;  // nullptr: untyped (NVIDIA) or no GPU
};

struct Outcome {
  std::vector<Ranked> ranked;                             // qualifying offers, ranked
  std::array<std::size_t, k_stages> reached{};            // offers that passed every stage before this one
  std::array<std::optional<Ranked>, k_stages> largest{};  // per sized stage: the largest offer that reached it
};

bool policy_allows(const InstanceType& t, const SelectionPolicy& policy) {
  if (std::find(policy.architectures.begin(), policy.architectures.end(), t.arch) == policy.architectures.end())
    return false;
  if (t.burstable && !policy.allow_burstable) return false;
  if (t.previous_generation && !policy.allow_previous_generation) return false;
  if (t.macos && !policy.allow_macos) return false;
  for (const auto& pattern : policy.denied_families) {
    if (family_matches(t.family, pattern)) return false;
  }
  if (policy.allowed_families.empty()) return true;
  for (const auto& pattern : policy.allowed_families) {
    if (family_matches(t.family, pattern)) return true;
  }
  return false;
}

bool accelerator_fits(const InstanceType& t, const Request& request, const SelectionPolicy& policy) {
  if (request.gpus == 0) return t.accelerator_kind == AcceleratorKind::none || policy.allow_unrequested_accelerators;
  if (!request.models) return t.accelerator_kind == AcceleratorKind::nvidia_gpu;
  return std::find(request.models->begin(), request.models->end(), t.accelerator_model) != request.models->end();
}

// Size of t for a sized stage (the "largest" of an error message).
std::uint64_t size_at(Stage stage, const InstanceType& t) {
  switch (stage) {
    case s_gpus: return t.accelerator_count;
    case s_vcpus: return t.vcpus;
    case s_memory: return t.memory_mib;
    default: return 0;
  }
}

Outcome rank(const Catalog& catalog, std::size_t region, const Request& request, const SelectionPolicy& policy) {
  Outcome out;
  for (const Offer& offer : catalog.offers(region)) {
    const InstanceType& t = catalog.types()[offer.type];
    auto price = offer.price.price(policy.market);
    Stage failed = s_passed;
    if (!price) failed = s_market;
    else if (!policy_allows(t, policy)) failed = s_policy;
    else if (!accelerator_fits(t, request, policy)) failed = s_accelerator;
    else if (t.accelerator_count < request.gpus) failed = s_gpus;
    else if (t.vcpus < request.vcpus) failed = s_vcpus;
    else if (t.memory_mib < request.memory_mib) failed = s_memory;
    Ranked r{&offer, &t, price.value_or(0)};
    for (std::size_t s = 0; s <= failed; ++s) ++out.reached[s];
    for (Stage s : {s_gpus, s_vcpus, s_memory}) {
      if (s > failed) break;
      auto& best = out.largest[s];
      // Largest first, then the usual ranking among equals.
      if (!best || size_at(s, t) > size_at(s, *best->type) ||
          (size_at(s, t) == size_at(s, *best->type) && ranks_before(r, *best)))
        best = r;
    }
    if (failed == s_passed) out.ranked.push_back(r);
  }
  std::sort(out.ranked.begin(), out.ranked.end(), ranks_before);
  return out;
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// "A100" or "A100 or A100-80GB"; "NVIDIA" for an untyped request.
std::string model_label(const Request& request) {
  if (!request.models) return "NVIDIA";
  return util::join(*request.models, " or ");
}

bool models_are_gpus(const Catalog& catalog, const std::vector<std::string>& models) {
  for (const auto& t : catalog.types()) {
    if (std::find(models.begin(), models.end(), t.accelerator_model) != models.end())
      return t.accelerator_kind == AcceleratorKind::nvidia_gpu || t.accelerator_kind == AcceleratorKind::amd_gpu;
  }
  return true;
}

std::string accelerator_noun(const Catalog& catalog, const Request& request, std::uint64_t count) {
  bool gpu = !request.models || models_are_gpus(catalog, *request.models);
  return count == 1 ? (gpu ? "GPU" : "accelerator") : (gpu ? "GPUs" : "accelerators");
}

// Why policy excludes t, for the hint of an error ("arm64 is not allowed and family g5g is not allowed").
std::string exclusion_reasons(const InstanceType& t, const SelectionPolicy& policy) {
  std::vector<std::string> reasons;
  if (std::find(policy.architectures.begin(), policy.architectures.end(), t.arch) == policy.architectures.end())
    reasons.push_back(std::string(to_string(t.arch)) + " is not allowed");
  if (t.burstable && !policy.allow_burstable) reasons.emplace_back("burstable types are not allowed");
  if (t.previous_generation && !policy.allow_previous_generation)
    reasons.emplace_back("previous-generation types are not allowed");
  if (t.macos && !policy.allow_macos) reasons.emplace_back("macOS types are not allowed");
  SelectionPolicy families_only;
  families_only.architectures = {t.arch};
  families_only.allow_burstable = families_only.allow_previous_generation = families_only.allow_macos = true;
  families_only.allowed_families = policy.allowed_families;
  families_only.denied_families = policy.denied_families;
  if (!policy_allows(t, families_only)) reasons.push_back("family " + t.family + " is not allowed");
  return util::join(reasons, " and ");
}

std::string failure_message(const Catalog& catalog, const Outcome& outcome, const Request& request,
                            const NodeRequirements& requirements, const SelectionPolicy& policy) {
  const std::string& region = catalog.regions()[*catalog.region_index(policy.region)];
  std::string in = "no instance type in " + region;
  Stage stage = s_market;
  while (stage < s_passed && outcome.reached[stage + 1] > 0) stage = static_cast<Stage>(stage + 1);
  const InstanceType* largest = outcome.largest[stage] ? outcome.largest[stage]->type : nullptr;
  auto gpu_count = [&](std::uint64_t n) {
    return plural(n, accelerator_noun(catalog, request, 1), accelerator_noun(catalog, request, 2));
  };
  std::string with_gpus =
      request.gpus == 0 ? std::string()
                        : std::to_string(request.gpus) + " " + model_label(request) + " " +
                              accelerator_noun(catalog, request, request.gpus);
  switch (stage) {
    case s_market:
      return in + " has " + (policy.market == Market::spot ? "a spot" : "an on-demand") + " price";
    case s_policy: {
      std::vector<std::string> archs;
      for (Arch a : policy.architectures) archs.emplace_back(to_string(a));
      return in + " is allowed by the selection policy (architectures: " +
             (archs.empty() ? std::string("none") : util::join(archs, ", ")) +
             (policy.allowed_families.empty() ? "" : "; families: " + util::join(policy.allowed_families, ", ")) +
             (policy.denied_families.empty() ? "" : "; denied: " + util::join(policy.denied_families, ", ")) + ")";
    }
    case s_accelerator: {
      if (request.gpus == 0) return in + " without accelerators is allowed by the selection policy";
      std::string message = in + " has " + model_label(request) + " " + accelerator_noun(catalog, request, 2);
      if (request.models) {
        std::set<std::string> regions;
        for (const auto& t : catalog.types()) {
          if (std::find(request.models->begin(), request.models->end(), t.accelerator_model) == request.models->end())
            continue;
          for (auto& r : catalog.regions_offering(t.name)) regions.insert(r);
        }
        if (regions.count(region) == 0) {
          message += regions.empty() ? " (no region offers them)"
                                     : " (offered in: " + util::join({regions.begin(), regions.end()}, ", ") + ")";
        }
      }
      return message;
    }
    case s_gpus:
      return in + " has " + with_gpus + " (largest: " + gpu_count(largest->accelerator_count) + ", " +
             largest->name + ")";
    case s_vcpus:
      return in + (with_gpus.empty() ? "" : " with " + with_gpus) + " has " +
             plural(request.vcpus, "vCPU", "vCPUs") + " (largest: " + plural(largest->vcpus, "vCPU", "vCPUs") +
             ", " + largest->name + ")";
    case s_memory: {
      std::vector<std::string> with;
      if (!with_gpus.empty()) with.push_back(with_gpus);
      if (requirements.vcpus > 1) with.push_back(plural(request.vcpus, "vCPU", "vCPUs"));
      return in + (with.empty() ? "" : " with " + util::join(with, " and ")) + " has " +
             format_memory_mib(request.memory_mib) + " of memory (largest: " + format_memory_mib(largest->memory_mib) +
             ", " + largest->name + ")";
    }
    default: return in + " qualifies";
  }
}

Expected<Outcome> rank_for(const Catalog& catalog, const NodeRequirements& requirements, const SelectionPolicy& policy,
                           std::vector<std::string>& models, Request& request) {
  if (policy.candidates == 0) return Unexpected("selection policy: candidates must be at least 1");
  auto region = catalog.region_index(policy.region);
  if (!region) {
    return Unexpected("unknown region " + util::quote(policy.region) + " (the catalog of " + catalog.snapshot_date() +
                      " has: " + util::join(catalog.regions(), ", ") + ")");
  }
  request.vcpus = requirements.vcpus;
  request.memory_mib = requirements.memory_mib;
  request.gpus = requirements.gpus;
  if (requirements.gpu_model) {
    auto resolved = resolve_gpu_model(*requirements.gpu_model, policy.gpu_aliases, catalog);
    if (!resolved) return Unexpected(resolved.error());
    models = std::move(*resolved);
    request.models = &models;
    request.gpus = std::max<std::uint32_t>(request.gpus, 1);
  }
  Outcome outcome = rank(catalog, *region, request, policy);
  if (!outcome.ranked.empty()) return outcome;

  std::string message = failure_message(catalog, outcome, request, requirements, policy);
  // Say what would fit if the policy or the market were wider, so the user knows which knob to turn: one
  // relaxation at a time first (the smallest change that helps), then all of them, then the other market.
  // The families are relaxed last: they are the user's most deliberate choice.
  std::vector<SelectionPolicy> wider(5, policy);
  wider[0].architectures = {Arch::x86_64, Arch::arm64};
  wider[1].allow_previous_generation = true;
  wider[2].allow_burstable = true;
  wider[3].allowed_families.clear();
  wider[3].denied_families.clear();
  wider[4] = wider[3];
  wider[4].allow_previous_generation = wider[4].allow_burstable = wider[4].allow_macos = true;
  wider[4].architectures = wider[0].architectures;
  for (const auto& relaxed_policy : wider) {
    Outcome relaxed = rank(catalog, *region, request, relaxed_policy);
    if (relaxed.ranked.empty()) continue;
    const InstanceType& t = *relaxed.ranked.front().type;
    return Unexpected(message + "; " + t.name + " would fit, but " + exclusion_reasons(t, policy));
  }
  SelectionPolicy other_market = policy;
  other_market.market = policy.market == Market::spot ? Market::on_demand : Market::spot;
  Outcome relaxed = rank(catalog, *region, request, other_market);
  if (!relaxed.ranked.empty()) {
    message += "; " + relaxed.ranked.front().type->name + " would fit " +
               (other_market.market == Market::spot ? "on spot" : "on demand");
  }
  return Unexpected(message);
}

Candidate make_candidate(const Ranked& r, Market market) {
  return Candidate{*r.type, r.offer->price, market, r.price};
}

} // namespace

bool family_matches(std::string_view family, std::string_view pattern) {
  if (!pattern.empty() && pattern.back() == '*') return family.starts_with(pattern.substr(0, pattern.size() - 1));
  return family == pattern;
}

std::string format_memory_mib(std::uint64_t mib) {
  if (mib % 1024 == 0) return std::to_string(mib / 1024) + " GiB";
  return std::to_string(mib) + " MiB";
}

Expected<std::vector<Candidate>> select_instances(const Catalog& catalog, const NodeRequirements& requirements,
                                                  const SelectionPolicy& policy) {
  std::vector<std::string> models;
  Request request;
  auto outcome = rank_for(catalog, requirements, policy, models, request);
  if (!outcome) return Unexpected(outcome.error());
  const auto& ranked = outcome->ranked;

  // First pass: the cheapest type of each family; second pass: fill up with the next cheapest of any family.
  std::vector<std::size_t> chosen;
  std::vector<std::string_view> families;
  for (std::size_t i = 0; i < ranked.size() && chosen.size() < policy.candidates; ++i) {
    std::string_view family = ranked[i].type->family;
    if (std::find(families.begin(), families.end(), family) != families.end()) continue;
    families.push_back(family);
    chosen.push_back(i);
  }
  for (std::size_t i = 0; i < ranked.size() && chosen.size() < policy.candidates; ++i) {
    if (std::find(chosen.begin(), chosen.end(), i) == chosen.end()) chosen.push_back(i);
  }
  std::sort(chosen.begin(), chosen.end());
  std::vector<Candidate> out;
  out.reserve(chosen.size());
  for (std::size_t i : chosen) out.push_back(make_candidate(ranked[i], policy.market));
  return out;
}

Expected<std::vector<Candidate>> matching_instances(const Catalog& catalog, const NodeRequirements& requirements,
                                                    const SelectionPolicy& policy) {
  std::vector<std::string> models;
  Request request;
  auto outcome = rank_for(catalog, requirements, policy, models, request);
  if (!outcome) return Unexpected(outcome.error());
  std::vector<Candidate> out;
  out.reserve(outcome->ranked.size());
  for (const auto& r : outcome->ranked) out.push_back(make_candidate(r, policy.market));
  return out;
}

} // namespace spawn::catalog
