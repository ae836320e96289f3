// spawn slurm estimate: which instance type would run the job, what it costs (spot and on-demand), how long it
// takes, and how that compares with waiting in the cluster's queue.
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "catalog/catalog.hpp"
#include "catalog/estimate.hpp"
#include "cli/commands.hpp"
#include "cli/job_view.hpp"
#include "cli/plan_builder.hpp"
#include "cli/slurm_args.hpp"
#include "config/config.hpp"
#include "config/values.hpp"
#include "engine/store.hpp"
#include "plan/plan.hpp"
#include "plan/selection.hpp"
#include "providers/aws/workdir.hpp"
#include "providers/slurm/cluster.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

namespace {

using json = nlohmann::ordered_json;

// "$12.34" (cents, rounded half up), "$0.0042" below a cent.
std::string money(MicroDollars amount) {
  if (amount != 0 && amount < 10000) return "$" + format_usd(amount);
  char buf[64];
  std::snprintf(buf, sizeof buf, "$%lld.%02lld", static_cast<long long>((amount + 5000) / 1000000),
                static_cast<long long>((amount + 5000) / 10000 % 100));
  return buf;
}
double dollars(MicroDollars amount) { return std::round(static_cast<double>(amount) / 10000.0) / 100.0; }

// "10h 10m", "45m", "2d 3h"; under an hour, seconds are kept ("1m 30s").
std::string span(std::int64_t seconds) {
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600 && seconds % 60) return std::to_string(seconds / 60) + "m " + std::to_string(seconds % 60) + "s";
  std::int64_t minutes = (seconds + 59) / 60;
  std::int64_t d = minutes / 1440, h = minutes / 60 % 24, m = minutes % 60;
  std::vector<std::string> parts;
  if (d) parts.push_back(std::to_string(d) + "d");
  if (h) parts.push_back(std::to_string(h) + "h");
  if (m) parts.push_back(std::to_string(m) + "m");
  return util::join(parts, " ");
}

std::string one_decimal(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string describe_type(const InstanceType& t) {
  std::string out = t.name + " (" + std::to_string(t.vcpus) + " vCPU, " + catalog::format_memory_mib(t.memory_mib);
  if (t.accelerator_count) out += ", " + std::to_string(t.accelerator_count) + "x " + t.accelerator_model;
  return out + ")";
}

std::string job_summary(const Job& job, const plan::Plan& p) {
  std::vector<std::string> parts{job.job_name};
  if (job.array) parts.push_back("array " + job.array->spec + " (" + std::to_string(job.array->count) + " tasks)");
  if (p.nodes_per_task > 1) parts.push_back(std::to_string(p.nodes_per_task) + " nodes x " + std::to_string(p.tasks_per_node) + " tasks");
  parts.push_back(describe_time(job));
  std::string per = p.nodes_per_task > 1 ? " per node" : "";
  parts.push_back(std::to_string(p.node.vcpus) + (p.node.vcpus == 1 ? " CPU" : " CPUs") + per);
  if (p.node.whole_node_memory) parts.push_back("all of the node's memory");
  else if (p.node.memory_mib) parts.push_back(catalog::format_memory_mib(p.node.memory_mib) + per);
  if (p.node.gpus) parts.push_back(std::to_string(p.node.gpus) + " GPU" + (p.node.gpus > 1 ? "s" : "") +
                                   (p.node.gpu_model ? " (" + *p.node.gpu_model + ")" : ""));
  return util::join(parts, ", ");
}

bool interactive() { return ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO); }

} // namespace

