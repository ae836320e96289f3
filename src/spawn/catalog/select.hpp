#pragma once
// Automatic instance selection: the cheapest instance types in a region that give one node what it needs.
//
// Rules, for NodeRequirements r in the policy's region and market:
// - a type qualifies when it is offered in the region with a price in the market (spot: the summary of
//   catalog/catalog.hpp, the lower median over zones), vCPUs >= r.vcpus, memory >= r.memory_mib, GPUs >= r.gpus;
// - r.whole_node_memory (--mem=0, "all the memory of the node"): any memory size fits; a memory_mib given with it
//   is still a minimum;
// - r.exclusive (--exclusive) does not change the choice: every spawn instance runs one job's node alone, so it
//   is exclusive by construction; the job gets the whole instance, sized by its explicit requests;
// - no GPU asked for: only types without accelerators (a CPU job never lands on a GPU, Inferentia or FPGA type);
//   a GPU without a model: NVIDIA GPUs only (CUDA); a model: the AWS models resolve_gpu_model gives (AMD GPUs,
//   Inferentia, Trainium, Gaudi, FPGAs and video accelerators only this way); a model with gpus == 0 means 1;
// - policy: allowed architectures (default x86_64), no burstable, no previous generation and no macOS types
//   unless allowed, allowed/denied families ("g6" or a prefix pattern "g6*");
// - ranking: price per hour, then fewer vCPUs, less memory, fewer accelerators, then name (a total order);
// - the result: up to policy.candidates types, cheapest first, from different families where possible.
#include <cstddef>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/gpu_models.hpp"
#include "core/instance.hpp"
#include "core/resources.hpp"
#include "util/error.hpp"

namespace spawn::catalog {

struct SelectionPolicy {
  std::string region = "us-east-1";
  Market market = Market::on_demand;
  std::vector<Arch> architectures = {Arch::x86_64};
  bool allow_burstable = false;
  bool allow_previous_generation = false;
  bool allow_macos = false;
  // Also types with accelerators for a request without GPUs (spawn catalog list --all).
  bool allow_unrequested_accelerators = false;
  std::vector<std::string> allowed_families;  // empty: every family; "c7i" or "c7*"
  std::vector<std::string> denied_families;   // same patterns; wins over allowed_families
  GpuAliases gpu_aliases;                     // from the user's mapping config
  std::size_t candidates = 3;                 // at least 1
};

struct Candidate {
  InstanceType type;
  RegionPrice price;            // all prices of the type in the region, per-zone spot included
  Market market = Market::on_demand;
  MicroDollars price_per_hour = 0;  // in the selected market (spot: the zone summary)
};

// True when family matches pattern: equal, or pattern ends in '*' and family starts with the rest.
bool family_matches(std::string_view family, std::string_view pattern);

// Ranked candidates for one node (see the rules above); an error names the requirement no type meets and the
// largest available, e.g. "no instance type in us-east-1 has 512 vCPUs (largest: 448 vCPUs, u-6tb1.112xlarge)".
Expected<std::vector<Candidate>> select_instances(const Catalog& catalog, const NodeRequirements& requirements,
                                                  const SelectionPolicy& policy);

// Every qualifying type, cheapest first in the same order (no family spreading, no limit): spawn catalog list.
Expected<std::vector<Candidate>> matching_instances(const Catalog& catalog, const NodeRequirements& requirements,
                                                    const SelectionPolicy& policy);

// "16 GiB" when whole GiB, else "1536 MiB".
std::string format_memory_mib(std::uint64_t mib);

} // namespace spawn::catalog
