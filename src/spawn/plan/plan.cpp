#include "plan/plan.hpp"

#include <algorithm>
#include <filesystem>

#include "slurm/options.hpp"

#include "util/error.hpp"
#include "util/strings.hpp"

namespace spawn::plan {

namespace {
std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return b ? (a + b - 1) / b : a; }

std::string origin_of(const Job& job, int line) { return job.script_path + ":" + std::to_string(line); }
bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

ProviderKind provider_kind(config::Provider p) {
  switch (p) {
  case config::Provider::local: return ProviderKind::local;
  case config::Provider::aws: return ProviderKind::aws;
  case config::Provider::slurm: return ProviderKind::slurm;
  }
  return ProviderKind::local;
}

// The body's lines, numbered from the job's body_line.
template <typename Fn> void for_each_body_line(const Job& job, Fn&& fn) {
  std::string_view text = job.script_text;
  int lineno = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++lineno;
    if (lineno >= job.body_line) fn(lineno, text.substr(start, end - start));
    start = end + 1;
  }
}

std::vector<std::string> words(std::string_view line) {
  std::vector<std::string> out;
  std::string word;
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == ';' || c == '&' || c == '|') {
      if (!word.empty()) out.push_back(word);
      word.clear();
      if (c != ' ' && c != '\t') out.emplace_back(1, c);
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(word);
  return out;
}

void fill_run_plan(Plan& plan, const Job& job, const config::Config& config, const PlanOverrides& overrides) {
  auto& run = plan.run;
  const auto& settings = plan.settings;
  run.job_name = job.job_name;
  run.script_path = job.script_path;
  run.script_text = job.script_text;
  run.script_args = job.script_args;
  std::filesystem::path submit = overrides.submit_dir ? std::filesystem::path(*overrides.submit_dir)
                                                      : std::filesystem::current_path();
  run.submit_dir = submit.lexically_normal().string();
  run.work_dir = job.chdir ? (submit / *job.chdir).lexically_normal().string() : run.submit_dir;
  if (run.work_dir.size() > 1 && run.work_dir.back() == '/') run.work_dir.pop_back();
  run.array = job.array;
  run.nodes = plan.nodes_per_task;
  run.ntasks = job.ntasks;
  run.tasks_per_node = plan.tasks_per_node;
  run.ntasks_per_node = job.ntasks_per_node;
  run.ntasks_requested = job.ntasks_requested.has_value() || job.ntasks_per_node.has_value();
  run.cpus_per_task = job.cpus_per_task;
  run.mem_per_node_mb = job.mem_per_node_mb;
  run.mem_per_cpu_mb = job.mem_per_cpu_mb;
  run.mem_per_gpu_mb = job.mem_per_gpu_mb;
  if (job.gpus_per_node) {
    run.gpus_per_node = job.gpus_per_node;
  } else {
    for (const auto& g : job.gres) {
      if (g.name == "gpu") run.gpus_per_node = g;
    }
  }
  run.gpus_per_task = job.gpus_per_task;
  run.gpus_per_job = job.gpus_per_job;
  run.cpus_per_gpu = job.cpus_per_gpu;
  if (job.time_limit_minutes) run.time_limit_seconds = std::int64_t{*job.time_limit_minutes} * 60;
  run.signal = job.signal;
  run.output = job.output;
  run.error = job.error;
  run.input = job.input;
  run.open_mode = job.open_mode;
  run.dependency = job.dependency;
  run.kill_on_invalid_dep = job.kill_on_invalid_dep.value_or(false);
  run.requeue = job.requeue.value_or(settings.requeue);
  run.export_env = job.export_env;
  run.partition = job.partition;
  run.account = job.account;
  run.qos = job.qos;

  run.node = plan.node;
  run.provider = provider_kind(settings.provider);
  run.region = settings.region;
  run.market = settings.market;
  run.spot_fallback_to_on_demand = settings.spot_fallback_to_on_demand;
  run.instance_types = settings.instance_types;
  run.ami = settings.ami;
  if (settings.is_set("aws.bucket")) run.aws.bucket = settings.aws.bucket;
  if (settings.is_set("aws.prefix")) run.aws.prefix = settings.aws.prefix;
  if (settings.is_set("aws.key_pair")) run.aws.key_pair = settings.aws.key_pair;
  if (settings.is_set("aws.subnets")) run.aws.subnets = settings.aws.subnets;
  if (settings.is_set("aws.security_groups")) run.aws.security_groups = settings.aws.security_groups;
  if (settings.is_set("aws.instance_profile")) run.aws.instance_profile = settings.aws.instance_profile;
  if (settings.is_set("aws.root_volume_gib")) run.aws.root_volume_gib = settings.aws.root_volume_gib;
  if (settings.is_set("aws.cooldown_seconds")) run.aws.cooldown_seconds = settings.aws.cooldown_seconds;
  if (settings.is_set("aws.tasks_per_instance")) run.aws.tasks_per_instance = settings.aws.tasks_per_instance;
  run.container = settings.container ? settings.container : job.container;
  run.container_runtime = settings.container_runtime;
  run.ttl_seconds = settings.ttl ? settings.ttl : run.time_limit_seconds;
  if (plan.max_concurrent) run.max_concurrent = plan.max_concurrent->value;

  run.modules = find_modules(job, config);
  if (!run.container) {
    // A module mapped to a container image: the script runs in that image (the first one, if several differ).
    for (const auto& m : run.modules) {
      if (m.provider != "container" || !m.value) continue;
      if (!run.container) {
        run.container = m.value;
      } else if (*run.container != *m.value) {
        run.unsupported.push_back({origin_of(job, m.line), "module load " + m.name, m.value,
                                   "the task runs in one image only: " + *run.container +
                                       " (set `container` to choose)"});
      }
    }
  }
  run.cluster_paths = find_cluster_paths(job);
  for (const auto& d : job.directives) {
    auto spec = slurm::find_option(std::string_view(d.option).substr(2));
    if (spec && !spec->cloud_note.empty()) run.unsupported.push_back({d.origin, d.option, d.value, std::string(spec->cloud_note)});
  }
}

