// Convert benchmark: a 1,000,000-task array script to a parameter file (YAML and JSON) and back, with the file's
// bytes per task; against a floor measured in the same run (printing the same params lines with snprintf).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "plan/params.hpp"
#include "plan/plan.hpp"
#include "slurm/frontend.hpp"

#include "bench_util.hpp"

using spawn::bench::Clock;
using spawn::bench::g_sink;
using spawn::bench::median_seconds;

int main() {
  const std::uint64_t tasks = 1000000;
  spawn::slurm::ReadRequest request;
  request.script_path = "sweep.sbatch";
  request.script_text = "#!/bin/bash\n#SBATCH --array=0-999999%500\n#SBATCH -t 10 --mem=1G -c 2\n"
                        "python analyze.py --task $SLURM_ARRAY_TASK_ID\n";
  auto config = spawn::config::parse_config("", "none.yaml", {});
  spawn::plan::PlanOverrides overrides;
  overrides.submit_dir = "/home/user/project";

  spawn::Plan plan;
  double build = median_seconds(3, [&] {
    auto job = spawn::slurm::read_job(request);
    plan = spawn::plan::make_plan(job, config, overrides).run;
  });
  std::string yaml, json;
  double write_yaml = median_seconds(3, [&] { yaml = spawn::plan::write_param_file(plan, spawn::plan::ParamFormat::yaml); });
  double write_json = median_seconds(3, [&] { json = spawn::plan::write_param_file(plan, spawn::plan::ParamFormat::json); });
  double read_yaml = median_seconds(1, [&] {
    g_sink = g_sink + spawn::plan::parse_param_file(yaml, spawn::plan::ParamFormat::yaml, "p.yaml").task_count();
  });
  double read_json = median_seconds(1, [&] {
    g_sink = g_sink + spawn::plan::parse_param_file(json, spawn::plan::ParamFormat::json, "p.json").task_count();
  });
  double floor = median_seconds(3, [&] {
    std::string out;
    out.reserve(tasks * 20);
    char buf[48];
    for (std::uint64_t i = 0; i < tasks; ++i) {
      int n = std::snprintf(buf, sizeof buf, "  - {index: %llu}\n", static_cast<unsigned long long>(i));
      out.append(buf, static_cast<std::size_t>(n));
    }
    g_sink = g_sink + out.size();
  });
  auto per_task = [&](const std::string& s) { return static_cast<double>(s.size()) / static_cast<double>(tasks); };
  std::printf("1,000,000-task array: plan %.3f s\n", build);
  std::printf("  write YAML %.3f s, %zu bytes (%.1f bytes/task); floor (snprintf the params lines) %.3f s; ratio %.1fx\n",
              write_yaml, yaml.size(), per_task(yaml), floor, write_yaml / floor);
  std::printf("  write JSON %.3f s, %zu bytes (%.1f bytes/task)\n", write_json, json.size(), per_task(json));
  std::printf("  read back: YAML %.3f s, JSON %.3f s (one run each)\n", read_yaml, read_json);
  return 0;
}
