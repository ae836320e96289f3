#include "engine/engine.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace spawn::engine {

std::filesystem::path job_directory(const std::filesystem::path& home, std::uint64_t job_id) {
  return home / "jobs" / std::to_string(job_id);
}

Expected<std::optional<SupervisorLock>> SupervisorLock::try_acquire(const std::filesystem::path& job_dir) {
  std::error_code ec;
  std::filesystem::create_directories(job_dir, ec);
  if (ec) return Unexpected(job_dir.string() + ": cannot create: " + ec.message());
  auto path = job_dir / "supervisor.lock";
  // O_CLOEXEC: the tasks a supervisor starts must not inherit (and so keep holding) the lock.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Unexpected(path.string() + ": cannot open: " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) return std::optional<SupervisorLock>();
    return Unexpected(path.string() + ": cannot lock: " + std::strerror(e));
  }
  return std::optional<SupervisorLock>(SupervisorLock(fd));
}

bool SupervisorLock::is_held(const std::filesystem::path& job_dir) {
  auto path = job_dir / "supervisor.lock";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return held;
}

SupervisorLock::~SupervisorLock() {
  if (m_fd >= 0) ::close(m_fd);
}

Progress count_states(const std::vector<std::pair<TaskState, std::uint64_t>>& counts) {
  Progress p;
  for (const auto& [state, n] : counts) {
    switch (state) {
    case TaskState::pending: p.pending += n; break;
    case TaskState::launching: p.launching += n; break;
    case TaskState::running: p.running += n; break;
    case TaskState::completed: p.completed += n; break;
    case TaskState::failed: p.failed += n; break;
    case TaskState::timeout: p.timeout += n; break;
    case TaskState::cancelled: p.cancelled += n; break;
    case TaskState::preempted: p.preempted += n; break;
    }
  }
  return p;
}

TaskState job_state(const Progress& p) {
  if (p.running || p.launching) return TaskState::running;
  if (p.pending) return TaskState::pending;
  if (p.completed == p.total()) return TaskState::completed;
  if (p.cancelled) return TaskState::cancelled;
  if (p.failed) return TaskState::failed;
  if (p.timeout) return TaskState::timeout;
  return TaskState::preempted;
}

int job_exit_status(const std::vector<TaskRecord>& tasks) {
  bool all_ok = true;
  int highest = 0;
  for (const auto& t : tasks) {
    if (t.state != TaskState::completed) all_ok = false;
    if (t.exit_code) highest = std::max(highest, *t.exit_code);
  }
  if (all_ok) return 0;
  return highest > 0 ? highest : 1;
}

Engine::Engine(Store& store, Provider& provider, JobRecord job, const Plan& plan, EngineOptions options)
    : m_store(store), m_provider(provider), m_job(std::move(job)), m_plan(plan), m_options(std::move(options)) {}

Provider* Engine::provider_for(const TaskRecord& task) const {
  if (!task.provider || *task.provider == m_provider.name()) return &m_provider;
  auto it = m_providers.find(*task.provider);
  return it == m_providers.end() ? nullptr : it->second;
}

LaunchRequest Engine::request_for(const TaskRecord& task, std::uint32_t attempt) const {
  LaunchRequest r;
  r.plan = &m_plan;
  r.task = task.ref;
  r.task_job_id = task.task_job_id;
  r.restart_count = task.restart_count;
  r.state_dir = m_options.job_dir / (std::to_string(task.ref.index) + "." + std::to_string(attempt));
  return r;
}

Expected<void> Engine::record(const std::vector<Transition>& changes, std::vector<bool>* applied) {
  if (changes.empty()) return {};
  auto r = m_store.apply(changes, m_options.now());
  if (!r) return Unexpected(r.error());
  m_changed = true;
  if (applied) *applied = std::move(*r);
  return {};
}

