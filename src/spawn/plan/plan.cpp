#include "plan/plan.hpp"

#include <algorithm>

#include "util/error.hpp"
#include "util/strings.hpp"

namespace spawn::plan {

namespace {
std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return b ? (a + b - 1) / b : a; }

std::string origin_of(const Job& job, int line) { return job.script_path + ":" + std::to_string(line); }
} // namespace

std::vector<config::Assignment> spawn_assignments(const Job& job) {
  std::vector<config::Assignment> out;
  std::vector<std::string> errors;
  for (const auto& d : job.spawn_directives) {
    const auto& t = d.tokens;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i].rfind("--", 0) != 0 || t[i].size() < 3) {
        errors.push_back(origin_of(job, d.line) + ": #SPAWN: expected --KEY VALUE, got " + util::quote(t[i]));
        break;
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
  if (job.partition) context.partition = util::split(*job.partition, ',').front();
  for (auto& a : spawn_assignments(job)) {
    auto key = a.key.substr(0, 2) == "--" ? a.key.substr(2) : a.key;
    // #SPAWN speaks in the singular where the key table holds a list.
    if (key == "instance-type" || key == "instance_type") a.key = key = "instance_types";
    if (key == "config-profile" || key == "config_profile") context.profile = a;
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
  return plan;
}

} // namespace spawn::plan
