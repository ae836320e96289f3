#pragma once
// Arguments of the `spawn slurm ...` commands: "[SBATCH OPTIONS] SCRIPT [SCRIPT ARGS]" mixed with
// spawn's own options. Before the script, a word is spawn's only when sbatch has no option of that
// name (so `-o` there is sbatch's --output); after the script, spawn's options are recognised
// anywhere and everything else is an argument of the script ("--" ends spawn's options).
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "slurm/frontend.hpp"

namespace spawn::cli {

struct SpawnOption {
  std::string_view name;   // "--json"
  std::string_view alias;  // "-o" or empty
  bool takes_value = false;
};

struct SlurmArgs {
  slurm::ReadRequest request;
  std::map<std::string, std::string> values;  // spawn option name -> value ("" for flags); last wins
  bool has(std::string_view name) const { return values.count(std::string(name)) != 0; }
  std::optional<std::string> value(std::string_view name) const;
};

// Throws Error for a missing script, a spawn option without its value, or an unknown spawn option.
SlurmArgs parse_slurm_args(std::string_view command, const std::vector<std::string>& args,
                           const std::vector<SpawnOption>& options);

} // namespace spawn::cli
