#pragma once
// The instance catalog: every EC2 instance type spawn knows, where it is offered and what it costs.
// Text format (docs/catalog.md): a header (format version, provider, snapshot date, source), then per type one
// `type` line and one `price` line per region with the on-demand price and the spot price of each zone.
// The built-in copy is compiled into the binary; a refreshed copy in the user's cache replaces it.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/instance.hpp"
#include "util/error.hpp"

namespace spawn::catalog {

inline constexpr int k_catalog_format_version = 1;

// One type offered in one region.
struct Offer {
  std::uint32_t type = 0;  // index into Catalog::types()
  RegionPrice price;
};

class Catalog {
public:
  // Parses catalog text; origin ("built-in" or a path) prefixes every message as "origin:line: ...".
  // Collects up to 10 errors, one per line of the message.
  static Expected<Catalog> parse(std::string_view text, std::string origin);

  struct Header {
    std::string provider = "aws";
    std::string snapshot_date;  // YYYY-MM-DD
    std::string source;
    std::string origin;         // prefixes messages, as for parse
  };
  // A catalog from its parts (what a refresh builds): types in any order, offers naming their type by index into
  // types (zones in any order; the spot summary is computed here). A type listed twice is an error.
  static Expected<Catalog> assemble(Header header, std::vector<InstanceType> types, std::vector<Offer> offers);

  int format_version() const { return m_format_version; }
  const std::string& provider() const { return m_provider; }
  // Date the prices were taken, "YYYY-MM-DD"; shown wherever a price is quoted.
  const std::string& snapshot_date() const { return m_snapshot_date; }
  const std::string& source() const { return m_source; }
  // "built-in" or the path the catalog was read from.
  const std::string& origin() const { return m_origin; }

  // Every type, sorted by name.
  const std::vector<InstanceType>& types() const { return m_types; }
  // Every region with at least one offer, sorted.
  const std::vector<std::string>& regions() const { return m_regions; }
  // Every distinct accelerator model, sorted ("A100", "T4", ...).
  const std::vector<std::string>& accelerator_models() const { return m_accelerator_models; }

  // The type with that exact name, or nullptr.
  const InstanceType* find_type(std::string_view name) const;
  // Position of region in regions(), or nullopt.
  std::optional<std::size_t> region_index(std::string_view region) const;
  // The types offered in regions()[region_index], sorted by type name.
  const std::vector<Offer>& offers(std::size_t region_index) const { return m_offers[region_index]; }
  // Prices of a type in a region, or nullptr when the type is not offered there.
  const RegionPrice* find_price(std::string_view type_name, std::string_view region) const;
  // Regions offering the type, sorted.
  std::vector<std::string> regions_offering(std::string_view type_name) const;

private:
  // Sorts types and regions, re-points offers and lists the accelerator models; where(a, b) names the place of
  // types a and b for the "listed twice" message.
  static Expected<Catalog> finish(Catalog catalog, const std::map<std::string, std::size_t, std::less<>>& region_of,
                                  const std::function<std::string(std::uint32_t, std::uint32_t)>& where);

  int m_format_version = 0;
  std::string m_provider;
  std::string m_snapshot_date;
  std::string m_source;
  std::string m_origin;
  std::vector<InstanceType> m_types;
  std::vector<std::string> m_regions;
  std::vector<std::string> m_accelerator_models;
  std::vector<std::vector<Offer>> m_offers;  // per region
};

// The summary spot price used for ranking and estimates: the lower median of the zones that have a spot price
// (always one real zone's price), nullopt when no zone has one. Per-zone prices stay in RegionPrice::zones.
std::optional<MicroDollars> summarize_spot(const std::vector<ZoneSpotPrice>& zones);

// "0.2568" -> 256800 micro-dollars; more than 6 decimals round half up; nullopt for anything but digits and one '.'.
std::optional<MicroDollars> parse_usd(std::string_view text);

// The catalog as text in the current format; parse(write_catalog(c)) gives the same catalog. A refresh writes this.
std::string write_catalog(const Catalog& catalog);

// The catalog compiled into the binary (data/catalog/aws-ec2.catalog at build time).
std::string_view builtin_catalog_text();

// ${XDG_CACHE_HOME:-$HOME/.cache}/spawn/catalog/aws-ec2.catalog; nullopt when neither variable is set.
std::optional<std::filesystem::path> default_cache_catalog_path();

// The catalog spawn uses: the cached copy at cache_path when it exists (an error naming file and line when it is
// malformed, never a silent fallback), unless its snapshot is older than the built-in one; else the built-in one.
Expected<Catalog> load_catalog(const std::optional<std::filesystem::path>& cache_path);
// load_catalog(default_cache_catalog_path()).
Expected<Catalog> load_catalog();

} // namespace spawn::catalog
