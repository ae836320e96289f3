#include "providers/local/local_provider.hpp"

#include <csignal>
#include <fstream>
#include <pwd.h>
#include <sched.h>
#include <unistd.h>

#include "engine/claim.hpp"
#include "providers/local/process.hpp"
#include "providers/slurm/cluster.hpp"
#include "runtime/environment.hpp"
#include "runtime/task_dir.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::providers::local {

namespace {

namespace fs = std::filesystem;

std::string bash_path() {
  for (const char* candidate : {"/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash"}) {
    if (::access(candidate, X_OK) == 0) return candidate;
  }
  return "/bin/bash";
}

std::optional<int> read_pid_file(const fs::path& path) {
  auto text = util::read_file(path);
  if (!text) return std::nullopt;
  auto pid = util::parse_uint(util::trim(*text));
  if (!pid || *pid == 0 || *pid > 0x7fffffff) return std::nullopt;
  return static_cast<int>(*pid);
}

// SIGKILL to whatever is left of a task whose runtime is gone: the batch script's group and the srun tasks' groups.
void kill_leftovers(const fs::path& dir) {
  if (auto batch = read_pid_file(dir / runtime::k_batch_pid_file)) ::kill(-*batch, SIGKILL);
  // A docker/podman container the runtime left ("TOOL NAME"): its processes are not the runtime's children.
  if (auto container = util::read_file(dir / "container")) {
    auto parts = util::split(std::string(util::trim(*container)), ' ');
    if (parts.size() == 2) (void)slurm::run_command({parts[0], "rm", "-f", parts[1]});
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir / "steps", ec)) {
    auto pgid = util::parse_uint(entry.path().filename().string());
    if (pgid && *pgid > 1 && *pgid <= 0x7fffffff) ::kill(-static_cast<int>(*pgid), SIGKILL);
  }
}

engine::TaskStatus status_of(const runtime::ExitMarker& marker) {
  engine::TaskStatus status;
  status.state = marker.state;
  status.exit_code = marker.exit_code;
  status.reason = marker.reason;
  return status;
}

std::string task_label(const engine::LaunchRequest& request) {
  bool is_array = request.plan && request.plan->array.has_value();
  return "task " + format_task_id(request.task, is_array);
}

class LocalProvider final : public engine::Provider {
public:
  explicit LocalProvider(LocalOptions options) : m_options(std::move(options)) {}

  std::string name() const override { return "local"; }

  std::uint64_t capacity(const Plan& plan) const override {
    std::uint64_t cpus = m_options.cpus.value_or(machine_cpus());
    std::uint64_t per_task = std::uint64_t{std::max<std::uint32_t>(plan.node.vcpus, 1)} * std::max<std::uint32_t>(plan.nodes, 1);
    return std::max<std::uint64_t>(cpus / per_task, 1);
  }

  Expected<void> check(const Plan& plan) const override {
    std::uint64_t have = m_options.memory_mb.value_or(machine_memory_mb());
    std::uint64_t nodes = std::max<std::uint32_t>(plan.nodes, 1);
    std::uint64_t want = plan.node.whole_node_memory ? 0 : plan.node.memory_mib * nodes;
    if (want > 0 && have > 0 && want > have) {
      std::string request = std::to_string(plan.node.memory_mib) + " MB of memory per node";
      if (nodes > 1) request += " x " + std::to_string(nodes) + " emulated nodes = " + std::to_string(want) + " MB";
      return Unexpected("job " + util::quote(plan.job_name) + " asks for " + request + ", but this machine (" +
                        short_hostname() + ") has " + std::to_string(have) +
                        " MB; lower --mem/--mem-per-cpu or use another provider (--provider aws)");
    }
    std::uint32_t gpus = machine_gpus();
    if (plan.node.gpus > gpus) {
      return Unexpected("job " + util::quote(plan.job_name) + " asks for " + std::to_string(plan.node.gpus) +
                        " GPU(s) per node, but this machine (" + short_hostname() + ") has " + std::to_string(gpus) +
                        "; use a provider with GPUs (--provider aws) or drop the GPU request to try the script here");
    }
    if (plan.container) {
      // The runtime's own test, before anything is launched: which tool would run the image here, or why none can.
      auto found = slurm::run_command({bash_path(), "-c", std::string(runtime::runtime_script()), "runtime.sh",
                                       "container-check", to_string(plan.container_runtime)});
      if (found.status != 0) {
        auto why = std::string(util::trim(found.err));
        return Unexpected("job " + util::quote(plan.job_name) + ": container image " + *plan.container +
                          ": no container runtime can run it on this machine (" + short_hostname() + "): " +
                          (why.empty() ? "the check failed" : why) +
                          "; install and start Docker, Podman or Apptainer (container_runtime chooses one), or use "
                          "another provider (--provider aws)");
      }
    }
    return {};
  }

