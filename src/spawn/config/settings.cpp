#include "config/settings.hpp"

#include <algorithm>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "util/strings.hpp"

namespace spawn::config {

const char* to_string(Provider provider) {
  switch (provider) {
  case Provider::local: return "local";
  case Provider::aws: return "aws";
  case Provider::slurm: return "slurm";
  }
  return "local";
}

std::string_view Settings::origin(std::string_view key) const {
  auto it = origins.find(key);
  return it == origins.end() ? std::string_view("default") : std::string_view(it->second);
}

namespace {

using nlohmann::json;

Unexpected got(std::string_view expected, std::string_view text) {
  return Unexpected("expected " + std::string(expected) + ", got " + util::quote(text));
}

// A codec reads and writes one value (or one list element) of a key: parse, format, json and its type in words.
struct TextCodec { // a free-form name: non-empty, no spaces, no ',' or '=' (the list and map separators)
  using Value = std::string;
  static Expected<Value> parse(std::string_view raw) {
    auto text = util::trim(raw);
    bool ok = !text.empty() && std::none_of(text.begin(), text.end(), [](char c) {
      return c == ' ' || c == '\t' || c == ',' || c == '=' || static_cast<unsigned char>(c) < 0x20;
    });
    if (!ok) return got("a name without spaces, ',' or '='", raw);
    return std::string(text);
  }
  static std::string format(const Value& v) { return v; }
  static json to_json(const Value& v) { return v; }
};
struct ImageCodec : TextCodec {
  static constexpr std::string_view type = "container image";
};
struct GpuModelCodec : TextCodec {
  static constexpr std::string_view type = "GPU model";
};
struct RegionCodec : TextCodec {
  static constexpr std::string_view type = "AWS region";
  static Expected<Value> parse(std::string_view raw) { return parse_region(raw); }
};
struct AmiCodec : TextCodec {
  static constexpr std::string_view type = "AMI id";
  static Expected<Value> parse(std::string_view raw) { return parse_ami(raw); }
};
struct InstanceTypeCodec : TextCodec {
  static constexpr std::string_view type = "instance type";
  static constexpr std::string_view plural = "instance types";
  static Expected<Value> parse(std::string_view raw) { return parse_instance_type(raw); }
};
struct FamilyCodec : TextCodec {
  static constexpr std::string_view type = "instance family";
  static constexpr std::string_view plural = "instance families";
  static Expected<Value> parse(std::string_view raw) { return parse_family(raw); }
};
struct BucketCodec : TextCodec {
  static constexpr std::string_view type = "S3 bucket name";
};
struct KeyPrefixCodec : TextCodec {
  static constexpr std::string_view type = "S3 key prefix";
};
struct AwsNameCodec : TextCodec {
  static constexpr std::string_view type = "name";
};
struct SubnetCodec : TextCodec {
  static constexpr std::string_view type = "subnet id";
  static constexpr std::string_view plural = "subnet ids";
};
struct SecurityGroupCodec : TextCodec {
  static constexpr std::string_view type = "security group id";
  static constexpr std::string_view plural = "security group ids";
};
struct PatternCodec : TextCodec {
  static constexpr std::string_view type = "pattern";
  static constexpr std::string_view plural = "patterns (.spawnignore syntax)";
};
// "s3://bucket" or "s3://bucket/key/or/prefix".
Expected<std::string> parse_s3_url(std::string_view raw) {
  auto text = TextCodec::parse(raw);
  if (!text || !text->starts_with("s3://") || text->size() == 5 || (*text)[5] == '/') return got("s3://BUCKET/PREFIX", raw);
  return *text;
}
struct S3UrlCodec : TextCodec {
  static constexpr std::string_view type = "S3 URL (s3://bucket/prefix)";
  static Expected<Value> parse(std::string_view raw) { return parse_s3_url(raw); }
};
struct PathTargetCodec : TextCodec {
  static constexpr std::string_view type = "s3://bucket/prefix or efs://fs-id/dir";
  static Expected<Value> parse(std::string_view raw) {
    auto text = util::trim(raw);
    if (text.starts_with("efs://fs-") && text.size() > 9) return TextCodec::parse(raw);
    if (auto s3 = parse_s3_url(raw)) return s3;
    return got(type, raw);
  }
};
struct BoolCodec {
  using Value = bool;
  static constexpr std::string_view type = "true or false";
  static Expected<Value> parse(std::string_view raw) { return parse_bool(raw); }
  static std::string format(Value v) { return v ? "true" : "false"; }
  static json to_json(Value v) { return v; }
};
struct MarketCodec { // "spot: true|false"
  using Value = Market;
  static constexpr std::string_view type = "true or false";
  static Expected<Value> parse(std::string_view raw) {
    auto b = parse_bool(raw);
    if (!b) return Unexpected(b.error());
    return *b ? Market::spot : Market::on_demand;
  }
  static std::string format(Value v) { return v == Market::spot ? "true" : "false"; }
  static json to_json(Value v) { return v == Market::spot; }
};
struct ProviderCodec {
  using Value = Provider;
  static constexpr std::string_view type = "local, aws or slurm";
  static Expected<Value> parse(std::string_view raw) {
    auto text = util::to_lower(util::trim(raw));
    for (auto p : {Provider::local, Provider::aws, Provider::slurm}) {
      if (text == to_string(p)) return p;
    }
    return got("local, aws or slurm", raw);
  }
  static std::string format(Value v) { return to_string(v); }
  static json to_json(Value v) { return to_string(v); }
};
struct ContainerRuntimeCodec {
  using Value = ContainerRuntime;
  static constexpr std::string_view type = "docker, podman, apptainer or auto";
  static Expected<Value> parse(std::string_view raw) {
    if (auto r = container_runtime_from(util::to_lower(util::trim(raw)))) return *r;
    return got(type, raw);
  }
  static std::string format(Value v) { return to_string(v); }
  static json to_json(Value v) { return to_string(v); }
};
struct ArchCodec {
  using Value = Arch;
  static constexpr std::string_view type = "x86_64 or arm64";
  static constexpr std::string_view plural = "architectures (x86_64, arm64)";
  static constexpr bool non_empty = true;
  static Expected<Value> parse(std::string_view raw) {
    auto text = util::to_lower(util::trim(raw));
    if (text == "x86_64") return Arch::x86_64;
    if (text == "arm64") return Arch::arm64;
    return got("x86_64 or arm64", raw);
  }
  static std::string format(Value v) { return to_string(v); }
  static json to_json(Value v) { return to_string(v); }
};
template <std::uint32_t Minimum> struct CountCodec {
  using Value = std::uint32_t;
  static constexpr std::string_view type = Minimum == 0 ? "whole number" : "whole number >= 1";
  static Expected<Value> parse(std::string_view raw) { return parse_count(raw, Minimum); }
  static std::string format(Value v) { return std::to_string(v); }
  static json to_json(Value v) { return v; }
};
struct DurationCodec {
  using Value = Seconds;
  static constexpr std::string_view type = "duration";
  static Expected<Value> parse(std::string_view raw) { return parse_duration(raw); }
  static std::string format(Value v) { return format_duration(v); }
  static json to_json(Value v) { return v; }
};
struct DurationRangeCodec {
  using Value = DurationRange;
  static constexpr std::string_view type = "duration or range of durations";
  static Expected<Value> parse(std::string_view raw) { return parse_duration_range(raw); }
  static std::string format(const Value& v) { return format_duration_range(v); }
  static json to_json(const Value& v) { return json::array({v.min, v.max}); }
};
struct DollarsCodec {
  using Value = MicroDollars;
  static constexpr std::string_view type = "dollars";
  static Expected<Value> parse(std::string_view raw) { return parse_dollars(raw); }
  static std::string format(Value v) { return format_dollars(v); }
  static json to_json(Value v) { return static_cast<double>(v) / 1e6; }
};
struct MemoryCodec {
  using Value = std::uint64_t;
  static constexpr std::string_view type = "memory size";
  static Expected<Value> parse(std::string_view raw) { return parse_memory_mib(raw); }
  static std::string format(Value v) { return format_memory_mib(v); }
  static json to_json(Value v) { return v; } // MiB
};

template <typename T> struct IsOptional : std::false_type {};
template <typename T> struct IsOptional<std::optional<T>> : std::true_type {};
template <typename T> struct IsVector : std::false_type {};
template <typename T> struct IsVector<std::vector<T>> : std::true_type {};
template <typename T> struct IsMap : std::false_type {};
template <typename T> struct IsMap<std::map<std::string, T>> : std::true_type {};

// A row of the table: the public KeyInfo plus the functions that read, write and copy the member.
struct KeyDef {
  KeyInfo info;
  std::vector<ValueError> (*set)(Settings&, const RawValue&);
  std::string (*format)(const Settings&); // empty string: unset or empty (the caller shows info.unset)
  json (*to_json)(const Settings&);
  void (*copy)(Settings&, const Settings&);
  bool list_or_map; // text from the environment or the command line is split on ','
};

std::string shape_name(RawValue::Shape shape) {
  switch (shape) {
  case RawValue::Shape::null: return "nothing";
  case RawValue::Shape::scalar: return "a value";
  case RawValue::Shape::list: return "a list";
  case RawValue::Shape::map: return "a mapping";
  }
  return "nothing";
}

// The member reached by following Path from settings (one member, or a member of a member).
template <auto... Path> auto& field(Settings& s) { return (s.*....*Path); }
template <auto... Path> const auto& field(const Settings& s) { return (s.*....*Path); }

template <typename Codec, auto... Path>
KeyDef make_key(std::string_view name, std::string_view summary, std::string_view unset = {},
                std::string_view type = {}) {
  using Member = std::remove_cvref_t<decltype(field<Path...>(std::declval<Settings&>()))>;
  KeyDef def{};
  def.info.name = name;
  def.info.summary = summary;
  def.info.unset = unset;
  def.info.type = type.empty() ? Codec::type : type;
  def.list_or_map = IsVector<Member>::value || IsMap<Member>::value;
  def.copy = [](Settings& to, const Settings& from) { field<Path...>(to) = field<Path...>(from); };
  def.set = [](Settings& s, const RawValue& raw) -> std::vector<ValueError> {
    auto& member = field<Path...>(s);
    if constexpr (IsVector<Member>::value) {
      std::vector<RawValue::Item> items = raw.items;
      if (raw.shape == RawValue::Shape::scalar) { // "a,b" is a list too
        items.clear();
        for (auto& part : util::split(raw.text, ',')) items.push_back({{}, part, 0, true});
        if (util::trim(raw.text).empty()) items.clear();
      } else if (raw.shape == RawValue::Shape::map) {
        return {{"", 0, "expected a list of " + std::string(Codec::plural) + ", got a mapping"}};
      }
      std::vector<ValueError> errors;
      Member values;
      for (std::size_t i = 0; i < items.size(); ++i) {
        std::string suffix = raw.shape == RawValue::Shape::list ? "[" + std::to_string(i) + "]" : "";
        if (!items[i].is_scalar) {
          errors.push_back({suffix, items[i].line, "expected " + std::string(Codec::type) + ", got a list or mapping"});
          continue;
        }
        auto value = Codec::parse(items[i].text);
        if (!value) {
          errors.push_back({suffix, items[i].line, value.error()});
        } else if (std::find(values.begin(), values.end(), *value) == values.end()) {
          values.push_back(*value);
        }
      }
      if constexpr (requires { Codec::non_empty; }) {
        if (errors.empty() && values.empty()) {
          return {{"", 0, "expected a list of " + std::string(Codec::plural) + ", got an empty list"}};
        }
      }
      if (errors.empty()) member = std::move(values);
      return errors;
    } else if constexpr (IsMap<Member>::value) {
      std::vector<RawValue::Item> items = raw.items;
      if (raw.shape == RawValue::Shape::scalar) { // "a=b,c=d"
        items.clear();
        for (auto& part : util::split(raw.text, ',')) {
          auto eq = part.find('=');
          if (eq == std::string::npos) {
            return {{"", 0, "expected NAME=VALUE pairs like a100_80g=A100-80GB, got " + util::quote(raw.text)}};
          }
          items.push_back({std::string(util::trim(part.substr(0, eq))), part.substr(eq + 1), 0, true});
        }
      } else if (raw.shape == RawValue::Shape::null) {
        member.clear();
        return {};
      } else if (raw.shape != RawValue::Shape::map) {
        return {
            {"", 0, "expected a mapping of names to " + std::string(Codec::type) + "s, got " + shape_name(raw.shape)}};
      }
      std::vector<ValueError> errors;
      Member values;
      for (const auto& item : items) {
        std::string suffix = "." + item.key;
        auto key = TextCodec::parse(item.key);
        auto value = item.is_scalar ? Codec::parse(item.text)
                                    : Expected<typename Codec::Value>(Unexpected(
                                          "expected " + std::string(Codec::type) + ", got a list or mapping"));
        if (!key) {
          errors.push_back({suffix, item.line, key.error()});
        } else if (!value) {
          errors.push_back({suffix, item.line, value.error()});
        } else {
          values[*key] = *value;
        }
      }
      if (errors.empty()) member = std::move(values);
      return errors;
    } else {
      if (raw.shape == RawValue::Shape::null) {
        if constexpr (IsOptional<Member>::value) {
          member.reset();
          return {};
        } else {
          return {{"", 0, "expected " + std::string(Codec::type) + ", got nothing"}};
        }
      }
      if (raw.shape != RawValue::Shape::scalar) {
        return {{"", 0, "expected " + std::string(Codec::type) + ", got " + shape_name(raw.shape)}};
      }
      auto value = Codec::parse(raw.text);
      if (!value) return {{"", 0, value.error()}};
      member = *value;
      return {};
    }
  };
  def.format = [](const Settings& s) -> std::string {
    const auto& member = field<Path...>(s);
    if constexpr (IsVector<Member>::value) {
      std::vector<std::string> parts;
      for (const auto& v : member) parts.push_back(Codec::format(v));
      return util::join(parts, ",");
    } else if constexpr (IsMap<Member>::value) {
      std::vector<std::string> parts;
      for (const auto& [k, v] : member) parts.push_back(k + "=" + Codec::format(v));
      return util::join(parts, ",");
    } else if constexpr (IsOptional<Member>::value) {
      return member ? Codec::format(*member) : std::string();
    } else {
      return Codec::format(member);
    }
  };
  def.to_json = [](const Settings& s) -> json {
    const auto& member = field<Path...>(s);
    if constexpr (IsVector<Member>::value) {
      json out = json::array();
      for (const auto& v : member) out.push_back(Codec::to_json(v));
      return out;
    } else if constexpr (IsMap<Member>::value) {
      json out = json::object();
      for (const auto& [k, v] : member) out[k] = Codec::to_json(v);
      return out;
    } else if constexpr (IsOptional<Member>::value) {
      return member ? Codec::to_json(*member) : json(nullptr);
    } else {
      return Codec::to_json(member);
    }
  };
  return def;
}

// THE key table. Adding a setting: a member with its default in Settings, a row here, a line in docs/config.md.
const std::vector<KeyDef>& table() {
  using S = Settings;
  using R = InstitutionalRate;
  using A = AwsSettings;
  using W = WorkdirSettings;
  static const std::vector<KeyDef> rows = [] {
    std::vector<KeyDef> t = {
        make_key<ProviderCodec, &S::provider>("provider", "where tasks run: this machine, EC2, or a Slurm cluster"),
        make_key<RegionCodec, &S::region>("region", "AWS region for instances and prices"),
        make_key<MarketCodec, &S::market>("spot", "use spot instances (false: on-demand)"),
        make_key<BoolCodec, &S::spot_fallback_to_on_demand>("spot_fallback_to_on_demand",
                                                            "launch on-demand when no candidate has spot capacity"),
        make_key<DollarsCodec, &S::spot_max_price>("spot_max_price", "highest spot price to pay per instance-hour",
                                                   "(the on-demand price)"),
        make_key<InstanceTypeCodec, &S::instance_types>(
            "instance_types", "instance types to use, in order of preference (the rest are fallbacks)",
            "(chosen from the catalog)", "list of instance types"),
        make_key<CountCodec<1>, &S::candidates>("candidates", "how many instance types automatic selection ranks"),
        make_key<ArchCodec, &S::architectures>("architectures", "CPU architectures selection may choose", "",
                                               "list of x86_64, arm64"),
        make_key<FamilyCodec, &S::families>("families", "only these instance families (c7i, g5, ...)", "(any)",
                                            "list of instance families"),
        make_key<FamilyCodec, &S::exclude_families>("exclude_families", "never these instance families", "(none)",
                                                    "list of instance families"),
        make_key<BoolCodec, &S::allow_burstable>("allow_burstable", "allow burstable types (t2, t3, t3a, t4g)"),
        make_key<BoolCodec, &S::allow_previous_generation>("allow_previous_generation",
                                                           "allow previous-generation families"),
        make_key<GpuModelCodec, &S::gpu_aliases>("gpu_aliases",
                                                 "site GPU names to AWS GPU models (a100_80g: A100-80GB)", "(none)",
                                                 "mapping of names to GPU models"),
        make_key<CountCodec<1>, &S::min_vcpus>("min_vcpus", "at least this many vCPUs per node", "(none)"),
        make_key<MemoryCodec, &S::min_memory_mib>("min_memory", "at least this much memory per node", "(none)"),
        make_key<CountCodec<0>, &S::min_gpus>("min_gpus", "at least this many GPUs per node", "(none)"),
        make_key<GpuModelCodec, &S::gpu_type>("gpu_type", "GPU model when the job names none (a site name or an alias)",
                                              "(any NVIDIA GPU)"),
        make_key<AmiCodec, &S::ami>("ami", "machine image for EC2 instances", "(the provider's default)"),
        make_key<ImageCodec, &S::container>("container", "container image every task runs in", "(none)"),
        make_key<ContainerRuntimeCodec, &S::container_runtime>(
            "container_runtime", "what runs the container image: docker, podman, apptainer, or auto (what the node has)"),
        make_key<CountCodec<1>, &S::max_concurrent>("max_concurrent", "most tasks running at once", "(all at once)"),
        make_key<DurationCodec, &S::ttl>("ttl", "hard lifetime of an instance", "(none)"),
        make_key<BoolCodec, &S::requeue>("requeue", "run a task again after its spot instance is reclaimed"),
        make_key<DurationCodec, &S::boot_overhead>("boot_overhead", "time an instance bills before the task starts"),
        make_key<DurationRangeCodec, &S::queue_time>("queue_time", "typical queue wait on the cluster (4h or 2h-24h)",
                                                     "(unknown)"),
        make_key<DollarsCodec, &S::institutional_rate, &R::core_hour>("institutional_rate.core_hour",
                                                                      "what the cluster charges per core-hour"),
        make_key<DollarsCodec, &S::institutional_rate, &R::gpu_hour>("institutional_rate.gpu_hour",
                                                                     "what the cluster charges per GPU-hour"),
        make_key<DollarsCodec, &S::institutional_rate, &R::service_unit>("institutional_rate.service_unit",
                                                                         "what the cluster charges per service unit"),
        make_key<BucketCodec, &S::aws, &A::bucket>("aws.bucket", "S3 bucket for AWS jobs' files, logs and exit codes",
                                                   "(none)"),
        make_key<KeyPrefixCodec, &S::aws, &A::prefix>("aws.prefix", "key prefix for spawn's objects in the bucket"),
        make_key<AwsNameCodec, &S::aws, &A::key_pair>("aws.key_pair", "EC2 key pair for the instances", "(none)"),
        make_key<SubnetCodec, &S::aws, &A::subnets>("aws.subnets", "subnets to launch in (their zones are the choice)",
                                                    "(each zone's default subnet)"),
        make_key<SecurityGroupCodec, &S::aws, &A::security_groups>("aws.security_groups",
                                                                   "security groups for the instances",
                                                                   "(the VPC's default group)"),
        make_key<AwsNameCodec, &S::aws, &A::instance_profile>("aws.instance_profile",
                                                              "IAM instance profile for the instances", "(none)"),
        make_key<CountCodec<1>, &S::aws, &A::root_volume_gib>("aws.root_volume_gib", "root volume size in GiB",
                                                              "(the AMI's size)"),
        make_key<CountCodec<0>, &S::aws, &A::cooldown_seconds>(
            "aws.cooldown_seconds", "seconds a (type, zone, market) that ran out of capacity is left alone"),
        make_key<CountCodec<1>, &S::aws, &A::tasks_per_instance>(
            "aws.tasks_per_instance", "array tasks one instance runs, one after the other (short tasks boot once)"),
        make_key<BoolCodec, &S::workdir, &W::travel>("workdir.travel",
                                                     "upload the working directory and bring the job's changes back"),
        make_key<PatternCodec, &S::workdir, &W::exclude>("workdir.exclude",
                                                         "paths of the working directory that never travel", "(none)",
                                                         "list of patterns (.spawnignore syntax)"),
        make_key<MemoryCodec, &S::workdir, &W::confirm_above_mib>("workdir.confirm_above",
                                                                  "a larger upload is confirmed at submit"),
        make_key<S3UrlCodec, &S::workdir, &W::stage_in>("workdir.stage_in",
                                                        "copied onto the instance before the script (path: s3://...)",
                                                        "(none)", "mapping of paths to S3 URLs"),
        make_key<S3UrlCodec, &S::workdir, &W::stage_out>("workdir.stage_out",
                                                         "copied to S3 after the script (path: s3://...)", "(none)",
                                                         "mapping of paths to S3 URLs"),
        make_key<PathTargetCodec, &S::paths>("paths", "cluster path prefixes and what stands for them on an instance",
                                             "(none)", "mapping of path prefixes to s3:// or efs:// targets"),
    };
    for (auto& row : t) {
      // #SPAWN --instance-type a,b (issue 4) and spawn's parameter files use the singular.
      if (row.info.name == "instance_types") row.info.alias = "instance_type";
      row.info.env = "SPAWN_" + util::to_upper(util::replace_all(row.info.name, ".", "_"));
      row.info.option = "--" + util::replace_all(util::replace_all(row.info.name, ".", "-"), "_", "-");
    }
    return t;
  }();
  return rows;
}

const KeyDef* find_def(std::string_view name) {
  for (const auto& row : table()) {
    if (row.info.name == name) return &row;
  }
  return nullptr;
}

const KeyDef& def_of(const KeyInfo& key) {
  // KeyInfo values handed out by keys() are copies; find the row by name.
  const auto* def = find_def(key.name);
  return *def;
}

} // namespace

const std::vector<KeyInfo>& keys() {
  static const std::vector<KeyInfo> infos = [] {
    std::vector<KeyInfo> out;
    for (const auto& row : table()) out.push_back(row.info);
    return out;
  }();
  return infos;
}

const KeyInfo* find_key(std::string_view name) {
  std::string wanted(name.starts_with("--") ? name.substr(2) : name);
  std::replace(wanted.begin(), wanted.end(), '-', '_');
  for (const auto& key : keys()) {
    if (key.name == wanted || util::replace_all(key.name, ".", "_") == wanted ||
        (!key.alias.empty() && key.alias == wanted)) {
      return &key;
    }
  }
  return nullptr;
}

std::vector<std::string> top_level_key_names() {
  std::vector<std::string> names;
  for (const auto& key : keys()) {
    std::string first(key.name.substr(0, key.name.find('.')));
    if (std::find(names.begin(), names.end(), first) == names.end()) names.push_back(first);
  }
  return names;
}

Expected<void> assign(Settings& settings, const KeyInfo& key, std::string_view text, std::string origin) {
  RawValue raw;
  raw.shape = RawValue::Shape::scalar;
  raw.text = std::string(text);
  auto errors = assign_raw(settings, key, raw, std::move(origin));
  if (!errors.empty()) return Unexpected(errors.front().message);
  return {};
}

std::vector<ValueError> assign_raw(Settings& settings, const KeyInfo& key, const RawValue& value, std::string origin) {
  // Parse into a copy so that a bad value leaves the old one in place.
  const auto& def = def_of(key);
  Settings scratch;
  def.copy(scratch, settings);
  auto errors = def.set(scratch, value);
  if (errors.empty()) {
    def.copy(settings, scratch);
    settings.origins[std::string(key.name)] = std::move(origin);
  }
  return errors;
}

std::string format_value(const Settings& settings, const KeyInfo& key) {
  auto text = def_of(key).format(settings);
  return text.empty() && !key.unset.empty() ? std::string(key.unset) : text;
}

nlohmann::json value_json(const Settings& settings, const KeyInfo& key) { return def_of(key).to_json(settings); }

void apply_layer(Settings& settings, const Settings& layer) {
  for (const auto& row : table()) {
    auto it = layer.origins.find(row.info.name);
    if (it == layer.origins.end()) continue;
    row.copy(settings, layer);
    settings.origins[it->first] = it->second;
  }
}

} // namespace spawn::config
