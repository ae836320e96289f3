#include "slurm/frontend.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "slurm/grammar.hpp"
#include "slurm/options.hpp"
#include "slurm/scanner.hpp"
#include "slurm/xlate.hpp"
#include "util/error.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace spawn::slurm {

namespace {

// Options sbatch handles in its first pass only; in a script they are ignored.
bool is_early(std::string_view name) {
  return name == "help" || name == "usage" || name == "version" || name == "verbose" || name == "quiet" ||
         name == "wrap";
}

struct Occurrence {
  const OptionSpec* spec;
  std::optional<std::string> value;
  OptionSource source;
  int line;
  std::string origin;  // "job.sbatch:4", "SBATCH_TIMELIMIT", "command line"
};

class JobBuilder {
public:
  JobBuilder(Job& job, std::uint64_t max_array_size) : m_job(job), m_max_array_size(max_array_size) {}

  void apply(const Occurrence& o);
  void finish();
  void check_gpus(bool& ntasks_set, std::uint32_t& ntasks, std::uint32_t& min_nodes, std::uint32_t& max_nodes);
  std::vector<std::string>& errors() { return m_errors; }

private:
  void error(const Occurrence& o, const std::string& message) {
    m_errors.push_back(o.origin + ": --" + std::string(o.spec->long_name) + ": " + message);
  }
  template <typename T> bool take(const Occurrence& o, Expected<T> value, T& into) {
    if (!value) {
      error(o, value.error());
      return false;
    }
    into = std::move(*value);
    return true;
  }
  template <typename T> bool take(const Occurrence& o, Expected<T> value, std::optional<T>& into) {
    if (!value) {
      error(o, value.error());
      return false;
    }
    into = std::move(*value);
    return true;
  }

