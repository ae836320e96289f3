#include <gtest/gtest.h>

#include "core/instance.hpp"

using namespace spawn;

TEST(CoreInstance, FormatUsdKeepsTwoToSixDecimals) {
  EXPECT_EQ(format_usd(243100), "0.2431");
  EXPECT_EQ(format_usd(12000000), "12.00");
  EXPECT_EQ(format_usd(1), "0.000001");
  EXPECT_EQ(format_usd(0), "0.00");
  EXPECT_EQ(format_usd(-1500000), "-1.50");
  EXPECT_EQ(format_usd(360986950), "360.98695");
}

TEST(CoreInstance, KindAndArchNamesRoundTrip) {
  for (auto kind : {AcceleratorKind::none, AcceleratorKind::nvidia_gpu, AcceleratorKind::amd_gpu,
                    AcceleratorKind::inferentia, AcceleratorKind::trainium, AcceleratorKind::gaudi,
                    AcceleratorKind::fpga, AcceleratorKind::video, AcceleratorKind::other})
    EXPECT_EQ(accelerator_kind_from_string(to_string(kind)), kind);
  EXPECT_FALSE(accelerator_kind_from_string("gpu"));
  EXPECT_EQ(arch_from_string("arm64"), Arch::arm64);
  EXPECT_FALSE(arch_from_string("aarch64"));
}
