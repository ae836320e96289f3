#pragma once
// Options of `spawn catalog list`, parsed into a requirement and a selection policy.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/select.hpp"
#include "core/resources.hpp"
#include "util/error.hpp"

namespace spawn::cli {

// A memory size as users write it: "16G", "16GB", "16GiB", "16384M", "1.5G", "1T", "512K"; a bare number is MiB
// (as in Slurm's --mem). Result in MiB, rounded up. Error: "--mem: expected a size such as 16G, 16GB or 16384M,
// got \"abc\"" (option names the flag).
Expected<std::uint64_t> parse_memory_mib(std::string_view option, std::string_view text);

struct CatalogListOptions {
  NodeRequirements requirements;                     // vcpus 0 when not given: every size is listed
  std::optional<std::string> region;                 // --region; else the config's
  Market market = Market::on_demand;                 // --spot; a listing quotes on-demand prices unless asked
  std::optional<std::vector<Arch>> architectures;    // --arch; else the config's (any with --all)
  bool all = false;                                  // --all: burstable, previous generation, macOS, accelerators too
  std::optional<std::string> config_file;            // --config FILE
  std::optional<std::string> config_profile;         // --config-profile NAME
  std::size_t limit = 20;                            // 0: no limit
  bool json = false;
};

// Parses the arguments after "catalog list"; every bad option is reported, one per line, naming option and value.
Expected<CatalogListOptions> parse_catalog_list_args(const std::vector<std::string>& args);

// The policy of the listing: base (from the config) with the command line's region, market and architectures;
// --all also lifts the burstable, previous-generation, macOS, accelerator and family limits.
catalog::SelectionPolicy list_policy(const CatalogListOptions& options, catalog::SelectionPolicy base);

} // namespace spawn::cli
