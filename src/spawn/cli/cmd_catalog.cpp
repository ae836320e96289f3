// spawn catalog list: the instance types that match, cheapest first, with the date of their prices.
#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "catalog/select.hpp"
#include "cli/catalog_options.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "plan/selection.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

namespace {

// Memory in GiB with up to two decimals: 0.5, 3.75, 16.
std::string format_gib(std::uint64_t mib) {
  std::string text = fmt::format("{:.2f}", static_cast<double>(mib) / 1024.0);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

double usd(MicroDollars amount) { return static_cast<double>(amount) / static_cast<double>(k_micro_dollars_per_dollar); }

nlohmann::json optional_usd(std::optional<MicroDollars> amount) {
  return amount ? nlohmann::json(usd(*amount)) : nlohmann::json(nullptr);
}

nlohmann::json to_json(const catalog::Candidate& c) {
  nlohmann::json zones = nlohmann::json::object();
  for (const auto& z : c.price.zones) zones[z.zone] = optional_usd(z.spot_per_hour);
  const auto& t = c.type;
  return {{"instance_type", t.name},
          {"family", t.family},
          {"vcpus", t.vcpus},
          {"memory_gib", static_cast<double>(t.memory_mib) / 1024.0},
          {"gpus", t.accelerator_count},
          {"gpu_model", t.accelerator_model.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.accelerator_model)},
          {"accelerator_kind", to_string(t.accelerator_kind)},
          {"arch", to_string(t.arch)},
          {"price_per_hour_usd", usd(c.price_per_hour)},
          {"on_demand_per_hour_usd", optional_usd(c.price.on_demand_per_hour)},
          {"spot_per_hour_usd", optional_usd(c.price.spot_per_hour)},
          {"spot_per_zone_usd", zones}};
}

} // namespace

int cmd_catalog_list(const std::vector<std::string>& args) {
  auto options = parse_catalog_list_args(args);
  if (!options) throw Error(util::split(options.error(), '\n')).with_exit_status(2);
  // The listing uses the same policy as automatic selection (region, architectures, families, GPU aliases from
  // the config), so what it shows is what spawn would choose from.
  config::ConfigSources sources;
  if (options->config_file) sources.explicit_path = *options->config_file;
  sources.env = config::process_environment();
  sources.profile = options->config_profile;
  const catalog::SelectionPolicy policy =
      list_policy(*options, plan::selection_policy(config::load_config(sources).settings()));
  auto loaded = catalog::load_catalog();
  if (!loaded) throw Error(util::split(loaded.error(), '\n'));
  const catalog::Catalog& cat = *loaded;
  auto matches = catalog::matching_instances(cat, options->requirements, policy);
  if (!matches) throw Error(matches.error());

  const std::size_t total = matches->size();
  const std::size_t shown = options->limit == 0 ? total : std::min(total, options->limit);
  const char* market = to_string(policy.market);

  if (options->json) {
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 0; i < shown; ++i) list.push_back(to_json((*matches)[i]));
    nlohmann::json out = {{"region", policy.region},
                          {"market", market},
                          {"price_date", cat.snapshot_date()},
                          {"catalog", cat.origin()},
                          {"matching", total},
                          {"instance_types", list}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  std::cout << "Instance types in " << policy.region << ", " << market << " prices of "
            << cat.snapshot_date() << " (" << cat.origin() << " catalog"
            << (policy.market == Market::spot ? "; spot: median over zones" : "") << "), cheapest first:\n";
  std::vector<std::array<std::string, 7>> rows;
  rows.push_back({"TYPE", "VCPUS", "MEM_GIB", "GPUS", "GPU_MODEL", "ARCH", "USD/HOUR"});
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& c = (*matches)[i];
    rows.push_back({c.type.name, std::to_string(c.type.vcpus), format_gib(c.type.memory_mib),
                    std::to_string(c.type.accelerator_count),
                    c.type.accelerator_model.empty() ? "-" : c.type.accelerator_model, to_string(c.type.arch),
                    format_usd(c.price_per_hour)});
  }
  std::array<std::size_t, 7> width{};
  for (const auto& row : rows) {
    for (std::size_t col = 0; col < row.size(); ++col) width[col] = std::max(width[col], row[col].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t col = 0; col < row.size(); ++col) {
      bool numeric = col == 1 || col == 2 || col == 3 || col == 6;
      line += numeric ? fmt::format("{:>{}}", row[col], width[col]) : fmt::format("{:<{}}", row[col], width[col]);
      if (col + 1 < row.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
  if (shown < total) std::cout << "(" << shown << " of " << total << " shown; --limit 0 shows all)\n";
  return 0;
}

} // namespace spawn::cli
