#pragma once
// An aws job as the job commands show it (status, cost, cancel, a foreground submit's progress line): per task the
// instance it runs or ran on, its pool, what was tried before, and what it has cost so far: each attempt's instance
// time (EC2 bills per second with a 60 s minimum; from its launch to the end of its task, or to now while it runs)
// x the catalog price of its pool (spot or on-demand, in the plan's region).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/instance.hpp"
#include "core/plan.hpp"
#include "engine/store.hpp"

namespace spawn::cli {

struct AwsTaskView {
  std::uint64_t index = 0;
  std::string id;                              // "12_4"
  TaskState state = TaskState::pending;
  std::string instance_id, instance_type, zone, market;  // the latest attempt's; empty before its launch
  std::string instance_state;                  // EC2's, from DescribeInstances (live views only)
  std::string tried;                           // pools that failed before the latest attempt's, with why
  std::int64_t billed_seconds = 0;             // instance-seconds, every attempt (a multi-node task's: x its nodes)
  MicroDollars cost = 0;                       // every attempt
  std::optional<MicroDollars> price_per_hour;  // the latest attempt's pool; nullopt: not in the catalog
  bool billing = false;                        // its instance still runs
};

struct AwsJobView {
  std::vector<AwsTaskView> tasks;  // the job's tasks that run on aws (all of them, or a hybrid job's cloud half)
  MicroDollars total = 0;
  std::uint64_t billing = 0;       // instances still running
  std::string price_date;          // the catalog's snapshot date
  std::vector<std::string> problems;  // why the view may be incomplete (AWS unreachable, a type not in the catalog)
};

// Whether any task of job runs on the aws provider.
bool runs_on_aws(const engine::JobRecord& job, const std::vector<engine::TaskRecord>& tasks);
// The view from the provider's records in the job's directory; live: also EC2's instance states from one
// tag-filtered DescribeInstances for the whole job (no call per task).
AwsJobView aws_job_view(const engine::JobRecord& job, const Plan& plan, const std::vector<engine::TaskRecord>& tasks,
                        bool live, std::int64_t now);
// {"instance_id", "instance_type", "zone", "market", "instance_state", "tried", "billed_seconds",
//  "price_per_hour_usd", "cost_usd", "cost_micro_usd", "billing"}.
nlohmann::ordered_json aws_task_json(const AwsTaskView& task);
// {"usd", "micro_usd", "instances_running", "prices_of", "problems"}.
nlohmann::ordered_json aws_cost_json(const AwsJobView& view);
// "i-0abc (c5.large us-east-1a spot)": a running task's node in squeue's NODELIST(REASON) column.
std::string aws_node_text(const AwsTaskView& task);
// `spawn cost JOB` for a job that runs on aws: per task its instance, pool, billed time, price and cost, and the
// total (live: EC2's instance states while it runs). Prints a table, or JSON; returns the exit status.
int print_aws_cost(const engine::JobRecord& job, const Plan& plan, const std::vector<engine::TaskRecord>& tasks,
                   bool as_json);

} // namespace spawn::cli