int cmd_slurm_estimate(const std::vector<std::string>& args) {
  auto options = plan_options();
  options.push_back({"--json", "", false});
  auto parsed = parse_slurm_args("slurm estimate", args, options);
  auto built = build_plan(parsed, true);
  const auto& job = built.job;
  const auto& p = built.plan;
  const auto& settings = p.settings;
  if (!p.runtime_seconds)
    throw Error(job.script_path + ": no --time in the script and no --runtime given: spawn does not guess how long a task "
                "runs (add #SBATCH --time=HH:MM:SS, or pass --runtime 2h with the runtime you expect)");
  const auto* cat = &*built.catalog;
  const auto* candidates = &built.candidates;
  const auto& choice = candidates->front();

  catalog::EstimateInput input;
  input.tasks = p.tasks;
  input.nodes_per_task = p.nodes_per_task;
  input.runtime_seconds = p.runtime_seconds->value;
  if (p.max_concurrent) input.max_concurrent = p.max_concurrent->value;
  input.boot_overhead_seconds = settings.boot_overhead;
  input.spot_per_hour = choice.price.spot_per_hour;
  input.on_demand_per_hour = choice.price.on_demand_per_hour;
  auto est = catalog::estimate_run(input);
  if (!est) throw Error(job.script_path + ": " + est.error());

  // The cluster side: the same work, the configured queue wait, the institution's rates.
  auto task_seconds = catalog::task_seconds(p.tasks, p.runtime_seconds->value);
  catalog::ClusterUsage usage{p.tasks, p.nodes_per_task, p.node.vcpus, p.node.gpus, p.runtime_seconds->value};
  catalog::InstitutionalRates rates{settings.institutional_rate.core_hour, settings.institutional_rate.gpu_hour};
  auto institutional = catalog::institutional_cost(usage, rates);
  // On the cluster the tasks also run at most max_concurrent at a time; without a limit, all at once.
  std::int64_t cluster_run = est->waves * p.runtime_seconds->value;
  // The queue wait: --queue-time on the command line when given; else measured with `sbatch --test-only` (no job is
  // created) when a cluster is reachable; else the configured guess (queue_time).
  std::optional<config::DurationRange> queue = settings.queue_time;
  std::string queue_source = settings.queue_time ? std::string(settings.origin("queue_time")) : "";
  std::optional<providers::slurm::TestOnly> measured;
  std::int64_t test_latency_ms = 0;
  std::string not_measured;
  if (settings.origin("queue_time") == "command line") {
    not_measured = "--queue-time given on the command line";
  } else if (auto up = providers::slurm::reachable(); !up) {
    not_measured = up.error();
  } else {
    auto probe = parsed.request.command_line;
    probe.push_back("--dependency=");  // the job's own wait, whatever it would wait for
    auto asked = std::chrono::steady_clock::now();
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto t = providers::slurm::test_only(job.script_path, probe, std::filesystem::current_path());
    test_latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - asked).count();
    if (!t) {
      not_measured = t.error();
    } else {
      measured = *t;
      auto wait = std::max<std::int64_t>(0, t->start_time - now);
      queue = config::DurationRange{wait, wait};
      queue_source = "sbatch --test-only: start " + t->start_text + " on " + t->nodes + " in partition " + t->partition +
                     (t->beyond_horizon ? ", beyond Slurm's horizon (jobs ahead have no time limit; counted as a year)" : "");
    }
  }
  std::optional<catalog::QueueTimeRange> saved;
  if (queue) saved = catalog::time_saved({queue->min, queue->max}, cluster_run, est->wall_seconds);

  const auto market = settings.market;
  auto chosen_cost = market == Market::spot ? est->spot_cost : est->on_demand_cost;
  std::vector<std::string> assumptions;
  assumptions.push_back("each task runs for " + span(p.runtime_seconds->value) + " (" + p.runtime_seconds->source + ")");
  assumptions.push_back("each instance bills " + span(settings.boot_overhead) + " of boot before its task starts (boot_overhead, " +
                        std::string(settings.origin("boot_overhead")) + ")");
  assumptions.push_back("EC2 bills Linux instances per second with a 60 s minimum; storage and data transfer are not included");
  assumptions.push_back(std::string("spot prices are the ") + settings.region +
                        " zone summary of the catalog snapshot; spot capacity and price can change, and interrupted tasks run again");
  if (p.max_concurrent) assumptions.push_back("at most " + std::to_string(p.max_concurrent->value) + " tasks at a time (" + p.max_concurrent->source + ")");
  else assumptions.push_back("all tasks start at once (no %throttle or max_concurrent)");
  for (const auto& n : p.notes) assumptions.push_back(n);

  // The working directory that travels with the job (files and bytes; S3 requests are not priced here).
  std::optional<providers::aws::Tree> files;
  if (p.run.workdir.travel) {
    auto tree = providers::aws::travelling_files(p.run, engine::data_home(), false);
    if (!tree) throw Error(util::split(tree.error(), '\n'));
    files = std::move(*tree);
  }
  if (files)
    assumptions.push_back("the working directory uploads at " +
                          std::to_string(providers::aws::k_estimate_upload_bits_per_second / 1'000'000) +
                          " Mbit/s, once per job and only what S3 does not hold yet; S3 storage and requests are not included");

  if (parsed.has("--json")) {
    json j;
    j["region"] = settings.region;
    j["market"] = to_string(market);
    j["instance_type"] = choice.type.name;
    json cands = json::array();
    for (const auto& c : *candidates) {
      cands.push_back({{"instance_type", c.type.name},
                       {"vcpus", c.type.vcpus},
                       {"memory_gib", static_cast<double>(c.type.memory_mib) / 1024.0},
                       {"gpus", c.type.accelerator_count},
                       {"gpu_model", c.type.accelerator_model.empty() ? json(nullptr) : json(c.type.accelerator_model)},
                       {"arch", to_string(c.type.arch)},
                       {"price_per_hour_usd", static_cast<double>(c.price_per_hour) / 1e6},
                       {"spot_price_per_hour_usd", c.price.spot_per_hour ? json(static_cast<double>(*c.price.spot_per_hour) / 1e6) : json(nullptr)},
                       {"on_demand_price_per_hour_usd", c.price.on_demand_per_hour ? json(static_cast<double>(*c.price.on_demand_per_hour) / 1e6) : json(nullptr)}});
    }
    j["candidates"] = cands;
    j["requirements_per_node"] = {{"vcpus", p.node.vcpus},
                                  {"memory_mib", p.node.whole_node_memory ? json(nullptr) : json(p.node.memory_mib)},
                                  {"whole_node_memory", p.node.whole_node_memory},
                                  {"gpus", p.node.gpus},
                                  {"gpu_model", p.node.gpu_model ? json(*p.node.gpu_model) : json(nullptr)}};
    j["tasks"] = p.tasks;
    j["nodes_per_task"] = p.nodes_per_task;
    j["instances"] = est->instances;
    j["max_concurrent"] = p.max_concurrent ? json(p.max_concurrent->value) : json(nullptr);
    j["waves"] = est->waves;
    j["runtime_seconds"] = p.runtime_seconds->value;
    j["runtime_source"] = p.runtime_seconds->source;
    j["boot_overhead_seconds"] = settings.boot_overhead;
    j["wall_time_seconds"] = est->wall_seconds;
    j["instance_hours"] = std::round(catalog::instance_hours(est->instance_seconds) * 10) / 10;
    j["cost_usd"] = {{"spot", est->spot_cost ? json(dollars(*est->spot_cost)) : json(nullptr)},
                     {"on_demand", est->on_demand_cost ? json(dollars(*est->on_demand_cost)) : json(nullptr)}};
    j["cost_per_task_usd"] = {{"spot", est->spot_cost_per_task ? json(static_cast<double>(*est->spot_cost_per_task) / 1e6) : json(nullptr)},
                              {"on_demand", est->on_demand_cost_per_task ? json(static_cast<double>(*est->on_demand_cost_per_task) / 1e6) : json(nullptr)}};
    j["price_date"] = cat->snapshot_date();
    j["price_source"] = cat->origin();
    json cluster;
    cluster["queue_time_seconds"] = queue ? json::array({queue->min, queue->max}) : json(nullptr);
    cluster["run_time_seconds"] = cluster_run;
    cluster["task_hours"] = std::round(static_cast<double>(task_seconds) / 360.0) / 10;
    cluster["cost_usd"] = institutional ? json(dollars(*institutional)) : json(nullptr);
    cluster["source"] = queue ? json(queue_source) : json(nullptr);
    cluster["test_only"] = measured ? json{{"start_time", measured->start_time}, {"start_text", measured->start_text},
                                           {"beyond_horizon", measured->beyond_horizon}, {"processors", measured->processors},
                                           {"nodes", measured->nodes}, {"partition", measured->partition},
                                           {"latency_ms", test_latency_ms}}
                                    : json(nullptr);
    cluster["not_measured"] = measured ? json(nullptr) : json(not_measured);
    cluster["time_saved_seconds"] = saved ? json::array({saved->min_seconds, saved->max_seconds}) : json(nullptr);
    j["cluster"] = cluster;
    j["workdir"] = {{"travel", p.run.workdir.travel},
                    {"path", p.run.work_dir},
                    {"files", files ? json(files->files()) : json(nullptr)},
                    {"bytes", files ? json(files->bytes()) : json(nullptr)},
                    {"upload_seconds", files ? json(providers::aws::upload_seconds(files->bytes())) : json(nullptr)}};
    j["assumptions"] = assumptions;
    std::cout << dump_json(j) << "\n";
    return 0;
  }

  auto row = [](const std::string& key, const std::string& value) {
    std::cout << key << std::string(key.size() < 25 ? 25 - key.size() : 1, ' ') << value << "\n";
  };
  row("Slurm job analysis:", job_summary(job, p));
  std::vector<std::string> fallbacks;
  for (std::size_t i = 1; i < candidates->size(); ++i) fallbacks.push_back((*candidates)[i].type.name);
  row("Spawn translation:", describe_type(choice.type) + " " + to_string(market) + " in " + settings.region + " at " +
                                "$" + format_usd(choice.price_per_hour) + "/h" +
                                (fallbacks.empty() ? "" : "; fallbacks " + util::join(fallbacks, ", ")));
  std::string scale = std::to_string(est->instances) + " instance" + (est->instances == 1 ? "" : "s");
  if (p.nodes_per_task > 1) scale += " (" + std::to_string(p.nodes_per_task) + " per task)";
  scale += ", " + (p.max_concurrent ? std::to_string(est->concurrent_tasks) + " task" + (est->concurrent_tasks == 1 ? "" : "s") + " at a time"
                                    : std::string("all at once"));
  scale += " -> " + std::to_string(est->waves) + " wave" + (est->waves == 1 ? "" : "s") + ", wall time " + span(est->wall_seconds);
  row("", scale);
  std::string cost;
  if (est->spot_cost) cost += money(*est->spot_cost) + " spot";
  if (est->on_demand_cost) cost += (cost.empty() ? "" : " (") + money(*est->on_demand_cost) + " on-demand" + (cost.empty() ? "" : ")");
  cost += ", " + one_decimal(catalog::instance_hours(est->instance_seconds)) + " instance-hours, prices of " + cat->snapshot_date() +
          (cat->origin() == "built-in" ? "" : " (" + cat->origin() + ")");
  row("Estimated cost:", cost);
  if (chosen_cost) {
    auto per_task = market == Market::spot ? est->spot_cost_per_task : est->on_demand_cost_per_task;
    row("", "per task " + (per_task ? money(*per_task) : std::string("?")) + " (" + std::to_string(p.nodes_per_task) + " x " +
                span(est->billed_seconds_per_instance) + " billed at " + "$" + format_usd(choice.price_per_hour) + "/h)");
  }
  std::string cluster;
  if (queue) {
    cluster = "queue " + (queue->min == queue->max ? config::format_duration(queue->min) : config::format_duration_range(*queue)) +
              " (" + queue_source + "), ";
  } else {
    cluster = "queue time unknown (set queue_time in the config or pass --queue-time 2h-24h), ";
  }
  cluster += one_decimal(static_cast<double>(task_seconds) / 3600.0) + " task-hours, " +
             (institutional ? money(*institutional) : std::string("?")) + " institutional";
  if (saved) {
    auto lo = saved->min_seconds, hi = saved->max_seconds;
    if (lo >= 0) cluster += "; cloud finishes " + span(lo) + (hi != lo ? " to " + span(hi) : "") + " sooner";
    else if (hi <= 0) cluster += "; the cluster finishes " + span(-hi) + (hi != lo ? " to " + span(-lo) : "") + " sooner";
    else cluster += "; cloud finishes between " + span(-lo) + " later and " + span(hi) + " sooner";
  }
  row("Cluster comparison:", cluster);
  row("Working directory:", files ? p.run.work_dir + ": " + providers::aws::describe_size(files->files(), files->bytes()) +
                                        " travel with the job (upload about " +
                                        span(providers::aws::upload_seconds(files->bytes())) + ")"
                                  : p.run.work_dir + " stays here (workdir.travel = false)");
  if (!measured) row("", "queue not measured: " + not_measured);
  std::cout << "Assumptions:\n";
  for (const auto& a : assumptions) std::cout << "  - " << a << "\n";

  if (interactive()) {
    std::cout << "Would you like to proceed? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    auto a = util::to_lower(util::trim(answer));
    if (a == "y" || a == "yes") {
      // Submit exactly as `spawn slurm submit` would, with the same arguments less the estimate-only ones;
      // the answer just given is the confirmation.
      std::vector<std::string> submit_args;
      for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& w = args[i];
        if (w == "--runtime" || w == "--queue-time") {
          ++i;
          continue;
        }
        if (w.rfind("--runtime=", 0) == 0 || w.rfind("--queue-time=", 0) == 0) continue;
        submit_args.push_back(w);
      }
      submit_args.push_back("--yes");
      return cmd_slurm_submit(submit_args);
    }
  }
  return 0;
}

} // namespace spawn::cli
