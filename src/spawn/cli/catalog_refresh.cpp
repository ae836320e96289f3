// spawn catalog refresh: the live EC2 catalog of one or more regions (types, on-demand and spot prices) merged into
// the user's cached catalog, which then replaces the built-in one (docs/catalog.md).
#include "cli/catalog_refresh.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>

#include <fmt/format.h>

#include "aws/services.hpp"
#include "aws/session.hpp"
#include "catalog/catalog.hpp"
#include "catalog/refresh.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "util/error.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

AcceleratorKind kind_of(const aws::AcceleratorInfo& a) {
  const std::string maker = lower(a.manufacturer);
  if (a.info == "gpu") {
    if (maker == "nvidia") return AcceleratorKind::nvidia_gpu;
    if (maker == "amd") return AcceleratorKind::amd_gpu;
    if (maker == "habana") return AcceleratorKind::gaudi;
    return AcceleratorKind::other;
  }
  if (a.info == "inference") return AcceleratorKind::inferentia;
  if (a.info == "neuron") return lower(a.name).starts_with("trainium") ? AcceleratorKind::trainium : AcceleratorKind::inferentia;
  if (a.info == "fpga") return AcceleratorKind::fpga;
  if (a.info == "media") return AcceleratorKind::video;
  return AcceleratorKind::other;
}

std::string today_utc() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return text;
}

struct RefreshArgs {
  std::vector<std::string> regions;
  std::optional<std::string> config_path;
};

RefreshArgs parse_args(const std::vector<std::string>& args) {
  RefreshArgs out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (auto eq = a.find('='); eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= args.size()) throw Error("spawn catalog refresh: " + a + " needs a value").with_exit_status(2);
      return args[++i];
    };
    if (a == "--region" || a.starts_with("--region=")) {
      for (const auto& r : util::split(value(), ','))
        if (!r.empty() && std::find(out.regions.begin(), out.regions.end(), r) == out.regions.end()) out.regions.push_back(r);
    } else if (a == "--config" || a.starts_with("--config=")) {
      out.config_path = value();
    } else {
      throw Error("spawn catalog refresh: unknown argument " + a + " (see spawn catalog refresh --help)").with_exit_status(2);
    }
  }
  return out;
}

std::shared_ptr<aws::Session> session_in(const std::optional<std::string>& region) {
  aws::SessionOptions options;
  if (region) options.region = *region;
  auto session = aws::Session::create(std::move(options));
  if (!session) throw Error("catalog refresh: AWS session: " + session.error().to_string());
  return *session;
}

// One region from the live APIs; every failed call is one message in errors (and no snapshot).
std::optional<catalog::RegionSnapshot> read_region(const std::string& region, std::vector<std::string>& errors) {
  auto session = session_in(region);
  aws::Ec2Client ec2(session);
  const std::size_t before = errors.size();
  auto fail = [&](const aws::AwsError& e) { errors.push_back("catalog refresh: " + e.to_string()); };

  auto types = ec2.describe_instance_types({});
  if (!types) fail(types.error());
  else std::cerr << region << ": " << types->size() << " instance types\n";
  auto zones = ec2.describe_availability_zones();
  if (!zones) fail(zones.error());
  aws::DescribeSpotPriceHistoryRequest spot_request;
  auto history = ec2.describe_spot_price_history(spot_request);
  if (!history) fail(history.error());
  aws::PricingClient pricing(session);
  auto products = pricing.get_products("AmazonEC2", {{"regionCode", region},
                                                     {"operatingSystem", "Linux"},
                                                     {"tenancy", "Shared"},
                                                     {"preInstalledSw", "NA"},
                                                     {"capacitystatus", "Used"}});
  if (!products) fail(products.error());
  if (errors.size() > before) return std::nullopt;

  std::map<std::string, std::string> zone_ids;
  for (const auto& z : *zones) zone_ids[z.name] = z.id;
  auto spot = latest_spot_prices(*history, zone_ids);
  auto on_demand = on_demand_prices(*products);
  std::size_t spot_count = 0;
  for (const auto& [type, list] : spot) spot_count += list.size();
  std::cerr << region << ": " << on_demand.size() << " on-demand prices (Price List), " << spot_count
            << " spot prices in " << zones->size() << " zones\n";

  catalog::RegionSnapshot snapshot;
  snapshot.region = region;
  for (const auto& info : *types) {
    RegionPrice price;
    price.region = region;
    if (auto it = on_demand.find(info.instance_type); it != on_demand.end()) price.on_demand_per_hour = it->second;
    if (auto it = spot.find(info.instance_type); it != spot.end()) price.zones = it->second;
    // A type with neither price cannot be chosen or priced: it is left out of the region, as the snapshot does.
    if (!price.on_demand_per_hour && price.zones.empty()) continue;
    snapshot.types.push_back(instance_type_from_api(info));
    snapshot.prices.push_back(std::move(price));
  }
  return snapshot;
}

} // namespace

