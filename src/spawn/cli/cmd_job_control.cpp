// The job commands: status (squeue-like), list, logs, cancel, wait, resume.
#include <algorithm>
#include <chrono>
#include <set>
#include <fstream>
#include <iostream>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/aws_view.hpp"
#include "cli/commands.hpp"
#include "cli/job_driver.hpp"
#include "cli/job_view.hpp"
#include "engine/dependency.hpp"
#include "engine/engine.hpp"
#include "providers/aws/watch.hpp"
#include "providers/registry.hpp"
#include "providers/slurm/slurm_provider.hpp"
#include "runtime/output_pattern.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

namespace {

using json = nlohmann::ordered_json;

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Splits args into flags (from known) and positional words; throws on an unknown option.
struct Words {
  std::vector<std::string> positional;
  std::set<std::string> flags;
};
Words parse_words(const std::string& command, const std::vector<std::string>& args, const std::set<std::string>& known) {
  Words w;
  for (const auto& a : args) {
    if (a.size() > 1 && a[0] == '-') {
      if (!known.count(a)) throw Error(command + ": unknown option " + util::quote(a));
      w.flags.insert(a);
    } else {
      w.positional.push_back(a);
    }
  }
  return w;
}

// Slurm's own state and reason of a task the slurm provider submitted (spawn says RUNNING from submission on).
std::optional<std::pair<std::string, std::string>> slurm_view(const engine::JobRecord& job, const engine::TaskRecord& t) {
  if (t.provider.value_or(job.provider) != "slurm" || !t.handle) return std::nullopt;
  return providers::slurm::task_slurm_state(engine::job_directory(engine::data_home(), job.id) /
                                            (std::to_string(t.ref.index) + "." + std::to_string(t.attempt)));
}

struct Row {
  std::string id, name, state, time, nodes, reason;
};

// squeue's rows for one job: one per running task, pending (and, with all, ended) tasks grouped into ranges.
// nodes: what NODELIST shows for a running task (its instance), by index; "None" when absent.
std::vector<Row> job_rows(const engine::JobRecord& job, const std::vector<engine::TaskRecord>& tasks,
                          std::optional<std::uint64_t> throttle, bool all, const std::map<std::uint64_t, std::string>& nodes) {
  std::vector<Row> rows;
  auto now = now_seconds();
  auto group_id = [&](const std::vector<std::uint64_t>& indices, bool pending) {
    if (!job.is_array) return std::to_string(job.id);
    if (indices.size() == 1 && !pending) return std::to_string(job.id) + "_" + std::to_string(indices[0]);
    std::string inner = util::compress_indices(indices);
    if (pending && throttle) inner += "%" + std::to_string(*throttle);
    return std::to_string(job.id) + "_[" + inner + "]";
  };
  // Running tasks first (as squeue), then groups of consecutive tasks with the same state and reason.
  for (const auto& t : tasks) {
    if (t.state != TaskState::running && t.state != TaskState::launching) continue;
    if (auto view = slurm_view(job, t); view && view->first == "PENDING") {
      // Submitted, but waiting in the cluster's queue: shown as squeue would show it there.
      rows.push_back({format_task_id(t.ref, job.is_array), job.name, "PENDING", "0:00", std::to_string(job.nodes),
                      view->second + " (Slurm " + t.handle.value_or("") + ")"});
      continue;
    }
    auto node = nodes.find(t.ref.index);
    rows.push_back({format_task_id(t.ref, job.is_array), job.name, to_string(t.state),
                    format_elapsed(t.start_time ? now - *t.start_time : 0), std::to_string(job.nodes),
                    node == nodes.end() ? "None" : node->second});
  }
  for (std::size_t i = 0; i < tasks.size();) {
    const auto& t = tasks[i];
    bool shown = t.state == TaskState::pending || (all && engine::is_terminal(t.state));
    if (!shown) {
      ++i;
      continue;
    }
    auto reason = t.state == TaskState::completed ? std::string("None") : t.reason.empty() ? "None" : t.reason;
    std::vector<std::uint64_t> indices{t.ref.index};
    auto j = i + 1;
    while (j < tasks.size() && tasks[j].state == t.state &&
           (tasks[j].state == TaskState::completed || tasks[j].reason == t.reason)) {
      indices.push_back(tasks[j].ref.index);
      ++j;
    }
    std::string time = "0:00";
    if (t.start_time && t.end_time) time = format_elapsed(*t.end_time - *t.start_time);
    rows.push_back({group_id(indices, t.state == TaskState::pending), job.name, to_string(t.state), time,
                    std::to_string(job.nodes), reason});
    i = j;
  }
  return rows;
}

json task_json(const engine::TaskRecord& t, bool is_array) {
  return {{"id", format_task_id(t.ref, is_array)},
          {"index", t.ref.index},
          {"task_job_id", t.task_job_id},
          {"state", to_string(t.state)},
          {"reason", t.reason},
          {"exit_code", util::json_or_null(t.exit_code)},
          {"restart_count", t.restart_count},
          {"handle", util::json_or_null(t.handle)},
          {"provider", util::json_or_null(t.provider)},
          {"submit_time", t.submit_time},
          {"start_time", util::json_or_null(t.start_time)},
          {"end_time", util::json_or_null(t.end_time)}};
}

json job_json(const engine::JobRecord& job, const std::vector<engine::TaskRecord>* tasks, const engine::Progress& p) {
  json j = {{"job_id", job.id},
            {"name", job.name},
            {"user", job.user},
            {"state", to_string(engine::job_state(p))},
            {"provider", job.provider},
            {"submit_time", job.submit_time},
            {"is_array", job.is_array},
            {"task_count", job.task_count},
            {"nodes", job.nodes},
            {"dependency", job.dependency ? json(*job.dependency) : json(nullptr)},
            {"supervisor_pid", job.supervisor_pid ? json(*job.supervisor_pid) : json(nullptr)},
            {"supervised", engine::SupervisorLock::is_held(engine::job_directory(engine::data_home(), job.id))},
            {"counts",
             {{"pending", p.pending},
              {"running", p.running + p.launching},
              {"completed", p.completed},
              {"failed", p.failed},
              {"timeout", p.timeout},
              {"cancelled", p.cancelled},
              {"preempted", p.preempted}}}};
  if (tasks) {
    json list = json::array();
    for (const auto& t : *tasks) {
      auto entry = task_json(t, job.is_array);
      if (auto view = slurm_view(job, t)) entry["slurm"] = {{"state", view->first}, {"reason", view->second}};
      list.push_back(entry);
    }
    j["tasks"] = list;
  }
  return j;
}

// "slurm", or "slurm+local" for a job whose tasks run on several providers (--hybrid).
std::string providers_of(engine::Store& store, const engine::JobRecord& job) {
  auto named = store.task_providers(job.id);
  if (!named || named->empty()) return job.provider;
  return util::join(*named, "+");
}

engine::Progress progress_of(engine::Store& store, std::uint64_t id) {
  auto counts = store.state_counts(id);
  if (!counts) throw Error(counts.error());
  return engine::count_states(*counts);
}

std::vector<engine::TaskRecord> tasks_of(engine::Store& store, std::uint64_t id) {
  auto tasks = store.tasks(id);
  if (!tasks) throw Error(tasks.error());
  return *tasks;
}

// Columns padded to their widest cell, one line per row.
void print_table_to(const std::vector<std::vector<std::string>>& rows, std::vector<std::string>& lines) {
  std::vector<std::size_t> width;
  for (const auto& r : rows)
    for (std::size_t c = 0; c < r.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], r[c].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 2, ' ');
    }
    lines.push_back(line);
  }
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::string> lines;
  print_table_to(rows, lines);
  for (const auto& line : lines) std::cout << line << "\n";
}

