#pragma once
// Value grammars of sbatch 22.05 options (and of the slurmctld checks a submission meets).
// Each parser takes the option's value as written and returns the typed value, or an error
// that says what was expected; the caller adds file, line and option.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.hpp"
#include "util/error.hpp"

namespace spawn::slurm {

struct TimeValue {
  bool unlimited = false;       // UNLIMITED, INFINITE, -1, or a value of 0
  std::uint32_t minutes = 0;    // seconds rounded up
};
// --time, --time-min: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, UNLIMITED/INFINITE/-1.
Expected<TimeValue> parse_time_limit(std::string_view text);
// Seconds of a --time value (before rounding to minutes); nullopt for unlimited.
Expected<std::optional<std::uint64_t>> parse_time_seconds(std::string_view text);

// --mem, --mem-per-cpu, --mem-per-gpu, --tmp: integer + K/M/G/T (+B), megabytes, K rounded up.
Expected<std::uint64_t> parse_megabytes(std::string_view text);

struct NodeRange {
  std::uint32_t min = 1;
  std::uint32_t max = 0;  // 0: no maximum given
};
// -N: N or min-max (k/m suffixes as sbatch accepts them).
Expected<NodeRange> parse_nodes(std::string_view text);

// -n, -c, --ntasks-per-*: a positive decimal integer (strtol rules: optional sign).
Expected<std::uint32_t> parse_positive_int(std::string_view text);
// An integer >= 0 (--core-spec, --nice).
Expected<std::int64_t> parse_long(std::string_view text);

// -a/--array: N, N-M, N-M:S lists with an optional %K throttle, checked as slurmctld does.
// max_array_size: indices must be below it.
Expected<ArraySpec> parse_array(std::string_view text, std::uint64_t max_array_size);
// Calls fn for every index of the array in increasing order, without materialising them.
template <typename Fn> void for_each_index(const ArraySpec& spec, Fn&& fn);

// --gres: comma list of name[[:type]:count] (per node); "none" gives an empty list.
Expected<std::vector<GresRequest>> parse_gres(std::string_view text);
// --gpus, --gpus-per-node, --gpus-per-task, --gpus-per-socket: [type:]count.
Expected<GresRequest> parse_gpus(std::string_view text);

// -d/--dependency: returns nullopt for "" or "0" (which clear it).
Expected<std::optional<Dependency>> parse_dependency(std::string_view text);

// -b/--begin and --deadline: every form parse_time() of Slurm accepts.
Expected<void> check_begin(std::string_view text);

// --signal: [R][B][:]sig[@secs].
Expected<SignalSpec> parse_signal(std::string_view text);

// --open-mode: a... (append) or t... (truncate).
Expected<OpenMode> parse_open_mode(std::string_view text);

// --exclusive[=exclusive|user|mcs|oversubscribe]; a missing value means exclusive.
struct ExclusiveValue {
  Exclusive mode = Exclusive::exclusive;
  bool oversubscribe = false;  // --exclusive=oversubscribe
};
Expected<ExclusiveValue> parse_exclusive(std::optional<std::string_view> text);

// --export: ALL, NONE or [ALL,]VAR[=value],...
ExportSpec parse_export(std::string_view text);

// --mail-type: comma list; unknown words are ignored as long as one is known (as sbatch does).
Expected<std::vector<std::string>> parse_mail_types(std::string_view text);

// -w/--nodelist, -x: the distinct host names of a Slurm hostlist ("cn[01-04,07],gpu1" -> 6); an error for a
// malformed range.
Expected<std::size_t> count_hostlist(std::string_view text);

// --kill-on-invalid-dep: yes|no.
Expected<bool> parse_yes_no(std::string_view text);

// ---- implementation of the template ----
template <typename Fn> void for_each_index(const ArraySpec& spec, Fn&& fn) {
  if (spec.ranges.size() == 1) {
    const auto& r = spec.ranges.front();
    for (std::uint64_t i = r.first;; i += r.step) {
      fn(i);
      if (r.last - i < r.step) break;
    }
    return;
  }
  for (auto i : spec.indices()) fn(i);
}

} // namespace spawn::slurm