Expected<void> Engine::recover() {
  auto live = m_store.live_tasks(m_job.id);
  if (!live) return Unexpected(live.error());
  const bool is_array = m_job.is_array;
  for (const auto& t : *live) {
    auto id = format_task_id(t.ref, is_array);
    if (t.state == TaskState::running && t.handle) {
      m_in_flight[t.ref.index] = {t, t.attempt, *t.handle, false};
      continue;
    }
    if (t.state == TaskState::launching && t.handle) {
      if (auto r = record({{t.ref, TaskState::launching, TaskState::running, "", std::nullopt, t.handle}}); !r) return r;
      auto running = t;
      running.state = TaskState::running;
      m_in_flight[t.ref.index] = {running, t.attempt, *t.handle, false};
      continue;
    }
    if (t.state != TaskState::launching && t.state != TaskState::running) continue;
    // Recorded as launching (or running without a handle): the launch may or may not have happened.
    auto request = request_for(t, t.attempt);
    auto* provider = provider_for(t);
    auto found = provider ? provider->recover_launch(request)
                          : Expected<std::optional<std::string>>(Unexpected("provider " + *t.provider + " is not available"));
    if (!found) {
      if (auto r = record({{t.ref, t.state, TaskState::failed,
                            "launch interrupted by a crash and provider " + t.provider.value_or(m_provider.name()) +
                                " cannot tell whether task " + id + " started (" + found.error() +
                                "); not launched again, so it never runs twice"}});
          !r)
        return r;
      continue;
    }
    if (*found) {
      if (auto r = record({{t.ref, t.state, TaskState::running, "", std::nullopt, **found}}); !r) return r;
      auto running = t;
      running.state = TaskState::running;
      m_in_flight[t.ref.index] = {running, t.attempt, **found, false};
    } else {
      if (auto r = record({{t.ref, t.state, TaskState::pending, "launch interrupted before task started"}}); !r)
        return r;
    }
  }
  return {};
}

Expected<void> Engine::finish(const InFlight& task, const TaskStatus& status, bool cancelled) {
  const auto& ref = task.record.ref;
  const bool may_requeue = m_plan.requeue && task.record.restart_count < k_max_requeue && !cancelled;
  std::vector<Transition> changes;
  if (cancelled) {
    changes.push_back({ref, TaskState::running, TaskState::cancelled, "cancelled", status.exit_code});
  } else if (status.state == TaskState::preempted) {
    changes.push_back({ref, TaskState::running, TaskState::preempted, status.reason.empty() ? "preempted" : status.reason,
                       status.exit_code});
    if (may_requeue) changes.push_back({ref, TaskState::preempted, TaskState::pending, "requeued after preemption",
                                        std::nullopt, std::nullopt, true});
  } else if (status.state == TaskState::failed && !status.exit_code) {
    // No exit code: the task never got to finish (the node or instance was lost), Slurm's NODE_FAIL.
    changes.push_back({ref, TaskState::running, TaskState::failed, status.reason.empty() ? "lost" : status.reason});
    if (may_requeue) changes.push_back({ref, TaskState::failed, TaskState::pending, "requeued after infrastructure failure",
                                        std::nullopt, std::nullopt, true});
  } else {
    auto reason = status.reason;
    if (reason.empty() && status.exit_code) reason = "exit " + std::to_string(*status.exit_code);
    changes.push_back({ref, TaskState::running, status.state, reason, status.exit_code});
  }
  return record(changes);
}

Expected<void> Engine::poll_in_flight(const JobRecord& job) {
  // Every cancel of this pass first, then the polls: a provider that stops tasks together (EC2's
  // TerminateInstances takes many ids) sees the whole set before its next call.
  for (auto& [index, f] : m_in_flight) {
    auto* provider = provider_for(f.record);
    if (provider && (job.cancel_requested || f.record.cancel_requested) && !f.cancel_sent) {
      provider->cancel(request_for(f.record, f.attempt), f.handle);
      f.cancel_sent = true;
    }
  }
  for (auto it = m_in_flight.begin(); it != m_in_flight.end();) {
    auto& f = it->second;
    auto request = request_for(f.record, f.attempt);
    auto* provider = provider_for(f.record);
    if (!provider) {
      TaskStatus lost{TaskState::failed, std::nullopt, "provider " + *f.record.provider + " is not available"};
      if (auto r = finish(f, lost, false); !r) return r;
      it = m_in_flight.erase(it);
      continue;
    }
    auto status = provider->poll(request, f.handle);
    if (status.state == TaskState::running) {
      ++it;
      continue;
    }
    if (auto r = finish(f, status, f.cancel_sent); !r) return r;
    it = m_in_flight.erase(it);
  }
  return {};
}

