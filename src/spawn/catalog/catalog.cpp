#include "catalog/catalog.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <map>

#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::catalog {

namespace {

constexpr std::size_t k_max_errors = 10;
constexpr std::size_t k_type_fields = 11;

// Splits a line on single spaces; runs of spaces count as one separator.
void split_fields(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
}

template <typename T> std::optional<T> parse_number(std::string_view text) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

bool is_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9')) return false;
  }
  return true;
}

// Model names are written with '_' for ' ' so that a line splits on spaces ("Radeon_Pro_V520").
std::string decode_model(std::string_view text) {
  if (text == "-") return {};
  std::string out(text);
  std::replace(out.begin(), out.end(), '_', ' ');
  return out;
}

std::string encode_model(std::string_view model) {
  if (model.empty()) return "-";
  std::string out(model);
  std::replace(out.begin(), out.end(), ' ', '_');
  return out;
}

std::string format_price(std::optional<MicroDollars> price) {
  if (!price) return "-";
  std::string text = format_usd(*price);
  // The catalog writes prices as the source does: no trailing zeros ("0.5", "12").
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

// The snapshot date from a catalog's header lines, without parsing the rest.
std::string peek_snapshot_date(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.starts_with("snapshot ")) return std::string(util::trim(line.substr(9)));
    if (line.starts_with("type ")) break;
    pos = end + 1;
  }
  return {};
}

} // namespace

std::optional<MicroDollars> parse_usd(std::string_view text) {
  std::size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole.empty() && fraction.empty()) return std::nullopt;
  for (char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  for (char c : fraction) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  if (whole.size() > 12) return std::nullopt;  // no price reaches a trillion dollars an hour
  MicroDollars value = 0;
  for (char c : whole) value = value * 10 + (c - '0');
  MicroDollars micros = 0;
  for (std::size_t i = 0; i < 6; ++i) micros = micros * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
  if (fraction.size() > 6 && fraction[6] >= '5') ++micros;
  return value * k_micro_dollars_per_dollar + micros;
}

std::optional<MicroDollars> summarize_spot(const std::vector<ZoneSpotPrice>& zones) {
  std::vector<MicroDollars> prices;
  prices.reserve(zones.size());
  for (const auto& z : zones) {
    if (z.spot_per_hour) prices.push_back(*z.spot_per_hour);
  }
  if (prices.empty()) return std::nullopt;
  auto middle = prices.begin() + static_cast<std::ptrdiff_t>((prices.size() - 1) / 2);
  std::nth_element(prices.begin(), middle, prices.end());
  return *middle;
}

