#include "cli/hybrid.hpp"

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <set>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/aws_view.hpp"
#include "cli/commands.hpp"
#include "cli/job_driver.hpp"
#include "cli/job_view.hpp"
#include "config/values.hpp"
#include "engine/engine.hpp"
#include "plan/split.hpp"
#include "providers/registry.hpp"
#include "providers/slurm/cluster.hpp"
#include "providers/slurm/slurm_provider.hpp"
#include "runtime/task_dir.hpp"
#include "util/error.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

namespace {

using json = nlohmann::ordered_json;
namespace slurm = providers::slurm;

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string usd(MicroDollars amount) { return "$" + format_usd(amount); }
double usd_value(MicroDollars amount) { return static_cast<double>(amount) / 1e6; }

// What one task costs on each side for `seconds` of running, from the rates recorded with the job.
struct Rates {
  MicroDollars cluster_per_hour = 0;  // institutional: cores x core-hour (or service unit) + GPUs x GPU-hour
  MicroDollars cloud_per_hour = 0;    // instance price x nodes
  std::int64_t boot_seconds = 0;      // billed before each cloud task
  MicroDollars cluster(std::int64_t seconds) const {
    return static_cast<MicroDollars>(std::llround(static_cast<double>(cluster_per_hour) * static_cast<double>(seconds) / 3600.0));
  }
  MicroDollars cloud(std::int64_t seconds) const {
    auto billed = std::max<std::int64_t>(60, boot_seconds + seconds);  // EC2: per second, 60 s minimum
    return static_cast<MicroDollars>(std::llround(static_cast<double>(cloud_per_hour) * static_cast<double>(billed) / 3600.0));
  }
};

Rates rates_of(const json& h) {
  Rates r;
  r.cluster_per_hour = h["cluster"]["cost_per_hour_micro_usd"].get<MicroDollars>();
  r.cloud_per_hour = h["cloud"]["cost_per_hour_micro_usd"].get<MicroDollars>();
  r.boot_seconds = h["cloud"]["boot_seconds"].get<std::int64_t>();
  return r;
}

std::filesystem::path hybrid_file(std::uint64_t job_id) {
  return engine::job_directory(engine::data_home(), job_id) / "hybrid.json";
}

bool terminal_in_and_out() { return ::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO); }

} // namespace

std::vector<SpawnOption> hybrid_options() {
  return {{"--hybrid", "", false}, {"--cloud-share", "", true}, {"--deadline", "", true}, {"--budget", "", true},
          {"--cloud-provider", "", true}};
}