Expected<void> Engine::launch(const std::vector<TaskRecord>& tasks) {
  const bool is_array = m_job.is_array;
  for (std::size_t first = 0; first < tasks.size(); first += m_options.launch_batch) {
    auto last = std::min(tasks.size(), first + m_options.launch_batch);
    std::vector<Transition> launching;
    for (std::size_t k = first; k < last; ++k)
      launching.push_back({tasks[k].ref, TaskState::pending, TaskState::launching, ""});
    std::vector<bool> applied;
    // Committed before any launch: a crash from here on finds these tasks LAUNCHING (see recover()).
    if (auto r = record(launching, &applied); !r) return r;
    std::vector<Transition> results;
    // The provider gets the whole group at once (EC2 starts identical tasks in one call).
    std::vector<std::size_t> chosen;
    std::vector<LaunchRequest> requests;
    std::vector<std::optional<Expected<std::string>>> early(last - first);
    for (std::size_t k = first; k < last; ++k) {
      if (!applied[k - first]) continue;
      auto request = request_for(tasks[k], tasks[k].attempt + 1);
      std::error_code ec;
      std::filesystem::create_directories(request.state_dir, ec);
      if (ec) {
        early[k - first] = Unexpected(request.state_dir.string() + ": cannot create: " + ec.message());
        continue;
      }
      chosen.push_back(k);
      requests.push_back(std::move(request));
    }
    // One call per provider (a hybrid job's batch may hold tasks of both halves).
    std::map<Provider*, std::vector<std::size_t>> groups;  // provider -> positions in chosen/requests
    for (std::size_t j = 0; j < chosen.size(); ++j) groups[provider_for(tasks[chosen[j]])].push_back(j);
    for (auto& [provider, positions] : groups) {
      if (!provider) {
        for (auto j : positions)
          early[chosen[j] - first] = Unexpected("provider " + tasks[chosen[j]].provider.value_or("") + " is not available");
        continue;
      }
      std::vector<LaunchRequest> group;
      for (auto j : positions) group.push_back(requests[j]);
      auto handles = provider->launch_many(group);
      for (std::size_t g = 0; g < positions.size(); ++g)
        early[chosen[positions[g]] - first] =
            g < handles.size() ? std::move(handles[g]) : Expected<std::string>(Unexpected("the provider gave no answer"));
    }
    for (std::size_t k = first; k < last; ++k) {
      if (!applied[k - first]) continue;
      auto t = tasks[k];
      auto attempt = t.attempt + 1;
      Expected<std::string> handle = std::move(*early[k - first]);
      if (handle) {
        results.push_back({t.ref, TaskState::launching, TaskState::running, "", std::nullopt, *handle});
        t.state = TaskState::running;
        t.attempt = attempt;
        m_in_flight[t.ref.index] = {t, attempt, *handle, false};
        continue;
      }
      results.push_back({t.ref, TaskState::launching, TaskState::failed,
                         "launch of task " + format_task_id(t.ref, is_array) + " failed: " + handle.error()});
      if (m_plan.requeue && t.restart_count < k_max_requeue)
        results.push_back({t.ref, TaskState::failed, TaskState::pending, "requeued after launch failure", std::nullopt,
                           std::nullopt, true});
    }
    if (auto r = record(results); !r) return r;
  }
  return {};
}