  Expected<std::string> launch(const engine::LaunchRequest& request) override {
    if (!request.plan) return Unexpected("local provider: launch without a plan");
    const Plan& plan = *request.plan;
    const fs::path dir = fs::absolute(request.state_dir);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Unexpected(dir.string() + ": cannot create the task directory: " + ec.message());
    // A directory reused for a new attempt must not carry the last attempt's outcome.
    for (auto name : {runtime::k_marker_file, runtime::k_cancel_file, std::string_view("timeout"), runtime::k_batch_pid_file,
                      std::string_view(engine::k_claim_file), std::string_view("uses-claim")})
      fs::remove(dir / name, ec);
    fs::remove_all(dir / "steps", ec);
    fs::remove_all(dir / "step-ids", ec);

    runtime::TaskIdentity id = identity(request, dir);
    auto env = runtime::task_environment(plan, id, runtime::current_environment());
    if (id.uid == 0) {
      // Open MPI refuses to run as root without these; a local run as root is the user's own choice.
      env["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
      env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
    }
    auto spec = runtime::make_task_spec(plan, id);
    spec.kill_wait_seconds = m_options.kill_wait_seconds;
    auto written = runtime::write_task_dir(dir, spec, env);
    if (!written) return Unexpected(task_label(request) + ": " + written.error());

    // The runtime takes the start claim first thing, so a crash between recording LAUNCHING and recording this
    // handle is settled by Provider::recover_launch without running the task twice (engine/claim.hpp).
    if (auto marked = engine::mark_uses_claim(dir); !marked) return Unexpected(task_label(request) + ": " + marked.error());
    auto command = runtime::runtime_command(dir);
    command[0] = bash_path();
    const char* path = std::getenv("PATH");
    std::vector<std::string> runtime_env = {
        std::string("PATH=") + (path && *path ? path : "/usr/local/bin:/usr/bin:/bin") + ":/usr/bin:/bin",
        "LC_ALL=C"};
    // What the container tools read (a task with an image runs the script through one of them).
    for (const char* name : {"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "CONTAINER_HOST", "XDG_RUNTIME_DIR", "HOME"}) {
      if (const char* value = std::getenv(name)) runtime_env.push_back(std::string(name) + "=" + value);
    }
    auto process = start_detached(command, runtime_env, dir, dir / runtime::k_runtime_log);
    if (!process) return Unexpected(task_label(request) + ": " + process.error());
    return format_handle(*process);
  }

  engine::TaskStatus poll(const engine::LaunchRequest& request, const std::string& handle) override {
    const fs::path dir = fs::absolute(request.state_dir);
    auto marker = runtime::read_exit_marker(dir);
    if (marker && *marker) return status_of(**marker);
    auto process = parse_handle(handle);
    if (process && is_running(*process)) {
      engine::TaskStatus status;
      status.state = TaskState::running;
      return status;
    }
    // The runtime is gone: it may have written its marker since the first look.
    marker = runtime::read_exit_marker(dir);
    if (marker && *marker) return status_of(**marker);
    kill_leftovers(dir);
    runtime::ExitMarker lost;
    std::error_code ec;
    if (fs::exists(dir / runtime::k_cancel_file, ec)) {
      lost.state = TaskState::cancelled;
      lost.reason = "cancelled (the runtime was gone)";
    } else {
      lost.state = TaskState::failed;
      lost.exit_code = 1;
      lost.reason = !process ? process.error()
                             : "the runtime (pid " + std::to_string(process->pid) +
                                   ") ended without writing an exit status; see " + (dir / runtime::k_runtime_log).string();
    }
    (void)runtime::write_exit_marker(dir, lost);
    return status_of(lost);
  }

  // launch() starts the runtime only after writing uses-claim: an attempt without it never started (the crash came
  // before its turn in the launch group), so it may be launched again; with it, the start claim decides.
  Expected<std::optional<std::string>> recover_launch(const engine::LaunchRequest& request) override {
    if (!engine::uses_claim(fs::absolute(request.state_dir))) return std::optional<std::string>();
    return engine::Provider::recover_launch(request);
  }

  void cancel(const engine::LaunchRequest& request, const std::string& handle) override {
    const fs::path dir = fs::absolute(request.state_dir);
    // The request file first: a runtime that has not installed its handlers yet still sees it.
    (void)util::write_file_atomic(dir / runtime::k_cancel_file, "");
    auto process = parse_handle(handle);
    if (process && is_running(*process)) {
      // The runtime forwards SIGTERM to every process of the task and sends SIGKILL after the kill wait.
      ::kill(process->pid, SIGTERM);
      return;
    }
    auto marker = runtime::read_exit_marker(dir);
    if (marker && *marker) return;
    kill_leftovers(dir);
    runtime::ExitMarker cancelled;
    cancelled.state = TaskState::cancelled;
    cancelled.reason = "cancelled";
    (void)runtime::write_exit_marker(dir, cancelled);
  }

private:
  runtime::TaskIdentity identity(const engine::LaunchRequest& request, const fs::path& dir) const {
    const Plan& plan = *request.plan;
    runtime::TaskIdentity id;
    id.job_id = request.task.job_id;
    if (plan.array) id.array_index = request.task.index;
    id.task_job_id = request.task_job_id ? request.task_job_id : request.task.job_id;
    id.restart_count = request.restart_count;
    id.node_names = node_names(plan.nodes, m_options);
    if (plan.node.exclusive) id.cpus_on_node = m_options.cpus.value_or(machine_cpus());
    id.submit_host = short_hostname();
    id.uid = ::getuid();
    id.gid = ::getgid();
    if (const passwd* pw = ::getpwuid(id.uid)) id.user = pw->pw_name;
    if (id.user.empty()) id.user = std::to_string(id.uid);
    id.hostfile = (dir / runtime::k_hostfile).string();
    id.runtime_dir = dir.string();
    return id;
  }

  LocalOptions m_options;
};

} // namespace

std::uint32_t machine_cpus() {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(CPU_COUNT(&set), 1);
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<std::uint32_t>(n) : 1;
}

std::uint32_t machine_gpus() {
  std::uint32_t count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/dev", ec)) {
    auto name = entry.path().filename().string();
    if (name.size() > 6 && name.rfind("nvidia", 0) == 0 && util::parse_uint(name.substr(6))) ++count;
  }
  return count;
}

std::uint64_t machine_memory_mb() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemTotal:") return kb / 1024;
  }
  return 0;
}

std::string short_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || !buf[0]) return "localhost";
  std::string name(buf);
  return name.substr(0, name.find('.'));
}

std::vector<std::string> node_names(std::uint32_t nodes, const LocalOptions& options) {
  // One node is this machine under its own name, as a one-node Slurm cluster shows it; more are emulated.
  if (nodes <= 1) return {short_hostname()};
  std::vector<std::string> names;
  for (std::uint32_t i = 0; i < nodes; ++i) names.push_back(options.node_prefix + std::to_string(i));
  return names;
}

std::unique_ptr<engine::Provider> make_local_provider(const LocalOptions& options) {
  return std::make_unique<LocalProvider>(options);
}

} // namespace spawn::providers::local