// The task's identity for runtime's path patterns (the node name: this machine's short host name).
runtime::PatternContext pattern_context(const engine::JobRecord& job, const engine::TaskRecord& task) {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host);
  runtime::PatternContext c;
  c.job_id = task.task_job_id;
  c.array_job_id = job.id;
  if (job.is_array) c.array_task_id = task.ref.index;
  c.job_name = job.name;
  c.user = job.user;
  c.node_name = std::string(host).substr(0, std::string(host).find('.'));
  return c;
}

// The current record of one task of job.
engine::TaskRecord task_now(engine::Store& store, const engine::JobRecord& job, const TaskRef& ref) {
  for (const auto& t : tasks_of(store, job.id))
    if (t.ref == ref) return t;
  throw Error("job " + std::to_string(job.id) + " has no task " + std::to_string(ref.index) + " any more");
}

// spawn logs for a task on EC2: while it runs, the output file's S3 copy (the instance uploads it every
// log_sync_seconds; --follow reads on from the last offset with ranged GETs); once it ended, the file the
// supervisor brought back. Works from any process: the attempt's records are in the job's directory.
int aws_logs(engine::Store& store, const engine::JobRecord& job, const Plan& plan, engine::TaskRecord task,
             bool want_stderr, bool follow) {
  const auto id = format_task_id(task.ref, job.is_array);
  const auto job_dir = engine::job_directory(engine::data_home(), job.id);
  auto watch = providers::aws::JobWatch::open(plan);
  if (!watch) throw Error("logs: task " + id + ": " + watch.error());
  std::uint32_t attempt = task.attempt;
  std::uint64_t offset = 0;
  auto emit = [&](const std::string& bytes) {
    std::cout << bytes << std::flush;
    offset += bytes.size();
  };
  for (;;) {
    const bool ended = engine::is_terminal(task.state);
    auto outputs = providers::aws::attempt_outputs(job_dir / (std::to_string(task.ref.index) + "." + std::to_string(attempt)));
    if (!outputs.empty()) {
      const auto& file = want_stderr && outputs.size() > 1 ? outputs[1] : outputs[0];
      std::ifstream local(file.local, std::ios::binary);
      if (ended && local) {
        // Brought back by the supervisor: the whole output, as for a local job.
        local.seekg(static_cast<std::streamoff>(offset));
        emit(std::string((std::istreambuf_iterator<char>(local)), std::istreambuf_iterator<char>()));
        return 0;
      }
      auto bytes = watch->read_from(file, offset);
      if (!bytes) throw Error("logs: task " + id + ": " + bytes.error());
      if (*bytes) emit(**bytes);
      if (!follow || ended) {
        if (!*bytes && !follow)
          throw Error("logs: task " + id + " on " + (task.handle ? *task.handle : std::string("EC2")) +
                      ": no output uploaded yet (s3 key " + file.key + ")");
        return 0;
      }
    } else if (!follow) {
      throw Error("logs: task " + id + " has not started on EC2 yet (it is " + to_string(task.state) + ")");
    } else if (ended) {
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    task = task_now(store, job, task.ref);
    if (task.attempt != attempt) {
      attempt = task.attempt;  // re-queued: the new attempt writes its output afresh
      offset = 0;
    }
  }
}

// After a cancel of an aws job (or one task of it): waits until the supervisor has ended the tasks, then asks EC2
// (one DescribeInstances for the job) whether their instances are shutting down or terminated, and says so.
// Returns false when an instance still runs.
bool confirm_aws_cancel(engine::Store& store, const engine::JobRecord& job, std::optional<std::uint64_t> index) {
  auto tasks = tasks_of(store, job.id);
  if (!runs_on_aws(job, tasks)) return true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  auto live = [&] {
    return std::any_of(tasks.begin(), tasks.end(), [&](const auto& t) {  // the aws tasks of the cancel
      return (!index || t.ref.index == *index) && t.provider.value_or(job.provider) == "aws" && !engine::is_terminal(t.state);
    });
  };
  while (live() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    tasks = tasks_of(store, job.id);
  }
  auto view = aws_job_view(job, load_plan(job), tasks, true, now_seconds());
  std::vector<std::string> gone, up;
  std::uint64_t cancelled = 0;
  for (const auto& v : view.tasks) {
    if (index && v.index != *index) continue;
    if (v.state == TaskState::cancelled) ++cancelled;
    if (v.instance_id.empty() || v.state != TaskState::cancelled) continue;
    if (v.instance_state == "shutting-down" || v.instance_state == "terminated") gone.push_back(v.instance_id);
    else up.push_back(v.instance_id + " (" + (v.instance_state.empty() ? "unknown" : v.instance_state) + ")");
  }
  auto some = [](const std::vector<std::string>& ids) {
    std::vector<std::string> shown(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(ids.size(), 8)));
    return util::join(shown, ", ") + (ids.size() > shown.size() ? ", ..." : "");
  };
  std::cout << "job " << job.id << ": " << cancelled << " task(s) CANCELLED; " << gone.size()
            << " instance(s) shutting down or terminated (EC2 DescribeInstances)" << (gone.empty() ? "" : ": " + some(gone))
            << "\n";
  for (const auto& problem : view.problems) std::cout << "  note: " << problem << "\n";
  if (live()) std::cout << "job " << job.id << ": the supervisor has not ended every task yet (pid "
                        << job.supervisor_pid.value_or(0) << ")\n";
  if (up.empty()) return !live();
  std::cout << "job " << job.id << ": still running: " << some(up) << " (spawn aws cleanup --job " << job.id
            << " terminates them)\n";
  return false;
}

} // namespace

