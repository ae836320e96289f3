// spawn aws list / cleanup / policy: the instances spawn launched (found by their spawn:managed tag, so strays of a
// crashed supervisor too), terminating them and deleting multi-node jobs' leftover groups, and the IAM policy.
#include <unistd.h>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aws/ec2.hpp"
#include "aws/permissions.hpp"
#include "aws/session.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "util/error.hpp"

namespace spawn::cli {

namespace {

struct AwsArgs {
  std::optional<std::string> region;
  std::optional<std::string> job;
  std::optional<std::string> config_path;
  bool yes = false;
  bool dry_run = false;
  bool json = false;
};

AwsArgs parse(const std::string& command, const std::vector<std::string>& args, bool cleanup) {
  AwsArgs out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (auto eq = a.find('='); eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= args.size()) throw Error("spawn " + command + ": " + a + " needs a value").with_exit_status(2);
      return args[++i];
    };
    auto is = [&](const char* name) { return a == name || a.starts_with(std::string(name) + "="); };
    if (is("--region")) out.region = value();
    else if (is("--job")) out.job = value();
    else if (is("--config")) out.config_path = value();
    else if (a == "--json") out.json = true;
    else if (cleanup && (a == "--yes" || a == "-y")) out.yes = true;
    else if (cleanup && a == "--dry-run") out.dry_run = true;
    else throw Error("spawn " + command + ": unknown argument " + a + " (see spawn " + command + " --help)").with_exit_status(2);
  }
  return out;
}

config::Config load(const AwsArgs& args) {
  config::ConfigSources sources;
  if (args.config_path) sources.explicit_path = *args.config_path;
  sources.env = config::process_environment();
  return config::load_config(sources);
}

// The region: --region, else the config's when it was set, else the AWS CLI's chain (AWS_REGION, the profile).
std::shared_ptr<aws::Session> session_for(const AwsArgs& args, const config::Settings& settings) {
  aws::SessionOptions options;
  if (args.region) options.region = *args.region;
  else if (settings.is_set("region")) options.region = settings.region;
  auto session = aws::Session::create(std::move(options));
  if (!session) throw Error("AWS session: " + session.error().to_string());
  return *session;
}

std::vector<aws::Instance> managed_instances(aws::Ec2Client& ec2, const AwsArgs& args, const std::string& region) {
  aws::DescribeInstancesRequest request;
  request.filters = {{"tag:spawn:managed", {"true"}},
                     {"instance-state-name", {"pending", "running", "shutting-down", "stopping", "stopped"}}};
  if (args.job) request.filters.push_back({"tag:spawn:job", {*args.job}});
  auto found = ec2.describe_instances(request);
  if (!found) throw Error("listing spawn's instances in " + region + ": " + found.error().to_string());
  std::vector<aws::Instance> out;
  for (auto& inst : *found)
    if (inst.state != aws::InstanceState::terminated) out.push_back(std::move(inst));
  return out;
}

void print(const std::vector<aws::Instance>& instances, const std::string& region, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& i : instances)
      out.push_back({{"id", i.id}, {"type", i.instance_type}, {"state", aws::to_string(i.state)},
                     {"job", i.tag("spawn:job")}, {"task", i.tag("spawn:task")}, {"launch_time", i.launch_time},
                     {"zone", i.availability_zone}, {"spot", i.spot}});
    std::cout << out.dump(2) << "\n";
    return;
  }
  if (instances.empty()) {
    std::cout << "no instances of spawn in " << region << "\n";
    return;
  }
  std::printf("%-20s %-14s %-14s %-8s %s\n", "INSTANCE", "TYPE", "STATE", "JOB", "LAUNCHED");
  for (const auto& i : instances) {
    auto job = i.tag("spawn:job");
    std::printf("%-20s %-14s %-14s %-8s %s\n", i.id.c_str(), i.instance_type.c_str(), aws::to_string(i.state),
                job.empty() ? "-" : job.c_str(), i.launch_time.c_str());
  }
  std::fflush(stdout);
}

// A multi-node job's placement and security groups (tagged spawn:managed, spawn:job) outlive it only when its
// supervisor died: deleted here once their instances are gone (EC2 refuses while any is left).
struct Groups {
  std::vector<std::string> placement, security;  // names; ids
};

Groups managed_groups(aws::Ec2Client& ec2, const AwsArgs& args, const std::string& region) {
  std::vector<aws::Filter> filters = {{"tag:spawn:managed", {"true"}}};
  if (args.job) filters.push_back({"tag:spawn:job", {*args.job}});
  Groups out;
  auto placement = ec2.describe_placement_groups(filters);
  if (!placement) throw Error("listing spawn's placement groups in " + region + ": " + placement.error().to_string());
  for (const auto& g : *placement) out.placement.push_back(g.name);
  auto security = ec2.describe_security_groups({}, filters);
  if (!security) throw Error("listing spawn's security groups in " + region + ": " + security.error().to_string());
  for (const auto& g : *security) out.security.push_back(g.id);
  return out;
}

