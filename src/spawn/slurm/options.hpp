#pragma once
// The option table of sbatch 22.05 and a getopt_long that reads an argument list the way sbatch's
// (glibc's, with "+" ordering) does: short clusters, attached values, unique-prefix abbreviations,
// arguments from the next element, optional arguments only after '='.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spawn::slurm {

enum class ArgKind { none, required, optional };

struct OptionSpec {
  std::string_view long_name;  // without "--"
  char short_name;             // 0 when none
  ArgKind arg;
  std::string_view env;        // SBATCH_* variable that sets it, or empty
  // What a run outside the cluster does with it; empty when spawn honours it as Slurm would.
  std::string_view cloud_note;
};

// Every sbatch 22.05 option, in Slurm's table order.
const std::vector<OptionSpec>& option_table();
// The option with this long name (exact), or nullptr.
const OptionSpec* find_option(std::string_view long_name);

// One element of the argument list, with where it came from (a script line, or 0).
struct ArgToken {
  std::string text;
  int line = 0;
};

// One recognised option occurrence.
struct ParsedOption {
  const OptionSpec* spec = nullptr;
  std::optional<std::string> value;
  int line = 0;            // line of the option itself
  std::string written;     // as the user wrote it ("-t", "--tim", "--time")
};

struct GetoptResult {
  std::vector<ParsedOption> options;
  std::size_t stopped_at = 0;   // index of the first element not consumed (a non-option)
  std::vector<std::pair<int, std::string>> errors;  // (line, message) in the order met
};

// Parses args from the start until the first non-option (or "--", which is consumed).
// Errors (unknown, ambiguous, missing or unexpected argument) are collected and parsing goes on.
GetoptResult getopt_long(const std::vector<ArgToken>& args);

} // namespace spawn::slurm
