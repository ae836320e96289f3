#include "config/config.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "util/files.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace spawn::config {

Environment process_environment() {
  Environment env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view text(*entry);
    auto eq = text.find('=');
    if (eq != std::string_view::npos) env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

namespace {

std::optional<std::string> non_empty(const Environment& env, std::string_view name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

} // namespace

std::string_view ConfigLocation::source_text() const {
  switch (source) {
  case ConfigPathSource::command_line: return "--config";
  case ConfigPathSource::environment: return "$SPAWN_CONFIG";
  case ConfigPathSource::default_location: return "the default location";
  case ConfigPathSource::none: return "nowhere";
  }
  return "nowhere";
}

ConfigLocation locate_config(const ConfigSources& sources) {
  ConfigLocation location;
  if (sources.explicit_path) {
    location.path = *sources.explicit_path;
    location.source = ConfigPathSource::command_line;
  } else if (auto named = non_empty(sources.env, "SPAWN_CONFIG")) {
    location.path = *named;
    location.source = ConfigPathSource::environment;
  } else {
    // XDG base directory rules: XDG_CONFIG_HOME counts only when absolute.
    auto xdg = non_empty(sources.env, "XDG_CONFIG_HOME");
    auto home = non_empty(sources.env, "HOME");
    if (xdg && std::filesystem::path(*xdg).is_absolute()) {
      location.path = std::filesystem::path(*xdg) / "spawn" / "config.yaml";
    } else if (home) {
      location.path = std::filesystem::path(*home) / ".config" / "spawn" / "config.yaml";
    }
    location.source = location.path ? ConfigPathSource::default_location : ConfigPathSource::none;
  }
  std::error_code ec;
  location.exists = location.path && std::filesystem::is_regular_file(*location.path, ec);
  return location;
}

const char* to_string(ModuleProvider provider) {
  switch (provider) {
  case ModuleProvider::conda: return "conda";
  case ModuleProvider::spack: return "spack";
  case ModuleProvider::ami: return "ami";
  case ModuleProvider::container: return "container";
  case ModuleProvider::shell: return "shell";
  case ModuleProvider::env: return "env";
  case ModuleProvider::ignore: return "ignore";
  }
  return "ignore";
}

std::string ModuleMapping::describe() const {
  std::string out = to_string(provider);
  if (provider == ModuleProvider::env) {
    std::vector<std::string> parts;
    for (const auto& [name, text] : env) parts.push_back(name + "=" + text);
    out += " " + util::join(parts, ",");
  } else if (provider != ModuleProvider::ignore) {
    out += " " + (value.find('\n') == std::string::npos ? value : util::quote(value));
  }
  return out;
}

namespace {

constexpr ModuleProvider k_module_providers[] = {ModuleProvider::conda,     ModuleProvider::spack, ModuleProvider::ami,
                                                 ModuleProvider::container, ModuleProvider::shell, ModuleProvider::env,
                                                 ModuleProvider::ignore};
const std::vector<std::string> k_sections = {"version", "defaults", "partitions", "modules", "profiles"};

int line_of(const YAML::Node& node) { return node.Mark().line >= 0 ? node.Mark().line + 1 : 0; }

std::string shape_of(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsScalar()) return util::quote(node.Scalar());
  return "nothing";
}

RawValue to_raw(const YAML::Node& node) {
  RawValue raw;
  if (node.IsScalar()) {
    raw.shape = RawValue::Shape::scalar;
    raw.text = node.Scalar();
  } else if (node.IsSequence()) {
    raw.shape = RawValue::Shape::list;
    for (const auto& item : node)
      raw.items.push_back({{}, item.IsScalar() ? item.Scalar() : "", line_of(item), item.IsScalar()});
  } else if (node.IsMap()) {
    raw.shape = RawValue::Shape::map;
    for (const auto& entry : node) {
      raw.items.push_back({entry.first.Scalar(), entry.second.IsScalar() ? entry.second.Scalar() : "",
                           line_of(entry.second), entry.second.IsScalar() || entry.second.IsNull()});
    }
  }
  return raw;
}

// Reads one file, collecting every problem as "FILE:LINE: KEY.PATH: message".
class Reader {
public:
  explicit Reader(std::string file) : m_file(std::move(file)) {}

  void error(int line, const std::string& path, const std::string& message) {
    m_errors.push_back(m_file + ":" + std::to_string(line) + ": " + (path.empty() ? "" : path + ": ") + message);
  }
  std::string origin(int line) const { return m_file + ":" + std::to_string(line); }
  std::vector<std::string>& errors() { return m_errors; }

  void unknown_key(int line, const std::string& path, const std::string& key, const std::vector<std::string>& known,
                   bool list_known) {
    std::string message = "unknown key";
    if (auto near = did_you_mean(key, known)) {
      message += " (did you mean " + util::quote(*near) + "?)";
    } else if (list_known) {
      message += " (expected one of: " + util::join(known, ", ") + ")";
    } else {
      message += " (docs/config.md lists every key)";
    }
    error(line, path, message);
  }

  // The entries of a mapping, with a message for every key given twice (yaml-cpp keeps both).
  std::vector<std::pair<YAML::Node, YAML::Node>> entries(const YAML::Node& map, const std::string& path) {
    std::vector<std::pair<YAML::Node, YAML::Node>> out;
    std::map<std::string, int> seen;
    for (const auto& entry : map) {
      const auto& key = entry.first;
      auto name = key.IsScalar() ? key.Scalar() : std::string();
      auto [it, fresh] = seen.emplace(name, line_of(key));
      if (!fresh) {
        error(line_of(key), join_path(path, name), "given twice (first on line " + std::to_string(it->second) + ")");
        continue;
      }
      out.emplace_back(entry.first, entry.second);
    }
    return out;
  }

  static std::string join_path(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  // A block of settings (defaults:, a partition, a profile): every key must be in the key table.
  void read_settings(const YAML::Node& node, const std::string& path, Settings& layer) {
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      error(line_of(node), path, "expected a mapping of settings, got " + shape_of(node));
      return;
    }
    const auto top = top_level_key_names();
    for (const auto& [key_node, value] : entries(node, path)) {
      auto name = key_node.Scalar();
      auto key_path = join_path(path, name);
      if (const auto* key = find_exact(name)) {
        set(*key, value, key_path, line_of(key_node), layer);
        continue;
      }
      auto members = group_members(name);
      if (members.empty()) {
        unknown_key(line_of(key_node), key_path, name, top, false);
        continue;
      }
      if (!value.IsMap()) {
        error(line_of(value), key_path,
              "expected a mapping with " + util::join(members, ", ") + ", got " + shape_of(value));
        continue;
      }
      for (const auto& [sub_node, sub_value] : entries(value, key_path)) {
        auto sub = sub_node.Scalar();
        if (const auto* key = find_exact(name + "." + sub)) {
          set(*key, sub_value, join_path(key_path, sub), line_of(sub_node), layer);
        } else {
          unknown_key(line_of(sub_node), join_path(key_path, sub), sub, members, true);
        }
      }
    }
  }

  void read_modules(const YAML::Node& node, std::map<std::string, ModuleMapping, std::less<>>& modules) {
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      error(line_of(node), "modules", "expected a mapping of module names, got " + shape_of(node));
      return;
    }
    std::vector<std::string> names;
    for (auto p : k_module_providers) names.push_back(to_string(p));
    for (const auto& [key_node, value] : entries(node, "modules")) {
      auto name = std::string(util::trim(key_node.Scalar()));
      auto path = "modules." + name;
      int line = line_of(key_node);
      if (name.empty() || std::any_of(name.begin(), name.end(), [](char c) { return c == ' ' || c == '\t'; })) {
        error(line, path, "expected a module name like python/3.9, got " + util::quote(key_node.Scalar()));
        continue;
      }
      if (!value.IsMap()) {
        error(line_of(value), path, "expected a mapping like {conda: python=3.9}, got " + shape_of(value));
        continue;
      }
      std::vector<std::string> given;
      std::optional<ModuleMapping> mapping;
      bool bad = false;
      for (const auto& [provider_node, provider_value] : entries(value, path)) {
        auto provider_name = provider_node.Scalar();
        auto provider_path = path + "." + provider_name;
        auto it = std::find(names.begin(), names.end(), provider_name);
        if (it == names.end()) {
          unknown_key(line_of(provider_node), provider_path, provider_name, names, true);
          bad = true;
          continue;
        }
        given.push_back(provider_name);
        ModuleMapping m;
        m.key = name;
        m.provider = k_module_providers[it - names.begin()];
        m.origin = origin(line);
        if (auto problem = read_module_value(m, provider_value)) {
          error(line_of(provider_value), provider_path, *problem);
          bad = true;
        }
        mapping = std::move(m);
      }
      if (given.size() > 1) {
        error(line, path, "more than one provider (" + util::join(given, ", ") + "); give exactly one");
      } else if (given.empty() && !bad) {
        error(line, path, "no provider; give one of " + util::join(names, ", "));
      } else if (!bad && mapping) {
        modules.emplace(name, std::move(*mapping));
      }
    }
  }

  // A named block per entry (partitions:, profiles:).
  void read_blocks(const YAML::Node& node, const std::string& section,
                   std::map<std::string, SettingsBlock, std::less<>>& blocks) {
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      error(line_of(node), section, "expected a mapping of names to settings, got " + shape_of(node));
      return;
    }
    for (const auto& [key_node, value] : entries(node, section)) {
      auto name = key_node.Scalar();
      if (name.empty()) {
        error(line_of(key_node), section, "expected a name, got " + shape_of(key_node));
        continue;
      }
      SettingsBlock block;
      block.name = name;
      block.origin = origin(line_of(key_node));
      read_settings(value, section + "." + name, block.settings);
      blocks.emplace(name, std::move(block));
    }
  }

private:
  static const KeyInfo* find_exact(const std::string& name) {
    for (const auto& key : keys()) {
      if (key.name == name) return &key;
    }
    return nullptr;
  }
  static std::vector<std::string> group_members(const std::string& group) {
    std::vector<std::string> out;
    for (const auto& key : keys()) {
      if (key.name.starts_with(group + ".")) out.emplace_back(key.name.substr(group.size() + 1));
    }
    return out;
  }

  void set(const KeyInfo& key, const YAML::Node& value, const std::string& path, int line, Settings& layer) {
    for (const auto& problem : assign_raw(layer, key, to_raw(value), origin(line))) {
      error(problem.line ? problem.line : line, path + problem.suffix, problem.message);
    }
  }

  static std::optional<std::string> read_module_value(ModuleMapping& m, const YAML::Node& value) {
    if (m.provider == ModuleProvider::ignore) {
      auto yes = value.IsScalar() ? parse_bool(value.Scalar()) : Expected<bool>(Unexpected(""));
      if (!yes || !*yes) return "expected true (remove the entry to stop ignoring the module), got " + shape_of(value);
      return std::nullopt;
    }
    if (m.provider == ModuleProvider::env) {
      if (!value.IsMap()) return "expected a mapping of variable names to values, got " + shape_of(value);
      for (const auto& entry : value) {
        auto name = entry.first.Scalar();
        bool ok =
            !name.empty() && !(name[0] >= '0' && name[0] <= '9') && std::all_of(name.begin(), name.end(), [](char c) {
              return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            });
        if (!ok) return "expected variable names like LD_LIBRARY_PATH, got " + util::quote(name);
        if (!entry.second.IsScalar() && !entry.second.IsNull()) {
          return name + ": expected a value, got " + shape_of(entry.second);
        }
        m.env[name] = entry.second.IsScalar() ? entry.second.Scalar() : "";
      }
      return std::nullopt;
    }
    if (!value.IsScalar() || util::trim(value.Scalar()).empty()) {
      return std::string("expected ") +
             (m.provider == ModuleProvider::conda       ? "a conda package spec like python=3.9"
              : m.provider == ModuleProvider::spack     ? "a spack spec like openmpi@4.1"
              : m.provider == ModuleProvider::ami       ? "an AMI id like ami-0123456789abcdef0"
              : m.provider == ModuleProvider::container ? "a container image like docker.io/library/python:3.9"
                                                        : "shell commands") +
             ", got " + shape_of(value);
    }
    m.value = m.provider == ModuleProvider::shell ? value.Scalar() : std::string(util::trim(value.Scalar()));
    if (m.provider == ModuleProvider::ami) {
      auto ami = parse_ami(m.value);
      if (!ami) return ami.error();
    }
    if (m.provider == ModuleProvider::container && m.value.find_first_of(" \t\n") != std::string::npos) {
      return "expected a container image like docker.io/library/python:3.9, got " + util::quote(m.value);
    }
    return std::nullopt;
  }

  std::string m_file;
  std::vector<std::string> m_errors;
};

} // namespace

