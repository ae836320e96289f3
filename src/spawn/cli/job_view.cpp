#include "cli/job_view.hpp"

#include <sstream>

#include "slurm/options.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

namespace {

using json = nlohmann::ordered_json;

using util::json_or_null;

json gres_json(const std::optional<GresRequest>& g) {
  if (!g) return nullptr;
  return json{{"type", json_or_null(g->type)}, {"count", g->count}};
}

// GPUs per node from --gres=gpu... or --gpus-per-node.
std::optional<GresRequest> gpus_per_node(const Job& job) {
  if (job.gpus_per_node) return job.gpus_per_node;
  for (const auto& g : job.gres) {
    if (g.name == "gpu") return g;
  }
  return std::nullopt;
}

const char* exclusive_name(Exclusive e) {
  switch (e) {
  case Exclusive::no: return nullptr;
  case Exclusive::exclusive: return "exclusive";
  case Exclusive::user: return "user";
  case Exclusive::mcs: return "mcs";
  case Exclusive::topo: return "topo";
  }
  return nullptr;
}

std::string format_minutes(std::uint32_t minutes) {
  std::uint32_t d = minutes / 1440, h = minutes / 60 % 24, m = minutes % 60;
  std::vector<std::string> parts;
  if (d) parts.push_back(std::to_string(d) + "d");
  if (h) parts.push_back(std::to_string(h) + "h");
  if (m || parts.empty()) parts.push_back(std::to_string(m) + "m");
  return util::join(parts, " ");
}

std::string format_mb(std::uint64_t mb) {
  if (mb && mb % (1024 * 1024) == 0) return std::to_string(mb / (1024 * 1024)) + " TB";
  if (mb && mb % 1024 == 0) return std::to_string(mb / 1024) + " GB";
  return std::to_string(mb) + " MB";
}

std::string gpu_text(const GresRequest& g) {
  return std::to_string(g.count) + " GPU" + (g.count == 1 ? "" : "s") + (g.type ? " (" + *g.type + ")" : "");
}

} // namespace

