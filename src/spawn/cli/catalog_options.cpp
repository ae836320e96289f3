#include "cli/catalog_options.hpp"

#include <cmath>
#include <limits>

#include "util/strings.hpp"

namespace spawn::cli {

Expected<std::uint64_t> parse_memory_mib(std::string_view option, std::string_view text) {
  auto bad = [&] {
    return Unexpected(std::string(option) + ": expected a size such as 16G, 16GB or 16384M, got " + util::quote(text));
  };
  std::size_t digits = 0;
  while (digits < text.size() && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) ++digits;
  std::string unit = util::to_lower(text.substr(digits));
  auto number = util::parse_double(text.substr(0, digits));
  if (!number) return bad();
  if (unit.ends_with("ib")) unit.erase(unit.size() - 2);
  else if (unit.ends_with("b") && unit.size() == 2) unit.pop_back();
  double mib = 0;
  if (unit.empty() || unit == "m") mib = *number;
  else if (unit == "k") mib = *number / 1024;
  else if (unit == "g") mib = *number * 1024;
  else if (unit == "t") mib = *number * 1024 * 1024;
  else return bad();
  if (!std::isfinite(mib) || mib > 1e15) return bad();
  return static_cast<std::uint64_t>(std::ceil(mib));
}

Expected<CatalogListOptions> parse_catalog_list_args(const std::vector<std::string>& args) {
  CatalogListOptions out;
  out.requirements.vcpus = 0;
  std::vector<std::string> errors;
  std::optional<std::string> arch;

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> value;
    if (auto eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.erase(eq);
    }
    auto flag = [&](bool& target) {
      if (value) errors.push_back(name + ": takes no value (got " + util::quote(*value) + ")");
      target = true;
    };
    auto take = [&]() -> std::optional<std::string> {
      if (value) return value;
      if (i + 1 < args.size()) return args[++i];
      errors.push_back(name + ": needs a value");
      return std::nullopt;
    };
    auto whole = [&](std::uint64_t max) -> std::optional<std::uint64_t> {
      auto text = take();
      if (!text) return std::nullopt;
      auto n = util::parse_uint(*text);
      if (!n || *n > max) {
        errors.push_back(name + ": expected a whole number" + (n ? " up to " + std::to_string(max) : std::string()) +
                         ", got " + util::quote(*text));
        return std::nullopt;
      }
      return n;
    };
    constexpr std::uint64_t k_max_u32 = std::numeric_limits<std::uint32_t>::max();

    if (name == "--region") {
      if (auto v = take()) out.region = *v;
    } else if (name == "--config") {
      if (auto v = take()) out.config_file = *v;
    } else if (name == "--config-profile") {
      if (auto v = take()) out.config_profile = *v;
    } else if (name == "--vcpus") {
      if (auto n = whole(k_max_u32)) out.requirements.vcpus = static_cast<std::uint32_t>(*n);
    } else if (name == "--mem") {
      if (auto v = take()) {
        auto mib = parse_memory_mib(name, *v);
        if (mib) out.requirements.memory_mib = *mib;
        else errors.push_back(mib.error());
      }
    } else if (name == "--gpus") {
      if (auto n = whole(k_max_u32)) out.requirements.gpus = static_cast<std::uint32_t>(*n);
    } else if (name == "--gpu-type") {
      if (auto v = take()) {
        if (util::trim(*v).empty()) errors.push_back(name + ": needs a GPU model such as a10g, got \"\"");
        else out.requirements.gpu_model = *v;
      }
    } else if (name == "--arch") {
      arch = take();
    } else if (name == "--spot") {
      bool spot = false;
      flag(spot);
      out.market = Market::spot;
    } else if (name == "--on-demand") {
      bool on_demand = false;
      flag(on_demand);
      out.market = Market::on_demand;
    } else if (name == "--all") {
      flag(out.all);
    } else if (name == "--limit") {
      if (auto n = whole(1'000'000)) out.limit = static_cast<std::size_t>(*n);
    } else if (name == "--json") {
      flag(out.json);
    } else if (name.starts_with("-")) {
      errors.push_back("catalog list: unknown option " + util::quote(name) + " (see spawn catalog list --help)");
    } else {
      errors.push_back("catalog list: unexpected argument " + util::quote(name));
    }
  }

  if (arch) {
    std::string a = util::to_lower(*arch);
    if (a == "x86_64" || a == "amd64" || a == "x86-64") out.architectures = std::vector<Arch>{Arch::x86_64};
    else if (a == "arm64" || a == "aarch64") out.architectures = std::vector<Arch>{Arch::arm64};
    else if (a == "any" || a == "all") out.architectures = std::vector<Arch>{Arch::x86_64, Arch::arm64};
    else errors.push_back("--arch: expected x86_64, arm64 or any, got " + util::quote(*arch));
  }
  if (!errors.empty()) return Unexpected(util::join(errors, "\n"));
  return out;
}

catalog::SelectionPolicy list_policy(const CatalogListOptions& options, catalog::SelectionPolicy base) {
  if (options.region) base.region = *options.region;
  base.market = options.market;
  if (options.all) {
    // Everything the catalog has a price for: burstable, previous generation, macOS and accelerator types too.
    base.allow_burstable = base.allow_previous_generation = base.allow_macos = true;
    base.allow_unrequested_accelerators = true;
    base.architectures = {Arch::x86_64, Arch::arm64};
    base.allowed_families.clear();
    base.denied_families.clear();
  }
  if (options.architectures) base.architectures = *options.architectures;
  return base;
}

} // namespace spawn::cli