int cmd_status(const std::vector<std::string>& args) {
  auto w = parse_words("status", args, {"--json", "--all"});
  auto store = open_store();
  std::vector<engine::JobRecord> jobs;
  std::optional<std::uint64_t> only_index;
  if (!w.positional.empty()) {
    auto ref = parse_job_reference(store, w.positional[0]);
    jobs.push_back(require_job(store, ref.job_id));
    only_index = ref.index;
  } else {
    auto all = store.jobs();
    if (!all) throw Error(all.error());
    for (auto it = all->rbegin(); it != all->rend(); ++it) {
      auto p = progress_of(store, it->id);
      if (w.flags.count("--all") || p.pending + p.launching + p.running > 0) jobs.push_back(*it);
    }
  }
  const bool one = !w.positional.empty();
  json out = json::array();
  std::vector<std::vector<std::string>> table{{"JOBID", "NAME", "STATE", "TIME", "NODES", "REASON"}};
  std::vector<std::string> footer;  // aws jobs: instances and cost so far
  for (const auto& job : jobs) {
    auto tasks = tasks_of(store, job.id);
    if (only_index) std::erase_if(tasks, [&](const auto& t) { return t.ref.index != *only_index; });
    auto p = progress_of(store, job.id);
    std::optional<Plan> plan;
    try {
      plan = load_plan(job);
    } catch (const Error&) {
    }
    // EC2's view of an aws job that still runs (one DescribeInstances for the job); a finished one from its records.
    std::optional<AwsJobView> aws;
    if (plan && runs_on_aws(job, tasks))
      aws = aws_job_view(job, *plan, tasks, p.pending + p.launching + p.running > 0, now_seconds());
    if (w.flags.count("--json")) {
      auto j = job_json(job, &tasks, p);
      if (aws) {
        std::map<std::uint64_t, const AwsTaskView*> by_index;
        for (const auto& v : aws->tasks) by_index[v.index] = &v;
        for (auto& entry : j["tasks"])
          if (auto it = by_index.find(entry["index"].get<std::uint64_t>()); it != by_index.end())
            entry["aws"] = aws_task_json(*it->second);
        j["cost"] = aws_cost_json(*aws);
      }
      out.push_back(j);
      continue;
    }
    std::optional<std::uint64_t> throttle;
    if (plan && plan->array) throttle = plan->array->max_running;
    std::map<std::uint64_t, std::string> nodes;
    if (aws)
      for (const auto& v : aws->tasks) nodes[v.index] = aws_node_text(v);
    for (auto& r : job_rows(job, tasks, throttle, one || w.flags.count("--all"), nodes))
      table.push_back({r.id, r.name, r.state, r.time, r.nodes, r.reason});
    if (!aws) continue;
    footer.push_back("job " + std::to_string(job.id) + " on aws: " + std::to_string(aws->billing) +
                     " instance(s) running, cost so far $" + format_usd(aws->total) + " (catalog prices of " +
                     aws->price_date + ")");
    for (const auto& problem : aws->problems) footer.push_back("  note: " + problem);
    if (!one) continue;
    // One job: where each task runs or ran, what was tried first, and what it cost.
    std::vector<std::vector<std::string>> detail{{"TASK", "INSTANCE", "TYPE", "ZONE", "MARKET", "EC2 STATE", "BILLED", "COST", "TRIED"}};
    for (const auto& v : aws->tasks) {
      if (v.instance_id.empty()) continue;
      detail.push_back({v.id, v.instance_id, v.instance_type, v.zone, v.market,
                        v.instance_state.empty() ? "-" : v.instance_state, format_elapsed(v.billed_seconds),
                        "$" + format_usd(v.cost), v.tried.empty() ? "-" : v.tried});
    }
    if (detail.size() > 1) {
      footer.push_back("");
      std::vector<std::string> lines;
      print_table_to(detail, lines);
      footer.insert(footer.end(), lines.begin(), lines.end());
    }
  }
  if (w.flags.count("--json")) {
    std::cout << dump_json(one ? out[0] : json{{"jobs", out}}) << "\n";
    return 0;
  }
  print_table(table);
  for (const auto& line : footer) std::cout << line << "\n";
  return 0;
}

