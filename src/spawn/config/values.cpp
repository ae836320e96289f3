#include "config/values.hpp"

#include <algorithm>
#include <cctype>

#include "util/strings.hpp"

namespace spawn::config {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

Unexpected got(std::string_view expected, std::string_view text) {
  return Unexpected("expected " + std::string(expected) + ", got " + util::quote(text));
}

// A decimal number "12" or "1.5": whole part and up to nine fraction digits; false on anything else.
struct Decimal {
  std::int64_t whole = 0;
  std::int64_t fraction = 0; // the digits after the point, as an integer
  std::int64_t scale = 1;    // 10^(number of fraction digits)
};

std::size_t read_decimal(std::string_view text, Decimal& out, std::size_t max_fraction_digits) {
  std::size_t i = 0;
  std::size_t whole_digits = 0;
  while (i < text.size() && is_digit(text[i])) {
    if (++whole_digits > 12) return 0;
    out.whole = out.whole * 10 + (text[i] - '0');
    ++i;
  }
  std::size_t fraction_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && is_digit(text[i])) {
      if (++fraction_digits > max_fraction_digits) return 0;
      out.fraction = out.fraction * 10 + (text[i] - '0');
      out.scale *= 10;
      ++i;
    }
    if (fraction_digits == 0) return 0;
  }
  return whole_digits + fraction_digits == 0 ? 0 : i;
}

constexpr std::string_view k_duration_expected = "a duration like 4h, 90m, 1h30m or 45s";

} // namespace

Expected<Seconds> parse_duration(std::string_view raw) {
  auto text = util::trim(raw);
  if (auto plain = util::parse_uint(text); plain && *plain < (1ull << 40)) return static_cast<Seconds>(*plain);
  if (text.empty()) return got(k_duration_expected, raw);
  Seconds total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    Decimal number;
    auto used = read_decimal(text.substr(i), number, 9);
    if (used == 0) return got(k_duration_expected, raw);
    i += used;
    if (i >= text.size()) return got(k_duration_expected, raw); // "1h30": a number without its unit
    Seconds unit = 0;
    switch (text[i]) {
    case 'd': unit = 86400; break;
    case 'h': unit = 3600; break;
    case 'm': unit = 60; break;
    case 's': unit = 1; break;
    default: return got(k_duration_expected, raw);
    }
    ++i;
    if (i < text.size() && !is_digit(text[i]) && text[i] != '.') return got(k_duration_expected, raw); // "5ms"
    total += number.whole * unit + (number.fraction * unit + number.scale / 2) / number.scale;
  }
  return total;
}

Expected<DurationRange> parse_duration_range(std::string_view raw) {
  auto text = util::trim(raw);
  auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    auto one = parse_duration(text);
    if (!one) return got("a duration or a range like 2h-24h", raw);
    return DurationRange{*one, *one};
  }
  auto low = parse_duration(text.substr(0, dash));
  auto high = parse_duration(text.substr(dash + 1));
  if (!low || !high) return got("a duration or a range like 2h-24h", raw);
  if (*low > *high) return got("the shorter duration first", raw);
  return DurationRange{*low, *high};
}

std::string format_duration(Seconds seconds) {
  if (seconds <= 0) return "0s";
  std::string out;
  const std::pair<Seconds, char> units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (auto [size, letter] : units) {
    if (seconds >= size) {
      out += std::to_string(seconds / size) + letter;
      seconds %= size;
    }
  }
  return out;
}

std::string format_duration_range(const DurationRange& range) {
  if (range.min == range.max) return format_duration(range.min);
  return format_duration(range.min) + "-" + format_duration(range.max);
}

Expected<MicroDollars> parse_dollars(std::string_view raw) {
  auto text = util::trim(raw);
  if (!text.empty() && text.front() == '$') text.remove_prefix(1);
  Decimal number;
  auto used = read_decimal(text, number, 6);
  if (used == 0 || used != text.size()) return got("an amount in dollars like 0.02", raw);
  return number.whole * 1'000'000 + number.fraction * (1'000'000 / number.scale);
}

