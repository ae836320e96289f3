#include "cli/job_driver.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <iostream>
#include <pwd.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/aws_view.hpp"
#include "engine/dependency.hpp"
#include "engine/engine.hpp"
#include "plan/params.hpp"
#include "providers/registry.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

namespace {

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string user_name() {
  if (auto* pw = ::getpwuid(::getuid())) return pw->pw_name;
  if (const char* u = std::getenv("USER")) return u;
  return std::to_string(::getuid());
}

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal) { g_stop_signal = signal; }

std::string counts_text(const engine::Progress& p) {
  std::vector<std::string> parts;
  auto add = [&](std::uint64_t n, const char* what) {
    if (n) parts.push_back(std::to_string(n) + " " + what);
  };
  add(p.pending, "pending");
  add(p.launching + p.running, "running");
  add(p.completed, "completed");
  add(p.failed, "failed");
  add(p.timeout, "timed out");
  add(p.cancelled, "cancelled");
  add(p.preempted, "preempted");
  return util::join(parts, ", ");
}

} // namespace

engine::Store open_store() {
  auto store = engine::Store::open(engine::default_state_path());
  if (!store) throw Error(store.error());
  return std::move(*store);
}

JobReference parse_job_reference(engine::Store& store, const std::string& text) {
  auto underscore = text.find('_');
  auto id = util::parse_uint(text.substr(0, underscore));
  std::optional<std::uint64_t> index;
  if (underscore != std::string::npos) {
    index = util::parse_uint(text.substr(underscore + 1));
    if (!index) id.reset();
  }
  if (!id || *id == 0) throw Error("invalid job id " + util::quote(text) + " (expected JOBID or JOBID_INDEX, e.g. 12 or 12_4)");
  auto job = store.job(*id);
  if (!job) throw Error(job.error());
  if (!*job && !index) {
    // An array task's own SLURM_JOB_ID names that task.
    auto task = store.find_task_job_id(*id);
    if (!task) throw Error(task.error());
    if (*task) return {(*task)->job_id, (*task)->index};
  }
  if (!*job) throw Error("job " + std::to_string(*id) + " not found in " + store.path().string());
  return {*id, index};
}

engine::JobRecord require_job(engine::Store& store, std::uint64_t id) {
  auto job = store.job(id);
  if (!job) throw Error(job.error());
  if (!*job) throw Error("job " + std::to_string(id) + " not found in " + store.path().string());
  return **job;
}

Plan load_plan(const engine::JobRecord& job) {
  auto document = nlohmann::ordered_json::parse(job.plan_document, nullptr, false);
  if (document.is_discarded()) throw Error("job " + std::to_string(job.id) + ": its recorded plan is not valid JSON");
  return plan::plan_from_document(document, "job " + std::to_string(job.id));
}

std::uint64_t record_job(engine::Store& store, const Plan& plan, const std::vector<std::string>& task_providers) {
  if (plan.dependency) {
    auto unknown = engine::unknown_dependency_jobs(store, *plan.dependency);
    if (!unknown) throw Error(unknown.error());
    if (!unknown->empty())
      throw Error("--dependency " + util::quote(plan.dependency->spec) + ": " + util::join(*unknown, ", ") +
                  (unknown->size() == 1 ? " names a job" : " name jobs") +
                  " spawn does not know (sbatch refuses this too: Job dependency problem)");
  }
  engine::NewJob job;
  job.name = plan.job_name;
  job.user = user_name();
  job.provider = to_string(plan.provider);
  job.plan_document = plan::plan_to_document(plan).dump();
  if (plan.dependency && !plan.dependency->items.empty()) job.dependency = plan.dependency->spec;
  job.is_array = plan.array.has_value();
  job.indices = plan.array ? plan.array->indices() : std::vector<std::uint64_t>{0};
  job.task_providers = task_providers;
  job.kill_on_invalid_dep = plan.kill_on_invalid_dep;
  job.requeue = plan.requeue;
  job.nodes = plan.nodes;
  auto id = store.create_job(job, now_seconds());
  if (!id) throw Error(id.error());
  return *id;
}

std::string format_elapsed(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  auto d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60;
  char buf[64];
  if (d) std::snprintf(buf, sizeof buf, "%lld-%02lld:%02lld:%02lld", static_cast<long long>(d), static_cast<long long>(h),
                       static_cast<long long>(m), static_cast<long long>(s));
  else if (h) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(h), static_cast<long long>(m),
                            static_cast<long long>(s));
  else std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(m), static_cast<long long>(s));
  return buf;
}