bool is_s3_url(std::string_view s) { return s.starts_with("s3://") && s.size() > 5 && s[5] != '/'; }

// The working directory's policy, path mappings and stage-in/stage-out: the config's, then the script's #SPAWN
// --stage-in/--stage-out lines (which add to them). Throws Error naming script:line for a bad operand.
void fill_staging(spawn::Plan& run, const config::Settings& settings, const std::vector<config::Assignment>& directives) {
  run.workdir.travel = settings.workdir.travel;
  run.workdir.exclude = settings.workdir.exclude;
  run.workdir.confirm_above_mib = settings.workdir.confirm_above_mib;
  std::vector<std::string> errors;
  for (const auto& [prefix, target] : settings.paths) {
    std::string p = prefix;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    if (p.size() < 2 || p.front() != '/')
      errors.push_back(std::string(settings.origin("paths")) + ": paths." + prefix +
                       ": expected an absolute path prefix like /scratch/alice, got " + util::quote(prefix));
    else
      run.path_mappings.push_back({p, target});
  }
  for (const auto& [path, url] : settings.workdir.stage_in) run.stage_in.push_back({url, path});
  for (const auto& [path, url] : settings.workdir.stage_out) run.stage_out.push_back({path, url});
  for (const auto& a : directives) {
    auto tab = a.value.find('\t');
    std::string first = a.value.substr(0, tab), second = a.value.substr(tab + 1);
    bool in = a.key == "--stage-in";
    const std::string& url = in ? first : second;
    const std::string& path = in ? second : first;
    if (!is_s3_url(url)) {
      errors.push_back(a.origin + ": #SPAWN " + a.key + ": expected an S3 URL (s3://BUCKET/PREFIX), got " + util::quote(url));
    } else if (path.empty() || is_s3_url(path)) {
      errors.push_back(a.origin + ": #SPAWN " + a.key + ": expected a path on the instance, got " + util::quote(path));
    } else if (in) {
      run.stage_in.push_back({url, path});
    } else {
      run.stage_out.push_back({path, url});
    }
  }
  if (!errors.empty()) throw Error(std::move(errors));
}

} // namespace

