#pragma once
// The key table: every setting spawn has, with its type, default, environment variable and command-line option.
// A setting may come from the built-in default < the file's defaults: < the chosen profile < the job's partition <
// #SPAWN < the environment (SPAWN_<KEY>) < the command line; each value remembers where it came from.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/values.hpp"
#include "core/plan.hpp"
#include "core/resources.hpp"
#include "util/error.hpp"

namespace spawn::config {

enum class Provider { local, aws, slurm };
const char* to_string(Provider provider);

// What the site charges, for the cluster side of `spawn slurm estimate`.
struct InstitutionalRate {
  MicroDollars core_hour = 0;
  MicroDollars gpu_hour = 0;
  MicroDollars service_unit = 0;
};

// Where and how the AWS provider launches (keys "aws.*"; SPAWN_AWS_BUCKET and so on).
struct AwsSettings {
  std::optional<std::string> bucket;            // S3 bucket for task bundles, manifests, logs, markers
  std::string prefix = "spawn";                 // key prefix inside the bucket
  std::optional<std::string> key_pair;          // EC2 key pair name
  std::vector<std::string> subnets;             // empty: the default subnet of each zone
  std::vector<std::string> security_groups;     // empty: the VPC's default group
  std::optional<std::string> instance_profile;  // IAM instance profile name
  std::optional<std::uint32_t> root_volume_gib; // empty: the AMI's size
  std::uint32_t cooldown_seconds = 600;         // a pool that ran out of capacity is left alone this long
  std::uint32_t tasks_per_instance = 1;         // array tasks one instance runs one after the other
};

// What of the working directory travels with a cloud job (keys "workdir.*"; docs/aws.md).
struct WorkdirSettings {
  bool travel = true;                                            // upload it and bring the job's changes back
  std::vector<std::string> exclude = default_workdir_exclude();  // patterns (.spawnignore syntax)
  std::uint64_t confirm_above_mib = k_default_workdir_confirm_above_mib;  // memory size; larger uploads are confirmed
  std::map<std::string, std::string> stage_in;                   // path on the instance -> s3://bucket/key-or-prefix
  std::map<std::string, std::string> stage_out;                  // path on the instance -> s3://bucket/prefix
};

// Every setting, one member per row of the key table (config/settings.cpp); the initialisers are the defaults.
struct Settings {
  Provider provider = Provider::local;
  std::string region = "us-east-1";
  Market market = Market::spot; // key "spot"
  bool spot_fallback_to_on_demand = false;
  std::optional<MicroDollars> spot_max_price; // per instance-hour
  std::vector<std::string> instance_types;    // ordered; empty: chosen from the catalog
  std::uint32_t candidates = 3;
  std::vector<Arch> architectures = {Arch::x86_64};
  std::vector<std::string> families; // empty: every family
  std::vector<std::string> exclude_families;
  bool allow_burstable = false;
  bool allow_previous_generation = false;
  std::map<std::string, std::string> gpu_aliases; // site GPU name -> AWS GPU model
  std::optional<std::uint32_t> min_vcpus;
  std::optional<std::uint64_t> min_memory_mib; // key "min_memory"
  std::optional<std::uint32_t> min_gpus;
  std::optional<std::string> gpu_type;
  std::optional<std::string> ami;
  std::optional<std::string> container;
  ContainerRuntime container_runtime = ContainerRuntime::auto_detect;
  std::optional<std::uint32_t> max_concurrent; // nullopt: all tasks at once
  std::optional<Seconds> ttl;
  bool requeue = true;
  Seconds boot_overhead = 90;
  std::optional<DurationRange> queue_time;
  InstitutionalRate institutional_rate;
  AwsSettings aws;
  WorkdirSettings workdir;
  std::map<std::string, std::string> paths; // cluster path prefix -> s3://bucket/prefix or efs://fs-id/dir

  // Origin of every value that is not the default, by key name: "mapping.yaml:3", "SPAWN_REGION", "command line".
  std::map<std::string, std::string, std::less<>> origins;

  // Where key's value came from: its origin, or "default".
  std::string_view origin(std::string_view key) const;
  // Whether anything set key (in a partition or profile: whether that block gives it).
  bool is_set(std::string_view key) const { return origins.find(key) != origins.end(); }
};

// One row of the key table as the CLI, plan/ and the documentation see it.
struct KeyInfo {
  std::string_view name;    // "region", "institutional_rate.core_hour"
  std::string_view type;    // "true or false", "duration", "list of instance types"
  std::string_view summary; // one line
  std::string_view unset;   // how an unset or empty value reads ("(all at once)"), empty when it cannot be
  std::string_view alias;   // another name find_key accepts ("instance_type" for instance_types), or empty
  std::string env;          // "SPAWN_REGION", "SPAWN_INSTITUTIONAL_RATE_CORE_HOUR"
  std::string option;       // "--region" (command line and #SPAWN), "--institutional-rate-core-hour"
};

// Every key, in table order.
const std::vector<KeyInfo>& keys();
// The key called name (or its alias), written as "max_concurrent", "max-concurrent" or "--max-concurrent";
// nullptr when unknown.
const KeyInfo* find_key(std::string_view name);
// The first part of every key ("region", "institutional_rate"): the names a block of settings in the file may use.
std::vector<std::string> top_level_key_names();

// Sets key from text as the environment and the command line write it (lists "a,b", maps "a=b,c=d") and records
// origin; the error is "expected ..., got ...".
Expected<void> assign(Settings& settings, const KeyInfo& key, std::string_view text, std::string origin);
// The value of key as text in the syntax assign() reads; an unset optional or empty list gives key.unset.
std::string format_value(const Settings& settings, const KeyInfo& key);
// The value of key as JSON: numbers for counts, seconds for durations, dollars for money, null when unset.
nlohmann::json value_json(const Settings& settings, const KeyInfo& key);
// Copies every value layer gives (those with an origin) over settings, origins included.
void apply_layer(Settings& settings, const Settings& layer);

// A value as a YAML file gives it, for the file reader: one text, a list of texts or a map of texts, each with its
// line (1-based).
struct RawValue {
  enum class Shape { null, scalar, list, map };
  struct Item {
    std::string key; // map entries only
    std::string text;
    int line = 0;
    bool is_scalar = true; // false: the item is itself a list or a map (always an error)
  };
  Shape shape = Shape::null;
  std::string text; // scalar
  std::vector<Item> items;
};
// A problem with one value: suffix locates it below the key ("[1]", ".a100"), line 0 means the key's own line.
struct ValueError {
  std::string suffix;
  int line = 0;
  std::string message;
};
// Sets key from a file value and records origin; returns every problem found (empty on success).
std::vector<ValueError> assign_raw(Settings& settings, const KeyInfo& key, const RawValue& value, std::string origin);

} // namespace spawn::config