nlohmann::ordered_json job_to_json(const Job& job) {
  json j;
  j["script"] = job.script_path;
  j["job_name"] = job.job_name;
  j["time_limit_minutes"] = json_or_null(job.time_limit_minutes);
  j["time_unlimited"] = job.time_unlimited;
  j["nodes_min"] = json_or_null(job.nodes_min);
  j["nodes_max"] = json_or_null(job.nodes_max);
  j["ntasks"] = job.ntasks;
  j["ntasks_per_node"] = json_or_null(job.ntasks_per_node);
  j["cpus_per_task"] = job.cpus_per_task.value_or(1);
  j["mem_per_node_mb"] = json_or_null(job.mem_per_node_mb);
  j["mem_per_cpu_mb"] = json_or_null(job.mem_per_cpu_mb);
  j["mem_per_gpu_mb"] = json_or_null(job.mem_per_gpu_mb);
  j["gpus_per_node"] = gres_json(gpus_per_node(job));
  j["gpus_per_job"] = gres_json(job.gpus_per_job);
  j["gpus_per_task"] = gres_json(job.gpus_per_task);
  j["cpus_per_gpu"] = json_or_null(job.cpus_per_gpu);
  json gres = json::array();
  for (const auto& g : job.gres) gres.push_back({{"name", g.name}, {"type", json_or_null(g.type)}, {"count", g.count}});
  j["gres"] = gres;
  if (job.array) {
    json indices = json::array();
    for (auto i : job.array->indices()) indices.push_back(i);
    j["array"] = {{"spec", job.array->spec},
                  {"indices", indices},
                  {"count", job.array->count},
                  {"max_running", json_or_null(job.array->max_running)}};
  } else {
    j["array"] = nullptr;
  }
  if (job.dependency) {
    json items = json::array();
    for (const auto& item : job.dependency->items) {
      json ids = json::array(), targets = json::array();
      for (const auto& t : item.jobs) {
        ids.push_back(t.job_id);
        targets.push_back({{"job_id", t.job_id}, {"task", json_or_null(t.task)}, {"minutes", json_or_null(t.minutes)}});
      }
      items.push_back({{"type", to_string(item.type)}, {"job_ids", ids}, {"targets", targets}});
    }
    j["dependency"] = {{"spec", job.dependency->spec},
                       {"mode", job.dependency->mode == Dependency::Mode::all ? "all" : "any"},
                       {"items", items}};
  } else {
    j["dependency"] = nullptr;
  }
  j["exclusive"] = job.exclusive != Exclusive::no;
  auto mode = exclusive_name(job.exclusive);
  if (!mode && job.oversubscribe) mode = "oversubscribe";
  j["exclusive_mode"] = mode ? json(mode) : json(nullptr);
  j["oversubscribe"] = job.oversubscribe;
  j["partition"] = json_or_null(job.partition);
  j["account"] = json_or_null(job.account);
  j["qos"] = json_or_null(job.qos);
  j["constraint"] = json_or_null(job.constraint);
  j["output"] = json_or_null(job.output);
  j["error"] = json_or_null(job.error);
  j["chdir"] = json_or_null(job.chdir);
  j["begin"] = json_or_null(job.begin);
  if (job.signal) {
    j["signal"] = {{"signal", job.signal->name},
                   {"number", job.signal->number},
                   {"seconds_before", job.signal->seconds_before},
                   {"batch_shell_only", job.signal->batch_shell_only}};
  } else {
    j["signal"] = nullptr;
  }
  j["open_mode"] = job.open_mode ? json(*job.open_mode == OpenMode::append ? "append" : "truncate") : json(nullptr);
  j["export"] = job.export_env ? json(job.export_env->spec) : json(nullptr);
  j["mail_type"] = job.mail_types;
  j["mail_user"] = json_or_null(job.mail_user);
  j["requeue"] = json_or_null(job.requeue);
  json directives = json::array();
  for (const auto& d : job.directives) {
    json entry = {{"line", d.line ? json(d.line) : json(nullptr)},
                  {"option", d.option},
                  {"value", json_or_null(d.value)},
                  {"source", to_string(d.source)}};
    auto spec = slurm::find_option(std::string_view(d.option).substr(2));
    entry["cloud"] = spec && !spec->cloud_note.empty() ? json(spec->cloud_note) : json(nullptr);
    directives.push_back(entry);
  }
  j["directives"] = directives;
  json spawn = json::array();
  for (const auto& s : job.spawn_directives) spawn.push_back({{"line", s.line}, {"tokens", s.tokens}});
  j["spawn_directives"] = spawn;
  j["script_args"] = job.script_args;
  j["body_line"] = job.body_line;
  j["warnings"] = job.warnings;
  return j;
}

