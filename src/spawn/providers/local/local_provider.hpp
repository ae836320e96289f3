#pragma once
// The local provider: runs each task as a detached process tree on this machine, through the on-node runtime
// (runtime/runtime.sh), with N emulated nodes for multi-node jobs. The default provider; needs no account.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/provider.hpp"

namespace spawn::providers::local {

struct LocalOptions {
  std::optional<std::uint32_t> cpus;       // CPUs to schedule on; nullopt: this machine's (sched_getaffinity)
  std::optional<std::uint64_t> memory_mb;  // memory to check requests against; nullopt: MemTotal
  std::uint32_t kill_wait_seconds = 30;    // SIGTERM -> SIGKILL at a time limit or cancel (Slurm's KillWait)
  std::string node_prefix = "spawn-";      // emulated node names of multi-node jobs ("spawn-0", "spawn-1", ...)
};

// This machine's CPUs available to this process, at least 1.
std::uint32_t machine_cpus();
// NVIDIA GPUs of this machine (/dev/nvidiaN devices).
std::uint32_t machine_gpus();
// This machine's memory in MB (MemTotal), 0 if unknown.
std::uint64_t machine_memory_mb();
// This machine's short host name (what Slurm calls the node).
std::string short_hostname();

// The node names a task of `nodes` nodes gets here: {short_hostname()} for one node, else prefix0..prefix(N-1).
std::vector<std::string> node_names(std::uint32_t nodes, const LocalOptions& options = {});

// A local provider with options.
std::unique_ptr<engine::Provider> make_local_provider(const LocalOptions& options = {});

} // namespace spawn::providers::local
