#include "slurm/options.hpp"

#include <algorithm>

namespace spawn::slurm {

namespace {
constexpr ArgKind N = ArgKind::none;
constexpr ArgKind R = ArgKind::required;
constexpr ArgKind O = ArgKind::optional;

constexpr std::string_view k_account = "cloud accounts are not Slurm accounts: recorded, not used";
constexpr std::string_view k_mail = "spawn sends no mail: `spawn wait` or `spawn status` tell when the job ends";
constexpr std::string_view k_nodes = "cluster node names do not exist in the cloud: ignored";
constexpr std::string_view k_cluster = "a cluster scheduling setting: ignored outside the cluster";
constexpr std::string_view k_binding = "CPU/memory binding and frequency are left to the instance: ignored";
constexpr std::string_view k_sbatch = "an sbatch behaviour with no meaning for spawn: ignored";
} // namespace

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = {
      {"account", 'A', R, "SBATCH_ACCOUNT", k_account},
      {"acctg-freq", 0, R, "SBATCH_ACCTG_FREQ", k_cluster},
      {"array", 'a', R, "SBATCH_ARRAY_INX", ""},
      {"batch", 0, R, "SBATCH_BATCH", k_cluster},
      {"begin", 'b', R, "", "spawn does not delay a job's start yet: it becomes eligible at once"},
      {"bb", 0, R, "SBATCH_BURST_BUFFER", "burst buffers do not exist in the cloud: ignored"},
      {"bbf", 0, R, "", "burst buffers do not exist in the cloud: ignored"},
      {"cluster-constraint", 0, R, "SBATCH_CLUSTER_CONSTRAINT", k_cluster},
      {"chdir", 'D', R, "", ""},
      {"cluster", 0, R, "", k_cluster},
      {"clusters", 'M', R, "SBATCH_CLUSTERS", k_cluster},
      {"comment", 0, R, "", ""},
      {"container", 0, R, "SBATCH_CONTAINER", ""},
      {"context", 0, R, "", k_cluster},
      {"contiguous", 0, N, "", k_nodes},
      {"constraint", 'C', R, "SBATCH_CONSTRAINT", "node features are site names: map them with the config's partitions"},
      {"core-spec", 'S', R, "SBATCH_CORE_SPEC", k_binding},
      {"cores-per-socket", 0, R, "", k_binding},
      {"cpu-freq", 0, R, "SBATCH_CPU_FREQ_REQ", k_binding},
      {"cpus-per-gpu", 0, R, "SBATCH_CPUS_PER_GPU", ""},
      {"cpus-per-task", 'c', R, "", ""},
      {"deadline", 0, R, "", "spawn does not cancel a job at its deadline yet: its --time limit applies"},
      {"delay-boot", 0, R, "SBATCH_DELAY_BOOT", k_cluster},
      {"dependency", 'd', R, "", ""},
      {"distribution", 'm', R, "SBATCH_DISTRIBUTION", k_binding},
      {"error", 'e', R, "SBATCH_ERROR", ""},
      {"exclude", 'x', R, "", k_nodes},
      {"exclusive", 0, O, "SBATCH_EXCLUSIVE", ""},
      {"export", 0, R, "SBATCH_EXPORT", ""},
      {"export-file", 0, R, "", ""},
      {"extra-node-info", 'B', R, "", ""},
      {"get-user-env", 0, O, "SBATCH_GET_USER_ENV", k_sbatch},
      {"gid", 0, R, "", "jobs run as the submitting user: ignored"},
      {"gpu-bind", 0, R, "SBATCH_GPU_BIND", k_binding},
      {"gpu-freq", 0, R, "SBATCH_GPU_FREQ", k_binding},
      {"gpus", 'G', R, "SBATCH_GPUS", ""},
      {"gpus-per-node", 0, R, "SBATCH_GPUS_PER_NODE", ""},
      {"gpus-per-socket", 0, R, "SBATCH_GPUS_PER_SOCKET", ""},
      {"gpus-per-task", 0, R, "SBATCH_GPUS_PER_TASK", ""},
      {"gres", 0, R, "SBATCH_GRES", ""},
      {"gres-flags", 0, R, "SBATCH_GRES_FLAGS", k_binding},
      {"help", 'h', N, "", k_sbatch},
      {"hint", 0, R, "SBATCH_HINT", k_binding},
      {"hold", 'H', N, "", "spawn has no held state yet: the job starts at once (use --dry-run to only look)"},
      {"ignore-pbs", 0, N, "SBATCH_IGNORE_PBS", ""},
      {"input", 'i', R, "SBATCH_INPUT", ""},
      {"job-name", 'J', R, "SBATCH_JOB_NAME", ""},
      {"kill-on-invalid-dep", 0, R, "", ""},
      {"licenses", 'L', R, "", "cluster licenses do not exist in the cloud: ignored"},
      {"mail-type", 0, R, "", k_mail},
      {"mail-user", 0, R, "", k_mail},
      {"mcs-label", 0, R, "", k_cluster},
      {"mem", 0, R, "SBATCH_MEM_PER_NODE", ""},
      {"mem-bind", 0, R, "SBATCH_MEM_BIND", k_binding},
      {"mem-per-cpu", 0, R, "SBATCH_MEM_PER_CPU", ""},
      {"mem-per-gpu", 0, R, "SBATCH_MEM_PER_GPU", ""},
      {"mincpus", 0, R, "", ""},
      {"network", 0, R, "SBATCH_NETWORK", k_cluster},
      {"nice", 0, O, "", k_cluster},
      {"no-kill", 'k', O, "SBATCH_NO_KILL", k_cluster},
      {"no-requeue", 0, N, "SBATCH_NO_REQUEUE", ""},
      {"nodefile", 'F', R, "", k_nodes},
      {"nodelist", 'w', R, "", k_nodes},
      {"nodes", 'N', R, "", ""},
      {"ntasks", 'n', R, "", ""},
      {"ntasks-per-core", 0, R, "", k_binding},
      {"ntasks-per-gpu", 0, R, "", ""},
      {"ntasks-per-node", 0, R, "", ""},
      {"ntasks-per-socket", 0, R, "", k_binding},
      {"ntasks-per-tres", 0, R, "", ""},
      {"open-mode", 0, R, "SBATCH_OPEN_MODE", ""},
      {"output", 'o', R, "SBATCH_OUTPUT", ""},
      {"overcommit", 'O', N, "SBATCH_OVERCOMMIT", k_cluster},
      {"oversubscribe", 's', N, "", k_cluster},
      {"parsable", 0, N, "", k_sbatch},
      {"partition", 'p', R, "SBATCH_PARTITION", ""},
      {"power", 0, R, "SBATCH_POWER", k_cluster},
      {"prefer", 0, R, "", "node features are site names: map them with the config's partitions"},
      {"priority", 0, R, "", k_cluster},
      {"profile", 0, R, "SBATCH_PROFILE", k_cluster},
      {"propagate", 0, O, "", k_cluster},
      {"qos", 'q', R, "SBATCH_QOS", "QOS is a cluster policy: recorded, not used"},
      {"quiet", 'Q', N, "", k_sbatch},
      {"reboot", 0, N, "", "cloud instances start fresh: ignored"},
      {"requeue", 0, N, "SBATCH_REQUEUE", ""},
      {"reservation", 0, R, "SBATCH_RESERVATION", "cluster reservations do not exist in the cloud: ignored"},
      {"signal", 0, R, "SBATCH_SIGNAL", ""},
      {"sockets-per-node", 0, R, "", k_binding},
      {"spread-job", 0, N, "SBATCH_SPREAD_JOB", k_cluster},
      {"switches", 0, R, "SBATCH_REQ_SWITCH", k_cluster},
      {"tasks-per-node", 0, R, "", ""},
      {"test-only", 0, N, "", k_sbatch},
      {"thread-spec", 0, R, "SBATCH_THREAD_SPEC", k_binding},
      {"threads-per-core", 0, R, "SBATCH_THREADS_PER_CORE", k_binding},
      {"time", 't', R, "SBATCH_TIMELIMIT", ""},
      {"time-min", 0, R, "", k_cluster},
      {"tmp", 0, R, "", ""},
      {"uid", 0, R, "", "jobs run as the submitting user: ignored"},
      {"use-min-nodes", 0, N, "SBATCH_USE_MIN_NODES", k_cluster},
      {"verbose", 'v', N, "SBATCH_DEBUG", k_sbatch},
      {"version", 'V', N, "", k_sbatch},
      {"usage", 0, N, "", k_sbatch},
      {"wait", 'W', N, "SBATCH_WAIT", ""},
      {"wait-all-nodes", 0, R, "SBATCH_WAIT_ALL_NODES", k_cluster},
      {"wckey", 0, R, "SBATCH_WCKEY", k_account},
      {"wrap", 0, R, "", ""},
  };
  return table;
}

