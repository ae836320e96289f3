#include "plan/selection.hpp"

#include "util/strings.hpp"

namespace spawn::plan {

catalog::SelectionPolicy selection_policy(const config::Settings& settings) {
  catalog::SelectionPolicy policy;
  policy.region = settings.region;
  policy.market = settings.market;
  policy.architectures = settings.architectures;
  policy.allow_burstable = settings.allow_burstable;
  policy.allow_previous_generation = settings.allow_previous_generation;
  policy.allowed_families = settings.families;
  policy.denied_families = settings.exclude_families;
  policy.gpu_aliases = catalog::GpuAliases(settings.gpu_aliases.begin(), settings.gpu_aliases.end());
  policy.candidates = settings.candidates;
  return policy;
}

Expected<std::vector<catalog::Candidate>> choose_instances(const Plan& plan, const catalog::Catalog& catalog) {
  const auto& settings = plan.settings;
  if (settings.instance_types.empty()) return catalog::select_instances(catalog, plan.node, selection_policy(settings));
  std::vector<catalog::Candidate> out;
  std::string origin(settings.origin("instance_types"));
  for (const auto& name : settings.instance_types) {
    const auto* type = catalog.find_type(name);
    if (!type) return Unexpected(origin + ": instance_types: " + util::quote(name) + " is not an EC2 instance type in the catalog");
    const auto* price = catalog.find_price(name, settings.region);
    if (!price) return Unexpected(origin + ": instance_types: " + name + " is not offered in " + settings.region);
    auto per_hour = price->price(settings.market);
    if (!per_hour)
      return Unexpected(origin + ": instance_types: " + name + " has no " + to_string(settings.market) + " price in " +
                        settings.region);
    const auto& need = plan.node;
    std::string lacks;
    if (type->vcpus < need.vcpus) lacks = std::to_string(need.vcpus) + " vCPUs (it has " + std::to_string(type->vcpus) + ")";
    else if (!need.whole_node_memory && type->memory_mib < need.memory_mib)
      lacks = catalog::format_memory_mib(need.memory_mib) + " of memory (it has " + catalog::format_memory_mib(type->memory_mib) + ")";
    else if (type->accelerator_count < need.gpus)
      lacks = std::to_string(need.gpus) + " GPUs (it has " + std::to_string(type->accelerator_count) + ")";
    if (!lacks.empty())
      return Unexpected(origin + ": instance_types: " + name + " is too small for one node of the job, which needs " + lacks);
    out.push_back({*type, *price, settings.market, *per_hour});
  }
  return out;
}

} // namespace spawn::plan
