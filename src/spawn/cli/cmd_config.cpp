// spawn config show|path: every setting with its value and origin, and which file spawn reads.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "util/error.hpp"

namespace spawn::cli {

namespace {

enum class Output { text, json };

struct ConfigArgs {
  std::string action;
  config::ConfigSources sources;
  Output output = Output::text;
};

ConfigArgs parse_config_args(const std::vector<std::string>& args) {
  ConfigArgs parsed;
  auto usage_error = [](const std::string& message) {
    return Error("config: " + message +
                 " (usage: spawn config show|path [--config FILE] [--config-profile NAME] [--json])")
        .with_exit_status(2);
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    auto value_of = [&](std::string_view option) -> std::optional<std::string> {
      if (arg == option) {
        if (i + 1 >= args.size()) throw usage_error(std::string(option) + " needs a value");
        return args[++i];
      }
      if (arg.starts_with(std::string(option) + "=")) return arg.substr(option.size() + 1);
      return std::nullopt;
    };
    if (arg == "--json") {
      parsed.output = Output::json;
    } else if (auto path = value_of("--config")) {
      parsed.sources.explicit_path = *path;
    } else if (auto profile = value_of("--config-profile")) {
      parsed.sources.profile = *profile;
    } else if (arg.starts_with("-") || !parsed.action.empty()) {
      throw usage_error("unexpected argument \"" + arg + "\"");
    } else {
      parsed.action = arg;
    }
  }
  if (parsed.action != "show" && parsed.action != "path") {
    throw usage_error(parsed.action.empty() ? "missing action: show or path"
                                            : "unknown action \"" + parsed.action + "\"");
  }
  return parsed;
}

int show_path(const ConfigArgs& args) {
  auto location = config::locate_config(args.sources);
  if (args.output == Output::json) {
    nlohmann::ordered_json out = {
        {"path", location.path ? nlohmann::ordered_json(location.path->string()) : nlohmann::ordered_json(nullptr)},
        {"source", location.source_text()},
        {"exists", location.exists}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (!location.path) {
    std::cerr
        << "spawn: no configuration file: neither XDG_CONFIG_HOME nor HOME is set; every setting has its default\n";
    return 0;
  }
  std::cout << location.path->string() << "\n";
  if (!location.exists) {
    std::cerr << "spawn: note: " << location.path->string() << " (from " << location.source_text() << ") does not exist"
              << (location.source == config::ConfigPathSource::default_location ? "; every setting has its default"
                                                                                : "; reading it would fail")
              << "\n";
  }
  return 0;
}

int show_settings(const ConfigArgs& args) {
  auto loaded = config::load_config(args.sources);
  if (args.output == Output::json) {
    std::cout << loaded.to_json().dump(2) << "\n";
    return 0;
  }
  if (loaded.profile())
    std::cout << "(" << loaded.profile_origin() << ") config_profile = " << *loaded.profile() << "\n";
  for (const auto& item : loaded.describe()) {
    std::cout << "(" << item.origin << ") " << item.key << " = " << item.value << "\n";
  }
  return 0;
}

} // namespace

int cmd_config(const std::vector<std::string>& args) {
  auto parsed = parse_config_args(args);
  parsed.sources.env = config::process_environment();
  return parsed.action == "path" ? show_path(parsed) : show_settings(parsed);
}

} // namespace spawn::cli