const OptionSpec* find_option(std::string_view long_name) {
  const auto& table = option_table();
  auto it = std::find_if(table.begin(), table.end(), [&](const OptionSpec& o) { return o.long_name == long_name; });
  return it == table.end() ? nullptr : &*it;
}

namespace {

// Two table entries that set the same thing are not ambiguous for getopt (same has_arg and val).
bool same_option(const OptionSpec* a, const OptionSpec* b) {
  auto canon = [](const OptionSpec* o) {
    if (o->long_name == "tasks-per-node") return std::string_view("ntasks-per-node");
    return o->long_name;
  };
  return a->arg == b->arg && canon(a) == canon(b);
}

const OptionSpec* find_short(char c) {
  for (const auto& o : option_table()) {
    if (o.short_name == c) return &o;
  }
  return nullptr;
}

} // namespace

GetoptResult getopt_long(const std::vector<ArgToken>& args) {
  GetoptResult out;
  std::size_t i = 0;
  while (i < args.size()) {
    const auto& tok = args[i];
    const std::string& a = tok.text;
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;  // "+" ordering: stop at the first non-option
    if (a[1] == '-') {
      auto body = std::string_view(a).substr(2);
      auto eq = body.find('=');
      auto name = body.substr(0, eq);
      std::optional<std::string> attached;
      if (eq != std::string_view::npos) attached = std::string(body.substr(eq + 1));
      const OptionSpec* found = nullptr;
      std::vector<const OptionSpec*> candidates;
      for (const auto& o : option_table()) {
        if (o.long_name == name) {
          found = &o;
          candidates.clear();
          break;
        }
        if (o.long_name.substr(0, name.size()) == name) candidates.push_back(&o);
      }
      if (!found && !candidates.empty()) {
        bool ambiguous = false;
        for (auto* c : candidates) ambiguous = ambiguous || !same_option(c, candidates.front());
        if (ambiguous) {
          std::string list;
          for (auto* c : candidates) list += " '--" + std::string(c->long_name) + "'";
          out.errors.emplace_back(tok.line, "option '--" + std::string(name) + "' is ambiguous; possibilities:" + list);
          ++i;
          continue;
        }
        found = candidates.front();
      }
      if (!found) {
        out.errors.emplace_back(tok.line, "unrecognized option '--" + std::string(name) + "'");
        ++i;
        continue;
      }
      ParsedOption p{found, std::nullopt, tok.line, "--" + std::string(name)};
      ++i;
      if (found->arg == ArgKind::none) {
        if (attached) {
          out.errors.emplace_back(tok.line, "option '--" + std::string(found->long_name) + "' doesn't allow an argument");
          continue;
        }
      } else if (found->arg == ArgKind::optional) {
        p.value = attached;
      } else if (attached) {
        p.value = attached;
      } else if (i < args.size()) {
        p.value = args[i].text;
        ++i;
      } else {
        out.errors.emplace_back(tok.line, "option '--" + std::string(found->long_name) + "' requires an argument");
        continue;
      }
      out.options.push_back(std::move(p));
      continue;
    }
    // A cluster of short options: "-HN2" is -H then -N 2.
    std::size_t k = 1;
    ++i;
    while (k < a.size()) {
      char c = a[k++];
      const OptionSpec* spec = find_short(c);
      if (!spec) {
        out.errors.emplace_back(tok.line, std::string("invalid option -- '") + c + "'");
        continue;
      }
      ParsedOption p{spec, std::nullopt, tok.line, std::string("-") + c};
      if (spec->arg == ArgKind::none) {
        out.options.push_back(std::move(p));
        continue;
      }
      if (k < a.size()) {
        p.value = a.substr(k);
        k = a.size();
      } else if (spec->arg == ArgKind::required) {
        if (i < args.size()) {
          p.value = args[i].text;
          ++i;
        } else {
          out.errors.emplace_back(tok.line, std::string("option requires an argument -- '") + c + "'");
          continue;
        }
      }
      out.options.push_back(std::move(p));
    }
  }
  out.stopped_at = i;
  return out;
}

} // namespace spawn::slurm
