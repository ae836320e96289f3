#include "providers/slurm/slurm_provider.hpp"

#include <chrono>
#include <map>
#include <thread>

#include "providers/slurm/cluster.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::providers::slurm {

namespace fs = std::filesystem;


std::optional<std::vector<std::uint64_t>> parse_array_task_ids(const std::string& text) {
  std::vector<std::uint64_t> out;
  auto spec = text.substr(0, text.find('%'));
  for (const auto& part : util::split(spec, ',')) {
    auto colon = part.find(':');
    std::uint64_t step = 1;
    if (colon != std::string::npos) {
      auto s = util::parse_uint(part.substr(colon + 1));
      if (!s || *s == 0) return std::nullopt;
      step = *s;
    }
    auto range = part.substr(0, colon);
    auto dash = range.find('-');
    auto first = util::parse_uint(range.substr(0, dash));
    auto last = dash == std::string::npos ? first : util::parse_uint(range.substr(dash + 1));
    if (!first || !last || *last < *first) return std::nullopt;
    for (auto i = *first; i <= *last; i += step) out.push_back(i);
  }
  return out;
}

std::optional<fs::path> task_output_path(const fs::path& state_dir, bool stderr) {
  auto text = util::read_file(state_dir / (stderr ? k_stderr_file : k_stdout_file));
  if (!text || util::trim(*text).empty()) return std::nullopt;
  return fs::path(std::string(util::trim(*text)));
}

std::optional<std::int64_t> parse_slurm_duration(const std::string& text) {
  std::int64_t days = 0;
  auto rest = text;
  if (auto dash = rest.find('-'); dash != std::string::npos) {
    auto d = util::parse_uint(rest.substr(0, dash));
    if (!d) return std::nullopt;
    days = static_cast<std::int64_t>(*d);
    rest = rest.substr(dash + 1);
  }
  std::int64_t total = 0;
  auto parts = util::split(rest, ':');
  if (parts.empty() || parts.size() > 3) return std::nullopt;
  for (const auto& p : parts) {
    auto v = util::parse_uint(p);
    if (!v) return std::nullopt;
    total = total * 60 + static_cast<std::int64_t>(*v);
  }
  if (parts.size() == 2 && days == 0) return total;  // MM:SS
  return days * 86400 + total;
}

std::optional<std::pair<std::string, std::string>> task_slurm_state(const fs::path& state_dir) {
  auto text = util::read_file(state_dir / k_state_file);
  if (!text) return std::nullopt;
  auto line = std::string(util::trim(*text));
  auto space = line.find(' ');
  if (line.empty()) return std::nullopt;
  return std::pair(line.substr(0, space), space == std::string::npos ? std::string() : line.substr(space + 1));
}

std::optional<std::int64_t> task_runtime_seconds(const fs::path& state_dir) {
  auto text = util::read_file(state_dir / k_runtime_file);
  if (!text) return std::nullopt;
  auto v = util::parse_int(util::trim(*text));
  if (!v) return std::nullopt;
  return *v;
}

namespace {

struct Handle {
  std::string job;                    // the id scontrol and scancel take: "6545" (the array's or the job's)
  std::optional<std::uint64_t> index; // array task index
  std::string text() const { return index ? job + "_" + std::to_string(*index) : job; }
};

std::optional<Handle> parse_handle(const std::string& text) {
  auto underscore = text.find('_');
  auto job = text.substr(0, underscore);
  if (!util::parse_uint(job)) return std::nullopt;
  Handle h{job, std::nullopt};
  if (underscore != std::string::npos) {
    auto index = util::parse_uint(text.substr(underscore + 1));
    if (!index) return std::nullopt;
    h.index = *index;
  }
  return h;
}

std::string error_text(const CommandResult& r) {
  auto text = std::string(util::trim(r.err.empty() ? r.out : r.err));
  return text.empty() ? "exit " + std::to_string(r.status) : text;
}

// What `scontrol show job -o ID` said about one submission, read at `when`.
struct Snapshot {
  std::chrono::steady_clock::time_point when;
  bool gone = false;                                          // slurmctld no longer knows the job
  std::map<std::uint64_t, std::map<std::string, std::string>> tasks;  // started (or ended) tasks by index
  std::map<std::uint64_t, std::string> pending_reason;        // tasks still in the array's pending record
  std::optional<std::map<std::string, std::string>> single;   // a job that is not an array
  // The array's own record once no task is left in it (ArrayTaskId=4294967294, NO_VAL - 1): cancelling every pending
  // task at once ends it CANCELLED, and it then stands for each task without a record of its own.
  std::optional<std::map<std::string, std::string>> rest;
};

// scontrol's ArrayTaskId of an array's record that holds no task any more.
constexpr const char* k_no_array_task = "4294967294";

class SlurmProvider final : public engine::Provider {
public:
  explicit SlurmProvider(SlurmOptions options) : m_options(options) {}

