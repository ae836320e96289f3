#include "runtime/task_dir.hpp"

#include <sys/stat.h>

#include "runtime/hostlist.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::runtime {

namespace {

// A value as a single-quoted shell word (the settings file is sourced by bash).
std::string shell_quote(std::string_view text) { return "'" + util::replace_all(text, "'", "'\\''") + "'"; }

std::string nul_joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += item;
    out += '\0';
  }
  return out;
}

std::string space_joined(const std::vector<std::uint32_t>& numbers) {
  std::string out;
  for (auto n : numbers) out += (out.empty() ? "" : " ") + std::to_string(n);
  return out;
}

Expected<void> write(const std::filesystem::path& path, std::string_view content, mode_t mode) {
  auto written = util::write_file_atomic(path, content);
  if (!written) return written;
  if (::chmod(path.c_str(), mode) != 0) return Unexpected(path.string() + ": cannot set its mode");
  return {};
}

std::string settings_text(const TaskSpec& spec) {
  std::string out = "# spawn task settings, read by runtime.sh (written by spawn; do not edit)\n";
  auto set = [&out](std::string_view name, std::string_view value) {
    out += std::string(name) + "=" + shell_quote(value) + "\n";
  };
  set("SPAWN_RT_JOB_LABEL", spec.job_label);
  set("SPAWN_RT_NODE", spec.node_names.empty() ? "localhost" : spec.node_names.front());
  set("SPAWN_RT_WORK_DIR", spec.work_dir);
  set("SPAWN_RT_STDIN", spec.stdio.input);
  set("SPAWN_RT_STDOUT", spec.stdio.output);
  set("SPAWN_RT_STDERR", spec.stdio.error.value_or(""));
  set("SPAWN_RT_OPEN_MODE", spec.open_mode == OpenMode::append ? "append" : "truncate");
  set("SPAWN_RT_TIME_LIMIT", std::to_string(spec.time_limit_seconds.value_or(0)));
  set("SPAWN_RT_SIGNAL", spec.signal ? std::to_string(spec.signal->number) : "");
  set("SPAWN_RT_SIGNAL_BEFORE", std::to_string(spec.signal ? spec.signal->seconds_before : 0));
  set("SPAWN_RT_SIGNAL_BATCH", spec.signal && spec.signal->batch_shell_only ? "1" : "0");
  set("SPAWN_RT_KILL_WAIT", std::to_string(spec.kill_wait_seconds));
  set("SPAWN_RT_NODE_NAMES", util::join(spec.node_names, " "));
  set("SPAWN_RT_TASKS_PER_NODE", space_joined(spec.tasks_per_node));
  set("SPAWN_RT_LOGIN_ENV", spec.login_environment ? "1" : "0");
  set("SPAWN_RT_CONTAINER", spec.container.value_or(""));
  set("SPAWN_RT_CONTAINER_RUNTIME", to_string(spec.container_runtime));
  return out;
}

} // namespace

TaskSpec make_task_spec(const Plan& plan, const TaskIdentity& identity) {
  TaskSpec spec;
  spec.job_label = std::to_string(identity.task_job_id);
  spec.script_text = plan.script_text;
  spec.args = plan.script_args;
  spec.work_dir = plan.work_dir;
  PatternContext context;
  context.job_id = identity.task_job_id;
  context.array_job_id = identity.job_id;
  context.array_task_id = plan.array ? identity.array_index : std::nullopt;
  context.job_name = plan.job_name;
  context.user = identity.user;
  context.node_name = identity.node_names.empty() ? "localhost" : identity.node_names.front();
  spec.stdio = stdio_paths(plan, context);
  spec.open_mode = plan.open_mode.value_or(OpenMode::truncate);
  spec.time_limit_seconds = plan.time_limit_seconds;
  spec.signal = plan.signal;
  spec.node_names = identity.node_names.empty() ? std::vector<std::string>{"localhost"} : identity.node_names;
  spec.tasks_per_node = tasks_per_node(plan);
  spec.tasks_per_node.resize(spec.node_names.size(), spec.tasks_per_node.empty() ? 1 : spec.tasks_per_node.back());
  spec.modules = plan.modules;
  spec.login_environment = plan.export_env.has_value();
  spec.container = plan.container;
  spec.container_runtime = plan.container_runtime;
  return spec;
}