std::string dump_json(const nlohmann::ordered_json& document, int indent) {
  return document.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string describe_time(const Job& job) {
  if (job.time_unlimited) return "no time limit (UNLIMITED)";
  if (!job.time_limit_minutes) return "no --time (the partition's default applies)";
  return format_minutes(*job.time_limit_minutes) + (job.is_array() ? " per task" : "");
}

std::string describe_resources(const Job& job) {
  std::vector<std::string> parts;
  auto cpus = job.cpus_per_task.value_or(1);
  parts.push_back(std::to_string(cpus) + " CPU" + (cpus == 1 ? "" : "s") + " per task");
  if (job.mem_per_node_mb) {
    parts.push_back(*job.mem_per_node_mb == 0 ? "all the memory of each node" : format_mb(*job.mem_per_node_mb) + " per node");
  }
  if (job.mem_per_cpu_mb) parts.push_back(format_mb(*job.mem_per_cpu_mb) + " per CPU");
  if (job.mem_per_gpu_mb) parts.push_back(format_mb(*job.mem_per_gpu_mb) + " per GPU");
  if (auto g = gpus_per_node(job)) parts.push_back(gpu_text(*g) + " per node");
  if (job.gpus_per_job) parts.push_back(gpu_text(*job.gpus_per_job) + " for the job");
  if (job.gpus_per_task) parts.push_back(gpu_text(*job.gpus_per_task) + " per task");
  if (job.cpus_per_gpu) parts.push_back(std::to_string(*job.cpus_per_gpu) + " CPUs per GPU");
  if (job.exclusive != Exclusive::no) parts.push_back("whole nodes (--exclusive)");
  return util::join(parts, ", ");
}

void print_job_analysis(std::ostream& out, const Job& job) {
  auto row = [&](const std::string& key, const std::string& value) {
    out << "  " << key << std::string(key.size() < 16 ? 16 - key.size() : 1, ' ') << value << "\n";
  };
  // Where a value came from: the last directive that set any of options ("job.sbatch:4", "SBATCH_TIMELIMIT").
  auto from = [&](std::initializer_list<const char*> options) {
    const Directive* last = nullptr;
    for (const auto& d : job.directives) {
      for (auto o : options) {
        if (d.option == o) last = &d;
      }
    }
    return last ? "  (" + last->origin + ")" : std::string();
  };
  out << "Slurm job analysis: " << job.script_path << "\n";
  row("Job name", job.job_name + (job.find("--job-name") ? from({"--job-name"}) : "  (the script's file name)"));
  std::string type;
  if (job.is_array()) {
    type = "array " + job.array->spec + " (" + std::to_string(job.array->count) + " task" +
           (job.array->count == 1 ? "" : "s") +
           (job.array->max_running ? ", at most " + std::to_string(*job.array->max_running) + " at a time" : "") + ")";
  } else if (job.node_count() > 1 || (job.nodes_max && *job.nodes_max > 1)) {
    type = "multi-node";
  } else {
    type = "single";
  }
  if (job.node_count() > 1 && job.is_array()) type += ", multi-node";
  row("Type", type + from({"--array"}));
  std::string nodes = job.nodes_min ? (job.nodes_max && *job.nodes_max != *job.nodes_min
                                           ? std::to_string(*job.nodes_min) + "-" + std::to_string(*job.nodes_max)
                                           : std::to_string(*job.nodes_min))
                                    : "1";
  row("Tasks", std::to_string(job.ntasks) + " on " + nodes + " node" + (nodes == "1" ? "" : "s") +
                   (job.ntasks_per_node ? " (" + std::to_string(*job.ntasks_per_node) + " per node)" : ""));
  row("Time limit", describe_time(job) + from({"--time"}));
  row("Resources", describe_resources(job));
  if (job.partition) row("Partition", *job.partition + from({"--partition"}));
  if (job.dependency) {
    std::vector<std::string> items;
    for (const auto& item : job.dependency->items) {
      std::vector<std::string> ids;
      for (const auto& t : item.jobs)
        ids.push_back(t.job_id + (t.task ? "_" + *t.task : "") + (t.minutes ? "+" + std::to_string(*t.minutes) + "min" : ""));
      items.push_back(std::string(to_string(item.type)) + (ids.empty() ? "" : " " + util::join(ids, ", ")));
    }
    row("Dependencies", util::join(items, job.dependency->mode == Dependency::Mode::all ? " and " : " or "));
  }
  row("Output", job.output.value_or(job.is_array() ? "slurm-%A_%a.out (default)" : "slurm-%j.out (default)") +
                    (job.error ? ", errors to " + *job.error : ""));
  for (const auto& d : job.spawn_directives)
    row("#SPAWN", util::join(d.tokens, " ") + "  (" + job.script_path + ":" + std::to_string(d.line) + ")");
  row("Body starts", "line " + std::to_string(job.body_line));
  std::vector<std::string> ignored;
  for (const auto& d : job.directives) {
    auto spec = slurm::find_option(std::string_view(d.option).substr(2));
    if (spec && !spec->cloud_note.empty())
      ignored.push_back(d.origin + ": " + d.option + (d.value ? "=" + *d.value : "") + ": " + std::string(spec->cloud_note));
  }
  if (!ignored.empty()) {
    out << "  Outside the cluster:\n";
    for (const auto& s : ignored) out << "    " << s << "\n";
  }
  for (const auto& w : job.warnings) out << "  warning: " << w << "\n";
}

} // namespace spawn::cli
