#include "cli/aws_view.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>

#include "catalog/catalog.hpp"
#include "cli/job_driver.hpp"
#include "cli/job_view.hpp"
#include "engine/engine.hpp"
#include "providers/aws/watch.hpp"

namespace spawn::cli {

namespace {

using json = nlohmann::ordered_json;
namespace aws = providers::aws;

constexpr std::int64_t k_minimum_billed_seconds = 60;  // EC2 Linux: per second, one minute at least

bool on_aws(const engine::JobRecord& job, const engine::TaskRecord& t) { return t.provider.value_or(job.provider) == "aws"; }

bool still_up(spawn::aws::InstanceState s) {
  return s == spawn::aws::InstanceState::pending || s == spawn::aws::InstanceState::running;
}

} // namespace

bool runs_on_aws(const engine::JobRecord& job, const std::vector<engine::TaskRecord>& tasks) {
  return std::any_of(tasks.begin(), tasks.end(), [&](const auto& t) { return on_aws(job, t); });
}

AwsJobView aws_job_view(const engine::JobRecord& job, const Plan& plan, const std::vector<engine::TaskRecord>& tasks,
                        bool live, std::int64_t now) {
  AwsJobView view;
  if (!runs_on_aws(job, tasks)) return view;
  auto catalog = catalog::load_catalog();
  if (catalog) view.price_date = catalog->snapshot_date();
  else view.problems.push_back("no prices: " + catalog.error());
  std::map<std::string, spawn::aws::Instance> instances;
  bool described = false;
  if (live) {
    auto watch = aws::JobWatch::open(plan);
    auto found = watch ? watch->instances(job.id) : Expected<std::map<std::string, spawn::aws::Instance>>(Unexpected(watch.error()));
    if (found) {
      instances = std::move(*found);
      described = true;
    } else {
      view.problems.push_back("instance states unknown: " + found.error());
    }
  }
  std::map<std::string, bool> unpriced;  // "c5.large spot" -> reported
  const auto job_dir = engine::job_directory(engine::data_home(), job.id);
  for (const auto& t : tasks) {
    if (!on_aws(job, t)) continue;
    AwsTaskView v;
    v.index = t.ref.index;
    v.id = format_task_id(t.ref, job.is_array);
    v.state = t.state;
    for (std::uint32_t attempt = 1; attempt <= t.attempt; ++attempt) {
      const auto dir = job_dir / (std::to_string(t.ref.index) + "." + std::to_string(attempt));
      auto used = aws::read_attempt_instance(dir);
      if (!used) continue;
      const bool latest = attempt == t.attempt;
      std::optional<MicroDollars> price;
      if (catalog)
        if (const auto* p = catalog->find_price(used->instance_type, plan.region)) price = p->price(used->market);
      if (!price && catalog && !unpriced[used->instance_type + " " + to_string(used->market)]) {
        unpriced[used->instance_type + " " + to_string(used->market)] = true;
        view.problems.push_back(used->instance_type + " has no " + to_string(used->market) + " price in " + plan.region +
                                " in the catalog of " + catalog->snapshot_date());
      }
      // Where the provider saw no end: the store's end of the task, or now while its instance is still up.
      auto it = instances.find(used->instance_id.substr(0, used->instance_id.find(',')));  // a multi-node task's rank 0
      bool up = !used->ended && (described ? it != instances.end() && still_up(it->second.state)
                                           : !(latest && engine::is_terminal(t.state)));
      std::int64_t end = used->ended ? *used->ended : up ? now : (latest && t.end_time ? *t.end_time : now);
      // A task queued behind others on its instance: billed from its own start once it ended, nothing before (the
      // instance's time is the running task's).
      std::int64_t billed = used->queued ? (used->ended ? std::max<std::int64_t>(0, end - used->launched) : 0)
                                         : std::max(k_minimum_billed_seconds, end - used->launched);
      billed *= used->nodes;  // instance-seconds
      MicroDollars cost = price ? static_cast<MicroDollars>(std::llround(static_cast<double>(*price) *
                                                                         static_cast<double>(billed) / 3600.0))
                                : 0;
      v.billed_seconds += billed;
      v.cost += cost;
      if (up) {
        v.billing = true;
        ++view.billing;
      }
      if (latest) {
        v.instance_id = used->instance_id;
        v.instance_type = used->instance_type;
        v.zone = used->zone;
        v.market = to_string(used->market);
        v.price_per_hour = price;
        v.tried = aws::attempt_tried(dir);
        if (it != instances.end()) v.instance_state = spawn::aws::to_string(it->second.state);
      }
    }
    view.total += v.cost;
    view.tasks.push_back(std::move(v));
  }
  return view;
}

json aws_task_json(const AwsTaskView& t) {
  auto text = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  return {{"instance_id", text(t.instance_id)},
          {"instance_type", text(t.instance_type)},
          {"zone", text(t.zone)},
          {"market", text(t.market)},
          {"instance_state", text(t.instance_state)},
          {"tried", text(t.tried)},
          {"billed_seconds", t.billed_seconds},
          {"price_per_hour_usd", t.price_per_hour ? json(static_cast<double>(*t.price_per_hour) / 1e6) : json(nullptr)},
          {"cost_usd", static_cast<double>(t.cost) / 1e6},
          {"cost_micro_usd", t.cost},
          {"billing", t.billing}};
}

json aws_cost_json(const AwsJobView& view) {
  return {{"usd", static_cast<double>(view.total) / 1e6},
          {"micro_usd", view.total},
          {"instances_running", view.billing},
          {"prices_of", view.price_date},
          {"problems", view.problems}};
}

std::string aws_node_text(const AwsTaskView& t) {
  if (t.instance_id.empty()) return "None";
  return t.instance_id + " (" + t.instance_type + " " + t.zone + " " + t.market + ")";
}

int print_aws_cost(const engine::JobRecord& job, const Plan& plan, const std::vector<engine::TaskRecord>& tasks,
                   bool as_json) {
  bool running = std::any_of(tasks.begin(), tasks.end(), [](const auto& t) { return !engine::is_terminal(t.state); });
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto view = aws_job_view(job, plan, tasks, running, now);
  if (as_json) {
    json rows = json::array();
    for (const auto& t : view.tasks) {
      auto row = aws_task_json(t);
      row["id"] = t.id;
      row["state"] = to_string(t.state);
      rows.push_back(row);
    }
    std::cout << dump_json({{"job_id", job.id}, {"provider", "aws"}, {"region", plan.region}, {"cost", aws_cost_json(view)},
                            {"tasks", rows}})
              << "\n";
    return 0;
  }
  std::cout << "Job " << job.id << " (" << job.name << ") on aws in " << plan.region << ": instance time x catalog price of "
            << view.price_date << " (per second, 60 s minimum)\n";
  std::vector<std::vector<std::string>> table{{"TASK", "STATE", "INSTANCE", "POOL", "BILLED", "PRICE/H", "COST"}};
  for (const auto& t : view.tasks)
    table.push_back({t.id, to_string(t.state), t.instance_id.empty() ? "-" : t.instance_id + (t.billing ? " (running)" : ""),
                     t.instance_type.empty() ? "-" : t.instance_type + "/" + t.zone + "/" + t.market,
                     format_elapsed(t.billed_seconds), t.price_per_hour ? "$" + format_usd(*t.price_per_hour) : "-",
                     "$" + format_usd(t.cost)});
  std::vector<std::size_t> width(table.front().size(), 0);
  for (const auto& r : table)
    for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  for (const auto& r : table) {
    std::string line;
    for (std::size_t c = 0; c < r.size(); ++c) line += r[c] + (c + 1 < r.size() ? std::string(width[c] - r[c].size() + 2, ' ') : "");
    std::cout << line << "\n";
  }
  std::cout << "Total: $" << format_usd(view.total) << (view.billing ? " so far (" + std::to_string(view.billing) + " instance(s) still running)" : "")
            << "\n";
  for (const auto& problem : view.problems) std::cout << "note: " << problem << "\n";
  return 0;
}

} // namespace spawn::cli