Expected<Catalog> Catalog::parse(std::string_view text, std::string origin) {
  Catalog catalog;
  catalog.m_origin = std::move(origin);
  std::vector<std::string> errors;
  auto fail = [&](std::size_t line, const std::string& message) {
    if (errors.size() < k_max_errors) errors.push_back(catalog.m_origin + ":" + std::to_string(line) + ": " + message);
  };

  std::map<std::string, std::size_t, std::less<>> region_of;  // region name -> index in m_regions
  std::vector<std::string_view> seen_regions;  // regions of the current type
  std::vector<std::size_t> type_lines;        // line of each type, for messages after the pass
  std::vector<std::string_view> fields;
  std::vector<std::string_view> zone_fields;
  std::size_t line_number = 0;
  std::size_t last_line = 0;
  bool have_header = false;
  bool ended = false;
  // Index of the type the next price lines belong to. A plain index with a marker value: GCC 12 misreports a
  // std::optional here as maybe-uninitialized.
  constexpr std::uint32_t k_no_type = UINT32_MAX;
  constexpr std::uint32_t k_bad_type = UINT32_MAX - 1;  // after a type line with an error: skip its prices quietly
  std::uint32_t current_type = k_no_type;

  std::size_t pos = 0;
  while (pos < text.size() && errors.size() < k_max_errors) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    last_line = line_number;
    if (ended) {
      fail(line_number, "text after the \"end\" line");
      break;
    }
    split_fields(line, fields);
    if (fields.empty()) continue;
    std::string_view kind = fields[0];

    if (!have_header) {
      if (kind != "spawn-catalog" || fields.size() != 2) {
        fail(line_number, "not a spawn catalog (expected \"spawn-catalog " +
                              std::to_string(k_catalog_format_version) + "\" as the first line)");
        break;
      }
      auto version = parse_number<int>(fields[1]);
      if (!version || *version < 1) {
        fail(line_number, "bad catalog format version " + util::quote(fields[1]));
        break;
      }
      if (*version > k_catalog_format_version) {
        fail(line_number, "catalog format " + std::to_string(*version) + " is newer than this spawn reads (" +
                              std::to_string(k_catalog_format_version) + ")");
        break;
      }
      catalog.m_format_version = *version;
      have_header = true;
      continue;
    }

    if (kind == "provider" || kind == "snapshot" || kind == "source") {
      if (current_type != k_no_type) {
        fail(line_number, "header line \"" + std::string(kind) + "\" after the first type");
        continue;
      }
      std::string value(util::trim(line.substr(kind.size())));
      if (kind == "snapshot") {
        if (!is_date(value)) fail(line_number, "snapshot date must be YYYY-MM-DD, got " + util::quote(value));
        catalog.m_snapshot_date = value;
      } else if (kind == "provider") {
        if (value != "aws") fail(line_number, "unknown provider " + util::quote(value) + " (expected aws)");
        catalog.m_provider = value;
      } else {
        catalog.m_source = value;
      }
    } else if (kind == "type") {
      if (fields.size() != k_type_fields) {
        fail(line_number, "type line needs " + std::to_string(k_type_fields) + " fields, got " +
                              std::to_string(fields.size()));
        current_type = k_bad_type;
        continue;
      }
      InstanceType t;
      t.name = std::string(fields[1]);
      t.family = std::string(fields[2]);
      auto arch = arch_from_string(fields[3]);
      auto vcpus = parse_number<std::uint32_t>(fields[4]);
      auto memory = parse_number<std::uint64_t>(fields[5]);
      auto accel_kind = accelerator_kind_from_string(fields[6]);
      auto accel_count = parse_number<std::uint32_t>(fields[7]);
      auto accel_memory = parse_number<std::uint64_t>(fields[9]);
      std::string bad;
      if (!arch) bad = "architecture " + util::quote(fields[3]) + " (expected x86_64 or arm64)";
      else if (!vcpus || *vcpus == 0) bad = "vCPU count " + util::quote(fields[4]);
      else if (!memory || *memory == 0) bad = "memory " + util::quote(fields[5]);
      else if (!accel_kind) bad = "accelerator kind " + util::quote(fields[6]);
      else if (!accel_count) bad = "accelerator count " + util::quote(fields[7]);
      else if (!accel_memory) bad = "accelerator memory " + util::quote(fields[9]);
      else if ((*accel_kind == AcceleratorKind::none) != (*accel_count == 0))
        bad = "accelerator count " + std::string(fields[7]) + " for kind " + std::string(fields[6]);
      if (bad.empty() && !t.name.starts_with(t.family + ".")) bad = "family " + util::quote(t.family) + " for type";
      if (bad.empty() && fields[10] != "-") {
        for (const auto& flag : util::split(fields[10], ',')) {
          if (flag == "burstable") t.burstable = true;
          else if (flag == "previous") t.previous_generation = true;
          else if (flag == "macos") t.macos = true;
          else bad = "flag " + util::quote(flag) + " (expected burstable, previous, macos or -)";
        }
      }
      if (!bad.empty()) {
        fail(line_number, t.name + ": bad " + bad);
        current_type = k_bad_type;
        continue;
      }
      t.arch = *arch;
      t.vcpus = *vcpus;
      t.memory_mib = *memory;
      t.accelerator_kind = *accel_kind;
      t.accelerator_count = *accel_count;
      t.accelerator_model = decode_model(fields[8]);
      t.accelerator_memory_mib = *accel_memory;
      current_type = static_cast<std::uint32_t>(catalog.m_types.size());
      catalog.m_types.push_back(std::move(t));
      type_lines.push_back(line_number);
      seen_regions.clear();
    } else if (kind == "price") {
      if (current_type == k_bad_type) continue;
      if (current_type == k_no_type) {
        fail(line_number, "price line before the first type line");
        continue;
      }
      const std::string& type_name = catalog.m_types[current_type].name;
      if (fields.size() < 3) {
        fail(line_number, type_name + ": price line needs a region and an on-demand price");
        continue;
      }
      Offer offer;
      offer.type = current_type;
      offer.price.region = std::string(fields[1]);
      if (std::find(seen_regions.begin(), seen_regions.end(), fields[1]) != seen_regions.end()) {
        fail(line_number, type_name + ": second price line for region " + std::string(fields[1]));
        continue;
      }
      seen_regions.push_back(fields[1]);
      if (fields[2] != "-") {
        offer.price.on_demand_per_hour = parse_usd(fields[2]);
        if (!offer.price.on_demand_per_hour) {
          fail(line_number, type_name + " in " + offer.price.region + ": bad on-demand price " + util::quote(fields[2]));
          continue;
        }
      }
      offer.price.zones.reserve(fields.size() - 3);
      bool ok = true;
      for (std::size_t i = 3; i < fields.size(); ++i) {
        std::size_t eq = fields[i].find('=');
        if (eq == std::string_view::npos || eq == 0) {
          fail(line_number, type_name + " in " + offer.price.region + ": expected ZONE=PRICE, got " +
                                util::quote(fields[i]));
          ok = false;
          break;
        }
        ZoneSpotPrice zone{std::string(fields[i].substr(0, eq)), std::nullopt};
        std::string_view price = fields[i].substr(eq + 1);
        if (price != "-") {
          zone.spot_per_hour = parse_usd(price);
          if (!zone.spot_per_hour) {
            fail(line_number, type_name + " in " + zone.zone + ": bad spot price " + util::quote(price));
            ok = false;
            break;
          }
        }
        offer.price.zones.push_back(std::move(zone));
      }
      if (!ok) continue;
      std::sort(offer.price.zones.begin(), offer.price.zones.end(),
                [](const ZoneSpotPrice& a, const ZoneSpotPrice& b) { return a.zone < b.zone; });
      offer.price.spot_per_hour = summarize_spot(offer.price.zones);
      auto [it, inserted] = region_of.try_emplace(offer.price.region, catalog.m_offers.size());
      if (inserted) catalog.m_offers.emplace_back();
      catalog.m_offers[it->second].push_back(std::move(offer));
    } else if (kind == "end") {
      ended = true;
    } else {
      fail(line_number, "unknown line kind " + util::quote(kind) +
                            " (expected provider, snapshot, source, type, price or end)");
    }
  }

  if (errors.empty()) {
    if (!have_header) fail(std::max<std::size_t>(line_number, 1), "empty catalog (no \"spawn-catalog\" line)");
    else if (!ended) fail(last_line, "missing \"end\" line (is the file truncated?)");
    else if (catalog.m_snapshot_date.empty()) fail(last_line, "no \"snapshot\" line in the header");
    else if (catalog.m_provider.empty()) fail(last_line, "no \"provider\" line in the header");
    else if (catalog.m_types.empty()) fail(last_line, "no instance types");
  }
  if (!errors.empty()) return Unexpected(util::join(errors, "\n"));

  const std::string where = catalog.m_origin;
  return finish(std::move(catalog), region_of, [&](std::uint32_t a, std::uint32_t b) {
    return where + ":" + std::to_string(std::max(type_lines[a], type_lines[b]));
  });
}

