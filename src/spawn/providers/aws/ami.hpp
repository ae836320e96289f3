#pragma once
// Which AMI an instance type boots when the config names none: the current Amazon Linux 2023, or for NVIDIA GPU
// types the Deep Learning Base AMI with the NVIDIA driver (on Amazon Linux 2023), each in its arm64 variant for
// Graviton types; read from AWS's public SSM parameters.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aws/ec2.hpp"
#include "aws/session.hpp"
#include "util/error.hpp"

namespace spawn::providers::aws {

inline constexpr const char* k_al2023_x86_64 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
inline constexpr const char* k_al2023_arm64 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";
inline constexpr const char* k_dlami_x86_64 =
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id";
inline constexpr const char* k_dlami_arm64 =
    "/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id";

// The SSM parameter of the default AMI for a type as DescribeInstanceTypes describes it.
std::string default_ami_parameter(const spawn::aws::InstanceTypeInfo& type);

// Resolves the default AMI per instance type: the types are described once (all candidates in one call) and each
// parameter is read once.
class AmiResolver {
public:
  explicit AmiResolver(std::shared_ptr<spawn::aws::Session> session) : m_session(std::move(session)) {}
  // The AMI id for instance_type; candidates are the plan's types, described together on first use.
  Expected<std::string> resolve(const std::string& instance_type, const std::vector<std::string>& candidates);

private:
  std::shared_ptr<spawn::aws::Session> m_session;
  std::map<std::string, std::string> m_parameter_of_type;
  std::map<std::string, std::string> m_image_of_parameter;
};

} // namespace spawn::providers::aws
