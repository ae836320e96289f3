#include "providers/registry.hpp"

#include <string>

#include "providers/aws/aws_provider.hpp"
#include "providers/local/local_provider.hpp"
#include "providers/slurm/slurm_provider.hpp"

namespace spawn::providers {

const std::vector<ProviderEntry>& registry() {
  static const std::vector<ProviderEntry> table = {
      {"local", "runs tasks as processes on this machine (the default; no account needed)", [] { return local::make_local_provider(); }},
      {"aws", "runs tasks on EC2 instances (one per task, launched in batches)", [] { return aws::make_aws_provider(); }},
      {"slurm", "submits tasks to the Slurm cluster the local sbatch reaches (one array per batch of tasks)",
       [] { return slurm::make_slurm_provider(); }},
  };
  return table;
}

Expected<std::unique_ptr<engine::Provider>> make_provider(std::string_view name) {
  std::string known;
  for (const auto& entry : registry()) {
    known += (known.empty() ? "" : ", ") + std::string(entry.name);
    if (entry.name != name) continue;
    if (!entry.factory) return Unexpected("provider \"" + std::string(name) + "\" is not available in this build yet");
    return entry.factory();
  }
  return Unexpected("unknown provider \"" + std::string(name) + "\" (known: " + known + ")");
}

} // namespace spawn::providers
