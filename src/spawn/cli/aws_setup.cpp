// spawn aws setup: creates what spawn needs in an account and region, idempotently: the S3 bucket (public access
// blocked, encrypted by default, spawn's objects expiring), a security group for the instances (no inbound traffic),
// and the instance role and profile with the instance policy. What exists is left as it is; --dry-run only reads.
#include <algorithm>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "aws/ec2.hpp"
#include "aws/iam.hpp"
#include "aws/permissions.hpp"
#include "aws/s3.hpp"
#include "aws/services.hpp"
#include "aws/session.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

namespace {

constexpr const char* k_s3_ns = "http://s3.amazonaws.com/doc/2006-03-01/";
constexpr const char* k_security_group = "spawn-instances";
constexpr const char* k_role = "spawn-instance";  // also the instance profile's and the inline policy's name
constexpr const char* k_lifecycle_rule = "spawn-expire";

struct SetupArgs {
  std::optional<std::string> region;
  std::optional<std::string> bucket;
  std::optional<std::string> config_path;
  int expire_days = 30;
  bool dry_run = false;
};

SetupArgs parse_args(const std::vector<std::string>& args) {
  SetupArgs out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (auto eq = a.find('='); eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= args.size()) throw Error("spawn aws setup: " + a + " needs a value").with_exit_status(2);
      return args[++i];
    };
    auto is = [&](const char* name) { return a == name || a.starts_with(std::string(name) + "="); };
    if (is("--region")) out.region = value();
    else if (is("--bucket")) out.bucket = value();
    else if (is("--config")) out.config_path = value();
    else if (is("--expire-days")) {
      std::string v = value();
      auto days = util::parse_int(v);
      if (!days || *days < 1 || *days > 36500)
        throw Error("spawn aws setup: --expire-days takes a number of days from 1 to 36500, got \"" + v + "\"").with_exit_status(2);
      out.expire_days = static_cast<int>(*days);
    } else if (a == "--dry-run") out.dry_run = true;
    else throw Error("spawn aws setup: unknown argument " + a + " (see spawn aws setup --help)").with_exit_status(2);
  }
  return out;
}

std::string xml_text(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw | pugi::format_no_declaration);
  return out.str();
}

// The lifecycle document with spawn's rule (objects under prefix/ expire after days) in place of an older one of
// the same ID, other rules kept; nullopt when the rule is already there as wanted.
std::optional<std::string> lifecycle_with_rule(const std::optional<std::string>& current, const std::string& prefix, int days) {
  pugi::xml_document doc;
  if (!current || !doc.load_string(current->c_str()) || !doc.child("LifecycleConfiguration")) {
    doc.reset();
    doc.append_child("LifecycleConfiguration").append_attribute("xmlns") = k_s3_ns;
  }
  auto root = doc.child("LifecycleConfiguration");
  for (auto rule = root.child("Rule"); rule;) {
    auto next = rule.next_sibling("Rule");
    if (std::string(rule.child_value("ID")) == k_lifecycle_rule) {
      if (std::string(rule.child("Filter").child_value("Prefix")) == prefix + "/" &&
          std::string(rule.child_value("Status")) == "Enabled" &&
          std::string(rule.child("Expiration").child_value("Days")) == std::to_string(days))
        return std::nullopt;
      root.remove_child(rule);
    }
    rule = next;
  }
  auto rule = root.append_child("Rule");
  rule.append_child("ID").text() = k_lifecycle_rule;
  rule.append_child("Filter").append_child("Prefix").text() = (prefix + "/").c_str();
  rule.append_child("Status").text() = "Enabled";
  rule.append_child("Expiration").append_child("Days").text() = days;
  rule.append_child("AbortIncompleteMultipartUpload").append_child("DaysAfterInitiation").text() = 1;
  return xml_text(doc);
}

bool all_public_access_blocked(const std::string& document) {
  pugi::xml_document doc;
  if (!doc.load_string(document.c_str())) return false;
  auto root = doc.child("PublicAccessBlockConfiguration");
  for (const char* name : {"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"})
    if (std::string(root.child_value(name)) != "true") return false;
  return true;
}

class Setup {
public:
  Setup(std::shared_ptr<aws::Session> session, bool dry_run)
      : m_session(std::move(session)), m_dry_run(dry_run), m_region(m_session->region()) {}

  // Runs a step: what exists is reported, what is missing created (or, in a dry run, named).
  void report(const std::string& what, const std::string& state) { std::cout << "  " << what << ": " << state << "\n"; }
  std::string would(const std::string& action) const { return m_dry_run ? "missing, would " + action : action; }
  [[noreturn]] void fail(const std::string& what, const aws::AwsError& e) {
    throw Error("aws setup: " + what + ": " + e.to_string());
  }

