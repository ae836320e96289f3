#pragma once
// The IAM permissions spawn needs: one row per operation the client (aws/) can send, and the least-privilege
// policy document built from those rows (`spawn aws policy`). A unit test checks every operation the client sends
// has a row, so the policy cannot fall behind the code.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace spawn::aws {

// Where an action is allowed and under which condition.
enum class Scope {
  any,              // Resource "*" (Describe*, pricing; IAM cannot narrow them)
  launch,           // RunInstances: the instance must carry spawn:managed=true at launch, other resources free
  tag_on_create,    // CreateTags only as part of RunInstances / CreateSecurityGroup / CreatePlacementGroup
  managed,          // only resources tagged spawn:managed=true
  public_parameter, // the public AMI parameters under /aws/service/
  bucket,           // the bucket itself (create, list under the prefix)
  objects,          // objects under the bucket's prefix
  none,             // allowed to everyone (sts:GetCallerIdentity)
  iam_setup,        // `spawn aws setup`: only the role and instance profile named spawn-*
};

struct Permission {
  std::string_view operation; // as the client names it: "RunInstances", "ListObjectsV2"
  std::string_view action;    // the IAM action: "ec2:RunInstances", "s3:ListBucket"
  Scope scope;
};

// Every operation the client can send, with its IAM action.
const std::vector<Permission>& client_permissions();

struct PolicyInputs {
  std::string region = "*";
  std::string bucket = "*";  // "*" when no bucket is configured
  std::string prefix = "spawn";
  bool instance_profile = false; // add iam:PassRole (to EC2) for the instance profile's role
};

// The IAM policy document (Version 2012-10-17) for the user or role that runs spawn.
nlohmann::json user_policy(const PolicyInputs& inputs);

// The instance role's policy (what `spawn aws setup` attaches): objects under the bucket's prefix only. spawn's own
// runtime needs none of it (it reads and writes through presigned URLs); it is for the job's stage-in/out with the
// AWS CLI under the same prefix.
nlohmann::json instance_policy(const PolicyInputs& inputs);
// The trust policy letting EC2 assume the instance role.
nlohmann::json instance_trust_policy();

} // namespace spawn::aws
