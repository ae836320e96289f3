#pragma once
// How a parsed Job is shown: the `inspect --json` contract and the human "Slurm job analysis" block.
#include <ostream>

#include <nlohmann/json.hpp>

#include "core/job.hpp"

namespace spawn::cli {

// The inspect --json document; every key is always present (null when the script does not say).
nlohmann::ordered_json job_to_json(const Job& job);
// JSON text for users and tools; bytes that are not UTF-8 (scripts may hold any) become U+FFFD.
std::string dump_json(const nlohmann::ordered_json& document, int indent = 2);
// The one-line summaries the analysis block is made of ("array 1-100 (100 tasks)", "2h per task", ...).
std::string describe_time(const Job& job);
std::string describe_resources(const Job& job);
// The human block: job name, type, tasks, time limit, resources per task and per node, GPUs, dependencies,
// and every option that will not matter outside the cluster.
void print_job_analysis(std::ostream& out, const Job& job);

} // namespace spawn::cli
