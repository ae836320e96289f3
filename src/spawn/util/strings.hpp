#pragma once
// Small string helpers with no project types.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spawn::util {

// Splits on every occurrence of sep; empty fields are kept ("a,,b" -> {"a", "", "b"}).
std::vector<std::string> split(std::string_view text, char sep);
// Removes leading and trailing ASCII whitespace.
std::string_view trim(std::string_view text);
// ASCII lower/upper case copies.
std::string to_lower(std::string_view text);
std::string to_upper(std::string_view text);
// Case-insensitive ASCII equality.
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view text, std::string_view prefix);
// Whole-string decimal integer, no sign, no spaces; nullopt on anything else or overflow.
std::optional<std::uint64_t> parse_uint(std::string_view text);
// Whole-string decimal integer with optional leading '-' or '+'.
std::optional<std::int64_t> parse_int(std::string_view text);
// Whole-string decimal number ("1.5", "2", ".5"); nullopt otherwise.
std::optional<double> parse_double(std::string_view text);
// Joins parts with sep.
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// Indices as Slurm writes an array: ascending, runs compressed ("0-4,7,9-10"); duplicates dropped.
std::string compress_indices(std::vector<std::uint64_t> indices);
// A value shown to the user: quoted, with control characters escaped.
std::string quote(std::string_view text);
// Replaces every occurrence of from (non-empty) by to.
std::string replace_all(std::string_view text, std::string_view from, std::string_view to);

} // namespace spawn::util