  void bucket(const std::string& name, const std::string& prefix, int days) {
    aws::S3Client s3(m_session);
    auto exists = s3.head_bucket(name);
    if (!exists) fail("bucket " + name, exists.error());
    if (!*exists) {
      report("bucket " + name, would("create in " + m_region));
      if (m_dry_run) {
        report("bucket " + name + " settings", "would block public access, encrypt by default (SSE-S3) and expire " +
                                                   prefix + "/ after " + std::to_string(days) + " days");
        return;
      }
      if (auto r = s3.create_bucket(name); !r) fail("creating bucket " + name, r.error());
      report("bucket " + name, "created in " + m_region);
    } else {
      report("bucket " + name, "exists");
    }
    // Each setting: what it is now, and the document to put when it is not as spawn wants it (nullopt: keep it).
    struct Step {
      aws::BucketSetting setting;
      std::string label, kept, action, failing;
      std::function<std::optional<std::string>(const std::optional<std::string>&)> wanted;
    };
    const std::string rule = prefix + "/ expires after " + std::to_string(days) + " days (rule " + k_lifecycle_rule + ")";
    const std::vector<Step> steps = {
        {aws::BucketSetting::public_access_block, "public access", "blocked", "block", "blocking public access to ",
         [](const std::optional<std::string>& now) -> std::optional<std::string> {
           if (now && all_public_access_blocked(*now)) return std::nullopt;
           return std::string("<PublicAccessBlockConfiguration xmlns=\"") + k_s3_ns +
                  "\"><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls>"
                  "<BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets>"
                  "</PublicAccessBlockConfiguration>";
         }},
        {aws::BucketSetting::encryption, "default encryption", "set (kept as it is)", "set SSE-S3 (AES256)",
         "setting the default encryption of ",
         [](const std::optional<std::string>& now) -> std::optional<std::string> {
           if (now) return std::nullopt;
           return std::string("<ServerSideEncryptionConfiguration xmlns=\"") + k_s3_ns +
                  "\"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
                  "</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>";
         }},
        {aws::BucketSetting::lifecycle, "lifecycle", rule, "set: " + rule, "setting the lifecycle of ",
         [&](const std::optional<std::string>& now) { return lifecycle_with_rule(now, prefix, days); }},
    };
    for (const auto& step : steps) {
      auto now = s3.get_bucket_setting(name, step.setting);
      if (!now) fail("bucket " + name + " " + step.label, now.error());
      auto doc = step.wanted(*now);
      if (!doc) {
        report(step.label, step.kept);
        continue;
      }
      report(step.label, would(step.action));
      if (!m_dry_run)
        if (auto r = s3.put_bucket_setting(name, step.setting, *doc); !r) fail(step.failing + name, r.error());
    }
  }

  // The group's id ("" in a dry run that would create it).
  std::string security_group(const std::vector<std::string>& subnets) {
    aws::Ec2Client ec2(m_session);
    std::string vpc;
    if (!subnets.empty()) {
      auto found = ec2.describe_subnets({subnets.front()});
      if (!found) fail("subnet " + subnets.front(), found.error());
      if (!found->empty()) vpc = found->front().vpc_id;
    } else {
      auto vpcs = ec2.describe_vpcs({}, {{"is-default", {"true"}}});
      if (!vpcs) fail("default VPC", vpcs.error());
      if (!vpcs->empty()) vpc = vpcs->front().id;
    }
    if (vpc.empty()) throw Error("aws setup: no default VPC in " + m_region + "; name subnets in the config (aws.subnets)");
    auto groups = ec2.describe_security_groups({}, {{"group-name", {k_security_group}}, {"vpc-id", {vpc}}});
    if (!groups) fail("security group " + std::string(k_security_group), groups.error());
    if (!groups->empty()) {
      report(std::string("security group ") + k_security_group, "exists (" + groups->front().id + " in " + vpc + ")");
      return groups->front().id;
    }
    report(std::string("security group ") + k_security_group, would("create in " + vpc + ", no inbound rules"));
    if (m_dry_run) return {};
    auto id = ec2.create_security_group(k_security_group, "spawn's instances: no inbound traffic, outbound only", vpc,
                                        {{"spawn:managed", "true"}, {"Name", k_security_group}});
    if (!id) fail("creating security group " + std::string(k_security_group), id.error());
    report(std::string("security group ") + k_security_group, "created (" + *id + ")");
    return *id;
  }