int cmd_list(const std::vector<std::string>& args) {
  if (std::find(args.begin(), args.end(), "--aws") != args.end()) { // spawn list --aws: as spawn aws list
    std::vector<std::string> rest;
    for (const auto& a : args)
      if (a != "--aws") rest.push_back(a);
    return cmd_aws_list(rest);
  }
  auto w = parse_words("list", args, {"--json"});
  auto store = open_store();
  auto jobs = store.jobs();
  if (!jobs) throw Error(jobs.error());
  json out = json::array();
  std::vector<std::vector<std::string>> table{{"JOBID", "NAME", "USER", "STATE", "TASKS", "SUBMITTED", "PROVIDER"}};
  for (const auto& job : *jobs) {
    auto p = progress_of(store, job.id);
    if (w.flags.count("--json")) {
      out.push_back(job_json(job, nullptr, p));
      continue;
    }
    char when[32];
    std::time_t t = job.submit_time;
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", std::localtime(&t));
    table.push_back({std::to_string(job.id), job.name, job.user, to_string(engine::job_state(p)),
                     std::to_string(p.done()) + "/" + std::to_string(p.total()), when, providers_of(store, job)});
  }
  if (w.flags.count("--json")) std::cout << dump_json({{"jobs", out}}) << "\n";
  else print_table(table);
  return 0;
}

