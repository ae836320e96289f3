#pragma once
// IAM (Query API, Version 2010-05-08; global, signed for us-east-1): the instance role and instance profile
// `spawn aws setup` creates. tests/unit/test_aws_conformance.cpp checks every request against botocore's iam model.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/ec2.hpp"
#include "aws/session.hpp"

namespace spawn::aws {

struct IamRole {
  std::string name;
  std::string arn;
  std::string assume_role_policy;  // the trust policy document, URL-decoded
};

struct InstanceProfile {
  std::string name;
  std::string arn;
  std::vector<std::string> roles;  // role names
};

class IamClient {
public:
  explicit IamClient(std::shared_ptr<Session> session) : m_session(std::move(session)) {}
  // The role, or nullopt when IAM answers NoSuchEntity.
  Result<std::optional<IamRole>> get_role(const std::string& name);
  Result<IamRole> create_role(const std::string& name, const std::string& assume_role_policy,
                              const std::string& description, const std::vector<Tag>& tags);
  // The inline policy document (URL-decoded), or nullopt when the role has no policy of that name.
  Result<std::optional<std::string>> get_role_policy(const std::string& role, const std::string& policy_name);
  Result<void> put_role_policy(const std::string& role, const std::string& policy_name, const std::string& document);
  // The instance profile with its roles, or nullopt when it does not exist.
  Result<std::optional<InstanceProfile>> get_instance_profile(const std::string& name);
  Result<InstanceProfile> create_instance_profile(const std::string& name, const std::vector<Tag>& tags);
  Result<void> add_role_to_instance_profile(const std::string& profile, const std::string& role);

  // Sends one Query action (Action and Version are added) and returns the response body.
  Result<std::string> call(const std::string& action, QueryParams params);

private:
  std::shared_ptr<Session> m_session;
};

} // namespace spawn::aws