Expected<void> write_task_dir(const std::filesystem::path& dir, const TaskSpec& spec, const Environment& env) {
  std::error_code ec;
  std::filesystem::create_directories(dir / "bin", ec);
  if (ec) return Unexpected((dir / "bin").string() + ": cannot create: " + ec.message());

  std::vector<std::string> entries;
  entries.reserve(env.size());
  for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
  std::string modules;
  for (const auto& m : spec.modules) {
    if (!m.provider) continue;
    modules += m.name + "\t" + *m.provider + "\t" + util::replace_all(m.value.value_or(""), "\n", " ") + "\n";
  }
  std::string hostfile;
  for (std::size_t i = 0; i < spec.node_names.size(); ++i) {
    hostfile += spec.node_names[i] + " slots=" + std::to_string(spec.tasks_per_node.at(i)) + "\n";
  }
  std::string srun = "#!/bin/sh\n# spawn's srun shim: runs a job step's tasks (see runtime.sh)\nexec bash " +
                     shell_quote((dir / "runtime.sh").string()) + " srun \"$@\"\n";

  const std::pair<const char*, std::pair<std::string, mode_t>> files[] = {
      {"settings", {settings_text(spec), 0644}},
      {"job.env", {nul_joined(entries), 0600}},
      {"args", {nul_joined(spec.args), 0600}},
      {"slurm_script", {spec.script_text, 0700}},
      {"modules", {modules, 0644}},
      {"hostfile", {hostfile, 0644}},
      {"runtime.sh", {std::string(runtime_script()), 0755}},
      {"bin/srun", {srun, 0755}},
  };
  for (const auto& [name, content] : files) {
    auto written = write(dir / name, content.first, content.second);
    if (!written) return written;
  }
  return {};
}

std::vector<std::string> runtime_command(const std::filesystem::path& dir) {
  return {"bash", (dir / "runtime.sh").string(), "run", dir.string()};
}

Expected<ExitMarker> parse_exit_marker(std::string_view text) {
  ExitMarker marker;
  bool has_state = false;
  int number = 0;
  for (const auto& line : util::split(text, '\n')) {
    ++number;
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) return Unexpected("marker line " + std::to_string(number) + ": no '=' in " + util::quote(line));
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    auto bad = [&] { return Unexpected("marker line " + std::to_string(number) + ": bad " + key + " " + util::quote(value)); };
    if (key == "state") {
      auto state = task_state_from_string(value);
      if (!state) return bad();
      marker.state = *state;
      has_state = true;
    } else if (key == "exit_code" || key == "signal") {
      auto n = util::parse_int(value);
      if (!n) return bad();
      (key == "exit_code" ? marker.exit_code : marker.signal) = static_cast<int>(*n);
    } else if (key == "start" || key == "end") {
      auto n = util::parse_int(value);
      if (!n) return bad();
      (key == "start" ? marker.start : marker.end) = *n;
    } else if (key == "reason") {
      marker.reason = value;
    }
  }
  if (!has_state) return Unexpected("marker has no state line");
  return marker;
}

std::string format_exit_marker(const ExitMarker& marker) {
  return "state=" + std::string(to_string(marker.state)) + "\nexit_code=" + std::to_string(marker.exit_code) +
         "\nsignal=" + std::to_string(marker.signal) + "\nreason=" + util::replace_all(marker.reason, "\n", " ") +
         "\nstart=" + std::to_string(marker.start) + "\nend=" + std::to_string(marker.end) + "\n";
}

Expected<std::optional<ExitMarker>> read_exit_marker(const std::filesystem::path& dir) {
  auto path = dir / k_marker_file;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<ExitMarker>{};
  auto text = util::read_file(path);
  if (!text) return Unexpected(text.error());
  auto marker = parse_exit_marker(*text);
  if (!marker) return Unexpected(path.string() + ": " + marker.error());
  return std::optional<ExitMarker>{*marker};
}

Expected<void> write_exit_marker(const std::filesystem::path& dir, const ExitMarker& marker) {
  return util::write_file_atomic(dir / k_marker_file, format_exit_marker(marker));
}

} // namespace spawn::runtime
