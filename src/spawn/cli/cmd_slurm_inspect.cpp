#include <iostream>

#include "cli/commands.hpp"
#include "cli/job_view.hpp"
#include "cli/slurm_args.hpp"

namespace spawn::cli {

int cmd_slurm_inspect(const std::vector<std::string>& args) {
  auto parsed = parse_slurm_args("slurm inspect", args, {{"--json", "", false}});
  auto job = slurm::read_job(parsed.request);
  if (parsed.has("--json")) {
    std::cout << dump_json(job_to_json(job)) << "\n";
  } else {
    print_job_analysis(std::cout, job);
  }
  return 0;
}

} // namespace spawn::cli
