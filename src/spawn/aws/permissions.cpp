#include "aws/permissions.hpp"

#include <map>

namespace spawn::aws {

const std::vector<Permission>& client_permissions() {
  static const std::vector<Permission> table = {
      {"RunInstances", "ec2:RunInstances", Scope::launch},
      {"CreateTags", "ec2:CreateTags", Scope::tag_on_create},
      {"TerminateInstances", "ec2:TerminateInstances", Scope::managed},
      {"DescribeInstances", "ec2:DescribeInstances", Scope::any},
      {"DescribeInstanceTypes", "ec2:DescribeInstanceTypes", Scope::any},
      {"DescribeSpotPriceHistory", "ec2:DescribeSpotPriceHistory", Scope::any},
      {"DescribeAvailabilityZones", "ec2:DescribeAvailabilityZones", Scope::any},
      {"DescribeSubnets", "ec2:DescribeSubnets", Scope::any},
      {"DescribeVpcs", "ec2:DescribeVpcs", Scope::any},
      {"DescribeSecurityGroups", "ec2:DescribeSecurityGroups", Scope::any},
      {"CreateSecurityGroup", "ec2:CreateSecurityGroup", Scope::any},
      {"AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress", Scope::managed},
      {"CreatePlacementGroup", "ec2:CreatePlacementGroup", Scope::any},
      {"DeletePlacementGroup", "ec2:DeletePlacementGroup", Scope::managed},
      {"DescribePlacementGroups", "ec2:DescribePlacementGroups", Scope::any},
      {"DeleteSecurityGroup", "ec2:DeleteSecurityGroup", Scope::managed},
      {"GetParameter", "ssm:GetParameter", Scope::public_parameter},
      {"GetProducts", "pricing:GetProducts", Scope::any},
      {"GetCallerIdentity", "sts:GetCallerIdentity", Scope::none},
      {"CreateBucket", "s3:CreateBucket", Scope::bucket},
      {"ListObjectsV2", "s3:ListBucket", Scope::bucket},
      {"PutObject", "s3:PutObject", Scope::objects},
      {"CreateMultipartUpload", "s3:PutObject", Scope::objects},
      {"UploadPart", "s3:PutObject", Scope::objects},
      {"CompleteMultipartUpload", "s3:PutObject", Scope::objects},
      {"AbortMultipartUpload", "s3:AbortMultipartUpload", Scope::objects},
      {"GetObject", "s3:GetObject", Scope::objects},
      {"HeadObject", "s3:GetObject", Scope::objects},
      {"DeleteObjects", "s3:DeleteObject", Scope::objects},
      {"HeadBucket", "s3:ListBucket", Scope::bucket},
      {"GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock", Scope::bucket},
      {"PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", Scope::bucket},
      {"GetBucketEncryption", "s3:GetEncryptionConfiguration", Scope::bucket},
      {"PutBucketEncryption", "s3:PutEncryptionConfiguration", Scope::bucket},
      {"GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration", Scope::bucket},
      {"PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration", Scope::bucket},
      {"GetRole", "iam:GetRole", Scope::iam_setup},
      {"CreateRole", "iam:CreateRole", Scope::iam_setup},
      {"GetRolePolicy", "iam:GetRolePolicy", Scope::iam_setup},
      {"PutRolePolicy", "iam:PutRolePolicy", Scope::iam_setup},
      {"GetInstanceProfile", "iam:GetInstanceProfile", Scope::iam_setup},
      {"CreateInstanceProfile", "iam:CreateInstanceProfile", Scope::iam_setup},
      {"AddRoleToInstanceProfile", "iam:AddRoleToInstanceProfile", Scope::iam_setup},
  };
  return table;
}

namespace {

using nlohmann::json;

json actions(Scope scope, std::string_view service_prefix = {}) {
  json out = json::array();
  for (const auto& p : client_permissions()) {
    if (p.scope != scope || (!service_prefix.empty() && !p.action.starts_with(service_prefix))) continue;
    if (std::find(out.begin(), out.end(), json(p.action)) == out.end()) out.push_back(p.action);
  }
  return out;
}

} // namespace

json user_policy(const PolicyInputs& in) {
  const std::string ec2 = "arn:aws:ec2:" + in.region + ":*:";
  const json managed_tag = {{"StringEquals", {{"aws:RequestTag/spawn:managed", "true"}}}};
  json statements = json::array();
  auto add = [&](std::string sid, json action, json resource, json condition = nullptr) {
    if (action.empty()) return;
    json s = {{"Sid", sid}, {"Effect", "Allow"}, {"Action", action}, {"Resource", resource}};
    if (!condition.is_null()) s["Condition"] = condition;
    statements.push_back(s);
  };
  add("SpawnDescribeAndPrices", actions(Scope::any), "*");
  // RunInstances authorises every resource it touches; only the instance itself must be tagged spawn:managed.
  add("SpawnLaunchTaggedInstances", actions(Scope::launch), ec2 + "instance/*", managed_tag);
  add("SpawnLaunchResources", actions(Scope::launch),
      json::array({ec2 + "image/*", ec2 + "subnet/*", ec2 + "network-interface/*", ec2 + "security-group/*",
                   ec2 + "volume/*", ec2 + "key-pair/*", ec2 + "placement-group/*",
                   ec2 + "spot-instances-request/*", "arn:aws:ec2:" + in.region + "::image/*"}));
  add("SpawnTagOnCreate", actions(Scope::tag_on_create), ec2 + "*/*",
      {{"StringEquals", {{"ec2:CreateAction", {"RunInstances", "CreateSecurityGroup", "CreatePlacementGroup"}}}}});
  add("SpawnManagedOnly", actions(Scope::managed), ec2 + "*/*",
      {{"StringEquals", {{"ec2:ResourceTag/spawn:managed", "true"}}}});
  add("SpawnPublicAmiParameters", actions(Scope::public_parameter),
      "arn:aws:ssm:" + in.region + "::parameter/aws/service/*");
  const std::string bucket = "arn:aws:s3:::" + in.bucket;
  add("SpawnBucket", actions(Scope::bucket), bucket,
      {{"StringLikeIfExists", {{"s3:prefix", {in.prefix + "/*", in.prefix}}}}});
  add("SpawnObjects", actions(Scope::objects), bucket + "/" + in.prefix + "/*");
  // `spawn aws setup`: the instance role and profile, by name (tags cannot scope IAM's Get* and Add* actions).
  add("SpawnSetupInstanceRole", actions(Scope::iam_setup),
      json::array({"arn:aws:iam::*:role/spawn-*", "arn:aws:iam::*:instance-profile/spawn-*"}));
  if (in.instance_profile)
    add("SpawnPassInstanceRole", json::array({"iam:PassRole"}), "arn:aws:iam::*:role/*",
        {{"StringEquals", {{"iam:PassedToService", "ec2.amazonaws.com"}}}});
  return {{"Version", "2012-10-17"}, {"Statement", statements}};
}

json instance_policy(const PolicyInputs& in) {
  const std::string bucket = "arn:aws:s3:::" + in.bucket;
  return {{"Version", "2012-10-17"},
          {"Statement", json::array({{{"Sid", "SpawnJobObjects"},
                                      {"Effect", "Allow"},
                                      {"Action", json::array({"s3:GetObject", "s3:PutObject"})},
                                      {"Resource", bucket + "/" + in.prefix + "/*"}},
                                     {{"Sid", "SpawnJobListing"},
                                      {"Effect", "Allow"},
                                      {"Action", json::array({"s3:ListBucket"})},
                                      {"Resource", bucket},
                                      {"Condition", {{"StringLike", {{"s3:prefix", {in.prefix + "/*"}}}}}}}})}};
}

json instance_trust_policy() {
  return {{"Version", "2012-10-17"},
          {"Statement", json::array({{{"Effect", "Allow"},
                                      {"Principal", {{"Service", "ec2.amazonaws.com"}}},
                                      {"Action", "sts:AssumeRole"}}})}};
}

} // namespace spawn::aws