  std::string name() const override { return "slurm"; }

  // The cluster's queue decides how many run at once; spawn hands it everything that is eligible.
  std::uint64_t capacity(const Plan&) const override { return 100000; }

  Expected<void> check(const Plan&) const override { return reachable(); }

  Expected<std::string> launch(const engine::LaunchRequest& request) override {
    auto all = launch_many({request});
    return all.front();
  }

  std::vector<Expected<std::string>> launch_many(const std::vector<engine::LaunchRequest>& requests) override {
    std::vector<Expected<std::string>> results;
    if (requests.empty()) return results;
    auto fail_all = [&](const std::string& why) {
      results.assign(requests.size(), Unexpected(why));
      return results;
    };
    const Plan* plan = requests.front().plan;
    if (!plan) return fail_all("slurm provider: launch without a plan");
    const auto job_dir = fs::absolute(requests.front().state_dir).parent_path();
    auto script = script_for(*plan, job_dir);
    if (!script) return fail_all(script.error());

    std::vector<std::string> argv{"sbatch", "--parsable"};
    if (auto extra = util::read_file(job_dir / k_sbatch_options_file))
      for (const auto& line : util::split(*extra, '\n'))
        if (!util::trim(line).empty()) argv.push_back(line);
    std::vector<std::uint64_t> indices;
    for (const auto& r : requests) indices.push_back(r.task.index);
    std::sort(indices.begin(), indices.end());
    if (plan->array) argv.push_back("--array=" + util::compress_indices(indices));
    // spawn has already waited for the job's dependencies (they name spawn's jobs, which Slurm does not know).
    argv.push_back("--dependency=");
    argv.push_back("--comment=spawn:" + std::to_string(requests.front().task.job_id));
    argv.push_back(*script);
    argv.insert(argv.end(), plan->script_args.begin(), plan->script_args.end());

    for (const auto& r : requests) {
      std::error_code ec;
      fs::create_directories(r.state_dir, ec);
      fs::remove(r.state_dir / k_handle_file, ec);
      fs::remove(r.state_dir / k_stdout_file, ec);
      fs::remove(r.state_dir / k_stderr_file, ec);
      if (auto w = util::write_file_atomic(r.state_dir / k_submitting_file, util::join(argv, " ") + "\n"); !w)
        return fail_all(w.error());
    }
    std::map<std::string, std::string> env{{"SPAWN_JOB_ID", std::to_string(requests.front().task.job_id)}};
    auto r = run_command(argv, env, plan->submit_dir, std::chrono::seconds(120));
    // "JOBID" or "JOBID;CLUSTER" (--parsable); trim() views its argument, so that must outlive id.
    const std::string first_line = r.out.substr(0, r.out.find_first_of(";\n"));
    const std::string_view id = util::trim(first_line);
    if (r.status != 0 || !util::parse_uint(id)) {
      std::string what = plan->array ? "sbatch --array=" + util::compress_indices(indices) : std::string("sbatch");
      return fail_all(what + " " + *script + ": " + error_text(r));
    }
    for (const auto& req : requests) {
      Handle h{std::string(id), plan->array ? std::optional(req.task.index) : std::nullopt};
      (void)util::write_file_atomic(req.state_dir / k_handle_file, h.text() + "\n");
      results.emplace_back(h.text());
    }
    return results;
  }

