#pragma once
// The spawn parameter file: a Plan written out for people to read and edit (YAML by default, or JSON),
// read back (YAML, JSON or CSV, as spawn's launcher always took them) into the same Plan.
//
// Layout (docs/parameter-file.md):
//   job:       the Slurm job: name, script, array, tasks/nodes/cpus/memory/GPUs, time limit, signal, output
//              and error patterns, dependency, working directory, ...
//   defaults:  where and how it runs: provider, instance_type and the ranked instance_types, region, spot,
//              ttl, ami, max_concurrent, count and mpi for multi-node jobs, environment, staging
//   params:    one entry per array task: its index (and any per-task values, which reach the task as
//              environment variables)
//   grid:      optional cartesian product of values, appended after params (as spawn's launcher does)
//   modules, unsupported, cluster_paths: what the conversion found, for the reader
//   script:    the batch script, verbatim, once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/plan.hpp"

namespace spawn::plan {

// The document for a plan: every key always present (null when unset), in a fixed order.
nlohmann::ordered_json plan_to_document(const spawn::Plan& plan);
// The plan a document describes. Throws Error naming origin, the key path (and line for YAML), and the value.
spawn::Plan plan_from_document(const nlohmann::ordered_json& document, const std::string& origin);

enum class ParamFormat { yaml, json, csv };
// The format a file name implies (.yaml/.yml, .json, .csv); nullopt for another extension.
std::optional<ParamFormat> format_for(const std::filesystem::path& path);

// The parameter file text: YAML with comments (the script as a literal block, verbatim), or JSON.
std::string write_param_file(const spawn::Plan& plan, ParamFormat format);
// Reads a parameter file (format from the extension, else YAML). Throws Error naming file, line and key path.
spawn::Plan read_param_file(const std::filesystem::path& path);
// The same from text already read; name is used in messages.
spawn::Plan parse_param_file(std::string_view text, ParamFormat format, const std::string& name);
// How many params entries of a YAML parameter file the fast reader takes (one flow mapping per line, as
// write_param_file writes them); nullopt when the file is read by yaml-cpp alone. For tests and benchmarks.
std::optional<std::size_t> fast_params_count(std::string_view yaml);

} // namespace spawn::plan