Config parse_config(std::string_view yaml, const std::filesystem::path& file, const ConfigSources& sources) {
  Config config;
  std::vector<std::string> errors;
  if (!file.empty()) {
    config.m_file = file;
    Reader reader(file.string());
    YAML::Node root;
    try {
      root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
      reader.error(e.mark.line + 1, "", "not valid YAML: " + e.msg);
    }
    if (reader.errors().empty() && !root.IsNull()) {
      if (!root.IsMap()) {
        reader.error(line_of(root), "",
                     "expected a mapping with " + util::join(k_sections, ", ") + ", got " + shape_of(root));
      } else {
        for (const auto& [key_node, value] : reader.entries(root, "")) {
          auto name = key_node.Scalar();
          if (name == "version") {
            if (!value.IsScalar() || value.Scalar() != "1") {
              reader.error(line_of(value), "version", "expected 1, got " + shape_of(value));
            }
          } else if (name == "defaults") {
            reader.read_settings(value, "defaults", config.m_defaults);
          } else if (name == "partitions") {
            reader.read_blocks(value, "partitions", config.m_partitions);
          } else if (name == "modules") {
            reader.read_modules(value, config.m_modules);
          } else if (name == "profiles") {
            reader.read_blocks(value, "profiles", config.m_profiles);
          } else {
            reader.unknown_key(line_of(key_node), name, name, k_sections, true);
          }
        }
      }
    }
    errors = std::move(reader.errors());
  }

  for (const auto& key : keys()) {
    auto text = non_empty(sources.env, key.env);
    if (!text) continue;
    auto done = assign(config.m_environment, key, *text, key.env);
    if (!done) errors.push_back(key.env + ": " + done.error());
  }

  if (sources.profile) {
    config.m_profile = sources.profile;
    config.m_profile_origin = "--config-profile";
  } else if (auto named = non_empty(sources.env, "SPAWN_CONFIG_PROFILE")) {
    config.m_profile = named;
    config.m_profile_origin = "SPAWN_CONFIG_PROFILE";
  }
  if (errors.empty()) config.m_settings = config.layered(nullptr, nullptr, {}, errors);
  if (!errors.empty()) throw Error(std::move(errors));
  return config;
}

