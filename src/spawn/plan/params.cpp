#include "plan/params.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "config/values.hpp"
#include "slurm/grammar.hpp"
#include "util/error.hpp"
#include "util/files.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"

namespace spawn::plan {

namespace {

using json = nlohmann::ordered_json;

using util::json_or_null;

json gpus_text(const std::optional<GresRequest>& g) {
  if (!g) return nullptr;
  return (g->type ? *g->type + ":" : std::string()) + std::to_string(g->count);
}

std::string signal_text(const SignalSpec& s) {
  std::string out;
  if (s.reservation) out += "R";
  if (s.batch_shell_only) out += "B";
  if (!out.empty()) out += ":";
  return out + s.name + "@" + std::to_string(s.seconds_before);
}

json duration(const std::optional<std::int64_t>& seconds) {
  return seconds ? json(config::format_duration(*seconds)) : json(nullptr);
}

// ---------------------------------------------------------------- reading: a value tree with lines

struct Entry;

struct Value {
  enum class Kind { null, scalar, list, map };
  Kind kind = Kind::null;
  std::string text;     // scalar
  bool quoted = false;  // a quoted scalar is always a string
  int line = 0;         // 1-based; 0 when unknown (JSON)
  std::vector<Value> items;                        // list
  std::vector<Entry> map;                          // map, in file order
  const Value* find(std::string_view key) const;
};

// One key of a mapping (a named struct, not a pair: Value is still incomplete inside its own definition).
struct Entry {
  std::string key;
  Value value;
};

const Value* Value::find(std::string_view key) const {
  for (const auto& [k, v] : map)
    if (k == key) return &v;
  return nullptr;
}

Value from_yaml(const YAML::Node& node) {
  Value v;
  v.line = node.Mark().line + 1;
  switch (node.Type()) {
  case YAML::NodeType::Null:
  case YAML::NodeType::Undefined: v.kind = Value::Kind::null; break;
  case YAML::NodeType::Scalar:
    v.kind = Value::Kind::scalar;
    v.text = node.Scalar();
    v.quoted = node.Tag() == "!";
    if (!v.quoted && (v.text == "null" || v.text == "~" || v.text == "Null" || v.text == "NULL")) v.kind = Value::Kind::null;
    break;
  case YAML::NodeType::Sequence:
    v.kind = Value::Kind::list;
    for (const auto& item : node) v.items.push_back(from_yaml(item));
    break;
  case YAML::NodeType::Map:
    v.kind = Value::Kind::map;
    for (const auto& entry : node) v.map.push_back(Entry{entry.first.Scalar(), from_yaml(entry.second)});
    break;
  }
  return v;
}

// ---------------------------------------------------------------- reading: the params block's fast path
//
// A parameter file of a large array is almost all params lines, one flow mapping each ("  - {index: 7, seed: 3}"),
// and yaml-cpp spends seconds per million of them building nodes. The lines spawn writes (and most a user writes
// by hand) are read here directly; the rest of the file still goes through yaml-cpp. Anything outside this strict
// subset (a comment after an entry, nested collections, single quotes, an empty value, tabs...) makes the whole
// file take the yaml-cpp path, so both paths always agree.

// A double-quoted scalar starting at text[i] (a JSON string is a YAML double-quoted scalar; the writer emits JSON
// strings): its decoded text, with i past the closing quote.
std::optional<std::string> fast_quoted(std::string_view text, std::size_t& i) {
  std::size_t j = i + 1;
  while (j < text.size() && text[j] != '"') j += text[j] == '\\' ? 2 : 1;
  if (j >= text.size()) return std::nullopt;
  auto raw = text.substr(i, j + 1 - i);
  i = j + 1;
  if (raw.find('\\') == std::string_view::npos) return std::string(raw.substr(1, raw.size() - 2));
  try {
    auto decoded = json::parse(raw);
    if (decoded.is_string()) return decoded.get<std::string>();
  } catch (const json::exception&) {
  }
  return std::nullopt;
}

// A plain scalar in a flow mapping, from text[i] up to ',' or '}' (trailing spaces dropped); nullopt when YAML could
// read it as anything but that plain string (an indicator first, ": " or " #" inside, a nested collection...).
std::optional<std::string_view> fast_plain(std::string_view text, std::size_t& i, bool key) {
  std::size_t j = i;
  while (j < text.size() && text[j] != ',' && text[j] != '}' && !(key && text[j] == ':' && j + 1 < text.size() && text[j + 1] == ' ')) {
    char c = text[j];
    if (c == '[' || c == ']' || c == '{' || c == '\t' || static_cast<unsigned char>(c) < 0x20) return std::nullopt;
    if (c == ':') return std::nullopt;  // yaml-cpp's reading of ':' in flow context is its own: leave it to yaml-cpp
    if (c == '#' && j > i && text[j - 1] == ' ') return std::nullopt;
    ++j;
  }
  auto out = text.substr(i, j - i);
  while (!out.empty() && out.back() == ' ') out.remove_suffix(1);
  if (out.empty()) return std::nullopt;
  if (std::string_view("?:,[]{}#&*!|>'\"%@`").find(out.front()) != std::string_view::npos) return std::nullopt;
  if (out.front() == '-' && !util::parse_double(out)) return std::nullopt;
  i = j;
  return out;
}

// One line "  - {k: v, ...}" as the Value yaml-cpp + from_yaml would make of it; nullopt outside the subset.
std::optional<Value> fast_params_line(std::string_view line, int number) {
  if (!line.starts_with("  - {")) return std::nullopt;
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty() || line.back() != '}') return std::nullopt;
  Value item;
  item.kind = Value::Kind::map;
  item.line = number;
  std::size_t i = 5;
  auto skip = [&] {
    while (i < line.size() && line[i] == ' ') ++i;
  };
  skip();
  if (line[i] == '}') return i + 1 == line.size() ? std::optional<Value>(std::move(item)) : std::nullopt;
  while (true) {
    skip();
    Entry entry;
    if (i < line.size() && line[i] == '"') {
      auto key = fast_quoted(line, i);
      if (!key) return std::nullopt;
      entry.key = std::move(*key);
    } else {
      auto key = fast_plain(line, i, true);
      if (!key) return std::nullopt;
      entry.key = std::string(*key);
    }
    if (i + 1 >= line.size() || line[i] != ':' || line[i + 1] != ' ') return std::nullopt;
    i += 2;
    skip();
    Value& v = entry.value;
    v.line = number;
    v.kind = Value::Kind::scalar;
    if (i < line.size() && line[i] == '"') {
      auto text = fast_quoted(line, i);
      if (!text) return std::nullopt;
      v.text = std::move(*text);
      v.quoted = true;
    } else {
      auto text = fast_plain(line, i, false);
      if (!text) return std::nullopt;
      v.text = std::string(*text);
      if (v.text == "null" || v.text == "~" || v.text == "Null" || v.text == "NULL") v.kind = Value::Kind::null;
    }
    item.map.push_back(std::move(entry));
    skip();
    if (i >= line.size()) return std::nullopt;
    if (line[i] == '}') return i + 1 == line.size() ? std::optional<Value>(std::move(item)) : std::nullopt;
    if (line[i] != ',') return std::nullopt;
    ++i;
  }
}

// The top-level "params:" block of a YAML parameter file read by the fast path: the block is cut from
// text (line numbers kept, "params:" becomes "params: []") and its list returned; nullopt (text untouched) when
// any line of it is outside the subset.
std::optional<Value> take_params_block(std::string& text) {
  std::size_t start = text.starts_with("params:") ? 0 : text.find("\nparams:");
  if (start == std::string::npos) return std::nullopt;
  if (text[start] == '\n') ++start;
  std::size_t eol = text.find('\n', start);
  if (eol == std::string::npos) return std::nullopt;
  if (!util::trim(std::string_view(text).substr(start + 7, eol - start - 7)).empty()) return std::nullopt;
  int number = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(start), '\n'));
  const int params_line = number;
  Value list;
  list.kind = Value::Kind::list;
  std::size_t consumed = 0, block_end = eol;  // lines read, and where the last of them ends
  std::size_t pos = eol + 1;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    ++number;
    auto trimmed = util::trim(line);
    if (!trimmed.empty() && line.front() != ' ' && line.front() != '#') {
      if (line.front() == '-' || line.front() == '.') return std::nullopt;  // "- {...}" unindented, or a document marker
      break;                                                               // the next top-level key
    }
    if (!trimmed.empty() && trimmed.front() != '#') {
      auto item = fast_params_line(line, number);
      if (!item) return std::nullopt;
      list.items.push_back(std::move(*item));
    }
    ++consumed;
    block_end = end;
    pos = end + 1;
  }
  list.line = list.items.empty() ? params_line : list.items.front().line;
  // What was read leaves an empty list and its empty lines behind: later lines keep their numbers for yaml-cpp.
  text.replace(start, block_end - start, "params: []" + std::string(consumed, '\n'));
  return list;
}

