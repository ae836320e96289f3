#pragma once
// The value syntaxes of the configuration (durations, money, memory sizes, regions, ...), parsed from text and
// formatted back. Each parser returns the reason as "expected ..., got "text"" so callers add the key and the line.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace spawn::config {

using Seconds = std::int64_t;      // durations, always whole seconds inside
using MicroDollars = std::int64_t; // money, always integer micro-dollars inside

// A range of durations ("2h-24h"); a single duration is a range with min == max.
struct DurationRange {
  Seconds min = 0;
  Seconds max = 0;
  bool operator==(const DurationRange&) const = default;
};

// Go-style duration ("4h", "90m", "1h30m", "45s", "1.5h", "2d") or plain seconds ("90"); rounds to whole seconds.
Expected<Seconds> parse_duration(std::string_view text);
// A duration or a range of two durations joined by '-' ("2h-24h"), min <= max.
Expected<DurationRange> parse_duration_range(std::string_view text);
// Go-style text of a duration, largest units first ("1h30m", "45s", "2d"); 0 is "0s".
std::string format_duration(Seconds seconds);
std::string format_duration_range(const DurationRange& range);

// Dollars with at most six decimals ("0.02", "$1.50", "3") as micro-dollars; no negative amounts.
Expected<MicroDollars> parse_dollars(std::string_view text);
// Shortest exact decimal text of an amount in dollars ("0.02", "3", "0.000001").
std::string format_dollars(MicroDollars amount);

// Memory size as Slurm writes it: a whole number with an optional K, M, G or T suffix (binary units, M when
// absent, "B"/"iB" after the letter allowed), as MiB; sizes below 1 MiB round up.
Expected<std::uint64_t> parse_memory_mib(std::string_view text);
// "64G" when a whole number of GiB, else "1500M".
std::string format_memory_mib(std::uint64_t mib);

// true/false, yes/no, on/off, 1/0 in any case.
Expected<bool> parse_bool(std::string_view text);
// A whole number >= minimum.
Expected<std::uint32_t> parse_count(std::string_view text, std::uint32_t minimum);
// An AWS region name by its shape ("us-east-1", "us-gov-west-1", "cn-north-1"); whether it exists is catalog's call.
Expected<std::string> parse_region(std::string_view text);
// An AMI id ("ami-" and 8 or 17 hex digits).
Expected<std::string> parse_ami(std::string_view text);
// An EC2 instance type ("c7i.4xlarge", "u-6tb1.metal").
Expected<std::string> parse_instance_type(std::string_view text);
// An EC2 instance family ("c7i", "g5", "u-6tb1").
Expected<std::string> parse_family(std::string_view text);

// The candidate nearest to word by edit distance, if near enough to be a likely typo ("regon" -> "region").
std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

} // namespace spawn::config