  Job& m_job;
  std::uint64_t m_max_array_size;
  std::vector<std::string> m_errors;
  // Which memory options were set, and from where (sbatch's exclusivity rule needs it).
  std::map<std::string, std::string> m_mem_set_by_cli;  // option -> origin (script or command line)
  std::map<std::string, std::string> m_mem_set_by_env;
  std::map<std::string, std::string> m_origin;          // option -> origin of its last occurrence
  bool m_ntasks_set = false;
  bool m_nodes_set = false;
  bool m_extra_set = false;
  std::optional<std::uint32_t> m_sockets, m_cores, m_threads;
  std::optional<std::uint32_t> m_nodes_max;
  bool m_nodes_from_list = false;
};

// Environment flags: "", "yes" or a non-zero number set the flag; anything else resets it.
bool env_flag_value(const std::string& value) {
  if (value.empty() || util::iequals(value, "yes")) return true;
  char* end = nullptr;
  long n = std::strtol(value.c_str(), &end, 10);
  return n != 0 && *end == '\0';
}

void JobBuilder::apply(const Occurrence& o) {
  const std::string name(o.spec->long_name);
  m_origin[name] = o.origin;
  const std::string value = o.value.value_or("");
  bool from_env = o.source == OptionSource::environment;
  bool flag_on = o.spec->arg != ArgKind::none || !from_env || env_flag_value(value);

  if (name == "time") {
    TimeValue t;
    if (take(o, parse_time_limit(value), t)) {
      m_job.time_unlimited = t.unlimited;
      m_job.time_limit_minutes = t.unlimited ? std::nullopt : std::optional<std::uint32_t>(t.minutes);
    }
  } else if (name == "time-min") {
    TimeValue t;
    if (take(o, parse_time_limit(value), t))
      m_job.time_min_minutes = t.unlimited ? std::nullopt : std::optional<std::uint32_t>(t.minutes);
  } else if (name == "job-name") {
    m_job.job_name = value;
  } else if (name == "nodes") {
    NodeRange r;
    if (take(o, parse_nodes(value), r)) {
      m_job.nodes_min = r.min;
      m_nodes_max = r.max;
      m_nodes_set = true;
    }
  } else if (name == "ntasks") {
    if (take(o, parse_positive_int(value), m_job.ntasks_requested)) m_ntasks_set = true;
  } else if (name == "ntasks-per-node" || name == "tasks-per-node") {
    take(o, parse_positive_int(value), m_job.ntasks_per_node);
  } else if (name == "ntasks-per-core") {
    take(o, parse_positive_int(value), m_job.ntasks_per_core);
  } else if (name == "ntasks-per-socket") {
    take(o, parse_positive_int(value), m_job.ntasks_per_socket);
  } else if (name == "ntasks-per-gpu" || name == "ntasks-per-tres") {
    take(o, parse_positive_int(value), m_job.ntasks_per_gpu);
  } else if (name == "cpus-per-task") {
    take(o, parse_positive_int(value), m_job.cpus_per_task);
  } else if (name == "cpus-per-gpu") {
    take(o, parse_positive_int(value), m_job.cpus_per_gpu);
  } else if (name == "mincpus") {
    take(o, parse_positive_int(value), m_job.mincpus);
  } else if (name == "sockets-per-node") {
    take(o, parse_positive_int(value), m_sockets);
  } else if (name == "cores-per-socket") {
    take(o, parse_positive_int(value), m_cores);
  } else if (name == "threads-per-core") {
    take(o, parse_positive_int(value), m_threads);
  } else if (name == "extra-node-info") {
    // -B sockets[:cores[:threads]]
    auto parts = util::split(value, ':');
    if (parts.size() > 3 || parts[0].empty()) {
      error(o, "invalid value " + util::quote(value) + " (expected SOCKETS[:CORES[:THREADS]])");
    } else {
      std::optional<std::uint32_t>* fields[] = {&m_sockets, &m_cores, &m_threads};
      bool ok = true;
      for (std::size_t i = 0; i < parts.size() && ok; ++i) {
        if (parts[i] == "*") continue;
        ok = take(o, parse_positive_int(parts[i]), *fields[i]);
      }
      m_extra_set = ok;
    }
  } else if (name == "mem" || name == "mem-per-cpu" || name == "mem-per-gpu") {
    std::uint64_t mb = 0;
    if (take(o, parse_megabytes(value), mb)) {
      (from_env ? m_mem_set_by_env : m_mem_set_by_cli)[name] = o.origin;
      if (name == "mem") m_job.mem_per_node_mb = mb;
      else if (name == "mem-per-cpu") m_job.mem_per_cpu_mb = mb;
      else m_job.mem_per_gpu_mb = mb;
    }
  } else if (name == "tmp") {
    take(o, parse_megabytes(value), m_job.tmp_mb);
  } else if (name == "gres") {
    take(o, parse_gres(value), m_job.gres);
  } else if (name == "gpus") {
    take(o, parse_gpus(value), m_job.gpus_per_job);
  } else if (name == "gpus-per-node") {
    take(o, parse_gpus(value), m_job.gpus_per_node);
  } else if (name == "gpus-per-task") {
    take(o, parse_gpus(value), m_job.gpus_per_task);
  } else if (name == "gpus-per-socket") {
    take(o, parse_gpus(value), m_job.gpus_per_socket);
  } else if (name == "array") {
    take(o, parse_array(value, m_max_array_size), m_job.array);
  } else if (name == "dependency") {
    take(o, parse_dependency(value), m_job.dependency);
  } else if (name == "kill-on-invalid-dep") {
    take(o, parse_yes_no(value), m_job.kill_on_invalid_dep);
  } else if (name == "exclusive") {
    if (from_env && value.empty()) {
      m_job.exclusive = Exclusive::exclusive;
    } else {
      ExclusiveValue e;
      auto text = o.value ? std::optional<std::string_view>(*o.value) : std::nullopt;
      if (take(o, parse_exclusive(text), e)) {
        m_job.exclusive = e.mode;
        m_job.oversubscribe = e.oversubscribe;
      }
    }
  } else if (name == "oversubscribe") {
    if (flag_on) {
      m_job.oversubscribe = true;
      m_job.exclusive = Exclusive::no;
    }
  } else if (name == "begin") {
    if (auto r = check_begin(value); !r) error(o, r.error());
    else m_job.begin = value;
  } else if (name == "deadline") {
    if (auto r = check_begin(value); !r) error(o, r.error());
    else m_job.deadline = value;
  } else if (name == "signal") {
    take(o, parse_signal(value), m_job.signal);
  } else if (name == "open-mode") {
    take(o, parse_open_mode(value), m_job.open_mode);
  } else if (name == "export") {
    m_job.export_env = parse_export(value);
  } else if (name == "mail-type") {
    std::vector<std::string> types;
    if (take(o, parse_mail_types(value), types)) {
      if (types.empty()) {
        m_job.mail_types.clear();
      } else {
        for (auto& t : types) {
          if (std::find(m_job.mail_types.begin(), m_job.mail_types.end(), t) == m_job.mail_types.end())
            m_job.mail_types.push_back(t);
        }
      }
    }
  } else if (name == "mail-user") {
    m_job.mail_user = value;
  } else if (name == "output") {
    m_job.output = util::iequals(value, "none") ? "/dev/null" : value;
  } else if (name == "error") {
    m_job.error = util::iequals(value, "none") ? "/dev/null" : value;
  } else if (name == "input") {
    m_job.input = util::iequals(value, "none") ? "/dev/null" : value;
  } else if (name == "chdir") {
    m_job.chdir = value;
  } else if (name == "partition") {
    m_job.partition = value;
  } else if (name == "account") {
    m_job.account = value;
  } else if (name == "qos") {
    m_job.qos = value;
  } else if (name == "constraint") {
    m_job.constraint = value;
  } else if (name == "reservation") {
    m_job.reservation = value;
  } else if (name == "licenses") {
    m_job.licenses = value;
  } else if (name == "nodelist") {
    m_job.nodelist = value;
  } else if (name == "exclude") {
    m_job.exclude = value;
  } else if (name == "wckey") {
    m_job.wckey = value;
  } else if (name == "comment") {
    m_job.comment = value;
  } else if (name == "container") {
    m_job.container = value;
  } else if (name == "requeue") {
    if (flag_on) m_job.requeue = true;
    else m_job.requeue.reset();
  } else if (name == "no-requeue") {
    if (flag_on) m_job.requeue = false;
    else m_job.requeue.reset();
  } else if (name == "hold") {
    m_job.hold = flag_on;
  } else if (name == "nice") {
    std::int64_t nice = 100;
    if (o.value) {
      char* end = nullptr;
      nice = std::strtoll(o.value->c_str(), &end, 10);
    }
    if (nice > 2147483645 || nice < -2147483645) error(o, "invalid value " + util::quote(value) + " (out of range)");
    else m_job.nice = static_cast<int>(nice);
  } else if (name == "priority") {
    if (!util::iequals(value, "TOP")) {
      char* end = nullptr;
      long long p = std::strtoll(value.c_str(), &end, 10);
      if (p < 0) error(o, "invalid value " + util::quote(value) + " (priority must be >= 0)");
      else if (p >= 4294967294LL) error(o, "invalid value " + util::quote(value) + " (priority must be < 4294967294)");
      else m_job.priority = static_cast<std::uint32_t>(p);
    }
  } else if (name == "core-spec") {
    std::int64_t n = 0;
    auto v = parse_long(value);
    if (!v || *v < 0) error(o, "invalid value " + util::quote(value) + " (expected a whole number >= 0)");
    else n = *v;
    (void)n;
  } else if (name == "gid" || name == "uid") {
    // Checked by sbatch against the user database; spawn always runs as the submitting user.
  } else if (name == "wrap") {
    if (o.source == OptionSource::command_line)
      error(o, "spawn runs batch scripts: put the command in a script instead of using --wrap");
  }
  // Every other option is recorded in the directive list only; its cloud note says what happens to it.
}

// The GPU consistency rules slurmctld applies to a submission (gres.c: _test_gres_cnt), and the
// counts it derives from them: tasks from --gpus / --gpus-per-task, nodes from --gpus / per node,
// CPUs per task from --cpus-per-gpu x --gpus-per-task.
void JobBuilder::check_gpus(bool& ntasks_set, std::uint32_t& ntasks, std::uint32_t& min_nodes,
                            std::uint32_t& max_nodes) {
  std::vector<const GresRequest*> requests;
  for (const auto& g : m_job.gres) {
    if (g.name == "gpu") requests.push_back(&g);
  }
  for (const auto* g : {&m_job.gpus_per_job, &m_job.gpus_per_node, &m_job.gpus_per_task, &m_job.gpus_per_socket}) {
    if (*g) requests.push_back(&**g);
  }
  auto fail = [&](const std::string& option, const std::string& message) {
    auto origin = m_origin.count(option) ? m_origin[option] : m_job.script_path;
    m_errors.push_back(origin + ": --" + option + ": " + message);
  };
  if (requests.empty()) {
    if (m_job.mem_per_gpu_mb)
      fail("mem-per-gpu", "no GPU is requested (add --gres=gpu:N, --gpus or --gpus-per-node)");
    return;
  }
  bool typed = false, untyped = false;
  for (const auto* g : requests) (g->type ? typed : untyped) = true;
  if (typed && untyped) {
    m_errors.push_back(m_job.script_path +
                       ": GPU requests mix a type with no type (e.g. gpu:a100:1 and gpu:1); Slurm rejects this as an "
                       "invalid GRES specification");
    return;
  }
  std::uint64_t per_job = m_job.gpus_per_job ? m_job.gpus_per_job->count : 0;
  std::uint64_t per_node = 0;
  if (m_job.gpus_per_node) {
    per_node = m_job.gpus_per_node->count;
  } else {
    for (const auto& g : m_job.gres)
      if (g.name == "gpu") per_node += g.count;
  }
  std::uint64_t per_task = m_job.gpus_per_task ? m_job.gpus_per_task->count : 0;
  std::uint64_t per_socket = m_job.gpus_per_socket ? m_job.gpus_per_socket->count : 0;
  if (per_job && ((per_node && per_node > per_job) || (per_task && per_task > per_job) ||
                  (per_socket && per_socket > per_job))) {
    fail("gpus", "the job's GPU count must be at least the per-node, per-task and per-socket counts");
    return;
  }
  if (per_node && ((per_task && per_task > per_node) || (per_socket && per_socket > per_node))) {
    fail("gpus-per-task", "GPUs per task or per socket exceed the GPUs per node");
    return;
  }
  if (per_socket && !m_sockets) {
    fail("gpus-per-socket", "needs --sockets-per-node");
    return;
  }
  if (per_job && per_node) {
    if (per_job % per_node) {
      fail("gpus", std::to_string(per_job) + " GPUs is not a multiple of the " + std::to_string(per_node) +
                       " GPUs per node");
      return;
    }
    auto nodes = static_cast<std::uint32_t>(per_job / per_node);
    if ((m_nodes_set && nodes < min_nodes) || (max_nodes && nodes > max_nodes)) {
      fail("gpus", std::to_string(per_job) + " GPUs at " + std::to_string(per_node) + " per node need " +
                       std::to_string(nodes) + " nodes, outside the " + std::to_string(min_nodes) + "-" +
                       std::to_string(max_nodes) + " nodes requested");
      return;
    }
    min_nodes = max_nodes = nodes;
    m_nodes_set = true;
  }
  if (per_task) {
    if (per_job) {
      if (per_job % per_task) {
        fail("gpus-per-task", "the job's " + std::to_string(per_job) + " GPUs are not a multiple of " +
                                  std::to_string(per_task) + " per task");
        return;
      }
      auto tasks = static_cast<std::uint32_t>(per_job / per_task);
      if (!ntasks_set) {
        ntasks = tasks;
        ntasks_set = true;
      } else if (ntasks != tasks) {
        fail("gpus-per-task", "--gpus / --gpus-per-task gives " + std::to_string(tasks) + " tasks, but " +
                                  std::to_string(ntasks) + " are requested");
        return;
      }
    } else if (!ntasks_set) {
      fail("gpus-per-task", "needs --gpus or -n/--ntasks");
      return;
    }
  }
  if (per_node && per_task) {
    if (per_node % per_task) {
      fail("gpus-per-task", "the " + std::to_string(per_node) + " GPUs per node are not a multiple of " +
                                std::to_string(per_task) + " per task");
      return;
    }
    auto per = static_cast<std::uint32_t>(per_node / per_task);
    if (!m_job.ntasks_per_node) m_job.ntasks_per_node = per;
    else if (*m_job.ntasks_per_node != per) {
      fail("gpus-per-task", "GPUs per node / per task gives " + std::to_string(per) +
                                " tasks per node, but --ntasks-per-node is " + std::to_string(*m_job.ntasks_per_node));
      return;
    }
  }
  if (m_job.cpus_per_gpu && per_task) {
    auto cpus = static_cast<std::uint32_t>(*m_job.cpus_per_gpu * per_task);
    if (!m_job.cpus_per_task) m_job.cpus_per_task = cpus;
  }
}

void JobBuilder::finish() {
  // --mem, --mem-per-cpu and --mem-per-gpu are mutually exclusive in the script and on the command line;
  // one given there overrides the others coming from the environment.
  auto conflict = [&](const std::map<std::string, std::string>& set) {
    std::vector<std::string> given;
    for (const auto& [option, origin] : set) given.push_back("--" + option + " (" + origin + ")");
    m_errors.push_back(set.rbegin()->second + ": --mem, --mem-per-cpu and --mem-per-gpu are mutually exclusive; given: " +
                       util::join(given, ", "));
  };
  if (m_mem_set_by_cli.size() > 1) {
    conflict(m_mem_set_by_cli);
  } else if (m_mem_set_by_cli.size() == 1) {
    auto keep = m_mem_set_by_cli.begin()->first;
    if (keep != "mem") m_job.mem_per_node_mb.reset();
    if (keep != "mem-per-cpu") m_job.mem_per_cpu_mb.reset();
    if (keep != "mem-per-gpu") m_job.mem_per_gpu_mb.reset();
  } else if (m_mem_set_by_env.size() > 1) {
    conflict(m_mem_set_by_env);
  }

  // sbatch: a node list asks for at least as many nodes as it names (a '/' makes it a file: not counted here).
  if (m_job.nodelist && m_job.nodelist->find('/') == std::string::npos) {
    if (auto count = count_hostlist(*m_job.nodelist); !count) {
      m_errors.push_back(m_origin["nodelist"] + ": --nodelist: " + count.error());
    } else if (*count > 0) {
      auto n = static_cast<std::uint32_t>(*count);
      m_job.nodes_min = m_nodes_set ? std::max(n, m_job.nodes_min.value_or(1)) : n;
      if (m_nodes_set && m_nodes_max && *m_nodes_max && *m_job.nodes_min > *m_nodes_max) {
        m_errors.push_back(m_origin["nodelist"] + ": --nodelist: names " + std::to_string(n) +
                           " nodes, more than the maximum of " + std::to_string(*m_nodes_max) + " nodes (-N)");
      }
      m_nodes_from_list = !m_nodes_set;
      m_nodes_set = true;
    }
  }
  std::uint32_t min_nodes = m_job.nodes_min.value_or(1);
  std::uint32_t max_nodes = m_nodes_set ? m_nodes_max.value_or(0) : 0;
  bool ntasks_set = m_ntasks_set;
  std::uint32_t ntasks = m_job.ntasks_requested.value_or(1);
  if (m_job.ntasks_per_node && !ntasks_set && (max_nodes == 0 || min_nodes == max_nodes)) {
    ntasks = min_nodes * *m_job.ntasks_per_node;
    ntasks_set = true;
  }
  if ((m_nodes_set || m_extra_set) && (min_nodes == max_nodes || max_nodes == 0) && !ntasks_set) {
    ntasks = std::max<std::uint32_t>(min_nodes, 1);
    if (m_sockets) ntasks *= *m_sockets;
    if (m_cores) ntasks *= *m_cores;
    if (m_threads) ntasks *= *m_threads;
  } else if (m_nodes_set && ntasks_set) {
    if (ntasks < max_nodes) max_nodes = ntasks;
    if (ntasks < min_nodes) {
      m_job.warnings.push_back("can't run " + std::to_string(ntasks) + " processes on " + std::to_string(min_nodes) +
                               " nodes, setting nnodes to " + std::to_string(ntasks));
      min_nodes = max_nodes = ntasks;
    }
  } else if (!ntasks_set && m_nodes_set) {
    ntasks = min_nodes;
  }
  // slurmctld: --ntasks-per-node with a node range still asks for min_nodes x per-node tasks.
  if (!ntasks_set && m_job.ntasks_per_node) {
    ntasks = min_nodes * *m_job.ntasks_per_node;
    ntasks_set = true;
  }
  check_gpus(ntasks_set, ntasks, min_nodes, max_nodes);
  m_job.ntasks = std::max<std::uint32_t>(ntasks, 1);
  if (m_nodes_set) {
    m_job.nodes_min = min_nodes;
    m_job.nodes_max = max_nodes == 0 ? min_nodes : max_nodes;
    if (m_nodes_from_list) m_job.nodes_max.reset();  // derived from -w: no maximum was asked for
  }
  auto exclusive_pair = [&](const std::string& a, const std::string& b) {
    m_errors.push_back(m_origin[b] + ": --" + b + " conflicts with --" + a + " (" + m_origin[a] +
                       "): the two are mutually exclusive");
  };
  if (m_job.cpus_per_gpu && m_job.cpus_per_task && m_origin.count("cpus-per-task"))
    exclusive_pair("cpus-per-task", "cpus-per-gpu");
  if (m_job.ntasks_per_gpu && m_job.gpus_per_task)
    exclusive_pair("gpus-per-task", m_origin.count("ntasks-per-gpu") ? "ntasks-per-gpu" : "ntasks-per-tres");
}

std::string origin_of(const std::string& script, int line) { return script + ":" + std::to_string(line); }

} // namespace