Value from_json(const json& j) {
  Value v;
  if (j.is_null()) return v;
  if (j.is_object()) {
    v.kind = Value::Kind::map;
    for (const auto& [k, item] : j.items()) v.map.push_back(Entry{k, from_json(item)});
  } else if (j.is_array()) {
    v.kind = Value::Kind::list;
    for (const auto& item : j) v.items.push_back(from_json(item));
  } else {
    v.kind = Value::Kind::scalar;
    v.quoted = j.is_string();
    v.text = j.is_string() ? j.get<std::string>() : j.dump();
  }
  return v;
}

// Collects every problem of a document with its location, then throws them together.
class Reader {
public:
  explicit Reader(std::string name) : m_name(std::move(name)) {}

  void fail(const Value& v, const std::string& path, const std::string& message) {
    m_errors.push_back(m_name + (v.line ? ":" + std::to_string(v.line) : std::string()) + ": " + path + ": " + message);
  }
  void finish() {
    if (!m_errors.empty()) throw Error(std::move(m_errors));
  }

  // Known keys of a map; an unknown key is an error with a suggestion.
  void check_keys(const Value& v, const std::string& path, const std::vector<std::string_view>& known) {
    if (v.kind != Value::Kind::map) return;
    for (const auto& [k, item] : v.map) {
      if (std::find(known.begin(), known.end(), k) != known.end()) continue;
      fail(item, path.empty() ? k : path + "." + k, "unknown key (known: " + join_views(known) + ")");
    }
  }

  std::optional<std::string> string(const Value* v, const std::string& path) {
    if (!v || v->kind == Value::Kind::null) return std::nullopt;
    if (v->kind != Value::Kind::scalar) {
      fail(*v, path, "expected a text value, got a " + std::string(v->kind == Value::Kind::list ? "list" : "mapping"));
      return std::nullopt;
    }
    return v->text;
  }
  std::optional<bool> boolean(const Value* v, const std::string& path) {
    auto s = string(v, path);
    if (!s) return std::nullopt;
    auto lower = util::to_lower(*s);
    if (!v->quoted && (lower == "true" || lower == "yes")) return true;
    if (!v->quoted && (lower == "false" || lower == "no")) return false;
    fail(*v, path, "expected true or false, got " + util::quote(*s));
    return std::nullopt;
  }
  std::optional<std::uint64_t> count(const Value* v, const std::string& path, std::uint64_t minimum = 0) {
    auto s = string(v, path);
    if (!s) return std::nullopt;
    auto n = util::parse_uint(*s);
    if (!n || *n < minimum) {
      fail(*v, path, "expected a whole number" + std::string(minimum ? " >= " + std::to_string(minimum) : "") +
                         ", got " + util::quote(*s));
      return std::nullopt;
    }
    return n;
  }
  std::optional<std::int64_t> seconds(const Value* v, const std::string& path) {
    auto s = string(v, path);
    if (!s) return std::nullopt;
    auto d = config::parse_duration(*s);
    if (!d) {
      fail(*v, path, d.error());
      return std::nullopt;
    }
    return *d;
  }
  std::vector<std::string> strings(const Value* v, const std::string& path) {
    std::vector<std::string> out;
    if (!v || v->kind == Value::Kind::null) return out;
    if (v->kind == Value::Kind::scalar) {
      for (auto& part : util::split(v->text, ',')) {
        auto t = std::string(util::trim(part));
        if (!t.empty()) out.push_back(t);
      }
      return out;
    }
    if (v->kind != Value::Kind::list) {
      fail(*v, path, "expected a list");
      return out;
    }
    for (std::size_t i = 0; i < v->items.size(); ++i) {
      if (auto s = string(&v->items[i], path + "[" + std::to_string(i) + "]")) out.push_back(*s);
    }
    return out;
  }
  template <typename T> std::optional<T> parsed(const Value* v, const std::string& path, Expected<T> (*parse)(std::string_view)) {
    auto s = string(v, path);
    if (!s) return std::nullopt;
    auto r = parse(*s);
    if (!r) {
      fail(*v, path, r.error());
      return std::nullopt;
    }
    return *r;
  }

private:
  static std::string join_views(const std::vector<std::string_view>& views) {
    std::string out;
    for (auto v : views) out += (out.empty() ? "" : ", ") + std::string(v);
    return out;
  }
  std::string m_name;
  std::vector<std::string> m_errors;
};

