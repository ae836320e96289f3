#pragma once
// Merging what `spawn catalog refresh` read from AWS for one region into a catalog (docs/catalog.md).
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.hpp"
#include "core/instance.hpp"
#include "util/error.hpp"

namespace spawn::catalog {

// What a refresh read for one region: every type offered there and its prices.
struct RegionSnapshot {
  std::string region;
  std::vector<InstanceType> types;  // facts as the API reports them
  std::vector<RegionPrice> prices;  // prices[i] belongs to types[i]
};

// base with snapshot.region's offers replaced by the snapshot's, the snapshot's types updated or added, and every
// other region kept as it was. A type base already knows keeps its accelerator kind and model name (spawn's
// vocabulary, which GPU requests are matched against); everything else comes from the snapshot. The result's date
// is date (YYYY-MM-DD) and its source line records when each region was refreshed.
Expected<Catalog> merge_region(const Catalog& base, const RegionSnapshot& snapshot, const std::string& date,
                               const std::string& origin);

// The regions a catalog's source line says were refreshed, with their dates; empty for a catalog never refreshed.
std::vector<std::pair<std::string, std::string>> refreshed_regions(const Catalog& catalog);

} // namespace spawn::catalog
