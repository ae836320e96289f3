#pragma once
// An EC2 instance type and its price facts: what the catalog knows, what selection returns, what estimates price.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/resources.hpp"

namespace spawn {

// Money inside spawn: integer micro-dollars (USD 1 = 1'000'000), formatted only at the edge.
using MicroDollars = std::int64_t;
inline constexpr MicroDollars k_micro_dollars_per_dollar = 1'000'000;

// What an instance type's accelerators are; only nvidia_gpu is chosen for an untyped GPU request.
enum class AcceleratorKind { none, nvidia_gpu, amd_gpu, inferentia, trainium, gaudi, fpga, video, other };
// Catalog spelling: "none", "nvidia-gpu", "amd-gpu", "inferentia", "trainium", "gaudi", "fpga", "video", "other".
const char* to_string(AcceleratorKind kind);
// Inverse of to_string(AcceleratorKind); nullopt for any other text.
std::optional<AcceleratorKind> accelerator_kind_from_string(std::string_view text);
// Inverse of to_string(Arch) ("x86_64", "arm64"); nullopt for any other text.
std::optional<Arch> arch_from_string(std::string_view text);

struct InstanceType {
  std::string name;    // "g4dn.2xlarge"
  std::string family;  // "g4dn"
  Arch arch = Arch::x86_64;
  std::uint32_t vcpus = 0;
  std::uint64_t memory_mib = 0;
  AcceleratorKind accelerator_kind = AcceleratorKind::none;
  std::uint32_t accelerator_count = 0;
  std::string accelerator_model;              // AWS name ("T4", "A100-80GB", "Radeon Pro V520"); empty: none
  std::uint64_t accelerator_memory_mib = 0;   // per accelerator; 0 when unknown
  bool burstable = false;                     // t2/t3/t3a/t4g: CPU credits, baseline below one vCPU
  bool previous_generation = false;           // AWS lists the family as previous generation
  bool macos = false;                         // Mac on a Dedicated Host (24 h minimum); never chosen automatically
};

// The spot price of a type in one availability zone; nullopt: offered there but no recent spot price.
struct ZoneSpotPrice {
  std::string zone;  // zone id, "use1-az4"
  std::optional<MicroDollars> spot_per_hour;
};

// What a type costs in one region. spot_per_hour is the catalog's summary over zones (see catalog/catalog.hpp).
struct RegionPrice {
  std::string region;
  std::optional<MicroDollars> on_demand_per_hour;  // Linux on-demand; nullopt: no list price
  std::optional<MicroDollars> spot_per_hour;       // summary over zones; nullopt: no zone has a spot price
  std::vector<ZoneSpotPrice> zones;                // every zone offering the type, sorted by zone id
  // The price in market, nullopt when the type has none there.
  std::optional<MicroDollars> price(Market market) const {
    return market == Market::spot ? spot_per_hour : on_demand_per_hour;
  }
};

// Dollars as text with at least 2 and at most 6 decimals, no "$": 243100 -> "0.2431", 12000000 -> "12.00".
std::string format_usd(MicroDollars amount);

} // namespace spawn