std::vector<ModuleUse> find_modules(const Job& job, const config::Config& config) {
  std::vector<ModuleUse> out;
  for_each_body_line(job, [&](int line, std::string_view text) {
    auto w = words(text);
    for (std::size_t i = 0; i < w.size(); ++i) {
      std::size_t first = 0;
      if (w[i] == "module" && i + 1 < w.size() && (w[i + 1] == "load" || w[i + 1] == "add")) first = i + 2;
      else if (w[i] == "ml" && i + 1 < w.size() && !starts_with(w[i + 1], "-") && w[i + 1] != "purge" &&
               w[i + 1] != "list" && w[i + 1] != "avail" && w[i + 1] != "spider" && w[i + 1] != "unload")
        first = i + 1;
      else continue;
      if (i > 0 && w[i - 1] != ";" && w[i - 1] != "&" && w[i - 1] != "|" && w[i - 1] != "then" && w[i - 1] != "do")
        continue;  // "module" as an argument of something else
      if (!w.empty() && starts_with(w[0], "#")) return;
      for (std::size_t k = first; k < w.size(); ++k) {
        if (w[k] == ";" || w[k] == "&" || w[k] == "|" || starts_with(w[k], "#")) break;
        if (starts_with(w[k], "-")) continue;
        ModuleUse use{line, w[k], std::nullopt, std::nullopt};
        if (const auto* m = config.module_mapping(w[k])) {
          use.provider = config::to_string(m->provider);
          if (!m->value.empty()) use.value = m->value;
          else if (!m->env.empty()) {
            std::vector<std::string> pairs;
            for (const auto& [k2, v] : m->env) pairs.push_back(k2 + "=" + v);
            use.value = util::join(pairs, ",");
          }
        }
        out.push_back(std::move(use));
      }
      break;
    }
  });
  return out;
}

std::vector<ClusterPath> find_cluster_paths(const Job& job) {
  static const char* system_dirs[] = {"/dev/", "/proc/", "/sys/", "/tmp/", "/usr/", "/bin/", "/sbin/", "/etc/",
                                      "/lib/", "/lib64/", "/opt/", "/var/", "/run/"};
  std::vector<ClusterPath> out;
  for_each_body_line(job, [&](int line, std::string_view text) {
    auto trimmed = util::trim(text);
    if (trimmed.empty() || trimmed.front() == '#') return;
    for (auto w : words(text)) {
      // Strip quotes and a leading redirection or assignment ("out=/scratch/x", ">/scratch/log").
      auto eq = w.find('=');
      if (eq != std::string::npos && eq + 1 < w.size() && (w[eq + 1] == '/' || w[eq + 1] == '$' || w[eq + 1] == '~'))
        w = w.substr(eq + 1);
      while (!w.empty() && (w.front() == '"' || w.front() == '\'' || w.front() == '>' || w.front() == '<')) w.erase(0, 1);
      while (!w.empty() && (w.back() == '"' || w.back() == '\'')) w.pop_back();
      bool home = starts_with(w, "$HOME") || starts_with(w, "${HOME}") || starts_with(w, "~/");
      bool absolute = w.size() > 1 && w[0] == '/' && w[1] != '/';
      if (absolute) {
        for (auto dir : system_dirs) absolute = absolute && !starts_with(w, dir);
        absolute = absolute && w.find('/', 1) != std::string::npos;  // "/x" alone is more likely an option
      }
      if (home || absolute) out.push_back({line, w});
    }
  });
  return out;
}

