#pragma once
// Slurm's compact notations for node lists ("spawn-[0-3]") and per-node counts ("16(x4)").
#include <cstdint>
#include <string>
#include <vector>

namespace spawn::runtime {

// Names in Slurm's ranged hostlist form, in the given order: {"spawn-0","spawn-1","spawn-3"} -> "spawn-[0-1,3]";
// zero padding is kept ("node[001-004]"); names without a numeric suffix stay as they are.
std::string compress_hostlist(const std::vector<std::string>& names);
// The inverse of compress_hostlist for the forms it writes and the common forms users write ("a,b", "n[1-3,7]").
std::vector<std::string> expand_hostlist(const std::string& list);
// Per-node counts in Slurm's form: {16,16,16,16} -> "16(x4)", {2,1} -> "2,1", {3,3,1} -> "3(x2),1".
std::string compress_counts(const std::vector<std::uint32_t>& counts);
// Block distribution of tasks over nodes as Slurm lays out a batch allocation: 5 over 2 -> {3, 2}.
std::vector<std::uint32_t> distribute_tasks(std::uint32_t tasks, std::uint32_t nodes);

} // namespace spawn::runtime