Config load_config(const ConfigSources& sources) {
  auto location = locate_config(sources);
  if (!location.path || (!location.exists && location.source == ConfigPathSource::default_location)) {
    return parse_config("", {}, sources);
  }
  if (!location.exists) {
    std::error_code ec;
    bool present = std::filesystem::exists(*location.path, ec);
    throw Error(location.path->string() + ": " + (present ? "not a regular file" : "no such file") + " (named by " +
                std::string(location.source_text()) + ")");
  }
  auto text = util::read_file(*location.path);
  if (!text) throw Error(text.error());
  return parse_config(*text, *location.path, sources);
}

Settings Config::layered(const SettingsBlock* profile, const SettingsBlock* partition,
                         const std::vector<Assignment>& directives, std::vector<std::string>& errors) const {
  Settings out;
  apply_layer(out, m_defaults);
  if (m_profile) {
    profile = nullptr;
    auto it = m_profiles.find(*m_profile);
    if (it != m_profiles.end()) {
      profile = &it->second;
    } else {
      std::vector<std::string> names;
      for (const auto& [name, block] : m_profiles) names.push_back(name);
      errors.push_back(m_profile_origin + ": no profile " + util::quote(*m_profile) +
                       (m_file ? " in " + m_file->string() : std::string(" (no configuration file was read)")) +
                       (names.empty() ? "" : " (profiles: " + util::join(names, ", ") + ")"));
    }
  }
  if (profile) apply_layer(out, profile->settings);
  if (partition) apply_layer(out, partition->settings);
  for (const auto& d : directives) {
    const auto* key = find_key(d.key);
    std::string option = key ? key->option : (d.key.starts_with("--") ? d.key : "--" + d.key);
    if (!key) {
      errors.push_back(d.origin + ": " + option + ": unknown setting");
      continue;
    }
    auto done = assign(out, *key, d.value, d.origin);
    if (!done) errors.push_back(d.origin + ": " + option + ": " + done.error());
  }
  apply_layer(out, m_environment);
  apply_layer(out, m_command_line);
  return out;
}