  engine::TaskStatus poll(const engine::LaunchRequest& request, const std::string& text) override {
    engine::TaskStatus status;
    auto h = parse_handle(text);
    if (!h) {
      status.state = TaskState::failed;
      status.exit_code = 1;
      status.reason = "slurm provider: unreadable handle " + util::quote(text);
      return status;
    }
    const Snapshot& s = snapshot(h->job);
    const std::map<std::string, std::string>* record = nullptr;
    if (h->index) {
      if (auto it = s.tasks.find(*h->index); it != s.tasks.end()) record = &it->second;
      else if (auto p = s.pending_reason.find(*h->index); p != s.pending_reason.end()) {
        note_state(request.state_dir, "PENDING", p->second);  // queued in Slurm
        return status;
      } else if (s.rest) {
        record = &*s.rest;
      }
    } else if (s.single) {
      record = &*s.single;
    }
    if (!record) {
      if (!s.gone) return status;  // not readable now (slurmctld busy): ask again later
      return from_accounting(*h);
    }
    remember_paths(request.state_dir, *record);
    auto get = [&](const char* key) {
      auto it = record->find(key);
      return it == record->end() ? std::string() : it->second;
    };
    note_state(request.state_dir, get("JobState"), get("Reason"));
    auto o = outcome_of(get("JobState"), get("ExitCode"), get("Reason"));
    if (o.state != TaskState::running)
      if (auto run = parse_slurm_duration(get("RunTime")))
        (void)util::write_file_atomic(request.state_dir / k_runtime_file, std::to_string(*run) + "\n");
    status.state = o.state;
    status.exit_code = o.exit_code;
    status.reason = o.reason;
    return status;
  }

  void cancel(const engine::LaunchRequest&, const std::string& text) override {
    auto h = parse_handle(text);
    if (!h) return;
    (void)run_command({"scancel", h->text()}, {}, {}, std::chrono::seconds(60));
    m_snapshots.erase(h->job);  // read the cancelled state afresh
  }

  Expected<std::optional<std::string>> recover_launch(const engine::LaunchRequest& request) override {
    if (auto text = util::read_file(request.state_dir / k_handle_file); text && !util::trim(*text).empty())
      return std::optional<std::string>(std::string(util::trim(*text)));
    std::error_code ec;
    if (!fs::exists(request.state_dir / k_submitting_file, ec)) return std::optional<std::string>();  // sbatch never ran
    // sbatch may have run: look for the submission by its comment among every job slurmctld still knows.
    auto r = run_command({"squeue", "-h", "-r", "--states=all", "-o", "%F|%K|%k"}, {}, {}, std::chrono::seconds(60));
    if (r.status != 0) return Unexpected("squeue failed: " + error_text(r));
    const std::string comment = "spawn:" + std::to_string(request.task.job_id);
    const bool is_array = request.plan && request.plan->array;
    for (const auto& line : util::split(r.out, '\n')) {
      auto f = util::split(std::string(util::trim(line)), '|');
      if (f.size() < 3 || f[2] != comment) continue;
      if (is_array && util::parse_uint(f[1]) != request.task.index) continue;
      Handle h{f[0], is_array ? std::optional(request.task.index) : std::nullopt};
      return std::optional<std::string>(h.text());
    }
    return Unexpected("sbatch may have run for task " + std::to_string(request.task.index) +
                      " but no Slurm job with comment " + comment + " is known any more");
  }

private:
  Expected<std::string> script_for(const Plan& plan, const fs::path& job_dir) {
    // The user's file when it still holds what was planned (Slurm records its path as the job's Command); else the
    // planned text, byte for byte, in the job directory.
    fs::path original = plan.script_path;
    if (original.is_relative()) original = fs::path(plan.submit_dir) / original;
    if (auto text = util::read_file(original); text && *text == plan.script_text) return original.string();
    auto copy = job_dir / "script.sbatch";
    if (auto w = util::write_file_atomic(copy, plan.script_text); !w) return Unexpected(w.error());
    return copy.string();
  }