Expected<Catalog> Catalog::finish(Catalog catalog, const std::map<std::string, std::size_t, std::less<>>& region_of,
                                  const std::function<std::string(std::uint32_t, std::uint32_t)>& where) {
  // Types sorted by name (a refresh may write them in any order); offers keep pointing at the right type.
  std::vector<std::uint32_t> order(catalog.m_types.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return catalog.m_types[a].name < catalog.m_types[b].name; });
  std::vector<std::uint32_t> new_index(order.size());
  std::vector<InstanceType> sorted;
  sorted.reserve(order.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) {
    new_index[order[i]] = i;
    if (i > 0 && catalog.m_types[order[i]].name == sorted.back().name)
      return Unexpected(where(order[i], order[i - 1]) + ": type " + sorted.back().name + " is listed twice");
    sorted.push_back(std::move(catalog.m_types[order[i]]));
  }
  catalog.m_types = std::move(sorted);

  // Regions sorted by name; offers within a region sorted by type.
  std::vector<std::vector<Offer>> offers(region_of.size());
  for (const auto& [name, index] : region_of) {
    catalog.m_regions.push_back(name);
    auto& list = catalog.m_offers[index];
    for (auto& offer : list) offer.type = new_index[offer.type];
    std::sort(list.begin(), list.end(), [](const Offer& a, const Offer& b) { return a.type < b.type; });
    offers[catalog.m_regions.size() - 1] = std::move(list);
  }
  catalog.m_offers = std::move(offers);

  for (const auto& t : catalog.m_types) {
    if (!t.accelerator_model.empty()) catalog.m_accelerator_models.push_back(t.accelerator_model);
  }
  std::sort(catalog.m_accelerator_models.begin(), catalog.m_accelerator_models.end());
  catalog.m_accelerator_models.erase(
      std::unique(catalog.m_accelerator_models.begin(), catalog.m_accelerator_models.end()),
      catalog.m_accelerator_models.end());
  return catalog;
}