const std::vector<std::string_view> k_job_keys = {
    "name", "script", "script_args", "submit_directory", "working_directory", "array", "nodes", "ntasks",
    "tasks_per_node", "ntasks_per_node", "ntasks_requested", "cpus_per_task", "mem_per_node_mb", "mem_per_cpu_mb",
    "mem_per_gpu_mb", "gpus_per_node", "gpus_per_task", "gpus", "cpus_per_gpu", "time_limit", "signal", "output",
    "error", "input", "open_mode", "dependency", "kill_on_invalid_dep", "requeue", "export", "partition", "account",
    "qos"};
const std::vector<std::string_view> k_default_keys = {
    "provider", "region", "spot", "spot_fallback_to_on_demand", "instance_type", "instance_types", "ami", "container",
    "container_runtime", "ttl", "max_concurrent", "count", "mpi", "vcpus", "memory_mib", "whole_node_memory", "gpus",
    "gpu_type", "exclusive", "environment", "staging", "command", "aws", "workdir", "paths"};
const std::vector<std::string_view> k_workdir_keys = {"travel", "exclude", "confirm_above_mib"};
const std::vector<std::string_view> k_aws_keys = {"bucket", "prefix", "key_pair", "subnets", "security_groups",
                                                  "instance_profile", "root_volume_gib", "cooldown_seconds",
                                                  "tasks_per_instance"};
const std::vector<std::string_view> k_top_keys = {"format", "job", "defaults", "params", "grid", "modules",
                                                  "unsupported", "cluster_paths", "script"};
// Keys of spawn's launcher that only make sense for the whole job; a parameter row may not set them.
const std::set<std::string_view> k_row_reserved = {"instance_type", "region", "az", "ami", "key_pair", "spot",
                                                   "spot_max_price", "ttl", "idle_timeout", "cost_limit",
                                                   "volume_size", "on_complete", "user_data", "iam_role"};

// An ArraySpec for a set of indices (runs of consecutive indices become ranges).
ArraySpec spec_for(const std::vector<std::uint64_t>& sorted, std::optional<std::uint64_t> max_running) {
  ArraySpec a;
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    a.ranges.push_back({sorted[i], sorted[j], 1});
    parts.push_back(i == j ? std::to_string(sorted[i]) : std::to_string(sorted[i]) + "-" + std::to_string(sorted[j]));
    i = j + 1;
  }
  a.spec = util::join(parts, ",") + (max_running ? "%" + std::to_string(*max_running) : "");
  a.max_running = max_running;
  a.count = sorted.size();
  a.min = sorted.empty() ? 0 : sorted.front();
  a.max = sorted.empty() ? 0 : sorted.back();
  return a;
}

Expected<ContainerRuntime> container_runtime_in(std::string_view text) {
  if (auto r = container_runtime_from(text)) return *r;
  return Unexpected("expected docker, podman, apptainer or auto, got " + util::quote(text));
}

Expected<ProviderKind> provider_from(std::string_view text) {
  if (text == "local") return ProviderKind::local;
  if (text == "aws") return ProviderKind::aws;
  if (text == "slurm") return ProviderKind::slurm;
  return Unexpected("expected local, aws or slurm, got " + util::quote(text));
}
Expected<GresRequest> gpus_from(std::string_view text) { return slurm::parse_gpus(text); }
Expected<SignalSpec> signal_from(std::string_view text) { return slurm::parse_signal(text); }
Expected<OpenMode> open_mode_from(std::string_view text) { return slurm::parse_open_mode(text); }
Expected<ExportSpec> export_from(std::string_view text) { return slurm::parse_export(text); }
Expected<std::optional<Dependency>> dependency_from(std::string_view text) { return slurm::parse_dependency(text); }
Expected<ArraySpec> array_from(std::string_view text) { return slurm::parse_array(text, UINT32_MAX); }