  const Snapshot& snapshot(const std::string& job) {
    auto now = std::chrono::steady_clock::now();
    auto it = m_snapshots.find(job);
    if (it != m_snapshots.end() && now - it->second.when < std::chrono::milliseconds(m_options.refresh_ms))
      return it->second;
    Snapshot s;
    s.when = now;
    auto r = run_command({"scontrol", "show", "job", "-o", job}, {}, {}, std::chrono::seconds(60));
    if (r.status != 0) {
      s.gone = r.err.find("Invalid job id") != std::string::npos;
      if (!s.gone && it != m_snapshots.end()) {
        // A transient failure: keep what was known, try again next time.
        it->second.when = now;
        return it->second;
      }
    }
    for (const auto& line : util::split(r.out, '\n')) {
      if (util::trim(line).empty()) continue;
      auto rec = parse_job_record(line);
      auto task = rec["ArrayTaskId"];
      if (task.empty() || rec["ArrayJobId"].empty()) {
        s.single = rec;
        continue;
      }
      if (task == k_no_array_task) {
        s.rest = rec;
        continue;
      }
      auto indices = parse_array_task_ids(task);
      if (!indices) continue;
      if (indices->size() == 1 && task.find_first_of(",-%") == std::string::npos) s.tasks[indices->front()] = rec;
      else
        for (auto i : *indices) s.pending_reason[i] = rec["Reason"];
    }
    return m_snapshots[job] = std::move(s);
  }

  // Slurm's view of a task for `spawn status` (spawn's own state says RUNNING from submission on); written on change.
  void note_state(const fs::path& dir, const std::string& state, const std::string& reason) {
    auto text = state + " " + (reason.empty() ? "None" : reason);
    auto& last = m_noted[dir.string()];
    if (last == text) return;
    last = text;
    (void)util::write_file_atomic(dir / k_state_file, text + "\n");
  }

  // Where Slurm writes the task's output, once its own record exists (scontrol substitutes %A %a %j %u %x).
  static void remember_paths(const fs::path& dir, const std::map<std::string, std::string>& record) {
    std::error_code ec;
    if (fs::exists(dir / k_stdout_file, ec)) return;
    auto state = record.count("JobState") ? record.at("JobState") : "";
    if (state == "PENDING") return;
    if (auto it = record.find("StdErr"); it != record.end() && !it->second.empty())
      (void)util::write_file_atomic(dir / k_stderr_file, it->second + "\n");
    if (auto it = record.find("StdOut"); it != record.end() && !it->second.empty())
      (void)util::write_file_atomic(dir / k_stdout_file, it->second + "\n");
  }

  // slurmctld forgot the job: sacct knows its end where the cluster keeps accounting; else it is lost.
  engine::TaskStatus from_accounting(const Handle& h) {
    engine::TaskStatus status;
    auto r = run_command({"sacct", "-n", "-P", "-X", "-j", h.text(), "-o", "JobID,State,ExitCode"}, {}, {},
                         std::chrono::seconds(60));
    if (r.status == 0) {
      for (const auto& line : util::split(r.out, '\n')) {
        auto f = util::split(std::string(util::trim(line)), '|');
        if (f.size() < 3 || f[0] != h.text()) continue;
        auto words = util::split(f[1], ' ');  // "CANCELLED by 0"
        auto o = outcome_of(words.empty() ? f[1] : words[0], f[2], "");
        status.state = o.state;
        status.exit_code = o.exit_code;
        status.reason = o.reason;
        return status;
      }
    }
    if (!m_min_job_age) m_min_job_age = min_job_age().value_or(-1);
    status.state = TaskState::failed;
    status.reason = "Slurm job " + h.text() + " ended unseen: slurmctld keeps a finished job's record " +
                    (*m_min_job_age >= 0 ? std::to_string(*m_min_job_age) + " s" : std::string("MinJobAge")) +
                    " and this cluster has no accounting for sacct (" + error_text(r) + ")";
    return status;
  }

  SlurmOptions m_options;
  std::map<std::string, Snapshot> m_snapshots;
  std::map<std::string, std::string> m_noted;  // state dir -> last state written
  std::optional<std::int64_t> m_min_job_age;
};

} // namespace

std::unique_ptr<engine::Provider> make_slurm_provider(const SlurmOptions& options) {
  return std::make_unique<SlurmProvider>(options);
}

} // namespace spawn::providers::slurm