  void instance_profile(const nlohmann::json& policy) {
    aws::IamClient iam(m_session);
    const std::vector<aws::Tag> tags = {{"spawn:managed", "true"}};
    auto role = iam.get_role(k_role);
    if (!role) fail(std::string("role ") + k_role, role.error());
    bool role_exists = role->has_value();
    if (role_exists) {
      report(std::string("role ") + k_role, "exists");
    } else {
      report(std::string("role ") + k_role, would("create (assumed by ec2.amazonaws.com)"));
      if (!m_dry_run) {
        auto created = iam.create_role(k_role, aws::instance_trust_policy().dump(), "spawn's instances", tags);
        if (!created) fail(std::string("creating role ") + k_role, created.error());
        role_exists = true;
      }
    }
    std::optional<std::string> current;
    if (role_exists) {
      auto got = iam.get_role_policy(k_role, k_role);
      if (!got) fail(std::string("role policy ") + k_role, got.error());
      current = *got;
    }
    auto parsed = current ? nlohmann::json::parse(*current, nullptr, false) : nlohmann::json();
    if (current && parsed == policy) {
      report(std::string("role policy ") + k_role, "as `spawn aws policy --for instance` prints it");
    } else {
      report(std::string("role policy ") + k_role, would(current ? "replace with `spawn aws policy --for instance`"
                                                                 : "write `spawn aws policy --for instance`"));
      if (!m_dry_run)
        if (auto r = iam.put_role_policy(k_role, k_role, policy.dump()); !r)
          fail(std::string("writing role policy ") + k_role, r.error());
    }
    auto profile = iam.get_instance_profile(k_role);
    if (!profile) fail(std::string("instance profile ") + k_role, profile.error());
    std::vector<std::string> roles;
    if (*profile) {
      report(std::string("instance profile ") + k_role, "exists");
      roles = (*profile)->roles;
    } else {
      report(std::string("instance profile ") + k_role, would("create"));
      if (!m_dry_run)
        if (auto r = iam.create_instance_profile(k_role, tags); !r)
          fail(std::string("creating instance profile ") + k_role, r.error());
    }
    if (std::find(roles.begin(), roles.end(), k_role) != roles.end()) {
      report(std::string("instance profile role"), k_role);
    } else if (!roles.empty()) {
      throw Error(std::string("aws setup: instance profile ") + k_role + " holds role " + roles.front() + ", not " +
                  k_role + " (an instance profile holds one role); remove it or use another profile");
    } else {
      report("instance profile role", would(std::string("add ") + k_role));
      if (!m_dry_run)
        if (auto r = iam.add_role_to_instance_profile(k_role, k_role); !r)
          fail(std::string("adding role ") + k_role + " to its instance profile", r.error());
    }
  }

private:
  std::shared_ptr<aws::Session> m_session;
  bool m_dry_run;
  std::string m_region;
};

} // namespace

int cmd_aws_setup(const std::vector<std::string>& raw) {
  auto args = parse_args(raw);
  config::ConfigSources sources;
  if (args.config_path) sources.explicit_path = *args.config_path;
  sources.env = config::process_environment();
  const auto config = config::load_config(sources);
  const auto& s = config.settings();
  aws::SessionOptions options;
  if (args.region) options.region = *args.region;
  else if (s.is_set("region")) options.region = s.region;
  auto session = aws::Session::create(std::move(options));
  if (!session) throw Error("aws setup: AWS session: " + session.error().to_string());
  const std::string region = (*session)->region();

  auto who = aws::StsClient(*session).get_caller_identity();
  if (!who) throw Error("aws setup: " + who.error().to_string());
  const std::string bucket = args.bucket ? *args.bucket : s.aws.bucket.value_or("spawn-" + who->account + "-" + region);
  std::cout << "spawn aws setup in " << region << " (account " << who->account << ")"
            << (args.dry_run ? ", dry run: nothing is changed" : "") << ":\n";
  Setup setup(*session, args.dry_run);
  setup.bucket(bucket, s.aws.prefix, args.expire_days);
  const std::string group = setup.security_group(s.aws.subnets);
  aws::PolicyInputs inputs;
  inputs.region = region;
  inputs.bucket = bucket;
  inputs.prefix = s.aws.prefix;
  setup.instance_profile(aws::instance_policy(inputs));

  const bool named = s.aws.bucket == bucket && s.aws.instance_profile == std::string(k_role) && !group.empty() &&
                     std::find(s.aws.security_groups.begin(), s.aws.security_groups.end(), group) != s.aws.security_groups.end();
  if (named) {
    std::cout << "The config already names them.\n";
  } else {
    std::cout << "Add to the config (" << (config.file() ? config.file()->string() : std::string("the file `spawn config path` names")) << "):\n"
              << "defaults:\n  aws:\n    bucket: " << bucket << "\n    security_groups: ["
              << (group.empty() ? std::string("<the new group's id>") : group) << "]\n    instance_profile: " << k_role << "\n";
  }
  return 0;
}

} // namespace spawn::cli