spawn::Plan plan_from_value(const Value& root, const std::string& name) {
  Reader r(name);
  spawn::Plan plan;
  if (root.kind != Value::Kind::map) {
    r.fail(root, "(top)", "expected a mapping with job, defaults, params and script");
    r.finish();
  }
  r.check_keys(root, "", k_top_keys);
  if (const auto* format = root.find("format")) {
    auto f = r.string(format, "format");
    if (f && *f != "spawn-parameter-file/1")
      r.fail(*format, "format", "this spawn reads spawn-parameter-file/1, got " + util::quote(*f));
  }

  // job:
  const Value* job = root.find("job");
  Value empty;
  empty.kind = Value::Kind::map;
  if (!job || job->kind == Value::Kind::null) job = &empty;
  if (job->kind != Value::Kind::map) r.fail(*job, "job", "expected a mapping");
  r.check_keys(*job, "job", k_job_keys);
  auto field = [&](std::string_view key) { return job->find(key); };
  auto path = [](std::string_view key) { return "job." + std::string(key); };
  plan.job_name = r.string(field("name"), path("name")).value_or("spawn-job");
  plan.script_path = r.string(field("script"), path("script")).value_or("");
  plan.script_args = r.strings(field("script_args"), path("script_args"));
  plan.submit_dir = r.string(field("submit_directory"), path("submit_directory")).value_or("");
  plan.work_dir = r.string(field("working_directory"), path("working_directory")).value_or(plan.submit_dir);
  if (auto a = r.parsed<ArraySpec>(field("array"), path("array"), array_from)) plan.array = a;
  plan.nodes = static_cast<std::uint32_t>(r.count(field("nodes"), path("nodes"), 1).value_or(1));
  plan.ntasks = static_cast<std::uint32_t>(r.count(field("ntasks"), path("ntasks"), 1).value_or(plan.nodes));
  plan.tasks_per_node = static_cast<std::uint32_t>(r.count(field("tasks_per_node"), path("tasks_per_node"), 1).value_or(1));
  if (auto n = r.count(field("ntasks_per_node"), path("ntasks_per_node"), 1)) plan.ntasks_per_node = static_cast<std::uint32_t>(*n);
  plan.ntasks_requested = r.boolean(field("ntasks_requested"), path("ntasks_requested")).value_or(false);
  if (auto n = r.count(field("cpus_per_task"), path("cpus_per_task"), 1)) plan.cpus_per_task = static_cast<std::uint32_t>(*n);
  plan.mem_per_node_mb = r.count(field("mem_per_node_mb"), path("mem_per_node_mb"));
  plan.mem_per_cpu_mb = r.count(field("mem_per_cpu_mb"), path("mem_per_cpu_mb"));
  plan.mem_per_gpu_mb = r.count(field("mem_per_gpu_mb"), path("mem_per_gpu_mb"));
  plan.gpus_per_node = r.parsed<GresRequest>(field("gpus_per_node"), path("gpus_per_node"), gpus_from);
  plan.gpus_per_task = r.parsed<GresRequest>(field("gpus_per_task"), path("gpus_per_task"), gpus_from);
  plan.gpus_per_job = r.parsed<GresRequest>(field("gpus"), path("gpus"), gpus_from);
  if (auto n = r.count(field("cpus_per_gpu"), path("cpus_per_gpu"), 1)) plan.cpus_per_gpu = static_cast<std::uint32_t>(*n);
  plan.time_limit_seconds = r.seconds(field("time_limit"), path("time_limit"));
  plan.signal = r.parsed<SignalSpec>(field("signal"), path("signal"), signal_from);
  plan.output = r.string(field("output"), path("output"));
  plan.error = r.string(field("error"), path("error"));
  plan.input = r.string(field("input"), path("input"));
  plan.open_mode = r.parsed<OpenMode>(field("open_mode"), path("open_mode"), open_mode_from);
  if (auto d = r.parsed<std::optional<Dependency>>(field("dependency"), path("dependency"), dependency_from)) plan.dependency = *d;
  plan.kill_on_invalid_dep = r.boolean(field("kill_on_invalid_dep"), path("kill_on_invalid_dep")).value_or(false);
  plan.requeue = r.boolean(field("requeue"), path("requeue")).value_or(false);
  plan.export_env = r.parsed<ExportSpec>(field("export"), path("export"), export_from);
  plan.partition = r.string(field("partition"), path("partition"));
  plan.account = r.string(field("account"), path("account"));
  plan.qos = r.string(field("qos"), path("qos"));

  // defaults:
  const Value* defaults = root.find("defaults");
  if (!defaults || defaults->kind == Value::Kind::null) defaults = &empty;
  if (defaults->kind != Value::Kind::map) r.fail(*defaults, "defaults", "expected a mapping");
  r.check_keys(*defaults, "defaults", k_default_keys);
  auto dfield = [&](std::string_view key) { return defaults->find(key); };
  auto dpath = [](std::string_view key) { return "defaults." + std::string(key); };
  if (auto p = r.parsed<ProviderKind>(dfield("provider"), dpath("provider"), provider_from)) plan.provider = *p;
  plan.region = r.string(dfield("region"), dpath("region")).value_or("us-east-1");
  plan.market = r.boolean(dfield("spot"), dpath("spot")).value_or(true) ? Market::spot : Market::on_demand;
  plan.spot_fallback_to_on_demand = r.boolean(dfield("spot_fallback_to_on_demand"), dpath("spot_fallback_to_on_demand")).value_or(false);
  plan.instance_types = r.strings(dfield("instance_types"), dpath("instance_types"));
  if (auto first = r.string(dfield("instance_type"), dpath("instance_type"))) {
    // instance_type is the choice: it leads the ranked list (spawn's launcher takes "a|b|c" as a fallback list too).
    std::vector<std::string> chosen;
    for (auto& t : util::split(*first, '|')) chosen.emplace_back(util::trim(t));
    for (auto& t : plan.instance_types)
      if (std::find(chosen.begin(), chosen.end(), t) == chosen.end()) chosen.push_back(t);
    plan.instance_types = std::move(chosen);
  }
  plan.ami = r.string(dfield("ami"), dpath("ami"));
  plan.container = r.string(dfield("container"), dpath("container"));
  if (auto c = r.parsed<ContainerRuntime>(dfield("container_runtime"), dpath("container_runtime"), container_runtime_in))
    plan.container_runtime = *c;
  if (const Value* aws = dfield("aws"); aws && aws->kind != Value::Kind::null) {
    if (aws->kind != Value::Kind::map) r.fail(*aws, "defaults.aws", "expected a mapping");
    r.check_keys(*aws, "defaults.aws", k_aws_keys);
    auto afield = [&](std::string_view key) { return aws->find(key); };
    auto apath = [](std::string_view key) { return "defaults.aws." + std::string(key); };
    plan.aws.bucket = r.string(afield("bucket"), apath("bucket"));
    plan.aws.prefix = r.string(afield("prefix"), apath("prefix"));
    plan.aws.key_pair = r.string(afield("key_pair"), apath("key_pair"));
    plan.aws.subnets = r.strings(afield("subnets"), apath("subnets"));
    plan.aws.security_groups = r.strings(afield("security_groups"), apath("security_groups"));
    plan.aws.instance_profile = r.string(afield("instance_profile"), apath("instance_profile"));
    plan.aws.root_volume_gib = r.count(afield("root_volume_gib"), apath("root_volume_gib"), 1);
    plan.aws.cooldown_seconds = r.count(afield("cooldown_seconds"), apath("cooldown_seconds"));
    plan.aws.tasks_per_instance = r.count(afield("tasks_per_instance"), apath("tasks_per_instance"), 1);
  }
  if (const Value* w = dfield("workdir"); w && w->kind != Value::Kind::null) {
    if (w->kind != Value::Kind::map) r.fail(*w, "defaults.workdir", "expected a mapping");
    r.check_keys(*w, "defaults.workdir", k_workdir_keys);
    if (auto v = r.boolean(w->find("travel"), "defaults.workdir.travel")) plan.workdir.travel = *v;
    if (const auto* e = w->find("exclude"); e && e->kind != Value::Kind::null)
      plan.workdir.exclude = r.strings(e, "defaults.workdir.exclude");
    if (auto v = r.count(w->find("confirm_above_mib"), "defaults.workdir.confirm_above_mib")) plan.workdir.confirm_above_mib = *v;
  }
  if (const Value* paths = dfield("paths"); paths && paths->kind != Value::Kind::null) {
    if (paths->kind != Value::Kind::map) r.fail(*paths, "defaults.paths", "expected a mapping of path prefixes to s3:// or efs:// targets");
    for (const auto& entry : paths->map)
      if (auto t = r.string(&entry.value, "defaults.paths." + entry.key)) plan.path_mappings.push_back({entry.key, *t});
  }
  plan.ttl_seconds = r.seconds(dfield("ttl"), dpath("ttl"));
  plan.max_concurrent = r.count(dfield("max_concurrent"), dpath("max_concurrent"), 1);
  if (auto count = r.count(dfield("count"), dpath("count"), 1)) {
    if (!field("nodes")) plan.nodes = static_cast<std::uint32_t>(*count);
    else if (*count != plan.nodes)
      r.fail(*dfield("count"), dpath("count"), std::to_string(*count) + " does not match job.nodes (" + std::to_string(plan.nodes) + ")");
  }
  if (auto mpi = r.boolean(dfield("mpi"), dpath("mpi")); mpi && *mpi && plan.nodes < 2 && !field("nodes"))
    plan.nodes = 2;
  plan.node.vcpus = static_cast<std::uint32_t>(r.count(dfield("vcpus"), dpath("vcpus"), 1).value_or(1));
  plan.node.memory_mib = r.count(dfield("memory_mib"), dpath("memory_mib")).value_or(0);
  plan.node.whole_node_memory = r.boolean(dfield("whole_node_memory"), dpath("whole_node_memory")).value_or(false);
  plan.node.gpus = static_cast<std::uint32_t>(r.count(dfield("gpus"), dpath("gpus")).value_or(0));
  plan.node.gpu_model = r.string(dfield("gpu_type"), dpath("gpu_type"));
  plan.node.exclusive = r.boolean(dfield("exclusive"), dpath("exclusive")).value_or(false);
  if (const auto* env = dfield("environment"); env && env->kind != Value::Kind::null) {
    if (env->kind != Value::Kind::map) r.fail(*env, dpath("environment"), "expected a mapping of NAME: value");
    for (const auto& [k, v] : env->map) {
      if (auto s = r.string(&v, dpath("environment") + "." + k)) plan.environment[k] = *s;
    }
  }
  if (const auto* staging = dfield("staging"); staging && staging->kind != Value::Kind::null) {
    r.check_keys(*staging, dpath("staging"), {"in", "out"});
    for (const auto* which : {"in", "out"}) {
      const auto* list = staging->find(which);
      auto p = dpath("staging") + "." + which;
      if (!list || list->kind == Value::Kind::null) continue;
      if (list->kind != Value::Kind::list) {
        r.fail(*list, p, "expected a list of {source, destination}");
        continue;
      }
      for (std::size_t i = 0; i < list->items.size(); ++i) {
        const auto& item = list->items[i];
        auto ip = p + "[" + std::to_string(i) + "]";
        r.check_keys(item, ip, {"source", "destination"});
        StagePath sp{r.string(item.find("source"), ip + ".source").value_or(""),
                     r.string(item.find("destination"), ip + ".destination").value_or("")};
        (std::string_view(which) == "in" ? plan.stage_in : plan.stage_out).push_back(std::move(sp));
      }
    }
  }

  // params: and grid: the tasks.
  std::vector<std::map<std::string, std::string>> rows;
  std::vector<std::optional<std::uint64_t>> row_index;
  if (const auto* params = root.find("params"); params && params->kind != Value::Kind::null) {
    if (params->kind != Value::Kind::list) r.fail(*params, "params", "expected a list of tasks (- index: 1)");
    for (std::size_t i = 0; i < params->items.size(); ++i) {
      const auto& row = params->items[i];
      auto rp = "params[" + std::to_string(i) + "]";
      std::map<std::string, std::string> values;
      std::optional<std::uint64_t> index;
      if (row.kind == Value::Kind::scalar) {  // "- 7": a bare index
        index = r.count(&row, rp);
      } else if (row.kind == Value::Kind::map) {
        for (const auto& [k, v] : row.map) {
          if (k == "index") {
            index = r.count(&v, rp + ".index");
          } else if (k_row_reserved.count(k)) {
            r.fail(v, rp + "." + k, "set for the whole job under defaults:, not per task");
          } else if (auto s = r.string(&v, rp + "." + k)) {
            values[k] = *s;
          }
        }
      } else {
        r.fail(row, rp, "expected index: N and per-task values");
      }
      rows.push_back(std::move(values));
      row_index.push_back(index);
    }
  }
  if (const auto* grid = root.find("grid"); grid && grid->kind != Value::Kind::null) {
    if (grid->kind != Value::Kind::map) {
      r.fail(*grid, "grid", "expected a mapping of NAME: [values]");
    } else {
      std::vector<std::map<std::string, std::string>> product{{}};
      for (const auto& [k, v] : grid->map) {
        auto values = r.strings(&v, "grid." + k);
        std::vector<std::map<std::string, std::string>> next;
        for (const auto& partial : product) {
          for (const auto& value : values) {
            auto row = partial;
            row[k] = value;
            next.push_back(std::move(row));
          }
        }
        product = std::move(next);
      }
      for (auto& row : product) {
        rows.push_back(std::move(row));
        row_index.push_back(std::nullopt);
      }
    }
  }
  if (!rows.empty()) {
    // Rows without an index take their position; indices must be unique.
    std::set<std::uint64_t> seen;
    std::vector<std::uint64_t> indices;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      auto index = row_index[i].value_or(i);
      if (!seen.insert(index).second) {
        r.fail(root.find("params") ? *root.find("params") : root, "params[" + std::to_string(i) + "]",
               "index " + std::to_string(index) + " appears twice");
        continue;
      }
      indices.push_back(index);
      if (!rows[i].empty()) plan.task_values[index] = rows[i];
    }
    std::sort(indices.begin(), indices.end());
    bool same = plan.array && plan.array->indices() == indices;
    if (!same) {
      auto throttle = plan.array ? plan.array->max_running : std::nullopt;
      // A single task at index 0 without an array in job: is a plain job.
      if (plan.array || indices.size() != 1 || indices.front() != 0) plan.array = spec_for(indices, throttle);
    }
  }

  // script:
  auto script = r.string(root.find("script"), "script");
  // defaults: command (spawn's launcher) is what every task runs unless its row gives its own command.
  if (auto command = r.string(dfield("command"), dpath("command"))) plan.environment["command"] = *command;
  if (script) {
    plan.script_text = *script;
  } else {
    bool commands = plan.environment.count("command") ||
                    (!plan.task_values.empty() && std::all_of(plan.task_values.begin(), plan.task_values.end(),
                                                              [](const auto& kv) { return kv.second.count("command"); }));
    if (commands) {
      plan.script_text = "#!/bin/bash\n# Each task runs its parameter row's command (or defaults: command).\neval \"$command\"\n";
    } else {
      const Value* where = root.find("script") ? root.find("script") : &root;
      r.fail(*where, "script", "missing: the batch script the tasks run (or a command: in every params row)");
    }
  }

  // What the conversion found (informational; kept so a round trip loses nothing).
  if (const auto* modules = root.find("modules"); modules && modules->kind == Value::Kind::list) {
    for (std::size_t i = 0; i < modules->items.size(); ++i) {
      const auto& m = modules->items[i];
      auto mp = "modules[" + std::to_string(i) + "]";
      r.check_keys(m, mp, {"line", "name", "provider", "value"});
      plan.modules.push_back({static_cast<int>(r.count(m.find("line"), mp + ".line").value_or(0)),
                              r.string(m.find("name"), mp + ".name").value_or(""), r.string(m.find("provider"), mp + ".provider"),
                              r.string(m.find("value"), mp + ".value")});
    }
  }
  if (const auto* unsupported = root.find("unsupported"); unsupported && unsupported->kind == Value::Kind::list) {
    for (std::size_t i = 0; i < unsupported->items.size(); ++i) {
      const auto& u = unsupported->items[i];
      auto up = "unsupported[" + std::to_string(i) + "]";
      r.check_keys(u, up, {"origin", "option", "value", "instead"});
      plan.unsupported.push_back({r.string(u.find("origin"), up + ".origin").value_or(""),
                                  r.string(u.find("option"), up + ".option").value_or(""), r.string(u.find("value"), up + ".value"),
                                  r.string(u.find("instead"), up + ".instead").value_or("")});
    }
  }
  if (const auto* paths = root.find("cluster_paths"); paths && paths->kind == Value::Kind::list) {
    for (std::size_t i = 0; i < paths->items.size(); ++i) {
      const auto& c = paths->items[i];
      auto cp = "cluster_paths[" + std::to_string(i) + "]";
      r.check_keys(c, cp, {"line", "path"});
      plan.cluster_paths.push_back({static_cast<int>(r.count(c.find("line"), cp + ".line").value_or(0)),
                                    r.string(c.find("path"), cp + ".path").value_or("")});
    }
  }
  r.finish();
  return plan;
}

