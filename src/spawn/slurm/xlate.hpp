#pragma once
// #BSUB (LSF) and #PBS (PBS/Torque) directives translated into sbatch options, exactly as sbatch 22.05
// does it (src/sbatch/xlate.c): which lines are read, how they are parsed, and what each becomes.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "slurm/options.hpp"

namespace spawn::slurm {

// One sbatch option produced by a translated directive.
struct TranslatedOption {
  int line = 0;                       // line of the #PBS/#BSUB option it came from
  std::string option;                 // sbatch long name without "--" ("time", "nodes", ...)
  std::optional<std::string> value;   // nullopt for flags (--hold, --exclusive)
};

struct XlateResult {
  std::string directive;  // "#BSUB" or "#PBS" when such lines were found (and translated), else empty
  std::vector<TranslatedOption> options;                // in the order sbatch applies them
  std::vector<std::pair<int, std::string>> errors;      // (line, message): sbatch refuses the script
  std::vector<std::pair<int, std::string>> warnings;    // (line, message): what sbatch drops silently
};

// What the translation depends on besides the script text.
struct XlateContext {
  bool ignore = false;  // --ignore-pbs in effect: nothing is translated
  // Values the options below had before translation (from the script's #SBATCH lines): PBS -v appends to
  // --export, -l proc= prepends to --constraint, -l accelerator/naccelerators append to --gres.
  std::optional<std::string> export_env;
  std::optional<std::string> constraint;
  std::optional<std::string> gres;
};

// The context sbatch would have: --ignore-pbs from the script, the command line (sbatch reads it before the
// script) or SBATCH_IGNORE_PBS ("", "yes" or a non-zero number), and the script's last --export,
// --constraint and --gres.
XlateContext xlate_context(const std::vector<ParsedOption>& script_options,
                           const std::vector<std::string>& command_line,
                           const std::vector<std::pair<std::string, std::string>>& environment);

// Translates the script's #BSUB lines or, when there are none, its #PBS lines (sbatch translates one kind at
// most, trying #BSUB first). Unlike #SBATCH, these lines are read past the first command; reading stops
// after 100 lines that do not start with '#'. All lines of the kind form one argument list.
XlateResult translate_pbs_bsub(std::string_view script_text, const XlateContext& context = {});

} // namespace spawn::slurm