int supervise(std::uint64_t job_id, ProgressStyle style) {
  auto store = open_store();
  auto job = require_job(store, job_id);
  auto plan = load_plan(job);
  auto provider = providers::make_provider(job.provider);
  if (!provider) throw Error("job " + std::to_string(job_id) + ": " + provider.error());
  auto job_dir = engine::job_directory(engine::data_home(), job_id);
  auto lock = engine::SupervisorLock::try_acquire(job_dir);
  if (!lock) throw Error("job " + std::to_string(job_id) + ": " + lock.error());
  if (!*lock) {
    auto again = require_job(store, job_id);
    throw Error("job " + std::to_string(job_id) + " is already driven by another spawn process" +
                (again.supervisor_pid ? " (pid " + std::to_string(*again.supervisor_pid) + ")" : std::string()));
  }
  if (auto r = store.set_supervisor(job_id, ::getpid()); !r) throw Error(r.error());

  engine::Engine e(store, **provider, job, plan, {job_dir, now_seconds, 64});
  // A hybrid job's tasks name their providers (the cluster's half and the cloud's).
  auto named = store.task_providers(job_id);
  if (!named) throw Error(named.error());
  std::vector<std::unique_ptr<engine::Provider>> others;
  for (const auto& name : *named) {
    if (name == job.provider) continue;
    auto other = providers::make_provider(name);
    if (!other) throw Error("job " + std::to_string(job_id) + ": " + other.error());
    others.push_back(std::move(*other));
    e.add_provider(*others.back());
  }
  if (auto r = e.recover(); !r) throw Error("job " + std::to_string(job_id) + ": " + r.error());

  g_stop_signal = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {}, old_term {};
  ::sigaction(SIGINT, &action, &old_int);
  ::sigaction(SIGTERM, &action, &old_term);

  const auto started = std::chrono::steady_clock::now();
  std::string last_line;
  const bool is_array = job.is_array;
  // An aws job's cost so far, from the provider's records (no AWS call), refreshed every few seconds.
  auto first_tasks = store.tasks(job_id);
  const bool on_aws = first_tasks && runs_on_aws(job, *first_tasks);
  std::string cost_text;
  auto cost_at = started - std::chrono::seconds(60);
  auto cost_now = [&] {
    auto tasks = store.tasks(job_id);
    if (!tasks) return std::string();
    return ", $" + format_usd(aws_job_view(job, plan, *tasks, false, now_seconds()).total);
  };
  auto report = [&](const engine::Progress& p) {
    if (g_stop_signal) e.stop();
    if (style == ProgressStyle::none) return;
    auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
    if (on_aws && std::chrono::steady_clock::now() - cost_at >= std::chrono::seconds(2)) {
      cost_text = cost_now();
      cost_at = std::chrono::steady_clock::now();
    }
    std::string counts = counts_text(p);
    if (style == ProgressStyle::bar && is_array) {
      constexpr int k_width = 30;
      auto filled = p.total() ? static_cast<int>(p.done() * k_width / p.total()) : 0;
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar += std::string(static_cast<std::size_t>(k_width - filled), '.');
      std::cerr << "\r\033[Kjob " << job_id << " [" << bar << "] " << p.done() << "/" << p.total() << "  " << counts
                << cost_text << (cost_text.empty() ? "" : " so far") << "  " << format_elapsed(elapsed) << std::flush;
      return;
    }
    if (counts == last_line) return;
    last_line = counts;
    std::cerr << "job " << job_id << ": " << counts << cost_text << (cost_text.empty() ? "" : " so far") << " ("
              << format_elapsed(elapsed) << ")\n";
  };
  auto result = e.run(report);
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  if (style == ProgressStyle::bar && is_array) std::cerr << "\n";
  if (!result) throw Error("job " + std::to_string(job_id) + ": " + result.error());
  if (g_stop_signal) {
    std::cerr << "spawn: job " << job_id << " is no longer supervised; its running tasks go on. `spawn resume "
              << job_id << "` takes it up again, `spawn cancel " << job_id << "` stops it.\n";
    return 128 + g_stop_signal;
  }
  auto tasks = store.tasks(job_id);
  if (!tasks) throw Error(tasks.error());
  auto counts = store.state_counts(job_id);
  if (!counts) throw Error(counts.error());
  auto p = engine::count_states(*counts);
  auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  if (style != ProgressStyle::none)
    std::cerr << "job " << job_id << " " << to_string(engine::job_state(p)) << ": " << counts_text(p)
              << (on_aws ? cost_now() : std::string()) << " in " << format_elapsed(elapsed) << "\n";
  return engine::job_exit_status(*tasks);
}

long start_detached_supervisor(std::uint64_t job_id) {
  auto job_dir = engine::job_directory(engine::data_home(), job_id);
  std::error_code ec;
  std::filesystem::create_directories(job_dir, ec);
  auto log = job_dir / "supervisor.log";
  std::string id = std::to_string(job_id);
  pid_t pid = ::fork();
  if (pid < 0) throw Error("job " + id + ": cannot start a supervisor: fork failed");
  if (pid == 0) {
    ::setsid();
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    const char* argv[] = {"spawn", "resume", id.c_str(), "--foreground", nullptr};
    ::execv("/proc/self/exe", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  return pid;
}

} // namespace spawn::cli