// ---------------------------------------------------------------- writing YAML

bool plain_safe(const std::string& s) {
  if (s.empty()) return false;
  static const std::set<std::string> reserved = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"};
  if (reserved.count(util::to_lower(s))) return false;
  if (util::parse_double(s) || util::parse_int(s)) return false;
  if (std::string("-?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string::npos) return false;
  if (s.front() == ' ' || s.back() == ' ') return false;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':') return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// In a flow collection ("[a, b]", "{k: v}") a plain scalar may not hold the flow indicators either, nor a ':'
// (yaml-cpp reads "{u: http://x}" as an error: in flow context it takes ':' as a value indicator).
bool flow_safe(const std::string& s) { return plain_safe(s) && s.find_first_of(",[]{}:") == std::string::npos; }

std::string yaml_scalar(const json& v, bool in_flow = false) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  auto s = v.get<std::string>();
  if (in_flow ? flow_safe(s) : plain_safe(s)) return s;
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);  // a JSON string is a YAML double-quoted scalar
}

bool is_flat(const json& v) {
  if (v.is_array()) return std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_primitive(); });
  if (v.is_object()) return std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_primitive(); });
  return true;
}

std::string flow(const json& v) {
  if (v.is_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + yaml_scalar(v[i], true);
    return out + "]";
  }
  if (v.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, x] : v.items()) {
      out += (first ? "" : ", ") + (flow_safe(k) ? k : json(k).dump()) + ": " + yaml_scalar(x, true);
      first = false;
    }
    return out + "}";
  }
  return yaml_scalar(v);
}