int submit_hybrid(BuiltPlan& built, const SlurmArgs& args) {
  auto& p = built.plan;
  Plan& run = p.run;
  const auto& settings = p.settings;
  const std::string& script = run.script_path;
  if (!run.array)
    throw Error(script + ": --hybrid splits an array between the cluster and the cloud, and this job has no --array");
  auto cloud = args.value("--cloud-provider").value_or("aws");
  if (cloud != "aws" && cloud != "local")
    throw Error("--cloud-provider: expected local or aws, not " + util::quote(cloud));

  // The policy, as stated.
  plan::SplitRequest request;
  std::vector<std::string> errors;
  if (auto d = args.value("--deadline")) {
    auto seconds = config::parse_duration(*d);
    if (!seconds || *seconds <= 0) errors.push_back("--deadline: invalid value " + util::quote(*d) + " (expected a duration such as 6h)");
    else request.deadline_seconds = *seconds;
  }
  if (auto b = args.value("--budget")) {
    auto amount = config::parse_dollars(*b);
    if (!amount || *amount < 0) errors.push_back("--budget: invalid value " + util::quote(*b) + " (expected dollars such as 50 or 12.50)");
    else request.budget = *amount;
  }
  if (auto s = args.value("--cloud-share")) {
    auto share = util::parse_double(*s);
    if (!share || *share < 0 || *share > 1) errors.push_back("--cloud-share: invalid value " + util::quote(*s) + " (expected a fraction from 0 to 1)");
    else request.cloud_share = *share;
    if (args.has("--deadline") || args.has("--budget"))
      errors.push_back("--cloud-share is a policy of its own: give it, or --deadline and/or --budget, not both");
  }
  if (!args.has("--cloud-share") && !args.has("--deadline") && !args.has("--budget"))
    errors.push_back("--hybrid needs a policy: --cloud-share 0.3, --deadline 6h, or --budget 50 (with or without --deadline)");
  if (!p.runtime_seconds)
    errors.push_back(script + ": --hybrid needs the runtime of a task: add #SBATCH --time or pass --runtime 2h");
  if (!errors.empty()) throw Error(std::move(errors));
  request.policy = request.budget ? plan::SplitPolicy::budget
                   : request.deadline_seconds ? plan::SplitPolicy::deadline
                                              : plan::SplitPolicy::share;

  // The cluster, measured: when Slurm would start the array (no job is created), and how many it runs at once.
  if (auto r = slurm::reachable(); !r) throw Error(script + ": --hybrid: " + r.error());
  const auto indices = run.array->indices();
  std::vector<std::string> sbatch_options = args.request.command_line;
  auto probe = sbatch_options;
  probe.push_back("--array=" + util::compress_indices(indices));
  probe.push_back("--dependency=");
  const auto asked = std::chrono::steady_clock::now();
  const auto asked_at = now_seconds();
  auto test = slurm::test_only(script, probe, run.submit_dir);
  const auto latency_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - asked).count();
  if (!test) throw Error(script + ": " + test.error());
  const std::int64_t queue_wait = std::max<std::int64_t>(0, test->start_time - asked_at);
  auto cpus = slurm::partition_cpus(test->partition);
  if (!cpus) throw Error(script + ": " + cpus.error());
  const std::uint64_t cpus_per_task = std::uint64_t{std::max<std::uint32_t>(run.node.vcpus, 1)} * std::max<std::uint32_t>(run.nodes, 1);
  std::uint64_t slots = std::max<std::uint64_t>(1, cpus->total / cpus_per_task);
  if (run.array->max_running && *run.array->max_running > 0) slots = std::min(slots, *run.array->max_running);

  // Prices: the institution's rates for the cluster, the chosen instance type's for the cloud.
  Rates rates;
  const auto& rate = settings.institutional_rate;
  const MicroDollars core_rate = rate.core_hour ? rate.core_hour : rate.service_unit;  // 1 SU = 1 core-hour
  rates.cluster_per_hour = static_cast<MicroDollars>(cpus_per_task) * core_rate +
                           static_cast<MicroDollars>(run.node.gpus) * std::max<std::uint32_t>(run.nodes, 1) * rate.gpu_hour;
  std::string instance_type = "(none)";
  if (!built.candidates.empty()) {
    const auto& choice = built.candidates.front();
    instance_type = choice.type.name;
    rates.cloud_per_hour = choice.price_per_hour * std::max<std::uint32_t>(run.nodes, 1);
  } else if (cloud == "aws") {
    throw Error(script + ": " + built.selection_error.value_or("no instance type fits"));
  }
  rates.boot_seconds = settings.boot_overhead;
  const std::int64_t task_seconds = p.runtime_seconds->value;

  plan::SplitInputs in;
  in.indices = indices;
  in.task_seconds = task_seconds;
  in.queue_wait_seconds = queue_wait;
  in.cluster_slots = slots;
  in.cluster_cost_per_task = rates.cluster(task_seconds);
  in.cloud_boot_seconds = rates.boot_seconds;
  if (p.max_concurrent) in.cloud_slots = p.max_concurrent->value;
  in.cloud_cost_per_task = rates.cloud(task_seconds);
  auto split = plan::split_array(in, request);
  if (!split) throw Error(script + ": --hybrid: " + split.error());

  const std::string start_text =
      test->start_text + (test->beyond_horizon ? " (beyond Slurm's horizon: jobs ahead have no time limit; counted as a year)" : "");
  json h;
  h["policy"] = request.policy == plan::SplitPolicy::share ? "share" : request.policy == plan::SplitPolicy::deadline ? "deadline" : "budget";
  h["why"] = split->why;
  h["deadline_seconds"] = request.deadline_seconds ? json(*request.deadline_seconds) : json(nullptr);
  h["budget_usd"] = request.budget ? json(usd_value(*request.budget)) : json(nullptr);
  h["task_seconds"] = task_seconds;
  h["task_seconds_source"] = p.runtime_seconds->source;
  h["cluster"] = {{"provider", "slurm"},
                  {"indices", split->cluster},
                  {"queue_wait_seconds", queue_wait},
                  {"queue_wait_source", "sbatch --test-only"},
                  {"test_only", {{"start_time", test->start_text}, {"beyond_horizon", test->beyond_horizon}, {"processors", test->processors}, {"nodes", test->nodes},
                                 {"partition", test->partition}, {"latency_ms", latency_ms}}},
                  {"partition_cpus", cpus->total},
                  {"slots", slots},
                  {"cost_per_hour_micro_usd", rates.cluster_per_hour},
                  {"rate_source", rate.core_hour ? "institutional_rate.core_hour" : rate.service_unit ? "institutional_rate.service_unit (1 SU = 1 core-hour)" : "no institutional rate configured"},
                  {"estimate", {{"tasks", split->cluster.size()}, {"finish_seconds", split->cluster_finish_seconds},
                                {"cost_usd", usd_value(split->cluster_cost)}, {"cost_micro_usd", split->cluster_cost}}}};
  h["cloud"] = {{"provider", cloud},
                {"indices", split->cloud},
                {"instance_type", instance_type},
                {"market", to_string(settings.market)},
                {"cost_per_hour_micro_usd", rates.cloud_per_hour},
                {"boot_seconds", rates.boot_seconds},
                {"slots", in.cloud_slots ? json(*in.cloud_slots) : json(nullptr)},
                {"estimate", {{"tasks", split->cloud.size()}, {"finish_seconds", split->cloud_finish_seconds},
                              {"cost_usd", usd_value(split->cloud_cost)}, {"cost_micro_usd", split->cloud_cost}}}};

  const bool as_json = args.has("--json");
  auto span = [](std::int64_t s) { return config::format_duration(s); };
  if (as_json) {
    if (args.has("--dry-run")) std::cout << dump_json(h) << "\n";
  } else {
    std::cout << "Hybrid plan for " << run.job_name << " (array " << run.array->spec << ", " << indices.size()
              << " tasks of " << span(task_seconds) << ", " << p.runtime_seconds->source << "):\n";
    std::cout << "  Policy:   " << split->why << "\n";
    std::cout << "  Cluster:  " << split->cluster.size() << " task(s) [" << util::compress_indices(split->cluster)
              << "] with sbatch on partition " << test->partition << "; queue wait " << span(queue_wait)
              << " (sbatch --test-only: start " << start_text << ", asked in " << latency_ms << " ms), " << slots
              << " at a time";
    if (!split->cluster.empty())
      std::cout << " -> done in " << span(split->cluster_finish_seconds) << ", " << usd(split->cluster_cost) << " institutional";
    std::cout << "\n  Cloud:    " << split->cloud.size() << " task(s) [" << util::compress_indices(split->cloud) << "] on " << cloud
              << " (priced as " << instance_type << " " << to_string(settings.market) << " at " << usd(rates.cloud_per_hour)
              << "/h, " << span(rates.boot_seconds) << " boot)";
    if (!split->cloud.empty()) std::cout << " -> done in " << span(split->cloud_finish_seconds) << ", " << usd(split->cloud_cost);
    std::cout << "\n  Whole job: done in " << span(std::max(split->cluster_finish_seconds, split->cloud_finish_seconds))
              << ", " << usd(split->cloud_cost) << " cloud + " << usd(split->cluster_cost) << " institutional\n"
              << std::flush;
  }
  if (args.has("--dry-run")) return 0;

  if (cloud == "aws" && !split->cloud.empty() && !args.has("--yes")) {
    if (!terminal_in_and_out())
      throw Error(run.job_name + ": the cloud half runs " + std::to_string(split->cloud.size()) +
                  " task(s) on paid instances, estimated " + usd(split->cloud_cost) +
                  "; not started: there is no terminal to confirm on (pass --yes to spend)");
    std::cerr << "Proceed? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    auto a = util::to_lower(util::trim(answer));
    if (a != "y" && a != "yes") throw Error(run.job_name + ": not started (answered " + util::quote(answer) + ")");
  }

  run.provider = ProviderKind::slurm;
  for (const auto& [name, has_tasks] : {std::pair{std::string("slurm"), !split->cluster.empty()}, std::pair{cloud, !split->cloud.empty()}}) {
    if (!has_tasks) continue;
    auto provider = providers::make_provider(name);
    if (!provider) throw Error(run.job_name + ": " + provider.error());
    if (auto r = (*provider)->check(run); !r) throw Error(run.job_name + ": " + name + ": " + r.error());
  }
  std::set<std::uint64_t> on_cluster(split->cluster.begin(), split->cluster.end());
  std::vector<std::string> task_providers;
  for (auto i : indices) task_providers.push_back(on_cluster.count(i) ? "slurm" : cloud);
  auto store = open_store();
  auto id = record_job(store, run, task_providers);
  auto job_dir = engine::job_directory(engine::data_home(), id);
  std::error_code ec;
  std::filesystem::create_directories(job_dir, ec);
  if (auto w = util::write_file_atomic(job_dir / "hybrid.json", dump_json(h) + "\n"); !w) throw Error(w.error());
  if (auto w = util::write_file_atomic(job_dir / slurm::k_sbatch_options_file,
                                       sbatch_options.empty() ? std::string() : util::join(sbatch_options, "\n") + "\n");
      !w)
    throw Error(w.error());

  if (args.has("--detach")) {
    auto pid = start_detached_supervisor(id);
    if (as_json) std::cout << dump_json({{"job_id", id}, {"supervisor_pid", pid}, {"hybrid", h}}) << "\n";
    else std::cout << "Submitted batch job " << id << "\n";
    return 0;
  }
  if (as_json) std::cout << dump_json({{"job_id", id}, {"hybrid", h}}) << "\n" << std::flush;
  else std::cout << "Submitted batch job " << id << "\n" << std::flush;
  return supervise(id, ::isatty(STDERR_FILENO) ? ProgressStyle::bar : ProgressStyle::lines);
}