Settings Config::resolve(const JobContext& job) const {
  std::vector<std::string> errors;
  const SettingsBlock* profile = nullptr;
  if (job.profile && !m_profile) {
    auto it = m_profiles.find(job.profile->value);
    if (it != m_profiles.end()) {
      profile = &it->second;
    } else {
      std::vector<std::string> names;
      for (const auto& [name, block] : m_profiles) names.push_back(name);
      errors.push_back(job.profile->origin + ": --config-profile: no profile " + util::quote(job.profile->value) +
                       (m_file ? " in " + m_file->string() : std::string(" (no configuration file was read)")) +
                       (names.empty() ? "" : " (profiles: " + util::join(names, ", ") + ")"));
    }
  }
  const SettingsBlock* part = job.partition ? partition(*job.partition) : nullptr;
  auto out = layered(profile, part, job.directives, errors);
  if (!errors.empty()) throw Error(std::move(errors));
  return out;
}

Expected<void> Config::set_from_command_line(std::string_view key_name, std::string_view value) {
  const auto* key = find_key(key_name);
  if (!key) {
    std::vector<std::string> options;
    for (const auto& k : keys()) options.push_back(k.option);
    std::string shown = key_name.starts_with("--") ? std::string(key_name) : "--" + std::string(key_name);
    auto near = did_you_mean(shown, options);
    return Unexpected(shown + ": unknown setting" + (near ? " (did you mean " + util::quote(*near) + "?)" : ""));
  }
  auto done = assign(m_command_line, *key, value, "command line");
  if (!done) return Unexpected(key->option + ": " + done.error());
  std::vector<std::string> errors;
  m_settings = layered(nullptr, nullptr, {}, errors);
  return {};
}