void emit(std::ostringstream& out, const json& v, int indent);

void emit_entry(std::ostringstream& out, const std::string& key, const json& v, int indent) {
  std::string pad(static_cast<std::size_t>(indent), ' ');
  std::string k = plain_safe(key) ? key : json(key).dump();
  if (v.is_primitive() || (is_flat(v) && v.size() <= 8) || v.empty()) {
    out << pad << k << ": " << flow(v) << "\n";
  } else {
    out << pad << k << ":\n";
    emit(out, v, indent + 2);
  }
}

void emit(std::ostringstream& out, const json& v, int indent) {
  std::string pad(static_cast<std::size_t>(indent), ' ');
  if (v.is_object()) {
    for (const auto& [k, x] : v.items()) emit_entry(out, k, x, indent);
  } else if (v.is_array()) {
    for (const auto& item : v) {
      if (item.is_primitive() || is_flat(item)) out << pad << "- " << flow(item) << "\n";
      else {
        out << pad << "-\n";
        emit(out, item, indent + 2);
      }
    }
  }
}

// The script as a literal block when YAML can carry it byte for byte, else a double-quoted scalar.
std::string script_entry(const std::string& script) {
  auto quoted = "script: " + json(script).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  bool printable = std::all_of(script.begin(), script.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 || c == '\n' || c == '\t';
  });
  if (!printable || script.empty()) return quoted;
  // Trailing newlines: one keeps "|", none "|-", more "|+".
  std::size_t trailing = 0;
  while (trailing < script.size() && script[script.size() - 1 - trailing] == '\n') ++trailing;
  std::string header = "script: |2";
  header += trailing == 0 ? "-" : trailing == 1 ? "" : "+";
  std::string out = header + "\n";
  std::size_t start = 0;
  auto body = script.substr(0, script.size() - (trailing ? 1 : 0));
  while (start <= body.size()) {
    auto end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    auto line = body.substr(start, end - start);
    out += line.empty() ? "\n" : "  " + line + "\n";
    start = end + 1;
    if (end == body.size()) break;
  }
  // Accept the block only if YAML reads back exactly the same bytes.
  try {
    auto node = YAML::Load(out);
    if (node["script"] && node["script"].Scalar() == script) return out;
  } catch (const YAML::Exception&) {
  }
  return quoted;
}

} // namespace

