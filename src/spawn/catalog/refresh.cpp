#include "catalog/refresh.hpp"

#include <algorithm>
#include <map>

#include "util/strings.hpp"

namespace spawn::catalog {

namespace {

constexpr std::string_view k_refresh_prefix = "refresh ";

// "refresh us-east-1=2026-11-28 eu-west-1=2026-11-27; base <the source before the first refresh>"
std::pair<std::vector<std::pair<std::string, std::string>>, std::string> split_source(const Catalog& catalog) {
  const std::string& source = catalog.source();
  if (!source.starts_with(k_refresh_prefix)) {
    std::string base = catalog.origin() == "built-in" ? "built-in " + catalog.snapshot_date() : catalog.snapshot_date();
    if (!source.empty()) base += " " + source;
    return {{}, base};
  }
  std::string_view rest = std::string_view(source).substr(k_refresh_prefix.size());
  std::string base;
  if (auto semi = rest.find("; base "); semi != std::string_view::npos) {
    base = std::string(rest.substr(semi + 7));
    rest = rest.substr(0, semi);
  }
  std::vector<std::pair<std::string, std::string>> regions;
  for (const auto& entry : util::split(rest, ' ')) {
    auto eq = entry.find('=');
    if (eq != std::string::npos) regions.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return {regions, base};
}

} // namespace

std::vector<std::pair<std::string, std::string>> refreshed_regions(const Catalog& catalog) {
  return split_source(catalog).first;
}

Expected<Catalog> merge_region(const Catalog& base, const RegionSnapshot& snapshot, const std::string& date,
                               const std::string& origin) {
  if (snapshot.prices.size() != snapshot.types.size())
    return Unexpected("refresh of " + snapshot.region + ": " + std::to_string(snapshot.types.size()) + " types but " +
                      std::to_string(snapshot.prices.size()) + " prices");
  std::vector<InstanceType> types = base.types();
  std::map<std::string, std::uint32_t, std::less<>> index;
  for (std::uint32_t i = 0; i < types.size(); ++i) index.emplace(types[i].name, i);

  std::vector<Offer> offers;
  for (std::size_t r = 0; r < base.regions().size(); ++r) {
    if (base.regions()[r] == snapshot.region) continue;
    for (const auto& offer : base.offers(r)) offers.push_back(offer);
  }
  for (std::size_t i = 0; i < snapshot.types.size(); ++i) {
    InstanceType fresh = snapshot.types[i];
    auto [it, inserted] = index.try_emplace(fresh.name, static_cast<std::uint32_t>(types.size()));
    if (inserted) {
      types.push_back(std::move(fresh));
    } else {
      InstanceType& known = types[it->second];
      if (known.accelerator_kind != AcceleratorKind::none && fresh.accelerator_count > 0) {
        fresh.accelerator_kind = known.accelerator_kind;
        fresh.accelerator_model = known.accelerator_model;
        if (known.accelerator_memory_mib) fresh.accelerator_memory_mib = known.accelerator_memory_mib;
      }
      known = std::move(fresh);
    }
    Offer offer;
    offer.type = it->second;
    offer.price = snapshot.prices[i];
    offer.price.region = snapshot.region;
    offers.push_back(std::move(offer));
  }

  auto [regions, base_source] = split_source(base);
  auto found = std::find_if(regions.begin(), regions.end(), [&](const auto& r) { return r.first == snapshot.region; });
  if (found != regions.end()) found->second = date;
  else regions.emplace_back(snapshot.region, date);
  std::sort(regions.begin(), regions.end());
  std::vector<std::string> entries;
  for (const auto& [region, when] : regions) entries.push_back(region + "=" + when);
  Catalog::Header header;
  header.provider = base.provider().empty() ? "aws" : base.provider();
  // The catalog's date is the newest refresh; the source line keeps each region's own date.
  header.snapshot_date = std::max(date, base.snapshot_date());
  header.source = std::string(k_refresh_prefix) + util::join(entries, " ") + "; base " + base_source;
  header.origin = origin;
  return Catalog::assemble(std::move(header), std::move(types), std::move(offers));
}

} // namespace spawn::catalog