int cmd_logs(const std::vector<std::string>& args) {
  auto w = parse_words("logs", args, {"--follow", "-f", "--stderr"});
  if (w.positional.size() != 1) throw Error("logs: give one job, JOBID or JOBID_INDEX (spawn logs 12_4)");
  auto store = open_store();
  auto ref = parse_job_reference(store, w.positional[0]);
  auto job = require_job(store, ref.job_id);
  auto tasks = tasks_of(store, job.id);
  if (job.is_array && !ref.index)
    throw Error("logs: job " + std::to_string(job.id) + " is an array of " + std::to_string(tasks.size()) +
                " tasks: name one, e.g. " + format_task_id(tasks.front().ref, true));
  auto it = std::find_if(tasks.begin(), tasks.end(), [&](const auto& t) { return !ref.index || t.ref.index == *ref.index; });
  if (it == tasks.end()) throw Error("logs: job " + std::to_string(job.id) + " has no task " + std::to_string(*ref.index));
  auto plan = load_plan(job);
  if (it->provider.value_or(job.provider) == "aws")
    return aws_logs(store, job, plan, *it, w.flags.count("--stderr") > 0, w.flags.count("--follow") || w.flags.count("-f"));
  auto paths = runtime::stdio_paths(plan, pattern_context(job, *it));
  std::filesystem::path path = w.flags.count("--stderr") && paths.error ? *paths.error : paths.output;
  if (it->provider.value_or(job.provider) == "slurm") {
    // Slurm wrote it, under its own job ids: the path slurmctld recorded for the task.
    auto dir = engine::job_directory(engine::data_home(), job.id) /
               (std::to_string(it->ref.index) + "." + std::to_string(it->attempt));
    auto slurm_path = providers::slurm::task_output_path(dir, w.flags.count("--stderr") > 0);
    if (!slurm_path && !w.flags.count("--follow") && !w.flags.count("-f"))
      throw Error("logs: task " + format_task_id(it->ref, job.is_array) + " has not started on the Slurm cluster yet");
    if (slurm_path) path = *slurm_path;
  }
  const auto id = format_task_id(it->ref, job.is_array);
  const bool follow = w.flags.count("--follow") || w.flags.count("-f");
  std::uintmax_t offset = 0;
  for (;;) {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      in.seekg(static_cast<std::streamoff>(offset));
      std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      offset += chunk.size();
      std::cout << chunk << std::flush;
    } else if (!follow) {
      throw Error("logs: task " + id + ": " + path.string() + " does not exist" +
                  (it->state == TaskState::pending ? " yet (the task is PENDING)" : ""));
    }
    if (!follow) return 0;
    auto now = store.tasks(job.id);
    if (!now) throw Error(now.error());
    bool ended = false;
    for (const auto& t : *now)
      if (t.ref == it->ref) ended = engine::is_terminal(t.state);
    if (ended) {
      // One last read after the end, for what was written just before it.
      std::ifstream last(path, std::ios::binary);
      if (last) {
        last.seekg(static_cast<std::streamoff>(offset));
        std::cout << std::string((std::istreambuf_iterator<char>(last)), std::istreambuf_iterator<char>()) << std::flush;
      }
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

int cmd_cancel(const std::vector<std::string>& args) {
  auto w = parse_words("cancel", args, {});
  if (w.positional.empty()) throw Error("cancel: give a job, JOBID or JOBID_INDEX (spawn cancel 12)");
  auto store = open_store();
  bool confirmed = true;
  for (const auto& word : w.positional) {
    auto ref = parse_job_reference(store, word);
    auto job = require_job(store, ref.job_id);
    if (auto r = store.request_cancel(job.id, ref.index); !r) throw Error(r.error());
    auto job_dir = engine::job_directory(engine::data_home(), job.id);
    if (engine::SupervisorLock::is_held(job_dir)) {  // the supervisor acts on the request
      confirmed = confirm_aws_cancel(store, job, ref.index) && confirmed;
      continue;
    }
    if (!ref.index) {
      // Nobody drives the job: drive it here until the cancel is carried out.
      supervise(job.id, ProgressStyle::none);
      confirmed = confirm_aws_cancel(store, job, ref.index) && confirmed;
      continue;
    }
    // One task of an unsupervised job: end it here, leaving the others as they are.
    auto lock = engine::SupervisorLock::try_acquire(job_dir);
    if (!lock) throw Error(lock.error());
    if (!*lock) continue;
    auto plan = load_plan(job);
    for (const auto& t : tasks_of(store, job.id)) {
      if (t.ref.index != *ref.index) continue;
      auto provider = providers::make_provider(t.provider.value_or(job.provider));
      if (!provider) throw Error("job " + std::to_string(job.id) + ": " + provider.error());
      if (t.state == TaskState::pending) {
        if (auto r = store.apply({{t.ref, TaskState::pending, TaskState::cancelled, "cancelled"}}, now_seconds()); !r)
          throw Error(r.error());
      } else if (t.state == TaskState::running && t.handle) {
        engine::Engine e(store, **provider, job, plan, {job_dir, now_seconds, 64});
        auto request = e.request_for(t, t.attempt);
        (*provider)->cancel(request, *t.handle);
        for (int i = 0; i < 400 && (*provider)->poll(request, *t.handle).state == TaskState::running; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (auto r = store.apply({{t.ref, TaskState::running, TaskState::cancelled, "cancelled"}}, now_seconds()); !r)
          throw Error(r.error());
      }
    }
    confirmed = confirm_aws_cancel(store, job, ref.index) && confirmed;
  }
  return confirmed ? 0 : 1;
}

int cmd_wait(const std::vector<std::string>& args) {
  auto w = parse_words("wait", args, {});
  if (w.positional.size() != 1) throw Error("wait: give one job (spawn wait 12)");
  auto store = open_store();
  auto ref = parse_job_reference(store, w.positional[0]);
  auto job = require_job(store, ref.job_id);
  auto job_dir = engine::job_directory(engine::data_home(), job.id);
  auto unsupervised_since = std::chrono::steady_clock::now();
  for (;;) {
    auto p = progress_of(store, job.id);
    if (p.pending + p.launching + p.running == 0) return engine::job_exit_status(tasks_of(store, job.id));
    auto now = std::chrono::steady_clock::now();
    if (engine::SupervisorLock::is_held(job_dir)) unsupervised_since = now;
    else if (now - unsupervised_since > std::chrono::seconds(5))
      throw Error("job " + std::to_string(job.id) + " is not finished and no spawn process drives it (its supervisor "
                  "ended): `spawn resume " + std::to_string(job.id) + "` takes it up again");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int cmd_resume(const std::vector<std::string>& args) {
  auto w = parse_words("resume", args, {"--foreground"});
  if (w.positional.size() != 1) throw Error("resume: give one job (spawn resume 12)");
  auto store = open_store();
  auto ref = parse_job_reference(store, w.positional[0]);
  auto job = require_job(store, ref.job_id);
  if (w.flags.count("--foreground"))
    return supervise(job.id, ::isatty(STDERR_FILENO) ? ProgressStyle::bar : ProgressStyle::lines);
  if (engine::SupervisorLock::is_held(engine::job_directory(engine::data_home(), job.id)))
    throw Error("job " + std::to_string(job.id) + " is already driven by another spawn process" +
                (job.supervisor_pid ? " (pid " + std::to_string(*job.supervisor_pid) + ")" : std::string()));
  auto pid = start_detached_supervisor(job.id);
  std::cout << "job " << job.id << ": supervisor started (pid " << pid << ")\n";
  return 0;
}

} // namespace spawn::cli
