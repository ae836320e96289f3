#include "cli/plan_builder.hpp"

#include "config/values.hpp"
#include "plan/selection.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

std::vector<SpawnOption> plan_options() {
  return {{"--config", "", true},         {"--config-profile", "", true}, {"--region", "", true},
          {"--spot", "", false},          {"--on-demand", "", false},     {"--max-concurrent", "", true},
          {"--runtime", "", true},        {"--queue-time", "", true},     {"--provider", "", true},
          {"--instance-type", "", true}};
}

BuiltPlan build_plan(const SlurmArgs& args, bool require_instances) {
  config::ConfigSources sources;
  if (auto path = args.value("--config")) sources.explicit_path = *path;
  sources.env = config::process_environment();
  sources.profile = args.value("--config-profile");
  auto config = config::load_config(sources);
  std::vector<std::string> errors;
  auto set = [&](const char* key, std::optional<std::string> value) {
    if (!value) return;
    if (auto r = config.set_from_command_line(key, *value); !r) errors.push_back(r.error());
  };
  set("region", args.value("--region"));
  set("max_concurrent", args.value("--max-concurrent"));
  set("queue_time", args.value("--queue-time"));
  set("provider", args.value("--provider"));
  set("instance_types", args.value("--instance-type"));
  if (args.has("--spot") && args.has("--on-demand")) errors.push_back("give --spot or --on-demand, not both");
  if (args.has("--spot")) set("spot", std::string("true"));
  if (args.has("--on-demand")) set("spot", std::string("false"));
  plan::PlanOverrides overrides;
  if (auto runtime = args.value("--runtime")) {
    auto seconds = config::parse_duration(*runtime);
    if (!seconds || *seconds <= 0)
      errors.push_back("--runtime: invalid value " + util::quote(*runtime) + " (expected a duration such as 90m, 2h or 1h30m)");
    else overrides.runtime_seconds = *seconds;
  }
  if (!errors.empty()) throw Error(std::move(errors));

  BuiltPlan out{slurm::read_job(args.request), {}, std::nullopt, {}, std::nullopt};
  out.plan = plan::make_plan(out.job, config, overrides);
  auto cat = catalog::load_catalog(catalog::default_cache_catalog_path());
  if (!cat) throw Error(cat.error());
  out.catalog = std::move(*cat);
  auto candidates = plan::choose_instances(out.plan, *out.catalog);
  if (candidates) {
    out.candidates = std::move(*candidates);
    out.plan.run.instance_types.clear();
    for (const auto& c : out.candidates) out.plan.run.instance_types.push_back(c.type.name);
  } else if (require_instances) {
    throw Error(out.job.script_path + ": " + candidates.error());
  } else {
    out.selection_error = candidates.error();
  }
  return out;
}

} // namespace spawn::cli
