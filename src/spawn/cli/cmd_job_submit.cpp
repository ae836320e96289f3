// spawn slurm submit and spawn launch: build the plan (from a batch script, a parameter file or the command line),
// show it (--dry-run), ask before spending on a paid provider, record it as a job and drive it.
#include <algorithm>
#include <iostream>
#include <pwd.h>
#include <unistd.h>

#include "catalog/catalog.hpp"
#include "catalog/estimate.hpp"
#include "cli/commands.hpp"
#include "cli/plan_builder.hpp"
#include "cli/job_driver.hpp"
#include "cli/job_view.hpp"
#include "cli/hybrid.hpp"
#include "cli/slurm_args.hpp"
#include "config/config.hpp"
#include "config/values.hpp"
#include "engine/engine.hpp"
#include "plan/params.hpp"
#include "plan/plan.hpp"
#include "plan/selection.hpp"
#include "providers/aws/workdir.hpp"
#include "providers/registry.hpp"
#include "providers/slurm/slurm_provider.hpp"
#include "runtime/environment.hpp"
#include "slurm/grammar.hpp"
#include "util/error.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

namespace {

bool terminal_in_and_out() { return ::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO); }

// The readable --dry-run summary.
void print_plan_summary(std::ostream& out, const Plan& plan, const std::optional<std::string>& cost) {
  auto row = [&](const std::string& key, const std::string& value) {
    out << key << std::string(key.size() < 18 ? 18 - key.size() : 1, ' ') << value << "\n";
  };
  row("Job:", plan.job_name + " (" + plan.script_path + ")");
  std::string tasks = std::to_string(plan.task_count()) + (plan.task_count() == 1 ? " task" : " tasks");
  if (plan.array) tasks += ", array " + plan.array->spec;
  if (plan.nodes > 1) tasks += ", " + std::to_string(plan.nodes) + " nodes each";
  if (plan.ntasks > 1) tasks += ", " + std::to_string(plan.ntasks) + " ranks";
  row("Tasks:", tasks);
  std::string concurrency = plan.max_concurrent ? "at most " + std::to_string(*plan.max_concurrent) + " at a time"
                                                 : "as many at once as the provider holds";
  row("Concurrency:", concurrency);
  row("Provider:", std::string(to_string(plan.provider)) +
                       (plan.provider == ProviderKind::local ? "" : " in " + plan.region + ", " + to_string(plan.market)));
  if (!plan.instance_types.empty()) row("Instance types:", util::join(plan.instance_types, ", "));
  row("Per node:", std::to_string(plan.node.vcpus) + " vCPU" + (plan.node.vcpus == 1 ? "" : "s") +
                       (plan.node.memory_mib ? ", " + catalog::format_memory_mib(plan.node.memory_mib) : "") +
                       (plan.node.gpus ? ", " + std::to_string(plan.node.gpus) + " GPU(s)" : ""));
  row("Time limit:", plan.time_limit_seconds ? format_elapsed(*plan.time_limit_seconds) : "none");
  row("Working dir:", plan.work_dir);
  if (!plan.script_args.empty()) row("Arguments:", util::join(plan.script_args, " "));
  if (plan.dependency) row("Dependency:", plan.dependency->spec);
  row("Requeue:", plan.requeue ? "yes (preempted or lost tasks run again)" : "no");
  if (cost) row("Estimated cost:", *cost);
  for (const auto& u : plan.unsupported)
    row("Not honoured:", u.origin + ": " + u.option + (u.value ? "=" + *u.value : "") + ": " + u.instead);
  // The first task's environment as the runtime will build it (job ids are 0 until the job is recorded).
  runtime::TaskIdentity identity;
  identity.array_index = plan.array ? std::optional(plan.array->min) : std::nullopt;
  char host[256] = "localhost";
  ::gethostname(host, sizeof host);
  std::string short_host = std::string(host).substr(0, std::string(host).find('.'));
  for (std::uint32_t n = 0; n < plan.nodes; ++n)
    identity.node_names.push_back(plan.nodes == 1 ? short_host : short_host + "-" + std::to_string(n));
  identity.submit_host = short_host;
  identity.uid = ::getuid();
  identity.gid = ::getgid();
  if (auto* pw = ::getpwuid(::getuid())) identity.user = pw->pw_name;
  out << "Environment of the first task (SLURM_* and SPAWN_*; job ids are assigned at submission):\n";
  for (const auto& [key, value] : runtime::task_environment(plan, identity, runtime::current_environment()))
    if (util::istarts_with(key, "SLURM_") || util::istarts_with(key, "SPAWN_") || key == "ENVIRONMENT")
      out << "  " << key << "=" << value << "\n";
}