InstanceType instance_type_from_api(const aws::InstanceTypeInfo& info) {
  InstanceType t;
  t.name = info.instance_type;
  t.family = t.name.substr(0, t.name.find('.'));
  bool x86 = false;
  bool arm = false;
  for (const auto& a : info.architectures) {
    if (a.ends_with("_mac")) t.macos = true;
    if (a.starts_with("x86_64")) x86 = true;
    if (a.starts_with("arm64")) arm = true;
  }
  t.arch = arm && !x86 ? Arch::arm64 : Arch::x86_64;
  t.vcpus = static_cast<std::uint32_t>(std::max(info.vcpus, 0));
  t.memory_mib = info.memory_mib;
  t.burstable = info.burstable;
  t.previous_generation = !info.current_generation;
  for (const auto& a : info.accelerators) {
    if (a.count <= 0) continue;
    if (t.accelerator_count == 0) {
      t.accelerator_kind = kind_of(a);
      t.accelerator_model = a.name;
      t.accelerator_memory_mib = a.memory_mib;
    }
    t.accelerator_count += static_cast<std::uint32_t>(a.count);
  }
  // AWS names both memory sizes "A100" and "V100"; the catalog, like the GPU requests it matches, tells them apart.
  if (t.accelerator_model == "A100" && t.accelerator_memory_mib >= 80 * 1000) t.accelerator_model = "A100-80GB";
  if (t.accelerator_model == "V100" && t.accelerator_memory_mib >= 32 * 1000) t.accelerator_model = "V100-32GB";
  return t;
}

std::map<std::string, std::vector<ZoneSpotPrice>> latest_spot_prices(const std::vector<aws::SpotPrice>& history,
                                                                     const std::map<std::string, std::string>& zone_ids) {
  // (type, zone) -> (timestamp, price); ISO 8601 timestamps in one format compare as text.
  std::map<std::pair<std::string, std::string>, std::pair<std::string, MicroDollars>> latest;
  for (const auto& record : history) {
    if (record.product_description != "Linux/UNIX") continue;
    auto price = catalog::parse_usd(record.price);
    if (!price) continue;
    auto zone = zone_ids.find(record.availability_zone);
    const std::string& zone_id = zone == zone_ids.end() ? record.availability_zone : zone->second;
    auto key = std::make_pair(record.instance_type, zone_id);
    auto it = latest.find(key);
    if (it == latest.end() || record.timestamp > it->second.first) latest[key] = {record.timestamp, *price};
  }
  std::map<std::string, std::vector<ZoneSpotPrice>> out;
  for (const auto& [key, value] : latest) out[key.first].push_back({key.second, value.second});
  return out;
}