std::vector<std::pair<std::string, std::string>> current_environment() {
  std::vector<std::pair<std::string, std::string>> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return out;
}

CommandLineSplit split_command_line(const std::vector<std::string>& args) {
  std::vector<ArgToken> tokens;
  for (const auto& a : args) tokens.push_back({a, 0});
  auto parsed = getopt_long(tokens);
  CommandLineSplit out;
  out.sbatch_options.assign(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(parsed.stopped_at));
  if (parsed.stopped_at < args.size()) {
    out.script = args[parsed.stopped_at];
    out.script_args.assign(args.begin() + static_cast<std::ptrdiff_t>(parsed.stopped_at) + 1, args.end());
  }
  return out;
}

Job read_job(const ReadRequest& request) {
  Job job;
  job.script_path = request.script_path;
  job.script_args = request.script_args;
  const std::string& script = request.script_path;
  if (request.script_text) {
    job.script_text = *request.script_text;
  } else {
    auto text = util::read_file(script);
    if (!text) throw Error(text.error());
    job.script_text = std::move(*text);
  }
  if (auto problem = check_script_text(job.script_text)) throw Error(script + ": " + *problem);

  std::vector<std::string> errors;
  auto scan = scan_script(job.script_text);
  for (auto& [line, message] : scan.errors) errors.push_back(origin_of(script, line) + ": " + message);
  for (auto& [line, message] : scan.warnings) job.warnings.push_back(origin_of(script, line) + ": " + message);
  job.body_line = scan.body_line;
  job.spawn_directives = std::move(scan.spawn_directives);

  std::vector<Occurrence> occurrences;
  // 1. The script's directives: one argument list for all lines, as sbatch parses it.
  auto parsed = getopt_long(scan.sbatch_tokens);
  for (auto& [line, message] : parsed.errors) errors.push_back(origin_of(script, line) + ": " + message);
  if (parsed.stopped_at < scan.sbatch_tokens.size()) {
    const auto& stray = scan.sbatch_tokens[parsed.stopped_at];
    errors.push_back(origin_of(script, stray.line) + ": invalid directive " + util::quote(stray.text) +
                     " (a #SBATCH line holds options only; sbatch stops at the first word that is not an option)");
  }
  for (auto& p : parsed.options) {
    if (is_early(p.spec->long_name)) continue;  // sbatch ignores these in a script
    occurrences.push_back({p.spec, p.value, OptionSource::script, p.line, origin_of(script, p.line)});
  }
  // 1b. #BSUB or #PBS lines, translated into sbatch options as sbatch does (unless --ignore-pbs).
  auto xlate = translate_pbs_bsub(job.script_text,
                                  xlate_context(parsed.options, request.command_line, request.environment));
  for (auto& [line, message] : xlate.errors) errors.push_back(origin_of(script, line) + ": " + message);
  for (auto& [line, message] : xlate.warnings) job.warnings.push_back(origin_of(script, line) + ": " + message);
  for (auto& t : xlate.options)
    occurrences.push_back({find_option(t.option), t.value, OptionSource::script, t.line, origin_of(script, t.line)});
  // 2. SBATCH_* variables, in the table's order (sbatch walks its table the same way).
  for (const auto& spec : option_table()) {
    if (spec.env.empty()) continue;
    for (const auto& [name, value] : request.environment) {
      if (name == spec.env) occurrences.push_back({&spec, value, OptionSource::environment, 0, name});
    }
  }
  // 3. The command line before the script.
  std::vector<ArgToken> cli;
  for (const auto& a : request.command_line) cli.push_back({a, 0});
  auto from_cli = getopt_long(cli);
  for (auto& [line, message] : from_cli.errors) errors.push_back("command line: " + message);
  if (from_cli.stopped_at < cli.size())
    errors.push_back("command line: unexpected " + util::quote(cli[from_cli.stopped_at].text) +
                     " before the script");
  for (auto& p : from_cli.options) {
    if (is_early(p.spec->long_name) && p.spec->long_name != "wrap") continue;
    occurrences.push_back({p.spec, p.value, OptionSource::command_line, 0, "command line"});
  }

  job.job_name = std::filesystem::path(script).filename().string();
  JobBuilder builder(job, request.max_array_size);
  for (const auto& o : occurrences) {
    builder.apply(o);
    job.directives.push_back({o.line, "--" + std::string(o.spec->long_name), o.value, o.source, o.origin});
  }
  builder.finish();
  for (auto& e : builder.errors()) errors.push_back(e);
  if (!errors.empty()) throw Error(std::move(errors));
  return job;
}

} // namespace spawn::slurm