Expected<bool> Engine::step() {
  m_changed = false;
  auto job = m_store.job(m_job.id);
  if (!job) return Unexpected(job.error());
  if (!*job) return Unexpected("job " + std::to_string(m_job.id) + " is no longer in the state store");
  m_job = **job;
  auto live = m_store.live_tasks(m_job.id);
  if (!live) return Unexpected(live.error());

  // Cancels: pending tasks end at once; running ones are signalled and end when the provider says so.
  std::vector<Transition> cancels;
  for (const auto& t : *live) {
    bool cancel = m_job.cancel_requested || t.cancel_requested;
    if (auto it = m_in_flight.find(t.ref.index); it != m_in_flight.end()) it->second.record.cancel_requested = cancel;
    if (cancel && t.state == TaskState::pending)
      cancels.push_back({t.ref, TaskState::pending, TaskState::cancelled, "cancelled"});
  }
  if (auto r = record(cancels); !r) return Unexpected(r.error());
  if (auto r = poll_in_flight(m_job); !r) return Unexpected(r.error());
  if (m_changed) {
    live = m_store.live_tasks(m_job.id);
    if (!live) return Unexpected(live.error());
  }

  std::vector<TaskRecord> pending;
  std::uint64_t active = 0;
  for (const auto& t : *live) {
    if (t.state == TaskState::pending) pending.push_back(t);
    if (t.state == TaskState::launching || t.state == TaskState::running) ++active;
  }
  if (pending.empty()) return active == 0 && m_in_flight.empty();

  // Dependencies.
  std::map<std::string, std::vector<std::uint64_t>> reasons;  // wanted reason -> pending indices
  std::vector<TaskRecord> eligible;
  std::vector<Transition> invalid;
  if (m_plan.dependency && !m_plan.dependency->items.empty() && !m_dependency_cleared) {
    std::vector<std::uint64_t> indices;
    for (const auto& t : pending) indices.push_back(t.ref.index);
    auto status = evaluate_dependency(m_store, m_job, *m_plan.dependency, indices, m_options.now());
    if (!status) return Unexpected(status.error());
    if (status->job == DependencyVerdict::satisfied && status->tasks.empty()) m_dependency_cleared = true;
    for (const auto& t : pending) {
      switch (status->for_task(t.ref.index)) {
      case DependencyVerdict::satisfied: eligible.push_back(t); break;
      case DependencyVerdict::waiting: reasons["Dependency"].push_back(t.ref.index); break;
      case DependencyVerdict::never:
        if (m_plan.kill_on_invalid_dep)
          invalid.push_back({t.ref, TaskState::pending, TaskState::cancelled, "DependencyNeverSatisfied"});
        else
          reasons["DependencyNeverSatisfied"].push_back(t.ref.index);
        break;
      }
    }
  } else {
    eligible = pending;
  }
  if (auto r = record(invalid); !r) return Unexpected(r.error());

  // Concurrency: the array's throttle and max_concurrent bound the job, each provider's capacity its own tasks.
  std::optional<std::uint64_t> job_limit;
  for (auto value : {m_plan.array ? m_plan.array->max_running : std::nullopt, m_plan.max_concurrent})
    if (value && *value > 0 && (!job_limit || *value < *job_limit)) job_limit = value;
  std::map<Provider*, std::uint64_t> busy;  // launching or running, per provider
  for (const auto& t : *live)
    if (t.state == TaskState::launching || t.state == TaskState::running) ++busy[provider_for(t)];
  std::map<Provider*, std::uint64_t> capacity;
  std::vector<TaskRecord> now_launching;
  for (const auto& t : eligible) {
    auto* provider = provider_for(t);
    if (!capacity.count(provider)) capacity[provider] = provider ? std::max<std::uint64_t>(1, provider->capacity(m_plan)) : 1;
    // The job's limit first: with a throttle no larger than the capacity, Slurm too says JobArrayTaskLimit.
    if (job_limit && active + now_launching.size() >= *job_limit && *job_limit <= capacity[provider]) {
      reasons["JobArrayTaskLimit"].push_back(t.ref.index);
    } else if (busy[provider] >= capacity[provider] || (job_limit && active + now_launching.size() >= *job_limit)) {
      reasons["Resources"].push_back(t.ref.index);
    } else {
      now_launching.push_back(t);
      ++busy[provider];
    }
  }

  // Pending reasons, written only where they change.
  std::map<std::uint64_t, const TaskRecord*> by_index;
  for (const auto& t : pending) by_index[t.ref.index] = &t;
  for (auto& [reason, indices] : reasons) {
    std::vector<std::uint64_t> differing;
    for (auto index : indices)
      if (by_index[index]->reason != reason) differing.push_back(index);
    if (differing.empty()) continue;
    if (auto r = m_store.set_pending_reason(m_job.id, reason, &differing); !r) return Unexpected(r.error());
    m_changed = true;
  }
  if (auto r = launch(now_launching); !r) return Unexpected(r.error());
  return false;
}

Expected<void> Engine::run(const std::function<void(const Progress&)>& progress) {
  int idle_ms = 1;
  auto last_report = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  while (!m_stop) {
    auto done = step();
    if (!done) return Unexpected(done.error());
    auto now = std::chrono::steady_clock::now();
    if (progress && (m_changed || *done || now - last_report >= std::chrono::seconds(1))) {
      auto counts = m_store.state_counts(m_job.id);
      if (!counts) return Unexpected(counts.error());
      progress(count_states(*counts));
      last_report = now;
    }
    if (*done) {
      m_provider.settle();
      for (auto& [name, provider] : m_providers)
        if (provider != &m_provider) provider->settle();
      break;
    }
    // Busy while tasks change; backing off to 200 ms when nothing happens (a pending dependency, long tasks).
    idle_ms = m_changed ? 1 : std::min(idle_ms * 2, 200);
    m_provider.wait_for_change(idle_ms);
  }
  return {};
}

} // namespace spawn::engine
