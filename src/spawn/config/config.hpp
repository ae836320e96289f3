#pragma once
// The configuration: the mapping file (YAML: defaults, partitions, modules, profiles), the SPAWN_* environment and
// the command line, layered through the key table (config/settings.hpp). docs/config.md is the user's reference.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/settings.hpp"
#include "util/error.hpp"

namespace spawn::config {

using Environment = std::map<std::string, std::string, std::less<>>;
// The environment of this process.
Environment process_environment();

// Where the configuration comes from. Tests pass their own env; the CLI passes process_environment().
struct ConfigSources {
  std::optional<std::filesystem::path> explicit_path; // --config FILE
  Environment env;                                    // SPAWN_*, SPAWN_CONFIG, XDG_CONFIG_HOME, HOME
  std::optional<std::string> profile;                 // --config-profile NAME
};

enum class ConfigPathSource { command_line, environment, default_location, none };

// Which file would be read: --config, else $SPAWN_CONFIG, else ${XDG_CONFIG_HOME:-~/.config}/spawn/config.yaml.
struct ConfigLocation {
  std::optional<std::filesystem::path> path; // nullopt: neither XDG_CONFIG_HOME nor HOME is set
  ConfigPathSource source = ConfigPathSource::none;
  bool exists = false;
  // "--config", "$SPAWN_CONFIG", "the default location" or "nowhere".
  std::string_view source_text() const;
};
// Locates the file without reading it.
ConfigLocation locate_config(const ConfigSources& sources);

enum class ModuleProvider { conda, spack, ami, container, shell, env, ignore };
const char* to_string(ModuleProvider provider);

// What provides one environment module in the cloud (an entry of modules:).
struct ModuleMapping {
  std::string key; // as written in the file: "python/3.9" or "python"
  ModuleProvider provider = ModuleProvider::ignore;
  std::string value;                      // package spec, AMI id, image or shell snippet; empty for env and ignore
  std::map<std::string, std::string> env; // provider env: the variables to set
  std::string origin;                     // "mapping.yaml:41"
  // "conda python=3.9", "env PATH=/opt/x", "ignore": one line for listings.
  std::string describe() const;
};

// A named block of settings (an entry of partitions: or profiles:); settings.is_set(key) tells which keys it gives.
struct SettingsBlock {
  std::string name;
  std::string origin; // "mapping.yaml:20": the line of its name
  Settings settings;
};

// One value a job gives for a key (a #SPAWN line), for Config::resolve.
struct Assignment {
  std::string key;    // "spot", "max-concurrent" or "--max-concurrent"
  std::string value;  // as written ("false", "c5.4xlarge,c6i.4xlarge")
  std::string origin; // "job.sbatch:4"
};

// What a job adds to the configuration.
struct JobContext {
  std::optional<std::string> partition = {}; // the job's --partition (first of a list)
  std::optional<Assignment> profile = {};    // #SPAWN --config-profile (its key is ignored)
  std::vector<Assignment> directives = {};   // other #SPAWN settings, in script order
};

// One line of `spawn config show`: "(origin) key = value".
struct DescribedValue {
  std::string key; // "region", "partitions.gpu.spot", "modules.python/3.9", "profiles.big.max_concurrent"
  std::string value;
  std::string origin;
};

class Config {
public:
  // Settings for a job without partition or #SPAWN: default < defaults: < profile < environment < command line.
  const Settings& settings() const { return m_settings; }
  // Settings for one job: default < defaults: < profile < partition < #SPAWN < environment < command line. A profile
  // chosen on the command line or in the environment wins over the job's. Throws Error with every problem.
  Settings resolve(const JobContext& job) const;
  // Sets key ("max_concurrent", "max-concurrent" or "--max-concurrent") from the command line, above everything.
  [[nodiscard]] Expected<void> set_from_command_line(std::string_view key, std::string_view value);

  // The partitions: entry for a Slurm partition name (exact match); nullptr when the file has none.
  const SettingsBlock* partition(std::string_view name) const;
  const std::map<std::string, SettingsBlock, std::less<>>& partitions() const { return m_partitions; }
  // What provides `module load NAME[/VERSION]`: the entry for the whole name, else for the name with its last
  // "/part" removed, repeatedly ("bio/samtools/1.9" -> "bio/samtools" -> "bio"); nullptr when none matches.
  const ModuleMapping* module_mapping(std::string_view module) const;
  const std::map<std::string, ModuleMapping, std::less<>>& modules() const { return m_modules; }
  const std::map<std::string, SettingsBlock, std::less<>>& profiles() const { return m_profiles; }
  // The profile chosen by --config-profile or SPAWN_CONFIG_PROFILE, and which of them chose it.
  const std::optional<std::string>& profile() const { return m_profile; }
  const std::string& profile_origin() const { return m_profile_origin; }
  // The file read; nullopt when every value comes from defaults, environment and command line.
  const std::optional<std::filesystem::path>& file() const { return m_file; }

  // Every setting (key table order), then every partition, module and profile entry, with values and origins.
  std::vector<DescribedValue> describe() const;
  // The same as data: {"file", "profile", "settings": {key: {"value", "origin"}}, "partitions", "modules", "profiles"}.
  nlohmann::ordered_json to_json() const;

private:
  friend Config parse_config(std::string_view, const std::filesystem::path&, const ConfigSources&);
  Settings layered(const SettingsBlock* profile, const SettingsBlock* partition,
                   const std::vector<Assignment>& directives, std::vector<std::string>& errors) const;

  std::optional<std::filesystem::path> m_file;
  Settings m_defaults;    // the defaults: block (only the keys it gives are set)
  Settings m_environment; // SPAWN_* values
  Settings m_command_line;
  std::map<std::string, SettingsBlock, std::less<>> m_partitions;
  std::map<std::string, ModuleMapping, std::less<>> m_modules;
  std::map<std::string, SettingsBlock, std::less<>> m_profiles;
  std::optional<std::string> m_profile;
  std::string m_profile_origin;
  Settings m_settings; // the layers above, combined
};

// Finds and reads the configuration (see locate_config). An absent default file means all defaults; a file named by
// --config or $SPAWN_CONFIG that is missing is an error. Throws Error with every problem of the file and environment.
Config load_config(const ConfigSources& sources);
// The same from text already read; file names the text in messages and origins ("mapping.yaml:3").
Config parse_config(std::string_view yaml, const std::filesystem::path& file, const ConfigSources& sources);

} // namespace spawn::config