// Instance types and an estimate for a paid provider; the text, or nullopt when the runtime is unknown.
std::optional<std::string> paid_estimate(plan::Plan& p) {
  auto cat = catalog::load_catalog(catalog::default_cache_catalog_path());
  if (!cat) throw Error(cat.error());
  auto candidates = plan::choose_instances(p, *cat);
  if (!candidates) throw Error(p.run.script_path + ": " + candidates.error());
  if (p.run.instance_types.empty())
    for (const auto& c : *candidates) p.run.instance_types.push_back(c.type.name);
  if (!p.runtime_seconds) return std::nullopt;
  const auto& choice = candidates->front();
  catalog::EstimateInput input;
  input.tasks = p.tasks;
  input.nodes_per_task = p.nodes_per_task;
  input.runtime_seconds = p.runtime_seconds->value;
  if (p.max_concurrent) input.max_concurrent = p.max_concurrent->value;
  input.boot_overhead_seconds = p.settings.boot_overhead;
  input.spot_per_hour = choice.price.spot_per_hour;
  input.on_demand_per_hour = choice.price.on_demand_per_hour;
  auto est = catalog::estimate_run(input);
  if (!est) throw Error(p.run.script_path + ": " + est.error());
  auto cost = p.settings.market == Market::spot ? est->spot_cost : est->on_demand_cost;
  if (!cost) return std::nullopt;
  return "$" + format_usd(*cost) + " (" + std::to_string(est->instances) + " x " + choice.type.name + " " +
         to_string(p.settings.market) + ", " + p.runtime_seconds->source + ")";
}

// Asks `question` about `what` on a terminal; without one refuses, saying how to go on (`without_terminal`).
void confirm(const Plan& plan, const std::string& what, const std::string& question, const std::string& without_terminal) {
  if (!terminal_in_and_out())
    throw Error(plan.job_name + ": " + what + "; not started: there is no terminal to confirm on (" + without_terminal + ")");
  std::cerr << what << "\n" << question << " [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  auto a = util::to_lower(util::trim(answer));
  if (a != "y" && a != "yes") throw Error(plan.job_name + ": not started (answered " + util::quote(answer) + ")");
}

// The working directory travels with an AWS job: a link leading out of it is refused here, before anything starts,
// and an upload above workdir.confirm_above is confirmed (refused without a terminal unless --yes).
void confirm_upload(const Plan& plan, bool yes) {
  if (plan.provider != ProviderKind::aws || !plan.workdir.travel) return;
  auto tree = providers::aws::travelling_files(plan, engine::data_home(), false);
  if (!tree) throw Error(util::split(tree.error(), '\n'));
  if (yes || tree->bytes() <= plan.workdir.confirm_above_mib * 1024 * 1024) return;
  confirm(plan,
          "the working directory " + plan.work_dir + " uploads " + providers::aws::describe_size(tree->files(), tree->bytes()) +
              " (above workdir.confirm_above = " + config::format_memory_mib(plan.workdir.confirm_above_mib) +
              "; only what S3 does not hold yet is sent)",
          "Upload it?", "pass --yes, or leave files out with .spawnignore or workdir.exclude");
}

// Asks before spending money; refuses without a terminal unless --yes.
void confirm_paid(const Plan& plan, const std::optional<std::string>& cost, bool yes) {
  if (plan.provider != ProviderKind::aws || yes) return;
  confirm(plan,
          std::string("provider ") + to_string(plan.provider) + " runs " + std::to_string(plan.task_count()) +
              " task(s) on paid instances" + (cost ? ", estimated " + *cost : " (cost unknown: no --time)"),
          "Proceed?", "pass --yes to spend");
}