void delete_groups(aws::Ec2Client& ec2, const Groups& groups, const std::string& region) {
  std::size_t left = 0;
  for (const auto& id : groups.security) {
    if (auto r = ec2.delete_security_group(id); !r) {
      ++left;
      std::cerr << "security group " << id << " in " << region << " not deleted: " << r.error().to_string() << "\n";
    }
  }
  for (const auto& name : groups.placement) {
    if (auto r = ec2.delete_placement_group(name); !r) {
      ++left;
      std::cerr << "placement group " << name << " in " << region << " not deleted: " << r.error().to_string() << "\n";
    }
  }
  std::size_t done = groups.security.size() + groups.placement.size() - left;
  if (done) std::cerr << "deleted " << done << " group(s) of multi-node jobs in " << region << "\n";
  if (left) std::cerr << left << " group(s) still in use by instances shutting down: run spawn aws cleanup again\n";
}

} // namespace

int cmd_aws_list(const std::vector<std::string>& raw) {
  auto args = parse("aws list", raw, false);
  auto config = load(args);
  auto session = session_for(args, config.settings());
  aws::Ec2Client ec2(session);
  print(managed_instances(ec2, args, session->region()), session->region(), args.json);
  return 0;
}

int cmd_aws_cleanup(const std::vector<std::string>& raw) {
  auto args = parse("aws cleanup", raw, true);
  auto config = load(args);
  auto session = session_for(args, config.settings());
  const std::string region = session->region();
  aws::Ec2Client ec2(session);
  auto instances = managed_instances(ec2, args, region);
  print(instances, region, args.json);
  auto groups = managed_groups(ec2, args, region);
  const std::size_t group_count = groups.placement.size() + groups.security.size();
  std::vector<std::string> ids;
  for (const auto& i : instances)
    if (i.state != aws::InstanceState::shutting_down) ids.push_back(i.id);
  std::string what = "terminate " + std::to_string(ids.size()) + " instance(s)";
  if (group_count) what += " and delete " + std::to_string(group_count) + " placement/security group(s)";
  what += " in " + region;
  if ((ids.empty() && !group_count) || args.dry_run) {
    if (args.dry_run && (!ids.empty() || group_count)) std::cerr << "dry run: would " << what << "\n";
    return 0;
  }
  if (!args.yes) {
    if (!(::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO)))
      throw Error("aws cleanup: would " + what + "; not done: there is no terminal to confirm on (pass --yes)");
    std::cerr << what << "? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") {
      std::cerr << "nothing terminated\n";
      return 1;
    }
  }
  if (!ids.empty()) {
    auto changes = ec2.terminate_instances(ids); // the client sends them in batches of 500
    if (!changes) throw Error("terminating spawn's instances in " + region + ": " + changes.error().to_string());
    std::cerr << "terminating " << ids.size() << " instance(s) in " << region << "\n";
  }
  if (group_count) delete_groups(ec2, groups, region);
  return 0;
}

int cmd_aws_policy(const std::vector<std::string>& raw) {
  std::string who = "user";
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == "--for" && i + 1 < raw.size()) who = raw[++i];
    else if (raw[i].starts_with("--for=")) who = raw[i].substr(6);
    else rest.push_back(raw[i]);
  }
  if (who != "user" && who != "instance")
    throw Error("spawn aws policy: --for takes user or instance, got \"" + who + "\"").with_exit_status(2);
  auto args = parse("aws policy", rest, false);
  auto config = load(args);
  const auto& s = config.settings();
  aws::PolicyInputs inputs;
  inputs.region = args.region ? *args.region : (s.is_set("region") ? s.region : std::string("*"));
  inputs.bucket = s.aws.bucket.value_or("*");
  inputs.prefix = s.aws.prefix;
  inputs.instance_profile = s.aws.instance_profile.has_value();
  if (who == "instance") {
    // spawn's runtime needs none of it (presigned URLs, power-off); the job's own S3 use under the prefix does.
    std::cerr << "spawn: the runtime on the instances needs no IAM permission (it uses presigned S3 URLs and powers "
                 "off); this policy, which `spawn aws setup` attaches to the instance role, lets jobs read and write "
                 "under the bucket's prefix\n";
    std::cout << aws::instance_policy(inputs).dump(2) << "\n";
    return 0;
  }
  std::cout << aws::user_policy(inputs).dump(2) << "\n";
  return 0;
}

} // namespace spawn::cli
