#include "core/resources.hpp"

namespace spawn {

const char* to_string(Arch arch) { return arch == Arch::x86_64 ? "x86_64" : "arm64"; }
const char* to_string(Market market) { return market == Market::spot ? "spot" : "on-demand"; }

const char* to_string(ContainerRuntime runtime) {
  switch (runtime) {
  case ContainerRuntime::auto_detect: return "auto";
  case ContainerRuntime::docker: return "docker";
  case ContainerRuntime::podman: return "podman";
  case ContainerRuntime::apptainer: return "apptainer";
  }
  return "auto";
}

std::optional<ContainerRuntime> container_runtime_from(std::string_view text) {
  for (auto r : {ContainerRuntime::auto_detect, ContainerRuntime::docker, ContainerRuntime::podman,
                 ContainerRuntime::apptainer}) {
    if (text == to_string(r)) return r;
  }
  return std::nullopt;
}

} // namespace spawn
