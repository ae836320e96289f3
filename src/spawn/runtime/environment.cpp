#include "runtime/environment.hpp"

#include <algorithm>
#include <unistd.h>

#include "runtime/hostlist.hpp"

extern char** environ;

namespace spawn::runtime {

namespace {

bool is_slurm_variable(const std::string& name) {
  return name.rfind("SLURM_", 0) == 0 || name.rfind("SLURMD_", 0) == 0 || name.rfind("SPAWN_", 0) == 0;
}

std::string gres_string(const GresRequest& gres) {
  return (gres.type ? *gres.type + ":" : std::string()) + std::to_string(gres.count);
}

// "0,1,...,n-1".
std::string index_list(std::uint64_t first, std::uint64_t count) {
  std::string out;
  for (std::uint64_t i = 0; i < count; ++i) out += (i ? "," : "") + std::to_string(first + i);
  return out;
}

} // namespace

std::vector<std::uint32_t> tasks_per_node(const Plan& plan) {
  std::uint32_t nodes = std::max<std::uint32_t>(plan.nodes, 1);
  if (plan.ntasks_per_node) return std::vector<std::uint32_t>(nodes, *plan.ntasks_per_node);
  return distribute_tasks(std::max<std::uint32_t>(plan.ntasks, nodes), nodes);
}

Environment task_environment(const Plan& plan, const TaskIdentity& id, const Environment& caller) {
  Environment env;
  // --export: ALL copies the caller's environment, NONE nothing, and listed variables are added on top (a bare
  // name copies the caller's value). Slurm's own variables are always set by slurmd, never inherited.
  const ExportSpec default_export;
  const ExportSpec& exports = plan.export_env ? *plan.export_env : default_export;
  if (exports.all) {
    for (const auto& [name, value] : caller) {
      if (!is_slurm_variable(name)) env[name] = value;
    }
  }
  for (const auto& [name, value] : exports.variables) {
    if (value) {
      env[name] = *value;
    } else if (auto it = caller.find(name); it != caller.end()) {
      env[name] = it->second;
    }
  }
  for (const auto& [name, value] : plan.environment) env[name] = value;
  if (plan.export_env) {
    env["SLURM_EXPORT_ENV"] = plan.export_env->spec;
    // sbatch asks slurmd to load the user's login environment whenever --export is given (runtime.sh does it).
    env["SLURM_GET_USER_ENV"] = "1";
  }

  std::vector<std::string> nodes = id.node_names;
  if (nodes.empty()) nodes.push_back("localhost");
  const std::uint32_t node_count = static_cast<std::uint32_t>(nodes.size());
  const std::string node_list = compress_hostlist(nodes);
  const std::string& node_name = nodes[std::min<std::size_t>(id.node_id, nodes.size() - 1)];
  std::vector<std::uint32_t> per_node = tasks_per_node(plan);
  per_node.resize(node_count, per_node.empty() ? 1 : per_node.back());
  std::uint32_t ntasks = 0;
  for (auto n : per_node) ntasks += n;
  const std::string job_id = std::to_string(id.task_job_id);

  env["ENVIRONMENT"] = "BATCH";
  env["HOSTNAME"] = node_name;
  env["SLURM_JOB_ID"] = job_id;
  env["SLURM_JOBID"] = job_id;
  env["SLURM_JOB_NAME"] = plan.job_name;
  env["SLURM_SUBMIT_DIR"] = plan.submit_dir;
  env["SLURM_SUBMIT_HOST"] = id.submit_host;
  env["SLURM_JOB_NUM_NODES"] = std::to_string(node_count);
  env["SLURM_NNODES"] = std::to_string(node_count);
  env["SLURM_JOB_NODELIST"] = node_list;
  env["SLURM_NODELIST"] = node_list;
  env["SLURM_JOB_PARTITION"] = plan.partition.value_or(id.partition);
  env["SLURM_CLUSTER_NAME"] = id.cluster_name;
  std::vector<std::uint32_t> cpus(node_count, id.cpus_on_node.value_or(0));
  if (!id.cpus_on_node) {
    for (std::uint32_t i = 0; i < node_count; ++i) cpus[i] = per_node[i] * plan.cpus_per_task.value_or(1);
  }
  env["SLURM_JOB_CPUS_PER_NODE"] = compress_counts(cpus);
  env["SLURM_CPUS_ON_NODE"] = std::to_string(cpus[std::min<std::size_t>(id.node_id, node_count - 1)]);
  env["SLURM_TASKS_PER_NODE"] = compress_counts(per_node);
  env["SLURM_NODEID"] = std::to_string(id.node_id);
  env["SLURM_PROCID"] = "0";
  env["SLURM_LOCALID"] = "0";
  env["SLURM_GTIDS"] = "0";
  env["SLURM_JOB_UID"] = std::to_string(id.uid);
  env["SLURM_JOB_USER"] = id.user;
  env["SLURM_JOB_GID"] = std::to_string(id.gid);
  env["SLURMD_NODENAME"] = node_name;
  env["SLURM_TOPOLOGY_ADDR"] = node_name;
  env["SLURM_TOPOLOGY_ADDR_PATTERN"] = "node";
  env["SLURM_PRIO_PROCESS"] = "0";
  env["SLURM_NODE_ALIASES"] = "(null)";
  if (plan.mem_per_node_mb && *plan.mem_per_node_mb > 0) {
    env["SLURM_MEM_PER_NODE"] = std::to_string(*plan.mem_per_node_mb);
  } else if (plan.mem_per_cpu_mb && *plan.mem_per_cpu_mb > 0) {
    env["SLURM_MEM_PER_CPU"] = std::to_string(*plan.mem_per_cpu_mb);
  }
  if (plan.cpus_per_task) env["SLURM_CPUS_PER_TASK"] = std::to_string(*plan.cpus_per_task);
  if (plan.ntasks_requested) {
    env["SLURM_NTASKS"] = std::to_string(ntasks);
    env["SLURM_NPROCS"] = std::to_string(ntasks);
  }
  if (plan.ntasks_per_node) env["SLURM_NTASKS_PER_NODE"] = std::to_string(*plan.ntasks_per_node);
  if (plan.open_mode) env["SLURM_OPEN_MODE"] = *plan.open_mode == OpenMode::append ? "a" : "t";
  if (plan.dependency) env["SLURM_JOB_DEPENDENCY"] = plan.dependency->spec;
  if (plan.account) env["SLURM_JOB_ACCOUNT"] = *plan.account;
  if (plan.qos) env["SLURM_JOB_QOS"] = *plan.qos;
  if (id.restart_count > 0) env["SLURM_RESTART_COUNT"] = std::to_string(id.restart_count);

  if (plan.array && id.array_index) {
    env["SLURM_ARRAY_JOB_ID"] = std::to_string(id.job_id);
    env["SLURM_ARRAY_TASK_ID"] = std::to_string(*id.array_index);
    env["SLURM_ARRAY_TASK_COUNT"] = std::to_string(plan.array->count);
    env["SLURM_ARRAY_TASK_MIN"] = std::to_string(plan.array->min);
    env["SLURM_ARRAY_TASK_MAX"] = std::to_string(plan.array->max);
    // Slurm reports the step of a single range; a list of ranges has no one step (it prints 1).
    std::uint64_t step = plan.array->ranges.size() == 1 ? plan.array->ranges.front().step : 1;
    env["SLURM_ARRAY_TASK_STEP"] = std::to_string(step);
  }

  // GPUs: the first ones of this node, numbered from 0 as Slurm's cgroup view shows them.
  std::uint64_t gpus = 0;
  if (plan.gpus_per_node) gpus = plan.gpus_per_node->count;
  if (plan.gpus_per_task) gpus = std::max<std::uint64_t>(gpus, plan.gpus_per_task->count * per_node[id.node_id % node_count]);
  if (plan.gpus_per_job) gpus = std::max<std::uint64_t>(gpus, (plan.gpus_per_job->count + node_count - 1) / node_count);
  if (plan.gpus_per_job) env["SLURM_GPUS"] = gres_string(*plan.gpus_per_job);
  if (plan.gpus_per_node) env["SLURM_GPUS_PER_NODE"] = gres_string(*plan.gpus_per_node);
  if (plan.gpus_per_task) env["SLURM_GPUS_PER_TASK"] = gres_string(*plan.gpus_per_task);
  if (plan.cpus_per_gpu) env["SLURM_CPUS_PER_GPU"] = std::to_string(*plan.cpus_per_gpu);
  if (plan.mem_per_gpu_mb) env["SLURM_MEM_PER_GPU"] = std::to_string(*plan.mem_per_gpu_mb);
  if (gpus > 0) {
    env["CUDA_VISIBLE_DEVICES"] = index_list(0, gpus);
    env["GPU_DEVICE_ORDINAL"] = index_list(0, gpus);
    env["SLURM_JOB_GPUS"] = index_list(0, gpus);
    env["SLURM_GPUS_ON_NODE"] = std::to_string(gpus);
  }

  // spawn's own: the sweep parameter index and ids, and where the runtime keeps this task's files.
  std::uint64_t index = id.array_index.value_or(0);
  env["SPAWN_JOB_ID"] = std::to_string(id.job_id);
  env["SPAWN_SWEEP_ID"] = std::to_string(id.job_id);
  env["SPAWN_TASK_ID"] = id.array_index ? std::to_string(id.job_id) + "_" + std::to_string(index) : std::to_string(id.job_id);
  env["SPAWN_PARAM_INDEX"] = std::to_string(index);
  env["SPAWN_NODE_COUNT"] = std::to_string(node_count);
  if (!id.hostfile.empty()) env["SPAWN_HOSTFILE"] = id.hostfile;
  if (!id.runtime_dir.empty()) env["SPAWN_RUNTIME_DIR"] = id.runtime_dir;
  return env;
}

Environment current_environment() {
  Environment env;
  for (char** p = environ; p && *p; ++p) {
    std::string entry(*p);
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

} // namespace spawn::runtime
