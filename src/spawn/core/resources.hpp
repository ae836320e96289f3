#pragma once
// What one node of a job needs, independent of Slurm syntax and of any cloud.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spawn {

enum class Arch { x86_64, arm64 };
const char* to_string(Arch arch);

enum class Market { spot, on_demand };
const char* to_string(Market market);

// What runs a task's container image: a daemon (docker, podman) or Apptainer; auto picks what the node has.
enum class ContainerRuntime { auto_detect, docker, podman, apptainer };
const char* to_string(ContainerRuntime runtime);  // "auto", "docker", "podman", "apptainer"
std::optional<ContainerRuntime> container_runtime_from(std::string_view text);

struct NodeRequirements {
  std::uint32_t vcpus = 1;
  std::uint64_t memory_mib = 0;        // 0: no memory requirement
  bool whole_node_memory = false;      // --mem=0: all the memory of the node (any size fits)
  bool exclusive = false;              // --exclusive: the whole node is the job's
  std::uint32_t gpus = 0;
  std::optional<std::string> gpu_model; // as the user wrote it ("a100", "tesla_v100"); nullopt = any CUDA GPU
};

} // namespace spawn