struct RunOptions {
  bool dry_run = false, detach = false, json = false, yes = false;
  std::vector<std::string> sbatch_options = {};  // given before the script: the slurm provider passes them to sbatch
};

// The common tail of submit and launch: dry run, confirmation, check, record, drive.
int run_plan(Plan plan, const RunOptions& o, const std::optional<std::string>& cost) {
  if (o.dry_run) {
    if (o.json) std::cout << dump_json(plan::plan_to_document(plan)) << "\n";
    else print_plan_summary(std::cout, plan, cost);
    return 0;
  }
  confirm_upload(plan, o.yes);
  confirm_paid(plan, cost, o.yes);
  auto provider = providers::make_provider(to_string(plan.provider));
  if (!provider) throw Error(plan.job_name + ": " + provider.error());
  if (auto r = (*provider)->check(plan); !r) throw Error(plan.job_name + ": " + r.error());
  auto store = open_store();
  auto id = record_job(store, plan);
  if (plan.provider == ProviderKind::slurm && !o.sbatch_options.empty()) {
    auto job_dir = engine::job_directory(engine::data_home(), id);
    std::error_code ec;
    std::filesystem::create_directories(job_dir, ec);
    if (auto w = util::write_file_atomic(job_dir / providers::slurm::k_sbatch_options_file,
                                         util::join(o.sbatch_options, "\n") + "\n");
        !w)
      throw Error(w.error());
  }
  if (o.detach) {
    auto pid = start_detached_supervisor(id);
    if (o.json) std::cout << dump_json({{"job_id", id}, {"supervisor_pid", pid}}) << "\n";
    else std::cout << "Submitted batch job " << id << "\n";
    return 0;
  }
  if (o.json) std::cout << dump_json({{"job_id", id}}) << "\n" << std::flush;
  else std::cout << "Submitted batch job " << id << "\n" << std::flush;
  return supervise(id, ::isatty(STDERR_FILENO) ? ProgressStyle::bar : ProgressStyle::lines);
}

} // namespace

int cmd_slurm_submit(const std::vector<std::string>& args) {
  // The same plan estimate and convert build (cli/plan_builder), so convert + launch runs exactly this.
  auto options = plan_options();
  for (SpawnOption o : {SpawnOption{"--dependency", "", true}, SpawnOption{"--detach", "", false},
                        SpawnOption{"--dry-run", "", false}, SpawnOption{"--yes", "", false},
                        SpawnOption{"--json", "", false}})
    options.push_back(o);
  for (const auto& o : hybrid_options()) options.push_back(o);
  auto parsed = parse_slurm_args("slurm submit", args, options);
  // --dependency after the script means what it means before it (sbatch's command line beats the script).
  if (auto dep = parsed.value("--dependency")) parsed.request.command_line.push_back("--dependency=" + *dep);
  auto built = build_plan(parsed, false);
  if (parsed.has("--hybrid")) return submit_hybrid(built, parsed);
  for (auto name : {"--cloud-share", "--deadline", "--budget", "--cloud-provider"})
    if (parsed.has(name)) throw Error(std::string("slurm submit: ") + name + " is a --hybrid option");
  auto& p = built.plan;
  // Instances and their cost matter on the paid cloud only (the cluster's sbatch chooses its own nodes).
  if (p.run.provider == ProviderKind::aws && built.selection_error)
    throw Error(p.run.script_path + ": " + *built.selection_error);
  std::optional<std::string> cost;
  if (p.run.provider == ProviderKind::aws) cost = paid_estimate(p);
  RunOptions o{parsed.has("--dry-run"), parsed.has("--detach"), parsed.has("--json"), parsed.has("--yes"),
               parsed.request.command_line};
  return run_plan(std::move(p.run), o, cost);
}

