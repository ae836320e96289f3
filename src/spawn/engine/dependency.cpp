#include "engine/dependency.hpp"

#include <algorithm>

#include "util/strings.hpp"

namespace spawn::engine {

const char* to_string(DependencyVerdict verdict) {
  switch (verdict) {
  case DependencyVerdict::satisfied: return "satisfied";
  case DependencyVerdict::waiting: return "unfulfilled";
  case DependencyVerdict::never: return "failed";
  }
  return "?";
}

bool is_terminal(TaskState state) { return is_final(state) || state == TaskState::preempted; }

DependencyVerdict DependencyStatus::for_task(std::uint64_t index) const {
  auto it = tasks.find(index);
  return it == tasks.end() ? job : it->second;
}

namespace {

// Combines verdicts: ',' needs all (one never is never), '?' needs one (one satisfied is enough).
DependencyVerdict combine(const std::vector<DependencyVerdict>& verdicts, Dependency::Mode mode) {
  auto has = [&](DependencyVerdict v) { return std::find(verdicts.begin(), verdicts.end(), v) != verdicts.end(); };
  if (verdicts.empty()) return DependencyVerdict::satisfied;
  if (mode == Dependency::Mode::all) {
    if (has(DependencyVerdict::never)) return DependencyVerdict::never;
    if (has(DependencyVerdict::waiting)) return DependencyVerdict::waiting;
    return DependencyVerdict::satisfied;
  }
  if (has(DependencyVerdict::satisfied)) return DependencyVerdict::satisfied;
  if (has(DependencyVerdict::waiting)) return DependencyVerdict::waiting;
  return DependencyVerdict::never;
}

// The verdict of one dependency type over a set of tasks of the target job, `minutes` after the event.
DependencyVerdict judge(DependencyType type, const std::vector<const TaskRecord*>& tasks,
                        std::optional<std::uint32_t> minutes, std::int64_t now) {
  if (tasks.empty()) return DependencyVerdict::satisfied;
  bool all_terminal = true, all_ok = true, all_started = true;
  std::int64_t last_end = 0, last_start = 0;
  for (const auto* t : tasks) {
    bool terminal = is_terminal(t->state);
    all_terminal = all_terminal && terminal;
    if (terminal && t->state != TaskState::completed) all_ok = false;
    bool started = t->start_time.has_value() || terminal;
    all_started = all_started && started;
    last_end = std::max(last_end, t->end_time.value_or(0));
    last_start = std::max(last_start, t->start_time.value_or(t->end_time.value_or(0)));
  }
  auto after_delay = [&](std::int64_t since) {
    return !minutes || now >= since + static_cast<std::int64_t>(*minutes) * 60 ? DependencyVerdict::satisfied
                                                                                : DependencyVerdict::waiting;
  };
  switch (type) {
  case DependencyType::after:
    // Started, or cancelled before starting (which counts as terminal here).
    return all_started ? after_delay(last_start) : DependencyVerdict::waiting;
  case DependencyType::afterany:
  case DependencyType::afterburstbuffer:
    return all_terminal ? after_delay(last_end) : DependencyVerdict::waiting;
  case DependencyType::afterok:
  case DependencyType::aftercorr:
    if (!all_ok) return DependencyVerdict::never;
    return all_terminal ? after_delay(last_end) : DependencyVerdict::waiting;
  case DependencyType::afternotok:
    if (!all_terminal) return DependencyVerdict::waiting;
    return all_ok ? DependencyVerdict::never : after_delay(last_end);
  case DependencyType::singleton: break;
  }
  return DependencyVerdict::satisfied;
}

struct Target {
  std::uint64_t job_id = 0;
  std::optional<std::uint64_t> index;  // one task of the target (JOB_TASK, or an array task's own job id)
  bool known = false;
};

Expected<Target> resolve(Store& store, const DependencyTarget& t) {
  Target out;
  auto id = util::parse_uint(t.job_id);
  if (!id) return out;
  auto job = store.job(*id);
  if (!job) return Unexpected(job.error());
  if (*job) {
    out.job_id = *id;
    out.known = true;
    if (t.task && *t.task != "*") out.index = util::parse_uint(*t.task);
    return out;
  }
  // An array task's own SLURM_JOB_ID names that one task, as in Slurm.
  auto task = store.find_task_job_id(*id);
  if (!task) return Unexpected(task.error());
  if (*task) {
    out.job_id = (*task)->job_id;
    out.index = (*task)->index;
    out.known = true;
  }
  return out;
}

std::string describe(DependencyType type, const DependencyTarget& t) {
  std::string s = std::string(spawn::to_string(type)) + ":" + t.job_id;
  if (t.task) s += "_" + *t.task;
  if (t.minutes) s += "+" + std::to_string(*t.minutes);
  return s;
}

} // namespace

Expected<DependencyStatus> evaluate_dependency(Store& store, const JobRecord& job, const Dependency& dependency,
                                               const std::vector<std::uint64_t>& pending_indices, std::int64_t now) {
  DependencyStatus status;
  std::vector<DependencyVerdict> job_verdicts;   // entries that are the same for every task
  std::vector<std::map<std::uint64_t, DependencyVerdict>> corr;  // aftercorr entries: per task
  std::vector<std::string> details;
  std::map<std::uint64_t, std::vector<TaskRecord>> cache;
  auto tasks_of = [&](std::uint64_t id) -> Expected<const std::vector<TaskRecord>*> {
    auto it = cache.find(id);
    if (it == cache.end()) {
      auto t = store.tasks(id);
      if (!t) return Unexpected(t.error());
      it = cache.emplace(id, std::move(*t)).first;
    }
    return &it->second;
  };

  for (const auto& item : dependency.items) {
    if (item.type == DependencyType::singleton) {
      auto same = store.jobs_named(job.name, job.user);
      if (!same) return Unexpected(same.error());
      auto verdict = DependencyVerdict::satisfied;
      for (const auto& other : *same) {
        if (other.id >= job.id) continue;
        auto counts = store.state_counts(other.id);
        if (!counts) return Unexpected(counts.error());
        for (const auto& [state, n] : *counts)
          if (n && !is_terminal(state)) verdict = DependencyVerdict::waiting;
      }
      job_verdicts.push_back(verdict);
      details.push_back(std::string("singleton(") + to_string(verdict) + ")");
      continue;
    }
    for (const auto& t : item.jobs) {
      auto target = resolve(store, t);
      if (!target) return Unexpected(target.error());
      if (!target->known) {
        // Slurm lifts a dependency on a job it no longer has; submit refuses ids spawn never knew.
        job_verdicts.push_back(DependencyVerdict::satisfied);
        continue;
      }
      auto all = tasks_of(target->job_id);
      if (!all) return Unexpected(all.error());
      if (item.type == DependencyType::aftercorr && !target->index) {
        std::map<std::uint64_t, const TaskRecord*> by_index;
        std::vector<const TaskRecord*> everything;
        for (const auto& r : **all) {
          by_index[r.ref.index] = &r;
          everything.push_back(&r);
        }
        // A task with no counterpart waits for the whole array, as slurmctld does.
        auto whole = judge(DependencyType::afterok, everything, t.minutes, now);
        std::map<std::uint64_t, DependencyVerdict> per;
        for (auto index : pending_indices) {
          auto it = by_index.find(index);
          per[index] = it == by_index.end() ? whole : judge(item.type, {it->second}, t.minutes, now);
        }
        corr.push_back(std::move(per));
        details.push_back(describe(item.type, t));
        continue;
      }
      std::vector<const TaskRecord*> selected;
      for (const auto& r : **all)
        if (!target->index || r.ref.index == *target->index) selected.push_back(&r);
      auto verdict = judge(item.type == DependencyType::aftercorr ? DependencyType::afterok : item.type, selected,
                           t.minutes, now);
      job_verdicts.push_back(verdict);
      details.push_back(describe(item.type, t) + "(" + to_string(verdict) + ")");
    }
  }
  status.detail = util::join(details, dependency.mode == Dependency::Mode::any ? "?" : ",");
  status.job = combine(job_verdicts, dependency.mode);
  if (!corr.empty()) {
    for (auto index : pending_indices) {
      auto verdicts = job_verdicts;
      for (const auto& per : corr) verdicts.push_back(per.at(index));
      status.tasks[index] = combine(verdicts, dependency.mode);
    }
    // The job's own verdict is only "never" when every task's is.
    bool any_alive = false;
    for (const auto& [index, v] : status.tasks) any_alive = any_alive || v != DependencyVerdict::never;
    if (!status.tasks.empty()) status.job = any_alive ? DependencyVerdict::waiting : DependencyVerdict::never;
  }
  return status;
}

Expected<std::vector<std::string>> unknown_dependency_jobs(Store& store, const Dependency& dependency) {
  std::vector<std::string> unknown;
  for (const auto& item : dependency.items) {
    for (const auto& t : item.jobs) {
      auto target = resolve(store, t);
      if (!target) return Unexpected(target.error());
      if (!target->known) unknown.push_back(describe(item.type, t));
    }
  }
  return unknown;
}

} // namespace spawn::engine
