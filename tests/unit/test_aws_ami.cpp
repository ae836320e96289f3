// The default AMI per instance type: Amazon Linux 2023, the Deep Learning Base AMI for NVIDIA GPU types, arm64
// variants for Graviton types.
#include <gtest/gtest.h>

#include "providers/aws/ami.hpp"

using namespace spawn::aws;
using namespace spawn::providers::aws;

namespace {

InstanceTypeInfo type(std::vector<std::string> archs, std::vector<AcceleratorInfo> accelerators = {}) {
  InstanceTypeInfo t;
  t.architectures = std::move(archs);
  t.accelerators = std::move(accelerators);
  return t;
}

} // namespace

TEST(AwsAmi, DefaultParameterPerArchitectureAndGpu) {
  EXPECT_STREQ(k_al2023_x86_64, "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64");
  EXPECT_EQ(default_ami_parameter(type({"x86_64"})), k_al2023_x86_64);
  EXPECT_EQ(default_ami_parameter(type({"i386", "x86_64"})), k_al2023_x86_64);
  EXPECT_EQ(default_ami_parameter(type({"arm64"})), k_al2023_arm64);
  EXPECT_EQ(default_ami_parameter(type({"x86_64"}, {{"gpu", "T4", "NVIDIA", 1, 16384}})),
            "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id");
  EXPECT_EQ(default_ami_parameter(type({"arm64"}, {{"gpu", "T4g", "NVIDIA", 1, 16384}})),
            "/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id");
  // Accelerators without NVIDIA's driver stack keep the plain AMI (the DLAMI's driver is of no use to them).
  EXPECT_EQ(default_ami_parameter(type({"x86_64"}, {{"gpu", "Radeon Pro V520", "AMD", 1, 8192}})), k_al2023_x86_64);
  EXPECT_EQ(default_ami_parameter(type({"x86_64"}, {{"neuron", "Trainium", "", 16, 32768}})), k_al2023_x86_64);
}
