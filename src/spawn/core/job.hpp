#pragma once
// Job: what sbatch would record for a batch script, with the line each value came from.
// Produced by slurm/ (the sbatch front end); read by plan/, catalog selection and the CLI.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace spawn {

enum class OptionSource { script, environment, command_line };
const char* to_string(OptionSource source);

// One option as read, canonicalised to its long name ("-t5" is {"--time", "5"}).
struct Directive {
  int line = 0;  // script line; 0 for the environment and the command line
  std::string option;
  std::optional<std::string> value;
  OptionSource source = OptionSource::script;
  std::string origin;  // "job.sbatch:4", "SBATCH_TIMELIMIT" or "command line"
};

// A "#SPAWN" line: tokens with the same tokenizer as #SBATCH; meaning is given by plan/.
struct SpawnDirective {
  int line = 0;
  std::vector<std::string> tokens;
};

// A generic resource (--gres entry, or the gpu part of --gpus*). count is per node for --gres.
struct GresRequest {
  std::string name;                // "gpu", "mps", "shard", ...
  std::optional<std::string> type; // "a100", "tesla_v100"
  std::uint64_t count = 1;
};

struct ArrayRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t step = 1;
};

struct ArraySpec {
  std::string spec;                        // as written, "1-100:2%20"
  std::vector<ArrayRange> ranges;          // as written, in order
  std::optional<std::uint64_t> max_running; // the %K throttle
  std::uint64_t count = 0;                 // distinct indices
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  // Every distinct index in increasing order (what Slurm runs); for large arrays prefer for_each_index.
  std::vector<std::uint64_t> indices() const;
};

enum class DependencyType { after, afterany, afterok, afternotok, aftercorr, afterburstbuffer, singleton };
const char* to_string(DependencyType type);

struct DependencyTarget {
  std::string job_id;
  std::optional<std::string> task;        // "JOB_TASK"
  std::optional<std::uint32_t> minutes;   // "+minutes"
};

struct DependencyItem {
  DependencyType type = DependencyType::afterany;
  std::vector<DependencyTarget> jobs;
};

struct Dependency {
  enum class Mode { all, any };
  std::string spec;  // as written
  Mode mode = Mode::all;
  std::vector<DependencyItem> items;
};

struct SignalSpec {
  int number = 10;          // SIGUSR1 by default
  std::string name = "USR1";
  std::uint32_t seconds_before = 60;
  bool batch_shell_only = false;  // the B flag
  bool reservation = false;       // the R flag
};

enum class OpenMode { append, truncate };
enum class Exclusive { no, exclusive, user, mcs, topo };

struct ExportSpec {
  bool all = true;     // ALL (default) or NONE
  std::vector<std::pair<std::string, std::optional<std::string>>> variables;
  std::string spec;    // as written
};

struct Job {
  std::string script_path;
  std::string script_text;          // the whole script, verbatim
  std::vector<std::string> script_args;
  std::string job_name;             // --job-name, else the script's file name

  std::optional<std::uint32_t> time_limit_minutes;  // nullopt: no --time, or unlimited
  bool time_unlimited = false;
  std::optional<std::uint32_t> time_min_minutes;

  std::optional<std::uint32_t> nodes_min;
  std::optional<std::uint32_t> nodes_max;
  std::optional<std::uint32_t> ntasks_requested;     // -n as given
  std::uint32_t ntasks = 1;                          // Slurm's derived task count
  std::optional<std::uint32_t> ntasks_per_node;
  std::optional<std::uint32_t> ntasks_per_core;
  std::optional<std::uint32_t> ntasks_per_socket;
  std::optional<std::uint32_t> ntasks_per_gpu;
  std::optional<std::uint32_t> cpus_per_task;        // -c as given (Slurm uses 1 when absent)
  std::optional<std::uint32_t> mincpus;

  std::optional<std::uint64_t> mem_per_node_mb;      // --mem; 0 = all the memory of a node
  std::optional<std::uint64_t> mem_per_cpu_mb;
  std::optional<std::uint64_t> mem_per_gpu_mb;
  std::optional<std::uint64_t> tmp_mb;

  std::vector<GresRequest> gres;                     // --gres, per node
  std::optional<GresRequest> gpus_per_job;           // --gpus
  std::optional<GresRequest> gpus_per_node;          // --gpus-per-node
  std::optional<GresRequest> gpus_per_task;          // --gpus-per-task
  std::optional<GresRequest> gpus_per_socket;
  std::optional<std::uint32_t> cpus_per_gpu;

  std::optional<ArraySpec> array;
  std::optional<Dependency> dependency;
  std::optional<bool> kill_on_invalid_dep;
  Exclusive exclusive = Exclusive::no;
  bool oversubscribe = false;

  std::optional<std::string> partition, account, qos, constraint, reservation, licenses, nodelist, exclude,
      wckey, comment, mail_user, begin, deadline, input, output, error, chdir, container;
  std::vector<std::string> mail_types;               // as canonical names, "BEGIN", "END", ...
  std::optional<SignalSpec> signal;
  std::optional<OpenMode> open_mode;
  std::optional<ExportSpec> export_env;
  std::optional<bool> requeue;                       // --requeue / --no-requeue
  bool hold = false;
  std::optional<int> nice;
  std::optional<std::uint32_t> priority;

  std::vector<Directive> directives;                 // every option, in the order read
  std::vector<SpawnDirective> spawn_directives;
  int body_line = 0;                                 // first line of the body (where scanning stopped)
  std::vector<std::string> warnings;

  // The final directive that set option (its last occurrence), or nullptr.
  const Directive* find(const std::string& option) const;
  bool is_array() const { return array.has_value(); }
  // Nodes the job runs on (nodes_min, else 1).
  std::uint32_t node_count() const { return nodes_min.value_or(1); }
};

} // namespace spawn