std::vector<config::Assignment> spawn_assignments(const Job& job) {
  std::vector<config::Assignment> out;
  std::vector<std::string> errors;
  for (const auto& d : job.spawn_directives) {
    const auto& t = d.tokens;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i].rfind("--", 0) != 0 || t[i].size() < 3) {
        // "key=value" is accepted too; anything else is not a setting.
        auto eq = t[i].find('=');
        if (eq != std::string::npos && eq > 0) {
          out.push_back({t[i].substr(0, eq), t[i].substr(eq + 1), origin_of(job, d.line)});
          continue;
        }
        errors.push_back(origin_of(job, d.line) + ": #SPAWN: expected --KEY VALUE or KEY=VALUE, got " + util::quote(t[i]));
        break;
      }
      if (t[i] == "--stage-in" || t[i] == "--stage-out") {
        // Two operands: --stage-in s3://bucket/inputs/ data/, --stage-out results/ s3://bucket/out/.
        if (i + 2 >= t.size() || t[i + 1].rfind("--", 0) == 0 || t[i + 2].rfind("--", 0) == 0) {
          errors.push_back(origin_of(job, d.line) + ": #SPAWN " + t[i] + ": expected two operands (" +
                           (t[i] == "--stage-in" ? "s3://BUCKET/PREFIX PATH" : "PATH s3://BUCKET/PREFIX") + ")");
          break;
        }
        out.push_back({t[i], t[i + 1] + "\t" + t[i + 2], origin_of(job, d.line)});
        i += 2;
        continue;
      }
      auto eq = t[i].find('=');
      if (eq != std::string::npos) {
        out.push_back({t[i].substr(0, eq), t[i].substr(eq + 1), origin_of(job, d.line)});
      } else if (i + 1 < t.size() && t[i + 1].rfind("--", 0) != 0) {
        out.push_back({t[i], t[i + 1], origin_of(job, d.line)});
        ++i;
      } else {
        // A flag with no value: "--spot" means true.
        out.push_back({t[i], "true", origin_of(job, d.line)});
      }
    }
  }
  if (!errors.empty()) throw Error(std::move(errors));
  return out;
}

NodeRequirements node_requirements(const Job& job, const config::Settings& settings, std::uint32_t& tasks_per_node,
                                   std::vector<std::string>& notes) {
  NodeRequirements r;
  std::uint32_t nodes = job.node_count();
  tasks_per_node = job.ntasks_per_node.value_or(static_cast<std::uint32_t>(ceil_div(job.ntasks, nodes)));
  std::uint32_t cpus_per_task = job.cpus_per_task.value_or(1);
  std::uint64_t cpus = std::uint64_t{tasks_per_node} * cpus_per_task;
  if (tasks_per_node > 1)
    notes.push_back(std::to_string(tasks_per_node) + " tasks per node x " + std::to_string(cpus_per_task) +
                    (cpus_per_task == 1 ? " CPU" : " CPUs") + " per task = " + std::to_string(cpus) + " vCPUs per node");
  if (job.mincpus) cpus = std::max<std::uint64_t>(cpus, *job.mincpus);

  // GPUs on one node: --gres / --gpus-per-node, --gpus spread over the nodes, --gpus-per-task x tasks on the node.
  std::uint64_t gpus = 0;
  std::optional<std::string> model;
  if (job.gpus_per_node) {
    gpus = job.gpus_per_node->count;
    model = job.gpus_per_node->type;
  }
  for (const auto& g : job.gres) {
    if (g.name != "gpu") continue;
    if (!job.gpus_per_node) gpus += g.count;
    if (!model) model = g.type;
  }
  if (job.gpus_per_job) {
    gpus = std::max<std::uint64_t>(gpus, ceil_div(job.gpus_per_job->count, nodes));
    if (!model) model = job.gpus_per_job->type;
  }
  if (job.gpus_per_task) {
    gpus = std::max<std::uint64_t>(gpus, job.gpus_per_task->count * tasks_per_node);
    if (!model) model = job.gpus_per_task->type;
  }
  if (job.cpus_per_gpu && gpus) cpus = std::max<std::uint64_t>(cpus, *job.cpus_per_gpu * gpus);
  r.vcpus = static_cast<std::uint32_t>(std::min<std::uint64_t>(cpus, UINT32_MAX));
  r.gpus = static_cast<std::uint32_t>(std::min<std::uint64_t>(gpus, UINT32_MAX));
  r.gpu_model = model;

  if (job.mem_per_node_mb) {
    if (*job.mem_per_node_mb == 0) {
      r.whole_node_memory = true;
      notes.push_back("--mem=0 asks for all the memory of a node: any instance size qualifies, the job gets all of it");
    } else {
      r.memory_mib = *job.mem_per_node_mb;
    }
  } else if (job.mem_per_cpu_mb) {
    r.memory_mib = *job.mem_per_cpu_mb * r.vcpus;
    notes.push_back(std::to_string(*job.mem_per_cpu_mb) + " MB per CPU x " + std::to_string(r.vcpus) +
                    " CPUs = " + std::to_string(r.memory_mib) + " MB per node");
  } else if (job.mem_per_gpu_mb) {
    r.memory_mib = *job.mem_per_gpu_mb * r.gpus;
  }
  r.exclusive = job.exclusive != Exclusive::no;

  // The configuration's extra requirements (a partition's min_vcpus, gpu_type, ...) raise these.
  if (settings.min_vcpus) r.vcpus = std::max(r.vcpus, *settings.min_vcpus);
  if (settings.min_memory_mib) r.memory_mib = std::max(r.memory_mib, *settings.min_memory_mib);
  if (settings.min_gpus) r.gpus = std::max(r.gpus, *settings.min_gpus);
  if (settings.gpu_type && !r.gpu_model) r.gpu_model = settings.gpu_type;
  return r;
}