int cmd_launch(const std::vector<std::string>& args) {
  std::map<std::string, std::string> values;
  std::vector<std::string> command;
  static const std::vector<std::pair<std::string, bool>> k_options = {
      {"--param-file", true}, {"--count", true},  {"--instance-type", true}, {"--ttl", true},     {"--provider", true},
      {"--name", true},       {"--region", true}, {"--mpi", false},          {"--spot", false},   {"--dry-run", false},
      {"--detach", false},    {"--json", false},  {"--yes", false}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    auto eq = args[i].find('=');
    auto name = args[i].substr(0, eq);
    auto it = std::find_if(k_options.begin(), k_options.end(), [&](const auto& o) { return o.first == name; });
    if (it == k_options.end())
      throw Error("launch: unknown option " + util::quote(args[i]) + " (the command goes after --: spawn launch --count 2 -- ./run.sh)");
    if (!it->second) {
      values[name] = "";
    } else if (eq != std::string::npos) {
      values[name] = args[i].substr(eq + 1);
    } else {
      if (i + 1 >= args.size()) throw Error("launch: " + name + " needs a value");
      values[name] = args[++i];
    }
  }
  auto value = [&](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    return it == values.end() ? std::nullopt : std::optional(it->second);
  };
  RunOptions o{values.count("--dry-run") > 0, values.count("--detach") > 0, values.count("--json") > 0,
               values.count("--yes") > 0};
  Plan plan;
  if (auto file = value("--param-file")) {
    if (!command.empty()) throw Error("launch: --param-file and a command after -- exclude each other");
    plan = plan::read_param_file(*file);
  } else {
    if (command.empty()) throw Error("launch: give --param-file FILE, or a command after -- (spawn launch --count 4 -- ./run.sh)");
    auto count = util::parse_uint(value("--count").value_or("1"));
    if (!count || *count == 0 || *count > 100000)
      throw Error("launch: --count: invalid value " + util::quote(value("--count").value_or("")) + " (expected 1 to 100000)");
    std::vector<std::string> quoted;
    for (const auto& w : command) {
      bool plain = !w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") == std::string::npos;
      quoted.push_back(plain ? w : "'" + util::replace_all(w, "'", "'\\''") + "'");
    }
    plan.job_name = value("--name").value_or(std::filesystem::path(command[0]).filename().string());
    plan.script_path = "(spawn launch)";
    plan.script_text = "#!/bin/bash\n" + util::join(quoted, " ") + "\n";
    plan.submit_dir = plan.work_dir = std::filesystem::current_path().string();
    if (values.count("--mpi")) {
      // One task on N nodes: the command runs on the first with the hostfile, as a converted MPI job does.
      plan.nodes = static_cast<std::uint32_t>(*count);
      plan.ntasks = static_cast<std::uint32_t>(*count);
      plan.tasks_per_node = 1;
      plan.ntasks_requested = true;
    } else if (*count > 1) {
      // N independent copies, as spawn's launcher always ran them: an array 0..N-1 (SLURM_ARRAY_TASK_ID).
      auto spec = slurm::parse_array("0-" + std::to_string(*count - 1), 1000001);
      if (!spec) throw Error("launch: --count: " + spec.error());
      plan.array = *spec;
    }
    if (auto t = value("--instance-type")) plan.instance_types = util::split(*t, ',');
    plan.market = values.count("--spot") ? Market::spot : Market::on_demand;
    if (auto ttl = value("--ttl")) {
      auto seconds = config::parse_duration(*ttl);
      if (!seconds || *seconds <= 0) throw Error("launch: --ttl: invalid value " + util::quote(*ttl) + " (expected a duration such as 4h or 90m)");
      plan.ttl_seconds = *seconds;
    }
  }
  if (auto region = value("--region")) plan.region = *region;
  if (auto provider = value("--provider")) {
    if (*provider == "local") plan.provider = ProviderKind::local;
    else if (*provider == "aws") plan.provider = ProviderKind::aws;
    else if (*provider == "slurm") plan.provider = ProviderKind::slurm;
    else throw Error("launch: --provider: unknown provider " + util::quote(*provider) + " (known: local, aws, slurm)");
  }
  if (plan.provider != ProviderKind::local && plan.instance_types.empty())
    throw Error("launch: --provider " + std::string(to_string(plan.provider)) + " needs --instance-type");
  return run_plan(std::move(plan), o, std::nullopt);
}

} // namespace spawn::cli