namespace {
json document(const spawn::Plan& plan, bool with_params);
} // namespace

nlohmann::ordered_json plan_to_document(const spawn::Plan& plan) { return document(plan, true); }

namespace {
json document(const spawn::Plan& plan, bool with_params) {
  json doc;
  doc["format"] = "spawn-parameter-file/1";
  json job;
  job["name"] = plan.job_name;
  job["script"] = plan.script_path;
  job["script_args"] = plan.script_args;
  job["submit_directory"] = plan.submit_dir;
  job["working_directory"] = plan.work_dir;
  job["array"] = plan.array ? json(plan.array->spec) : json(nullptr);
  job["nodes"] = plan.nodes;
  job["ntasks"] = plan.ntasks;
  job["tasks_per_node"] = plan.tasks_per_node;
  job["ntasks_per_node"] = json_or_null(plan.ntasks_per_node);
  job["ntasks_requested"] = plan.ntasks_requested;
  job["cpus_per_task"] = json_or_null(plan.cpus_per_task);
  job["mem_per_node_mb"] = json_or_null(plan.mem_per_node_mb);
  job["mem_per_cpu_mb"] = json_or_null(plan.mem_per_cpu_mb);
  job["mem_per_gpu_mb"] = json_or_null(plan.mem_per_gpu_mb);
  job["gpus_per_node"] = gpus_text(plan.gpus_per_node);
  job["gpus_per_task"] = gpus_text(plan.gpus_per_task);
  job["gpus"] = gpus_text(plan.gpus_per_job);
  job["cpus_per_gpu"] = json_or_null(plan.cpus_per_gpu);
  job["time_limit"] = duration(plan.time_limit_seconds);
  job["signal"] = plan.signal ? json(signal_text(*plan.signal)) : json(nullptr);
  job["output"] = json_or_null(plan.output);
  job["error"] = json_or_null(plan.error);
  job["input"] = json_or_null(plan.input);
  job["open_mode"] = plan.open_mode ? json(*plan.open_mode == OpenMode::append ? "append" : "truncate") : json(nullptr);
  job["dependency"] = plan.dependency ? json(plan.dependency->spec) : json(nullptr);
  job["kill_on_invalid_dep"] = plan.kill_on_invalid_dep;
  job["requeue"] = plan.requeue;
  job["export"] = plan.export_env ? json(plan.export_env->spec) : json(nullptr);
  job["partition"] = json_or_null(plan.partition);
  job["account"] = json_or_null(plan.account);
  job["qos"] = json_or_null(plan.qos);
  doc["job"] = job;

  json d;
  d["provider"] = to_string(plan.provider);
  d["region"] = plan.region;
  d["spot"] = plan.market == Market::spot;
  d["spot_fallback_to_on_demand"] = plan.spot_fallback_to_on_demand;
  d["instance_type"] = plan.instance_types.empty() ? json(nullptr) : json(plan.instance_types.front());
  d["instance_types"] = plan.instance_types;
  d["ami"] = json_or_null(plan.ami);
  d["container"] = json_or_null(plan.container);
  d["container_runtime"] = to_string(plan.container_runtime);
  d["ttl"] = duration(plan.ttl_seconds);
  d["max_concurrent"] = json_or_null(plan.max_concurrent);
  d["count"] = plan.nodes;
  d["mpi"] = plan.nodes > 1;
  d["vcpus"] = plan.node.vcpus;
  d["memory_mib"] = plan.node.memory_mib;
  d["whole_node_memory"] = plan.node.whole_node_memory;
  d["gpus"] = plan.node.gpus;
  d["gpu_type"] = json_or_null(plan.node.gpu_model);
  d["exclusive"] = plan.node.exclusive;
  json env = json::object();
  for (const auto& [k, v] : plan.environment) env[k] = v;
  d["environment"] = env;
  json staging = {{"in", json::array()}, {"out", json::array()}};
  for (const auto& s : plan.stage_in) staging["in"].push_back({{"source", s.source}, {"destination", s.destination}});
  for (const auto& s : plan.stage_out) staging["out"].push_back({{"source", s.source}, {"destination", s.destination}});
  d["staging"] = staging;
  if (!plan.aws.empty()) { // only what the config set, so plans without AWS settings read as before
    json aws = json::object();
    if (plan.aws.bucket) aws["bucket"] = *plan.aws.bucket;
    if (plan.aws.prefix) aws["prefix"] = *plan.aws.prefix;
    if (plan.aws.key_pair) aws["key_pair"] = *plan.aws.key_pair;
    if (!plan.aws.subnets.empty()) aws["subnets"] = plan.aws.subnets;
    if (!plan.aws.security_groups.empty()) aws["security_groups"] = plan.aws.security_groups;
    if (plan.aws.instance_profile) aws["instance_profile"] = *plan.aws.instance_profile;
    if (plan.aws.root_volume_gib) aws["root_volume_gib"] = *plan.aws.root_volume_gib;
    if (plan.aws.cooldown_seconds) aws["cooldown_seconds"] = *plan.aws.cooldown_seconds;
    if (plan.aws.tasks_per_instance) aws["tasks_per_instance"] = *plan.aws.tasks_per_instance;
    d["aws"] = aws;
  }
  if (plan.workdir != WorkdirPolicy{}) // only when the config changed it, so other plans read as before
    d["workdir"] = {{"travel", plan.workdir.travel}, {"exclude", plan.workdir.exclude},
                    {"confirm_above_mib", plan.workdir.confirm_above_mib}};
  if (!plan.path_mappings.empty()) {
    json paths = json::object();
    for (const auto& m : plan.path_mappings) paths[m.prefix] = m.target;
    d["paths"] = paths;
  }
  doc["defaults"] = d;

  json params = json::array();
  if (!with_params) params = nullptr;  // written directly by write_param_file
  auto add_row = [&](std::uint64_t index) {
    json row = {{"index", index}};
    if (auto it = plan.task_values.find(index); it != plan.task_values.end())
      for (const auto& [k, v] : it->second) row[k] = v;
    params.push_back(std::move(row));
  };
  if (with_params) {
    if (plan.array) slurm::for_each_index(*plan.array, add_row);
    else if (!plan.task_values.empty()) add_row(0);
  }
  doc["params"] = params;

  json modules = json::array();
  for (const auto& m : plan.modules)
    modules.push_back({{"line", m.line}, {"name", m.name}, {"provider", json_or_null(m.provider)}, {"value", json_or_null(m.value)}});
  doc["modules"] = modules;
  json unsupported = json::array();
  for (const auto& u : plan.unsupported)
    unsupported.push_back({{"origin", u.origin}, {"option", u.option}, {"value", json_or_null(u.value)}, {"instead", u.instead}});
  doc["unsupported"] = unsupported;
  json paths = json::array();
  for (const auto& c : plan.cluster_paths) paths.push_back({{"line", c.line}, {"path", c.path}});
  doc["cluster_paths"] = paths;
  doc["script"] = plan.script_text;
  return doc;
}

// The params lines of the YAML file, written straight from the array (a million tasks without a million objects).
void write_params_yaml(std::ostringstream& out, const spawn::Plan& plan) {
  auto row = [&](std::uint64_t index) {
    auto it = plan.task_values.find(index);
    if (it == plan.task_values.end()) {
      out << "  - {index: " << index << "}\n";
      return;
    }
    json values = {{"index", index}};
    for (const auto& [k, v] : it->second) values[k] = v;
    out << "  - " << flow(values) << "\n";
  };
  bool any = plan.array || !plan.task_values.empty();
  if (!any) {
    out << " []\n";
    return;
  }
  out << "\n";
  if (plan.array) slurm::for_each_index(*plan.array, row);
  else row(0);
}
} // namespace

