#include "cli/commands.hpp"
#include "util/error.hpp"

namespace spawn::cli {
int cmd_slurm_inspect(const std::vector<std::string>&) { throw Error("slurm inspect: not built yet"); }
} // namespace spawn::cli