Expected<Catalog> Catalog::assemble(Header header, std::vector<InstanceType> types, std::vector<Offer> offers) {
  Catalog catalog;
  catalog.m_format_version = k_catalog_format_version;
  catalog.m_provider = std::move(header.provider);
  catalog.m_snapshot_date = std::move(header.snapshot_date);
  catalog.m_source = std::move(header.source);
  catalog.m_origin = std::move(header.origin);
  if (!is_date(catalog.m_snapshot_date))
    return Unexpected(catalog.m_origin + ": snapshot date must be YYYY-MM-DD, got " + util::quote(catalog.m_snapshot_date));
  catalog.m_types = std::move(types);
  std::map<std::string, std::size_t, std::less<>> region_of;
  for (auto& offer : offers) {
    if (offer.type >= catalog.m_types.size())
      return Unexpected(catalog.m_origin + ": an offer in " + offer.price.region + " names no type");
    std::sort(offer.price.zones.begin(), offer.price.zones.end(),
              [](const ZoneSpotPrice& a, const ZoneSpotPrice& b) { return a.zone < b.zone; });
    offer.price.spot_per_hour = summarize_spot(offer.price.zones);
    auto [it, inserted] = region_of.try_emplace(offer.price.region, catalog.m_offers.size());
    if (inserted) catalog.m_offers.emplace_back();
    auto& list = catalog.m_offers[it->second];
    for (const auto& other : list) {
      if (other.type == offer.type)
        return Unexpected(catalog.m_origin + ": " + catalog.m_types[offer.type].name + ": second price for region " +
                          offer.price.region);
    }
    list.push_back(std::move(offer));
  }
  if (catalog.m_types.empty()) return Unexpected(catalog.m_origin + ": no instance types");
  const std::string origin = catalog.m_origin;
  return finish(std::move(catalog), region_of, [&](std::uint32_t, std::uint32_t) { return origin; });
}

const InstanceType* Catalog::find_type(std::string_view name) const {
  auto it = std::lower_bound(m_types.begin(), m_types.end(), name,
                             [](const InstanceType& t, std::string_view n) { return t.name < n; });
  return it != m_types.end() && it->name == name ? &*it : nullptr;
}

std::optional<std::size_t> Catalog::region_index(std::string_view region) const {
  auto it = std::lower_bound(m_regions.begin(), m_regions.end(), region);
  if (it == m_regions.end() || *it != region) return std::nullopt;
  return static_cast<std::size_t>(it - m_regions.begin());
}