spawn::Plan plan_from_document(const nlohmann::ordered_json& document, const std::string& origin) {
  return plan_from_value(from_json(document), origin);
}

std::optional<ParamFormat> format_for(const std::filesystem::path& path) {
  auto ext = util::to_lower(path.extension().string());
  if (ext == ".yaml" || ext == ".yml") return ParamFormat::yaml;
  if (ext == ".json") return ParamFormat::json;
  if (ext == ".csv") return ParamFormat::csv;
  return std::nullopt;
}

std::string write_param_file(const spawn::Plan& plan, ParamFormat format) {
  if (format == ParamFormat::json) return plan_to_document(plan).dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  auto doc = document(plan, false);
  if (format == ParamFormat::csv) throw Error("a parameter file is written as YAML or JSON; CSV is read only");
  std::ostringstream out;
  out << "# spawn parameter file, from " << plan.script_path << "\n"
      << "# job:      the Slurm job as sbatch reads it (its environment at run time comes from these values)\n"
      << "# defaults: where and how it runs; instance_types is ranked: the first is used, the rest are fallbacks\n"
      << "# params:   one entry per array task; other keys of an entry reach that task as environment variables\n"
      << "# script:   the batch script, verbatim\n"
      << "# Run it with: spawn launch --param-file FILE   (add --dry-run to see the plan first)\n";
  out << "format: " << yaml_scalar(doc["format"]) << "\n";
  for (const char* section : {"job", "defaults"}) {
    out << "\n" << section << ":\n";
    emit(out, doc[section], 2);
  }
  out << "\nparams:";
  write_params_yaml(out, plan);
  for (const char* section : {"modules", "unsupported", "cluster_paths"}) {
    out << "\n" << section << ":";
    if (doc[section].empty()) {
      out << " []\n";
      continue;
    }
    out << "\n";
    for (const auto& row : doc[section]) out << "  - " << flow(row) << "\n";
  }
  out << "\n" << script_entry(plan.script_text);
  return out.str();
}

spawn::Plan parse_param_file(std::string_view text, ParamFormat format, const std::string& name) {
  if (format == ParamFormat::json) {
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::parse_error& e) {
      throw Error(name + ": not valid JSON: " + e.what());
    }
    return plan_from_value(from_json(doc), name);
  }
  if (format == ParamFormat::csv) {
    // A header row of names, then one task per row (spawn's launcher format); "index" is optional.
    auto lines = util::split(text, '\n');
    std::vector<std::string> header;
    Value root;
    root.kind = Value::Kind::map;
    Value params;
    params.kind = Value::Kind::list;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      auto line = std::string(lines[i]);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (util::trim(line).empty()) continue;
      auto cells = util::split(line, ',');
      if (header.empty()) {
        for (auto& c : cells) header.emplace_back(util::trim(c));
        continue;
      }
      if (cells.size() != header.size())
        throw Error(name + ":" + std::to_string(i + 1) + ": " + std::to_string(cells.size()) + " values for " +
                    std::to_string(header.size()) + " columns");
      Value row;
      row.kind = Value::Kind::map;
      row.line = static_cast<int>(i + 1);
      for (std::size_t c = 0; c < cells.size(); ++c) {
        Value cell;
        cell.kind = Value::Kind::scalar;
        cell.text = std::string(util::trim(cells[c]));
        cell.line = row.line;
        row.map.push_back(Entry{header[c], std::move(cell)});
      }
      params.items.push_back(std::move(row));
    }
    root.map.push_back(Entry{"params", std::move(params)});
    return plan_from_value(root, name);
  }
  std::string yaml(text);
  auto params = take_params_block(yaml);
  YAML::Node node;
  try {
    node = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw Error(name + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  Value root = from_yaml(node);
  if (params && root.kind == Value::Kind::map) {
    for (auto& entry : root.map)
      if (entry.key == "params") entry.value = std::move(*params);
  }
  return plan_from_value(root, name);
}

std::optional<std::size_t> fast_params_count(std::string_view yaml) {
  std::string text(yaml);
  auto list = take_params_block(text);
  if (!list) return std::nullopt;
  return list->items.size();
}

spawn::Plan read_param_file(const std::filesystem::path& path) {
  auto text = util::read_file(path);
  if (!text) throw Error(text.error());
  return parse_param_file(*text, format_for(path).value_or(ParamFormat::yaml), path.string());
}

} // namespace spawn::plan
