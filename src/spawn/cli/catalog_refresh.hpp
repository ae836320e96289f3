#pragma once
// `spawn catalog refresh`: turning DescribeInstanceTypes, DescribeSpotPriceHistory and Price List answers into
// catalog facts (the pure parts, unit-tested; the command itself is in catalog_refresh.cpp).
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aws/ec2.hpp"
#include "core/instance.hpp"

namespace spawn::cli {

// The catalog's facts for a type as DescribeInstanceTypes reports it: architecture (arm64 only when x86_64 is not
// supported; *_mac means macOS), burstable, previous generation (CurrentGeneration=false), accelerators.
InstanceType instance_type_from_api(const aws::InstanceTypeInfo& info);

// The latest price per type and zone id of the Linux/UNIX records (history may hold several per zone; the newest
// timestamp wins). zone_ids maps zone names ("us-east-1a") to ids ("use1-az4"); a zone it lacks keeps its name.
std::map<std::string, std::vector<ZoneSpotPrice>> latest_spot_prices(const std::vector<aws::SpotPrice>& history,
                                                                     const std::map<std::string, std::string>& zone_ids);

// Instance type -> hourly on-demand price from Price List documents, keeping only Linux, shared tenancy, no
// pre-installed software, used capacity (the price of an ordinary instance); a zero price counts as none.
std::map<std::string, MicroDollars> on_demand_prices(const std::vector<nlohmann::json>& products);

} // namespace spawn::cli
