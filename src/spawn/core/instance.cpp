#include "core/instance.hpp"

#include <array>
#include <utility>

namespace spawn {

namespace {
constexpr std::array<std::pair<AcceleratorKind, const char*>, 9> k_kind_names = {{
    {AcceleratorKind::none, "none"},
    {AcceleratorKind::nvidia_gpu, "nvidia-gpu"},
    {AcceleratorKind::amd_gpu, "amd-gpu"},
    {AcceleratorKind::inferentia, "inferentia"},
    {AcceleratorKind::trainium, "trainium"},
    {AcceleratorKind::gaudi, "gaudi"},
    {AcceleratorKind::fpga, "fpga"},
    {AcceleratorKind::video, "video"},
    {AcceleratorKind::other, "other"},
}};
} // namespace

const char* to_string(AcceleratorKind kind) {
  for (const auto& [k, name] : k_kind_names) {
    if (k == kind) return name;
  }
  return "other";
}

std::optional<AcceleratorKind> accelerator_kind_from_string(std::string_view text) {
  for (const auto& [k, name] : k_kind_names) {
    if (text == name) return k;
  }
  return std::nullopt;
}

std::optional<Arch> arch_from_string(std::string_view text) {
  if (text == "x86_64") return Arch::x86_64;
  if (text == "arm64") return Arch::arm64;
  return std::nullopt;
}

std::string format_usd(MicroDollars amount) {
  std::string sign = amount < 0 ? "-" : "";
  // Negating INT64_MIN would overflow; no real amount comes near it.
  auto magnitude = static_cast<std::uint64_t>(amount < 0 ? -amount : amount);
  std::string fraction = std::to_string(magnitude % 1'000'000);
  fraction.insert(0, 6 - fraction.size(), '0');
  while (fraction.size() > 2 && fraction.back() == '0') fraction.pop_back();
  return sign + std::to_string(magnitude / 1'000'000) + "." + fraction;
}

} // namespace spawn