std::map<std::string, MicroDollars> on_demand_prices(const std::vector<nlohmann::json>& products) {
  std::map<std::string, MicroDollars> out;
  for (const auto& product : products) {
    const nlohmann::json* attributes = nullptr;
    if (auto p = product.find("product"); p != product.end() && p->is_object())
      if (auto a = p->find("attributes"); a != p->end() && a->is_object()) attributes = &*a;
    if (!attributes) continue;
    auto attribute = [&](const char* name) {
      auto it = attributes->find(name);
      return it != attributes->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (attribute("operatingSystem") != "Linux" || attribute("tenancy") != "Shared" ||
        attribute("preInstalledSw") != "NA" || attribute("capacitystatus") != "Used")
      continue;
    const std::string type = attribute("instanceType");
    auto terms = product.find("terms");
    if (type.empty() || terms == product.end() || !terms->is_object()) continue;
    auto on_demand = terms->find("OnDemand");
    if (on_demand == terms->end() || !on_demand->is_object()) continue;
    for (const auto& term : *on_demand) {
      auto dimensions = term.find("priceDimensions");
      if (!term.is_object() || dimensions == term.end() || !dimensions->is_object()) continue;
      for (const auto& dimension : *dimensions) {
        if (!dimension.is_object() || dimension.value("unit", "") != "Hrs") continue;
        auto per_unit = dimension.find("pricePerUnit");
        if (per_unit == dimension.end() || !per_unit->is_object()) continue;
        auto price = catalog::parse_usd(per_unit->value("USD", ""));
        if (price && *price > 0) out[type] = *price;
      }
    }
  }
  return out;
}

int cmd_catalog_refresh(const std::vector<std::string>& raw) {
  auto args = parse_args(raw);
  if (args.regions.empty()) {
    config::ConfigSources sources;
    if (args.config_path) sources.explicit_path = *args.config_path;
    sources.env = config::process_environment();
    const auto settings = config::load_config(sources).settings();
    args.regions.push_back(settings.is_set("region") ? settings.region : session_in(std::nullopt)->region());
  }
  auto path = catalog::default_cache_catalog_path();
  if (!path) throw Error("catalog refresh: neither XDG_CACHE_HOME nor HOME is set, so there is no cache to write to");

  // The base: the catalog in use (an earlier refresh keeps its other regions), or the built-in one when the
  // cached copy is unreadable (the refresh then repairs it).
  auto base = catalog::load_catalog(path);
  if (!base) {
    std::cerr << "spawn: warning: ignoring the cached catalog: " << util::split(base.error(), '\n').front() << "\n";
    base = catalog::load_catalog(std::nullopt);
    if (!base) throw Error(util::split(base.error(), '\n'));
  }
  const std::string date = today_utc();
  std::vector<std::string> errors;
  std::vector<std::string> done;
  catalog::Catalog merged = *base;
  for (const auto& region : args.regions) {
    auto snapshot = read_region(region, errors);
    if (!snapshot) continue;
    auto next = catalog::merge_region(merged, *snapshot, date, path->string());
    if (!next) {
      errors.push_back("catalog refresh: " + region + ": " + next.error());
      continue;
    }
    merged = std::move(*next);
    done.push_back(fmt::format("{} ({} types)", region, snapshot->types.size()));
  }
  if (!done.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(path->parent_path(), ec);
    if (auto w = util::write_file_atomic(*path, catalog::write_catalog(merged)); !w)
      throw Error("catalog refresh: writing " + path->string() + ": " + w.error());
    std::size_t offers = 0;
    for (std::size_t r = 0; r < merged.regions().size(); ++r) offers += merged.offers(r).size();
    std::cout << "Refreshed " << util::join(done, ", ") << "; prices of " << date << ".\n"
              << "Catalog " << path->string() << ": " << merged.types().size() << " instance types, " << offers
              << " type-region offers in " << merged.regions().size() << " regions";
    std::vector<std::string> dates;
    for (const auto& [region, when] : catalog::refreshed_regions(merged)) dates.push_back(region + " " + when);
    std::cout << " (refreshed: " << util::join(dates, ", ") << "; the others as of the base catalog).\n";
  }
  if (!errors.empty()) throw Error(errors);
  return 0;
}

} // namespace spawn::cli