const RegionPrice* Catalog::find_price(std::string_view type_name, std::string_view region) const {
  const InstanceType* type = find_type(type_name);
  auto r = region_index(region);
  if (!type || !r) return nullptr;
  auto index = static_cast<std::uint32_t>(type - m_types.data());
  const auto& list = m_offers[*r];
  auto it = std::lower_bound(list.begin(), list.end(), index, [](const Offer& o, std::uint32_t i) { return o.type < i; });
  return it != list.end() && it->type == index ? &it->price : nullptr;
}

std::vector<std::string> Catalog::regions_offering(std::string_view type_name) const {
  std::vector<std::string> out;
  for (const auto& region : m_regions) {
    if (find_price(type_name, region)) out.push_back(region);
  }
  return out;
}

std::string write_catalog(const Catalog& catalog) {
  std::string out;
  out.reserve(1 << 20);
  out += "# spawn instance catalog: EC2 instance types, on-demand price per region, spot price per zone.\n";
  out += "# The format is described in docs/catalog.md.\n";
  out += "spawn-catalog " + std::to_string(k_catalog_format_version) + "\n";
  out += "provider " + catalog.provider() + "\n";
  out += "snapshot " + catalog.snapshot_date() + "\n";
  if (!catalog.source().empty()) out += "source " + catalog.source() + "\n";
  // Prices grouped by type, regions in order.
  std::vector<std::vector<const RegionPrice*>> by_type(catalog.types().size());
  for (std::size_t r = 0; r < catalog.regions().size(); ++r) {
    for (const auto& offer : catalog.offers(r)) by_type[offer.type].push_back(&offer.price);
  }
  for (std::size_t i = 0; i < catalog.types().size(); ++i) {
    const auto& t = catalog.types()[i];
    std::vector<std::string> flags;
    if (t.burstable) flags.emplace_back("burstable");
    if (t.previous_generation) flags.emplace_back("previous");
    if (t.macos) flags.emplace_back("macos");
    out += "type " + t.name + " " + t.family + " " + to_string(t.arch) + " " + std::to_string(t.vcpus) + " " +
           std::to_string(t.memory_mib) + " " + to_string(t.accelerator_kind) + " " +
           std::to_string(t.accelerator_count) + " " + encode_model(t.accelerator_model) + " " +
           std::to_string(t.accelerator_memory_mib) + " " + (flags.empty() ? "-" : util::join(flags, ",")) + "\n";
    for (const RegionPrice* price : by_type[i]) {
      out += "price " + price->region + " " + format_price(price->on_demand_per_hour);
      for (const auto& zone : price->zones) out += " " + zone.zone + "=" + format_price(zone.spot_per_hour);
      out += "\n";
    }
  }
  out += "end\n";
  return out;
}

std::optional<std::filesystem::path> default_cache_catalog_path() {
  std::filesystem::path base;
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  // The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
  if (xdg && *xdg && std::filesystem::path(xdg).is_absolute()) base = xdg;
  else if (home && *home) base = std::filesystem::path(home) / ".cache";
  else return std::nullopt;
  return base / "spawn" / "catalog" / "aws-ec2.catalog";
}

Expected<Catalog> load_catalog(const std::optional<std::filesystem::path>& cache_path) {
  std::string_view builtin = builtin_catalog_text();
  if (cache_path) {
    std::error_code ec;
    if (std::filesystem::exists(*cache_path, ec)) {
      auto text = util::read_file(*cache_path);
      if (!text) return Unexpected(text.error());
      auto cached = Catalog::parse(*text, cache_path->string());
      if (!cached) return cached;
      // A spawn upgrade may bring a newer snapshot than an old refresh; the newer prices win. Dates compare as text.
      if (cached->snapshot_date() >= peek_snapshot_date(builtin)) return cached;
    }
  }
  return Catalog::parse(builtin, "built-in");
}

Expected<Catalog> load_catalog() { return load_catalog(default_cache_catalog_path()); }

} // namespace spawn::catalog
