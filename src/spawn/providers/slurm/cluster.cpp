#include "providers/slurm/cluster.hpp"

#include <cerrno>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

#include "util/strings.hpp"

extern char** environ;

namespace spawn::providers::slurm {

CommandResult run_command(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env,
                          const std::filesystem::path& cwd, std::chrono::seconds timeout) {
  CommandResult result;
  if (argv.empty()) return result;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return result;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  // Everything the child needs is built before fork: only async-signal-safe calls happen after it.
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (extra_env.count(std::string(kv.substr(0, kv.find('='))))) continue;
    env_strings.emplace_back(kv);
  }
  for (const auto& [k, v] : extra_env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);
  std::string dir = cwd.string();

  pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    return result;
  }
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (!dir.empty() && ::chdir(dir.c_str()) != 0) ::_exit(126);
    ::execvpe(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (killed) {
    result.err += argv[0] + ": no answer after " + std::to_string(timeout.count()) + " s (killed)";
    result.status = -1;
  } else if (WIFEXITED(status)) {
    result.status = WEXITSTATUS(status);
    if (result.status == 127 && result.out.empty() && result.err.empty()) result.err = argv[0] + ": command not found";
  } else {
    result.status = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  return result;
}

Expected<void> reachable() {
  auto r = run_command({"scontrol", "ping"}, {}, {}, std::chrono::seconds(20));
  if (r.status == 0 && r.out.find("is UP") != std::string::npos) return {};
  auto why = util::trim(r.err.empty() ? r.out : r.err);
  return Unexpected("no Slurm cluster reachable from here (`scontrol ping`: " +
                    (why.empty() ? std::string("exit ") + std::to_string(r.status) : std::string(why)) + ")");
}

namespace {

// The keys `scontrol show job -o` (22.05) prints: a record is split on these, since values may hold spaces.
const std::set<std::string>& job_keys() {
  static const std::set<std::string> keys = [] {
    std::set<std::string> k;
    for (auto& w : util::split(
             "JobId ArrayJobId ArrayTaskId ArrayTaskThrottle HetJobId HetJobOffset HetJobIdSet JobName UserId GroupId "
             "MCS_label Priority Nice Account QOS WCKey JobState Reason Dependency Requeue Restarts BatchFlag Reboot "
             "ExitCode DerivedExitCode RunTime TimeLimit TimeMin SubmitTime EligibleTime AccrueTime StartTime EndTime "
             "Deadline PreemptEligibleTime PreemptTime SuspendTime SecsPreSuspend LastSchedEval Scheduler Partition "
             "AllocNode:Sid ReqNodeList ExcNodeList NodeList SchedNodeList BatchHost NumNodes NumCPUs NumTasks "
             "CPUs/Task ReqB:S:C:T TRES Socks/Node NtasksPerN:B:S:C CoreSpec ThreadSpec JOB_GRES Nodes CPU_IDs Mem GRES "
             "MinCPUsNode MinMemoryNode MinMemoryCPU MinTmpDiskNode Features Prefer ClusterFeatures Reservation "
             "DelayBoot OverSubscribe Contiguous Licenses Network Command WorkDir AdminComment SystemComment Comment "
             "StdErr StdIn StdOut BatchScript BurstBuffer BurstBufferState CpusPerTres MemPerTres TresBind TresFreq "
             "TresPerJob TresPerNode TresPerSocket TresPerTask MailUser MailType NtasksPerTRES Power Switches "
             "Wait-for-Switch KillOInInvalidDependent SiblingsActive SiblingsViable FedOrigin FedViableSiblings "
             "FedActiveSiblings ResvPorts CronJob CrontabSpec Container ContainerID LicensesAlloc OverTimeLimit Profile",
             ' '))
      if (!w.empty()) k.insert(w);
    return k;
  }();
  return keys;
}

std::optional<std::int64_t> parse_local_time(const std::string& text) {
  std::tm tm{};
  if (!::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::nullopt;
  tm.tm_isdst = -1;
  auto t = std::mktime(&tm);
  if (t == -1) return std::nullopt;
  return static_cast<std::int64_t>(t);
}

} // namespace

std::map<std::string, std::string> parse_job_record(const std::string& line) {
  std::map<std::string, std::string> record;
  std::string key, value;
  bool have = false;
  for (const auto& token : util::split(util::trim(line), ' ')) {
    auto eq = token.find('=');
    std::string name = eq == std::string::npos ? std::string() : token.substr(0, eq);
    if (!name.empty() && job_keys().count(name) && !record.count(name) && name != key) {
      if (have) record[key] = std::string(util::trim(value));
      key = name;
      value = token.substr(eq + 1);
      have = true;
    } else if (have) {
      value += " " + token;
    }
  }
  if (have) record[key] = std::string(util::trim(value));
  return record;
}

std::optional<TaskState> map_state(const std::string& s) {
  // State words may carry flags after '+' (squeue) or be abbreviated differently; scontrol prints the base name.
  auto base = s.substr(0, s.find('+'));
  static const std::map<std::string, TaskState> k_states = {
      {"PENDING", TaskState::running},      {"CONFIGURING", TaskState::running}, {"RUNNING", TaskState::running},
      {"COMPLETING", TaskState::running},   {"SUSPENDED", TaskState::running},   {"REQUEUED", TaskState::running},
      {"REQUEUE_HOLD", TaskState::running}, {"REQUEUE_FED", TaskState::running}, {"RESIZING", TaskState::running},
      {"SIGNALING", TaskState::running},    {"STAGE_OUT", TaskState::running},   {"SPECIAL_EXIT", TaskState::running},
      {"RESV_DEL_HOLD", TaskState::running}, {"REVOKED", TaskState::cancelled},  {"COMPLETED", TaskState::completed},
      {"FAILED", TaskState::failed},        {"OUT_OF_MEMORY", TaskState::failed}, {"NODE_FAIL", TaskState::failed},
      {"BOOT_FAIL", TaskState::failed},     {"DEADLINE", TaskState::failed},     {"TIMEOUT", TaskState::timeout},
      {"CANCELLED", TaskState::cancelled},  {"PREEMPTED", TaskState::preempted},
  };
  auto it = k_states.find(base);
  if (it == k_states.end()) return std::nullopt;
  return it->second;
}

SlurmOutcome outcome_of(const std::string& job_state, const std::string& exit_code, const std::string& reason) {
  SlurmOutcome o;
  auto base = job_state.substr(0, job_state.find('+'));
  auto state = map_state(base);
  if (!state) {
    o.state = TaskState::failed;
    o.exit_code = 1;
    o.reason = "unknown Slurm state " + base;
    return o;
  }
  o.state = *state;
  if (o.state == TaskState::running) return o;
  auto colon = exit_code.find(':');
  auto code = util::parse_uint(exit_code.substr(0, colon)).value_or(0);
  auto signal = colon == std::string::npos ? 0 : util::parse_uint(exit_code.substr(colon + 1)).value_or(0);
  int value = signal ? 128 + static_cast<int>(signal) : static_cast<int>(code);
  std::string slurm_words = "Slurm " + base + (reason.empty() || reason == "None" ? "" : " (" + reason + ")");
  if (base == "NODE_FAIL" || base == "BOOT_FAIL") {
    o.reason = slurm_words;  // no exit code: the engine treats the task as lost (requeued when the job allows)
    return o;
  }
  o.exit_code = value;
  if (o.state == TaskState::completed) o.reason = "exit 0";
  else if (o.state == TaskState::failed)
    o.reason = (signal ? "killed by signal " + std::to_string(signal) : "exit " + std::to_string(code)) +
               (base == "FAILED" ? std::string() : ", " + slurm_words);
  else o.reason = slurm_words;
  return o;
}

Expected<TestOnly> parse_test_only(const std::string& text) {
  // "sbatch: Job 6543 to start at 2026-11-28T06:43:20 using 1 processors on nodes vm in partition debug"
  for (const auto& line : util::split(text, '\n')) {
    auto at = line.find(" to start at ");
    if (at == std::string::npos) continue;
    auto words = util::split(line.substr(at + 13), ' ');
    TestOnly t;
    if (words.empty()) break;
    t.start_text = words[0];
    auto when = parse_local_time(words[0]);
    auto year_digits = words[0].find('-');
    if (!when && year_digits != std::string::npos && year_digits > 4 && util::parse_uint(words[0].substr(0, year_digits))) {
      // Slurm's backfill horizon: a start it cannot foresee is printed as a date tens of millennia ahead.
      t.beyond_horizon = true;
      when = static_cast<std::int64_t>(std::time(nullptr)) + 365 * 86400;
    }
    if (!when) break;
    t.start_time = *when;
    for (std::size_t i = 1; i + 1 < words.size(); ++i) {
      if (words[i] == "using") t.processors = static_cast<std::uint32_t>(util::parse_uint(words[i + 1]).value_or(0));
      if (words[i] == "nodes") t.nodes = words[i + 1];
      if (words[i] == "partition") t.partition = words[i + 1];
    }
    return t;
  }
  auto trimmed = std::string(util::trim(text));
  return Unexpected("sbatch --test-only printed no start time" + (trimmed.empty() ? std::string() : ": " + trimmed));
}

Expected<TestOnly> test_only(const std::string& script, const std::vector<std::string>& options,
                             const std::filesystem::path& cwd) {
  std::vector<std::string> argv{"sbatch", "--test-only"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(script);
  auto r = run_command(argv, {}, cwd, std::chrono::seconds(60));
  if (r.status != 0) {
    auto why = std::string(util::trim(r.err.empty() ? r.out : r.err));
    return Unexpected("sbatch --test-only " + script + " failed (exit " + std::to_string(r.status) + ")" +
                      (why.empty() ? "" : ": " + why));
  }
  return parse_test_only(r.err + "\n" + r.out);
}

Expected<PartitionCpus> partition_cpus(const std::string& partition) {
  std::vector<std::string> argv{"sinfo", "-h", "-o", "%C"};
  if (!partition.empty()) argv.insert(argv.begin() + 1, {"-p", partition});
  auto r = run_command(argv, {}, {}, std::chrono::seconds(30));
  if (r.status != 0) return Unexpected("sinfo failed: " + std::string(util::trim(r.err)));
  PartitionCpus total;
  for (const auto& line : util::split(r.out, '\n')) {
    auto parts = util::split(util::trim(line), '/');
    if (parts.size() != 4) continue;
    total.allocated += util::parse_uint(parts[0]).value_or(0);
    total.idle += util::parse_uint(parts[1]).value_or(0);
    total.other += util::parse_uint(parts[2]).value_or(0);
    total.total += util::parse_uint(parts[3]).value_or(0);
  }
  if (total.total == 0) return Unexpected("sinfo shows no CPUs in partition " + (partition.empty() ? "(default)" : partition));
  return total;
}

std::optional<std::int64_t> min_job_age() {
  auto r = run_command({"scontrol", "show", "config"}, {}, {}, std::chrono::seconds(30));
  if (r.status != 0) return std::nullopt;
  for (const auto& line : util::split(r.out, '\n')) {
    auto t = util::trim(line);
    if (!util::istarts_with(t, "MinJobAge")) continue;
    auto eq = t.find('=');
    if (eq == std::string::npos) return std::nullopt;
    auto words = util::split(util::trim(t.substr(eq + 1)), ' ');
    if (words.empty()) return std::nullopt;
    if (auto v = util::parse_int(words[0])) return *v;
  }
  return std::nullopt;
}

} // namespace spawn::providers::slurm
