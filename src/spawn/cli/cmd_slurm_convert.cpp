// spawn slurm convert: a batch script -> a spawn parameter file a user can read, edit and launch.
#include <algorithm>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/plan_builder.hpp"
#include "config/settings.hpp"
#include "plan/params.hpp"
#include "util/error.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

int cmd_slurm_convert(const std::vector<std::string>& args) {
  auto options = plan_options();
  options.push_back({"--output", "-o", true});
  options.push_back({"--format", "", true});
  auto parsed = parse_slurm_args("slurm convert", args, options);
  auto output = parsed.value("--output");
  plan::ParamFormat format = plan::ParamFormat::yaml;
  if (auto f = parsed.value("--format")) {
    if (*f == "yaml" || *f == "yml") format = plan::ParamFormat::yaml;
    else if (*f == "json") format = plan::ParamFormat::json;
    else throw Error("slurm convert: --format: invalid value " + util::quote(*f) + " (expected yaml or json)");
  } else if (output) {
    auto implied = plan::format_for(*output);
    if (implied == plan::ParamFormat::csv)
      throw Error("slurm convert: " + *output + ": a parameter file is written as YAML or JSON, not CSV");
    if (implied) format = *implied;
  }

  auto built = build_plan(parsed, false);
  const auto& run = built.plan.run;
  auto text = plan::write_param_file(run, format);
  if (output) {
    if (auto r = util::write_file_atomic(*output, text); !r) throw Error(r.error());
  } else {
    std::cout << text;
  }

  // The report: what the file cannot show at a glance. On stderr when the file goes to stdout.
  std::ostream& report = output ? std::cout : std::cerr;
  if (output)
    report << "wrote " << *output << ": " << run.task_count() << " task" << (run.task_count() == 1 ? "" : "s")
           << (run.instance_types.empty() ? "" : ", " + run.instance_types.front() + " (" + to_string(run.market) + ")") << "\n";
  if (built.selection_error) report << "note: no instance type chosen: " << *built.selection_error << "\n";
  std::vector<std::string> mapped, unmapped;
  for (const auto& m : run.modules) {
    auto where = run.script_path + ":" + std::to_string(m.line) + ": module " + m.name;
    if (m.provider) mapped.push_back(where + " -> " + *m.provider + (m.value ? " " + *m.value : ""));
    else unmapped.push_back(where + " (not in the mapping config: the task's `module` warns and goes on)");
  }
  if (run.container)
    report << "container:   the batch script runs in " << *run.container << " (container_runtime "
           << to_string(run.container_runtime) << ", docs/runtime.md)\n";
  for (const auto& m : mapped) report << "mapped:      " << m << "\n";
  for (const auto& m : unmapped) report << "unmapped:    " << m << "\n";
  for (const auto& u : run.unsupported)
    report << "not honoured: " << u.origin << ": " << u.option << (u.value ? "=" + *u.value : "") << ": " << u.instead << "\n";
  for (const auto& c : run.cluster_paths) {
    auto mapping = std::find_if(run.path_mappings.begin(), run.path_mappings.end(), [&](const auto& m) {
      return c.path == m.prefix || c.path.starts_with(m.prefix + "/");
    });
    report << "cluster path: " << run.script_path << ":" << c.line << ": " << c.path
           << (mapping != run.path_mappings.end() ? " (mapped by paths to " + mapping->target + ")"
                                                  : " (exists on the cluster only: stage it or map the prefix with paths in the config)")
           << "\n";
  }
  const auto& settings = built.plan.settings;
  for (const auto& key : config::keys()) {
    if (!settings.is_set(key.name)) continue;
    report << "from " << settings.origin(key.name) << ": " << key.name << " = " << config::format_value(settings, key) << "\n";
  }
  return 0;
}

} // namespace spawn::cli
