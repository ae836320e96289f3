#include "providers/aws/ami.hpp"

#include <algorithm>

#include "aws/services.hpp"

namespace spawn::providers::aws {

using namespace spawn::aws;

std::string default_ami_parameter(const InstanceTypeInfo& type) {
  const auto& archs = type.architectures;
  const bool arm = std::find(archs.begin(), archs.end(), "arm64") != archs.end() &&
                   std::find(archs.begin(), archs.end(), "x86_64") == archs.end();
  const bool nvidia = std::any_of(type.accelerators.begin(), type.accelerators.end(), [](const AcceleratorInfo& a) {
    return a.info == "gpu" && a.manufacturer == "NVIDIA" && a.count > 0;
  });
  if (nvidia) return arm ? k_dlami_arm64 : k_dlami_x86_64;
  return arm ? k_al2023_arm64 : k_al2023_x86_64;
}

Expected<std::string> AmiResolver::resolve(const std::string& instance_type, const std::vector<std::string>& candidates) {
  if (!m_parameter_of_type.contains(instance_type)) {
    std::vector<std::string> names;
    for (const auto& c : candidates)
      if (!m_parameter_of_type.contains(c)) names.push_back(c);
    if (std::find(names.begin(), names.end(), instance_type) == names.end()) names.push_back(instance_type);
    auto described = Ec2Client(m_session).describe_instance_types(names);
    if (!described) return Unexpected("choosing the AMI for " + instance_type + ": " + described.error().to_string());
    for (const auto& info : *described) m_parameter_of_type[info.instance_type] = default_ami_parameter(info);
    if (!m_parameter_of_type.contains(instance_type))
      return Unexpected("choosing the AMI for " + instance_type + ": DescribeInstanceTypes does not know the type in " +
                        m_session->region());
  }
  const std::string& parameter = m_parameter_of_type[instance_type];
  if (auto it = m_image_of_parameter.find(parameter); it != m_image_of_parameter.end()) return it->second;
  auto value = SsmClient(m_session).get_parameter(parameter);
  if (!value) return Unexpected("default AMI for " + instance_type + ": " + value.error().to_string());
  m_image_of_parameter[parameter] = value->value;
  return value->value;
}

} // namespace spawn::providers::aws