const SettingsBlock* Config::partition(std::string_view name) const {
  auto it = m_partitions.find(name);
  return it == m_partitions.end() ? nullptr : &it->second;
}

const ModuleMapping* Config::module_mapping(std::string_view module) const {
  auto name = util::trim(module);
  while (!name.empty()) {
    auto it = m_modules.find(name);
    if (it != m_modules.end()) return &it->second;
    auto slash = name.rfind('/');
    if (slash == std::string_view::npos) break;
    name = name.substr(0, slash);
  }
  return nullptr;
}

std::vector<DescribedValue> Config::describe() const {
  std::vector<DescribedValue> out;
  for (const auto& key : keys()) {
    out.push_back({std::string(key.name), format_value(m_settings, key), std::string(m_settings.origin(key.name))});
  }
  auto blocks = [&](const std::string& section, const std::map<std::string, SettingsBlock, std::less<>>& map) {
    for (const auto& [name, block] : map) {
      for (const auto& key : keys()) {
        if (!block.settings.is_set(key.name)) continue;
        out.push_back({section + "." + name + "." + std::string(key.name), format_value(block.settings, key),
                       std::string(block.settings.origin(key.name))});
      }
    }
  };
  blocks("partitions", m_partitions);
  for (const auto& [name, mapping] : m_modules) out.push_back({"modules." + name, mapping.describe(), mapping.origin});
  blocks("profiles", m_profiles);
  return out;
}

nlohmann::ordered_json Config::to_json() const {
  using json = nlohmann::ordered_json;
  auto settings_json = [](const Settings& settings, bool only_set) {
    json out = json::object();
    for (const auto& key : keys()) {
      if (only_set && !settings.is_set(key.name)) continue;
      out[std::string(key.name)] = {{"value", json(value_json(settings, key))}, {"origin", settings.origin(key.name)}};
    }
    return out;
  };
  auto blocks_json = [&](const std::map<std::string, SettingsBlock, std::less<>>& map) {
    json out = json::object();
    for (const auto& [name, block] : map) {
      out[name] = {{"origin", block.origin}, {"settings", settings_json(block.settings, true)}};
    }
    return out;
  };
  json modules = json::object();
  for (const auto& [name, m] : m_modules) {
    modules[name] = {{"provider", to_string(m.provider)},
                     {"value", m.provider == ModuleProvider::env || m.provider == ModuleProvider::ignore
                                   ? json(nullptr)
                                   : json(m.value)},
                     {"env", m.env},
                     {"origin", m.origin}};
  }
  return {{"file", m_file ? json(m_file->string()) : json(nullptr)},
          {"profile", m_profile ? json(*m_profile) : json(nullptr)},
          {"settings", settings_json(m_settings, false)},
          {"partitions", blocks_json(m_partitions)},
          {"modules", modules},
          {"profiles", blocks_json(m_profiles)}};
}

} // namespace spawn::config