int cmd_cost(const std::vector<std::string>& args) {
  bool as_json = false;
  std::vector<std::string> words;
  for (const auto& a : args) {
    if (a == "--json") as_json = true;
    else if (!a.empty() && a[0] == '-') throw Error("cost: unknown option " + util::quote(a));
    else words.push_back(a);
  }
  if (words.size() != 1) throw Error("cost: give one job (spawn cost 12)");
  auto store = open_store();
  auto ref = parse_job_reference(store, words[0]);
  auto job = require_job(store, ref.job_id);
  auto text = util::read_file(hybrid_file(job.id));
  if (!text) {
    auto tasks = store.tasks(job.id);
    if (!tasks) throw Error(tasks.error());
    if (runs_on_aws(job, *tasks)) return print_aws_cost(job, load_plan(job), *tasks, as_json);
    throw Error("cost: job " + std::to_string(job.id) + " runs on " + job.provider +
                ", which bills nothing spawn can price; `spawn cost` covers jobs on aws and --hybrid jobs");
  }
  auto h = json::parse(*text, nullptr, false);
  if (h.is_discarded()) throw Error("cost: " + hybrid_file(job.id).string() + " is not valid JSON");
  auto rates = rates_of(h);
  auto tasks = store.tasks(job.id);
  if (!tasks) throw Error(tasks.error());
  const auto job_dir = engine::job_directory(engine::data_home(), job.id);

  struct Side {
    std::uint64_t tasks = 0, ended = 0;
    std::int64_t seconds = 0;
    MicroDollars actual = 0;
  } cluster, cloud;
  json rows = json::array();
  std::vector<std::vector<std::string>> table{{"TASK", "SIDE", "STATE", "RUNTIME", "COST", "OTHER SIDE WOULD COST"}};
  for (const auto& t : *tasks) {
    const auto provider = t.provider.value_or(job.provider);
    const bool on_cluster = provider == "slurm";
    auto dir = job_dir / (std::to_string(t.ref.index) + "." + std::to_string(t.attempt));
    std::optional<std::int64_t> seconds;
    if (on_cluster) seconds = slurm::task_runtime_seconds(dir);
    else if (auto marker = runtime::read_exit_marker(dir); marker && *marker && (*marker)->end >= (*marker)->start)
      seconds = (*marker)->end - (*marker)->start;
    if (!seconds && t.start_time && t.end_time) seconds = *t.end_time - *t.start_time;
    auto& side = on_cluster ? cluster : cloud;
    ++side.tasks;
    std::optional<MicroDollars> cost, other;
    if (seconds && engine::is_terminal(t.state)) {
      ++side.ended;
      side.seconds += *seconds;
      cost = on_cluster ? rates.cluster(*seconds) : rates.cloud(*seconds);
      other = on_cluster ? rates.cloud(*seconds) : rates.cluster(*seconds);
      side.actual += *cost;
    }
    auto id = format_task_id(t.ref, job.is_array);
    rows.push_back({{"id", id}, {"provider", provider}, {"side", on_cluster ? "cluster" : "cloud"},
                    {"state", to_string(t.state)}, {"runtime_seconds", seconds ? json(*seconds) : json(nullptr)},
                    {"cost_usd", cost ? json(usd_value(*cost)) : json(nullptr)},
                    {"other_side_cost_usd", other ? json(usd_value(*other)) : json(nullptr)}});
    table.push_back({id, on_cluster ? "cluster" : "cloud (" + provider + ")", to_string(t.state),
                     seconds ? config::format_duration(*seconds) : "-", cost ? usd(*cost) : "-", other ? usd(*other) : "-"});
  }
  auto side_json = [&](const Side& s, const char* key) {
    return json{{"tasks", s.tasks}, {"ended", s.ended}, {"task_seconds", s.seconds},
                {"estimate_usd", h[key]["estimate"]["cost_usd"]}, {"actual_usd", usd_value(s.actual)}};
  };
  if (as_json) {
    std::cout << dump_json({{"job_id", job.id},
                            {"rates", {{"cluster_per_hour_usd", usd_value(rates.cluster_per_hour)},
                                       {"cloud_per_hour_usd", usd_value(rates.cloud_per_hour)},
                                       {"cloud_instance_type", h["cloud"]["instance_type"]},
                                       {"cloud_boot_seconds", rates.boot_seconds}}},
                            {"cluster", side_json(cluster, "cluster")},
                            {"cloud", side_json(cloud, "cloud")},
                            {"total_actual_usd", usd_value(cluster.actual + cloud.actual)},
                            {"tasks", rows}})
              << "\n";
    return 0;
  }
  std::cout << "Job " << job.id << " (" << job.name << "): cluster at " << usd(rates.cluster_per_hour)
            << "/h per task (" << h["cluster"]["rate_source"].get<std::string>() << "), cloud at "
            << usd(rates.cloud_per_hour) << "/h (" << h["cloud"]["instance_type"].get<std::string>() << ", "
            << config::format_duration(rates.boot_seconds) << " boot billed, 60 s minimum)\n";
  for (const auto& r : table) {
    std::string line;
    const std::size_t widths[] = {10, 16, 11, 10, 12, 0};
    for (std::size_t c = 0; c < r.size(); ++c) line += r[c] + (widths[c] > r[c].size() ? std::string(widths[c] - r[c].size(), ' ') : "  ");
    std::cout << line << "\n";
  }
  auto summary = [&](const char* name, const Side& s, const char* key) {
    std::cout << name << s.tasks << " task(s), " << s.ended << " ended, " << config::format_duration(s.seconds)
              << " of task time: " << usd(s.actual) << " spent (estimated "
              << usd(h[key]["estimate"]["cost_micro_usd"].get<MicroDollars>()) << " for " << h[key]["estimate"]["tasks"].dump()
              << " task(s) of " << config::format_duration(h["task_seconds"].get<std::int64_t>()) << ")\n";
  };
  summary("Cluster: ", cluster, "cluster");
  summary("Cloud:   ", cloud, "cloud");
  std::cout << "Total:   " << usd(cluster.actual + cloud.actual) << "\n";
  return 0;
}

} // namespace spawn::cli
