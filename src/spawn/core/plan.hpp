#pragma once
// Plan: everything needed to run a job, whatever runs it. Built by plan/ from a Job (or read back from a
// parameter file), consumed by the engine, the providers and the on-node runtime. It holds the script verbatim
// once; what differs per task is only the index.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/job.hpp"
#include "core/resources.hpp"

namespace spawn {

enum class ProviderKind { local, aws, slurm };
const char* to_string(ProviderKind provider);

// A module the script loads (`module load NAME` in its body) and what provides it outside the cluster.
struct ModuleUse {
  int line = 0;
  std::string name;                     // "python/3.9"
  std::optional<std::string> provider;  // "conda", "container", ...; nullopt: not mapped
  std::optional<std::string> value;     // "python=3.9", an image, a snippet
};

// Something in the script the cloud cannot honour as written, and what spawn does instead.
struct Unsupported {
  std::string origin;   // "job.sbatch:10", "SBATCH_ACCOUNT", "command line"
  std::string option;   // "--mail-type"
  std::optional<std::string> value;
  std::string instead;  // what spawn does
};

// A path the script uses that only exists on the cluster ("/scratch/...", "$HOME/...").
struct ClusterPath {
  int line = 0;
  std::string path;
};

struct StagePath {
  std::string source;
  std::string destination;
};

// A cluster path prefix the script uses and what stands for it on a cloud instance ("s3://bucket/prefix/" is
// synced down before the script and back up after it; "efs://fs-0123.../dir" is mounted there).
struct PathMapping {
  std::string prefix;  // "/scratch/alice"
  std::string target;  // "s3://lab/scratch/" or "efs://fs-0123456789abcdef0/alice"
};

// What of the working directory travels with a cloud job (docs/aws.md "The working directory").
inline constexpr std::uint64_t k_default_workdir_confirm_above_mib = 1024;
inline const std::vector<std::string>& default_workdir_exclude() {
  static const std::vector<std::string> patterns = {".git/", "slurm-*.out"};
  return patterns;
}
struct WorkdirPolicy {
  bool travel = true;                                           // upload it, and bring back what the job changed
  std::vector<std::string> exclude = default_workdir_exclude();  // .spawnignore syntax, before the file's own
  std::uint64_t confirm_above_mib = k_default_workdir_confirm_above_mib;  // a larger upload is confirmed at submit
  bool operator==(const WorkdirPolicy&) const = default;
};

struct Plan {
  // --- the job, as Slurm would run it ---
  std::string job_name;
  std::string script_path;          // the original script, as given
  std::string script_text;          // the whole script, verbatim (shebang, comments, heredocs)
  std::vector<std::string> script_args;
  std::string submit_dir;           // absolute: where the job was submitted from
  std::string work_dir;             // absolute: --chdir against submit_dir, else submit_dir
  std::optional<ArraySpec> array;   // nullopt: a single task (index 0 inside spawn)
  std::uint32_t nodes = 1;          // nodes (instances) per task
  std::uint32_t ntasks = 1;         // Slurm tasks (ranks) per array task
  std::uint32_t tasks_per_node = 1;
  std::optional<std::uint32_t> ntasks_per_node;  // as requested (SLURM_NTASKS_PER_NODE)
  bool ntasks_requested = false;    // -n or --ntasks-per-node given (SLURM_NTASKS is set)
  std::optional<std::uint32_t> cpus_per_task;    // -c as given (SLURM_CPUS_PER_TASK)
  std::optional<std::uint64_t> mem_per_node_mb, mem_per_cpu_mb, mem_per_gpu_mb;
  std::optional<GresRequest> gpus_per_node;      // per node, for CUDA_VISIBLE_DEVICES and SLURM_GPUS_*
  std::optional<GresRequest> gpus_per_task;
  std::optional<GresRequest> gpus_per_job;
  std::optional<std::uint32_t> cpus_per_gpu;
  std::optional<std::int64_t> time_limit_seconds;  // nullopt: no limit
  std::optional<SignalSpec> signal;
  std::optional<std::string> output, error, input; // patterns as written (null: Slurm's defaults)
  std::optional<OpenMode> open_mode;
  std::optional<Dependency> dependency;
  bool kill_on_invalid_dep = false;
  bool requeue = false;
  std::optional<ExportSpec> export_env;
  std::optional<std::string> partition, account, qos;

  // --- what it runs on ---
  NodeRequirements node;
  ProviderKind provider = ProviderKind::local;
  std::string region = "us-east-1";
  Market market = Market::spot;
  bool spot_fallback_to_on_demand = false;
  std::vector<std::string> instance_types;   // ranked: the first is the choice, the rest the fallback order
  std::optional<std::string> ami;
  std::optional<std::string> container;      // image the batch script runs in (nullopt: none, the node itself)
  ContainerRuntime container_runtime = ContainerRuntime::auto_detect;
  std::optional<std::int64_t> ttl_seconds;
  std::optional<std::uint64_t> max_concurrent;  // nullopt: all at once (within the provider's capacity)
  std::vector<StagePath> stage_in, stage_out;  // in: s3://... -> a path; out: a path -> s3://...
  WorkdirPolicy workdir;
  std::vector<PathMapping> path_mappings;
  // The config's aws.* keys that were set (nullopt/empty: not set; the provider keeps its own default).
  struct Aws {
    std::optional<std::string> bucket, prefix, key_pair, instance_profile;
    std::vector<std::string> subnets, security_groups;
    std::optional<std::uint64_t> root_volume_gib, cooldown_seconds, tasks_per_instance;
    bool empty() const {
      return !bucket && !prefix && !key_pair && !instance_profile && subnets.empty() && security_groups.empty() &&
             !root_volume_gib && !cooldown_seconds && !tasks_per_instance;
    }
  } aws;
  std::map<std::string, std::string> environment;  // extra variables every task gets
  // Per-task values of a parameter file (index -> name -> value); they reach that task as environment variables.
  std::map<std::uint64_t, std::map<std::string, std::string>> task_values;

  // --- what the conversion found ---
  std::vector<ModuleUse> modules;
  std::vector<Unsupported> unsupported;
  std::vector<ClusterPath> cluster_paths;

  // Number of array tasks (1 for a single job).
  std::uint64_t task_count() const { return array ? array->count : 1; }
};

} // namespace spawn