std::string format_dollars(MicroDollars amount) {
  std::string out = std::to_string(amount / 1'000'000);
  auto micros = amount % 1'000'000;
  if (micros != 0) {
    auto digits = std::to_string(micros);
    digits.insert(0, 6 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out;
}

Expected<std::uint64_t> parse_memory_mib(std::string_view raw) {
  auto text = util::trim(raw);
  std::size_t i = 0;
  while (i < text.size() && is_digit(text[i])) ++i;
  auto number = util::parse_uint(text.substr(0, i));
  if (!number || *number > (1ull << 40)) return got("a memory size like 512M or 64G", raw);
  auto unit = util::to_upper(text.substr(i));
  if (unit.size() > 1 && (unit.substr(1) == "B" || unit.substr(1) == "IB")) unit.resize(1);
  if (unit.empty() || unit == "M") return *number;
  if (unit == "K") return (*number + 1023) / 1024;
  if (unit == "G") return *number * 1024;
  if (unit == "T") return *number * 1024 * 1024;
  return got("a memory size like 512M or 64G", raw);
}

std::string format_memory_mib(std::uint64_t mib) {
  if (mib != 0 && mib % (1024 * 1024) == 0) return std::to_string(mib / (1024 * 1024)) + "T";
  if (mib != 0 && mib % 1024 == 0) return std::to_string(mib / 1024) + "G";
  return std::to_string(mib) + "M";
}

Expected<bool> parse_bool(std::string_view raw) {
  auto text = util::to_lower(util::trim(raw));
  if (text == "true" || text == "yes" || text == "on" || text == "1") return true;
  if (text == "false" || text == "no" || text == "off" || text == "0") return false;
  return got("true or false", raw);
}

Expected<std::uint32_t> parse_count(std::string_view raw, std::uint32_t minimum) {
  auto number = util::parse_uint(util::trim(raw));
  if (!number || *number > 0xffffffffu || *number < minimum) {
    if (minimum == 0) return got("a whole number", raw);
    return got("a whole number of at least " + std::to_string(minimum), raw);
  }
  return static_cast<std::uint32_t>(*number);
}

Expected<std::string> parse_region(std::string_view raw) {
  auto text = util::trim(raw);
  auto parts = util::split(text, '-');
  bool ok = parts.size() >= 3 && parts.front().size() == 2 &&
            std::all_of(parts.front().begin(), parts.front().end(), is_lower) && !parts.back().empty() &&
            std::all_of(parts.back().begin(), parts.back().end(), is_digit);
  for (std::size_t i = 1; ok && i + 1 < parts.size(); ++i) {
    ok = !parts[i].empty() && std::all_of(parts[i].begin(), parts[i].end(), is_lower);
  }
  if (!ok) return got("an AWS region like us-east-1", raw);
  return std::string(text);
}

Expected<std::string> parse_ami(std::string_view raw) {
  auto text = util::trim(raw);
  // EC2 also accepts an SSM parameter that names an AMI ("resolve:ssm:/aws/service/...").
  if (text.starts_with("resolve:ssm:") && text.size() > 12) return std::string(text);
  auto hex = text.substr(std::min<std::size_t>(4, text.size()));
  bool ok =
      text.starts_with("ami-") && (hex.size() == 8 || hex.size() == 17) && std::all_of(hex.begin(), hex.end(), is_hex);
  if (!ok) return got("an AMI id like ami-0123456789abcdef0", raw);
  return std::string(text);
}

namespace {
bool is_name(std::string_view text) {
  return !text.empty() && is_lower(text.front()) &&
         std::all_of(text.begin(), text.end(), [](char c) { return is_lower(c) || is_digit(c) || c == '-'; });
}
} // namespace

Expected<std::string> parse_instance_type(std::string_view raw) {
  auto text = util::trim(raw);
  auto dot = text.find('.');
  if (dot == std::string_view::npos || !is_name(text.substr(0, dot)) || dot + 1 >= text.size() ||
      !std::all_of(text.begin() + static_cast<std::ptrdiff_t>(dot) + 1, text.end(),
                   [](char c) { return is_lower(c) || is_digit(c) || c == '-'; })) {
    return got("an instance type like c7i.4xlarge", raw);
  }
  return std::string(text);
}

Expected<std::string> parse_family(std::string_view raw) {
  auto text = util::trim(raw);
  if (!is_name(text)) return got("an instance family like c7i", raw);
  return std::string(text);
}

namespace {
// Edit distance counting a swap of neighbours as one edit (optimal string alignment).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}
} // namespace

std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::size_t limit = word.size() <= 4 ? 1 : word.size() <= 8 ? 2 : 3;
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& candidate : candidates) {
    auto distance = edit_distance(util::to_lower(word), candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

} // namespace spawn::config
