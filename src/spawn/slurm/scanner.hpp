#pragma once
// Which lines of a batch script are directives, and how a directive line splits into tokens,
// exactly as sbatch 22.05 reads them (src/sbatch/opt.c).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.hpp"
#include "slurm/options.hpp"

namespace spawn::slurm {

// Why sbatch refuses the script as a whole (empty, no "#!", NUL byte, DOS line breaks), or nullopt.
std::optional<std::string> check_script_text(std::string_view text);

struct TokenizeResult {
  std::vector<std::string> tokens;
  std::optional<std::string> error;  // unmatched quote, or a token starting with ':'
};
// Splits the text after "#SBATCH" into arguments: quotes group and are removed, a backslash escapes
// the next character (also inside quotes), an unquoted '#' ends the line, an empty token ends it too.
TokenizeResult tokenize_directive(std::string_view text);

struct ScriptScan {
  std::vector<ArgToken> sbatch_tokens;           // every #SBATCH token, in order, with its line
  std::vector<SpawnDirective> spawn_directives;  // #SPAWN lines
  int body_line = 1;                             // the first command line (lines + 1 when none)
  std::optional<int> het_job_line;               // "#SBATCH hetjob": later components are not read
  std::vector<std::pair<int, std::string>> errors;
  std::vector<std::pair<int, std::string>> warnings;
};
// Scans the directive block at the top of the script; stops at the first command line.
ScriptScan scan_script(std::string_view text);

} // namespace spawn::slurm