Plan make_plan(const Job& job, const config::Config& config, const PlanOverrides& overrides) {
  Plan plan;
  plan.job_name = job.job_name;
  config::JobContext context;
  std::vector<config::Assignment> stage_directives;
  if (job.partition) context.partition = util::split(*job.partition, ',').front();
  for (auto& a : spawn_assignments(job)) {
    auto key = a.key.substr(0, 2) == "--" ? a.key.substr(2) : a.key;
    // #SPAWN speaks in the singular where the key table holds a list.
    if (key == "instance-type" || key == "instance_type") a.key = key = "instance_types";
    if (key == "config-profile" || key == "config_profile") context.profile = a;
    else if (key == "stage-in" || key == "stage-out") stage_directives.push_back(std::move(a));
    else context.directives.push_back(std::move(a));
  }
  plan.settings = config.resolve(context);
  plan.tasks = job.array ? job.array->count : 1;
  plan.nodes_per_task = job.node_count();
  plan.node = node_requirements(job, plan.settings, plan.tasks_per_node, plan.notes);

  // Concurrency: the array's %throttle and the configured max_concurrent, whichever is smaller.
  if (job.array && job.array->max_running)
    plan.max_concurrent = Sourced<std::uint64_t>{*job.array->max_running, "the array's %" + std::to_string(*job.array->max_running) + " throttle"};
  if (plan.settings.max_concurrent) {
    auto value = *plan.settings.max_concurrent;
    if (!plan.max_concurrent || value < plan.max_concurrent->value)
      plan.max_concurrent = Sourced<std::uint64_t>{value, "max_concurrent (" + std::string(plan.settings.origin("max_concurrent")) + ")"};
  }

  if (job.time_limit_minutes)
    plan.time_limit_seconds = Sourced<std::int64_t>{std::int64_t{*job.time_limit_minutes} * 60, "--time"};
  if (overrides.runtime_seconds) {
    plan.runtime_seconds = Sourced<std::int64_t>{*overrides.runtime_seconds, "--runtime"};
  } else if (plan.time_limit_seconds) {
    plan.runtime_seconds = Sourced<std::int64_t>{plan.time_limit_seconds->value, "the --time limit, the most a task may run"};
  }
  fill_run_plan(plan, job, config, overrides);
  fill_staging(plan.run, plan.settings, stage_directives);
  return plan;
}

} // namespace spawn::plan
