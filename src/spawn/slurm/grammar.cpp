#include "slurm/grammar.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <set>
#include <tuple>

#include "util/strings.hpp"

namespace spawn::slurm {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// strtol(text + pos, &end, 10) as C does it: leading spaces, an optional sign, then digits.
// Returns the value (saturated) and moves pos past what was read; when no digit follows,
// pos is left unchanged and the value is 0 (as strtol sets end = start).
struct Strtol {
  long long value = 0;
  bool any = false;
};
Strtol c_strtol(std::string_view text, std::size_t& pos) {
  std::size_t i = pos;
  while (i < text.size() && is_space(text[i])) ++i;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  if (i >= text.size() || !is_digit(text[i])) return {};
  long long value = 0;
  while (i < text.size() && is_digit(text[i])) {
    if (value < LLONG_MAX / 10) value = value * 10 + (text[i] - '0');
    else value = LLONG_MAX;
    ++i;
  }
  pos = i;
  return {negative ? -value : value, true};
}

bool only_spaces(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return is_space(c); });
}

bool valid_timespec(std::string_view s) {
  int digit = 0, dash = 0, colon = 0;
  bool already_digit = false;
  for (char c : s) {
    if (is_digit(c)) {
      if (!already_digit) {
        ++digit;
        already_digit = true;
      }
    } else if (c == '-') {
      already_digit = false;
      ++dash;
      if (colon) return false;
    } else if (c == ':') {
      already_digit = false;
      ++colon;
    } else {
      return false;
    }
  }
  if (!digit || dash > 1 || colon > 2) return false;
  if (dash) {
    if (colon == 1 && digit < 3) return false;
    if (colon == 2 && digit < 4) return false;
  } else {
    if (colon == 1 && digit < 2) return false;
    if (colon == 2 && digit < 3) return false;
  }
  return true;
}

// sscanf("%d") over the fields of a validated timespec: missing fields stay 0.
std::vector<long long> time_fields(std::string_view s, std::string_view separators) {
  std::vector<long long> out;
  std::size_t pos = 0;
  std::size_t sep = 0;
  while (pos <= s.size()) {
    auto r = c_strtol(s, pos);
    if (!r.any) break;
    out.push_back(std::clamp<long long>(r.value, -INT_MAX, INT_MAX));  // sscanf("%d") range
    if (pos >= s.size() || sep >= separators.size() || s[pos] != separators[sep]) break;
    ++pos;
    ++sep;
  }
  return out;
}

const char* k_time_forms = "M, M:S, H:M:S, D-H, D-H:M, D-H:M:S or UNLIMITED";

} // namespace

Expected<std::optional<std::uint64_t>> parse_time_seconds(std::string_view text) {
  if (text.empty()) return Unexpected(std::string("empty value (expected ") + k_time_forms + ")");
  if (text == "-1" || util::iequals(text, "INFINITE") || util::iequals(text, "UNLIMITED"))
    return std::optional<std::uint64_t>{};
  if (!valid_timespec(text))
    return Unexpected("invalid value " + util::quote(text) + " (expected " + k_time_forms + ")");
  long long d = 0, h = 0, m = 0, s = 0;
  if (text.find('-') != std::string_view::npos) {
    auto f = time_fields(text, "-::");
    if (f.size() > 0) d = f[0];
    if (f.size() > 1) h = f[1];
    if (f.size() > 2) m = f[2];
    if (f.size() > 3) s = f[3];
  } else {
    auto f = time_fields(text, "::");
    if (f.size() == 3) {
      h = f[0];
      m = f[1];
      s = f[2];
    } else {
      m = f.size() > 0 ? f[0] : 0;
      s = f.size() > 1 ? f[1] : 0;
    }
  }
  long long total = d * 86400 + h * 3600 + m * 60 + s;
  if (total < 0 || total > INT_MAX)
    return Unexpected("invalid value " + util::quote(text) + " (out of range)");
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(total));
}

Expected<TimeValue> parse_time_limit(std::string_view text) {
  auto seconds = parse_time_seconds(text);
  if (!seconds) return Unexpected(seconds.error());
  TimeValue out;
  if (!*seconds) {
    out.unlimited = true;
    return out;
  }
  auto minutes = (**seconds + 59) / 60;
  if (minutes == 0) {
    out.unlimited = true;  // Slurm treats a limit of 0 as INFINITE
    return out;
  }
  out.minutes = static_cast<std::uint32_t>(minutes);
  return out;
}

Expected<std::uint64_t> parse_megabytes(std::string_view text) {
  auto bad = [&] {
    return Unexpected("invalid value " + util::quote(text) +
                      " (expected a whole number with an optional unit K, M, G or T, e.g. 4G or 4000M)");
  };
  std::size_t pos = 0;
  auto r = c_strtol(text, pos);
  if (!r.any || r.value < 0 || r.value == LLONG_MAX) return bad();
  auto rest = text.substr(pos);
  auto value = static_cast<std::uint64_t>(r.value);
  if (rest.empty()) return value;
  if (value > (std::uint64_t{1} << 40)) return bad();  // beyond any machine, and safe to scale
  bool ends = rest.size() == 1 || (rest.size() == 2 && (rest[1] == 'B' || rest[1] == 'b'));
  if (!ends) return bad();
  switch (rest[0]) {
  case 'k': case 'K': return (value + 1023) / 1024;
  case 'm': case 'M': return value;
  case 'g': case 'G': return value * 1024;
  case 't': case 'T': return value * 1024 * 1024;
  default: return bad();
  }
}

Expected<NodeRange> parse_nodes(std::string_view text) {
  auto to_nodes = [](std::string_view s, std::string_view& leftover) -> long long {
    std::size_t pos = 0;
    auto r = c_strtol(s, pos);
    if (!r.any) {
      leftover = s;
      return -1;
    }
    long long n = std::clamp<long long>(r.value, -INT_MAX, INT_MAX);
    if (pos < s.size() && (s[pos] == 'k' || s[pos] == 'K')) {
      n *= 1024;
      ++pos;
    }
    if (pos < s.size() && (s[pos] == 'm' || s[pos] == 'M')) {
      n *= 1024 * 1024;
      ++pos;
    }
    leftover = s.substr(pos);
    return n;
  };
  const std::string expected = " (expected N or MIN-MAX, e.g. 2 or 2-4)";
  NodeRange out;
  std::string_view leftover;
  long long min = 0, max = 0;
  auto dash = text.find('-');
  if (dash != std::string_view::npos) {
    auto min_text = text.substr(0, dash);
    min = to_nodes(min_text, leftover);
    if (!only_spaces(leftover)) return Unexpected("invalid value " + util::quote(text) + expected);
    if (min < 0) min = 1;
    max = to_nodes(text.substr(dash + 1), leftover);
    if (!only_spaces(leftover)) return Unexpected("invalid value " + util::quote(text) + expected);
  } else {
    min = max = to_nodes(text, leftover);
    if (!only_spaces(leftover) || min < 0) return Unexpected("invalid value " + util::quote(text) + expected);
  }
  if (max != 0 && max < min)
    return Unexpected("invalid value " + util::quote(text) + ": maximum node count " + std::to_string(max) +
                      " is less than minimum node count " + std::to_string(min));
  if (min > INT_MAX || max > INT_MAX) return Unexpected("invalid value " + util::quote(text) + " (too large)");
  out.min = static_cast<std::uint32_t>(min);
  out.max = static_cast<std::uint32_t>(max);
  return out;
}

Expected<std::uint32_t> parse_positive_int(std::string_view text) {
  std::size_t pos = 0;
  auto r = c_strtol(text, pos);
  if (!r.any || pos != text.size() || r.value <= 0)
    return Unexpected("invalid value " + util::quote(text) + " (expected a positive whole number)");
  if (r.value > INT_MAX) return Unexpected("invalid value " + util::quote(text) + " (too large)");
  return static_cast<std::uint32_t>(r.value);
}

Expected<std::int64_t> parse_long(std::string_view text) {
  std::size_t pos = 0;
  auto r = c_strtol(text, pos);
  if (!r.any || pos != text.size())
    return Unexpected("invalid value " + util::quote(text) + " (expected a whole number)");
  return r.value;
}

Expected<ArraySpec> parse_array(std::string_view text, std::uint64_t max_array_size) {
  const std::string expected =
      " (expected indices N, ranges N-M or N-M:STEP separated by commas, optionally ending in %MAX_RUNNING; every "
      "index below " +
      std::to_string(max_array_size) + ")";
  auto bad = [&](const std::string& why) {
    return Unexpected("invalid value " + util::quote(text) + ": " + why + expected);
  };
  ArraySpec out;
  out.spec = std::string(text);
  auto max = static_cast<long long>(max_array_size);
  for (const auto& token : util::split(text, ',')) {
    if (token.empty()) continue;  // strtok skips empty fields
    std::string_view tok = token;
    if (!tok.empty() && tok.front() == '[') tok.remove_prefix(1);
    std::size_t pos = 0;
    auto first = c_strtol(tok, pos).value;
    auto at = [&](std::size_t p) { return p < tok.size() ? tok[p] : '\0'; };
    if (at(pos) == ']') ++pos;
    if (first < 0) return bad(util::quote(token) + " is negative");
    long long last = first, step = 1;
    if (at(pos) == '-') {
      ++pos;
      last = c_strtol(tok, pos).value;
      if (at(pos) == ']') ++pos;
      if (at(pos) == ':') {
        ++pos;
        step = c_strtol(tok, pos).value;
        if (at(pos) == ']') ++pos;
        if (at(pos) != '\0' && at(pos) != '%') return bad(util::quote(token) + " is not a range");
        if (step <= 0 || step >= max) return bad("step of " + util::quote(token) + " out of range");
      } else if (at(pos) != '\0' && at(pos) != '%') {
        return bad(util::quote(token) + " is not a range");
      }
      if (last < first) return bad(util::quote(token) + " ends before it starts");
    } else if (at(pos) != '\0' && at(pos) != '%') {
      return bad(util::quote(token) + " is not an index or range");
    }
    if (last >= max) return bad("index " + std::to_string(last) + " too large");
    ArrayRange range{static_cast<std::uint64_t>(first), static_cast<std::uint64_t>(last),
                     static_cast<std::uint64_t>(step)};
    range.last = range.first + (range.last - range.first) / range.step * range.step;
    out.ranges.push_back(range);
  }
  if (out.ranges.empty()) return bad("no index");
  auto percent = text.find('%');
  if (percent != std::string_view::npos) {
    std::size_t pos = percent + 1;
    auto r = c_strtol(text, pos);  // atoi
    if (r.any && r.value > 0) out.max_running = static_cast<std::uint64_t>(std::min<long long>(r.value, INT_MAX));
  }
  // Count distinct indices; ranges may overlap.
  bool disjoint_sorted = true;
  for (std::size_t i = 1; i < out.ranges.size(); ++i)
    disjoint_sorted = disjoint_sorted && out.ranges[i].first > out.ranges[i - 1].last;
  if (disjoint_sorted) {
    for (const auto& r : out.ranges) out.count += (r.last - r.first) / r.step + 1;
    out.min = out.ranges.front().first;
    out.max = out.ranges.back().last;
  } else {
    auto all = out.indices();
    out.count = all.size();
    out.min = all.front();
    out.max = all.back();
  }
  return out;
}

Expected<std::vector<GresRequest>> parse_gres(std::string_view text) {
  std::vector<GresRequest> out;
  if (util::iequals(text, "none")) return out;
  const std::string expected = " (expected NAME[:TYPE][:COUNT] entries separated by commas, e.g. gpu:a100:2)";
  for (const auto& entry : util::split(text, ',')) {
    std::string_view e = entry;
    if (util::istarts_with(e, "gres:")) e.remove_prefix(5);
    if (util::istarts_with(e, "gres/")) e.remove_prefix(5);
    auto parts = util::split(e, ':');
    GresRequest g;
    g.name = parts[0];
    if (g.name.empty() || parts.size() > 3)
      return Unexpected("invalid value " + util::quote(text) + ": entry " + util::quote(entry) + expected);
    auto count_of = [&](const std::string& s) -> std::optional<std::uint64_t> {
      std::size_t pos = 0;
      auto r = c_strtol(s, pos);
      if (!r.any || r.value < 0) return std::nullopt;
      std::uint64_t n = static_cast<std::uint64_t>(r.value);
      auto rest = std::string_view(s).substr(pos);
      if (n > (std::uint64_t{1} << 32)) return std::nullopt;
      if (rest.empty()) return n;
      if (rest.size() == 1) {
        switch (rest[0]) {
        case 'k': case 'K': return n * 1024;
        case 'm': case 'M': return n * 1024 * 1024;
        case 'g': case 'G': return n * 1024 * 1024 * 1024;
        default: break;
        }
      }
      return std::nullopt;
    };
    if (parts.size() == 2) {
      if (parts[1].empty())
        return Unexpected("invalid value " + util::quote(text) + ": entry " + util::quote(entry) + expected);
      if (is_digit(parts[1][0])) {
        auto n = count_of(parts[1]);
        if (!n) return Unexpected("invalid value " + util::quote(text) + ": count of " + util::quote(entry) + expected);
        g.count = *n;
      } else {
        g.type = parts[1];
      }
    } else if (parts.size() == 3) {
      if (parts[1].empty() || parts[2].empty())
        return Unexpected("invalid value " + util::quote(text) + ": entry " + util::quote(entry) + expected);
      g.type = parts[1];
      auto n = count_of(parts[2]);
      if (!n) return Unexpected("invalid value " + util::quote(text) + ": count of " + util::quote(entry) + expected);
      g.count = *n;
    }
    out.push_back(std::move(g));
  }
  return out;
}

Expected<GresRequest> parse_gpus(std::string_view text) {
  const std::string expected = " (expected [TYPE:]COUNT, e.g. 2 or a100:2)";
  GresRequest g;
  g.name = "gpu";
  auto parts = util::split(text, ':');
  std::string count_text;
  if (parts.size() == 1) {
    count_text = parts[0];
  } else if (parts.size() == 2 && !parts[0].empty()) {
    g.type = parts[0];
    count_text = parts[1];
  } else {
    return Unexpected("invalid value " + util::quote(text) + expected);
  }
  std::size_t pos = 0;
  auto r = c_strtol(count_text, pos);
  if (!r.any || pos != count_text.size() || r.value <= 0)
    return Unexpected("invalid value " + util::quote(text) + expected);
  g.count = static_cast<std::uint64_t>(r.value);
  return g;
}

Expected<std::optional<Dependency>> parse_dependency(std::string_view text) {
  if (text.empty() || text == "0") return std::optional<Dependency>{};
  const std::string expected =
      " (expected TYPE:JOBID[:JOBID...] items, TYPE one of after, afterany, afterok, afternotok, aftercorr, "
      "singleton, joined by ',' (all) or '?' (any))";
  auto bad = [&](const std::string& why) {
    return Unexpected("invalid value " + util::quote(text) + ": " + why + expected);
  };
  Dependency dep;
  dep.spec = std::string(text);
  std::size_t pos = 0;
  auto at = [&](std::size_t p) { return p < text.size() ? text[p] : '\0'; };
  auto parse_state = [&](std::size_t& p) -> bool {
    // An optional "(state)" suffix, as Slurm prints it back; anything up to ')'.
    auto open = text.find('(', p);
    if (open == std::string_view::npos) return true;
    auto close = text.find(')', p);
    if (close == std::string_view::npos) return false;
    if (open == p) p = close + 1;
    return true;
  };
  auto parse_job = [&](std::size_t& p, DependencyTarget& target) -> bool {
    auto r = c_strtol(text, p);
    if (!r.any || r.value == 0) return false;
    target.job_id = std::to_string(r.value);
    if (at(p) == '_') {
      if (at(p + 1) == '*') {
        target.task = "*";
        p += 2;
      } else {
        ++p;
        auto t = c_strtol(text, p);
        target.task = std::to_string(t.value);
      }
    }
    return true;
  };
  bool or_flag = false;
  while (true) {
    auto rest = text.substr(pos);
    if (util::istarts_with(rest, "singleton")) {
      pos += 9;
      if (!parse_state(pos)) return bad("unclosed '(' after singleton");
      dep.items.push_back({DependencyType::singleton, {}});
      if (at(pos) == ',') {
        ++pos;
        continue;
      }
      if (at(pos) == '?') {
        ++pos;
        or_flag = true;
        continue;
      }
      if (at(pos) != '\0') return bad("unexpected " + util::quote(text.substr(pos)) + " after singleton");
      break;
    }
    bool has_colon = rest.find(':') != std::string_view::npos;
    if (!has_colon && !rest.empty() && is_digit(rest[0])) {
      // The old form: a bare job id means afterany.
      DependencyTarget target;
      if (!parse_job(pos, target)) return bad("job id " + util::quote(rest) + " is not valid");
      if (at(pos) != '\0' && at(pos) != ',') return bad("unexpected " + util::quote(text.substr(pos)));
      dep.items.push_back({DependencyType::afterany, {target}});
      if (at(pos) == ',') {
        ++pos;
        continue;
      }
      break;
    }
    if (!has_colon) return bad(util::quote(rest) + " is not a dependency");
    struct Prefix {
      std::string_view text;
      DependencyType type;
    };
    // Checked in slurmctld's order and with its prefix lengths ("afterburstbuffer:" is matched on 11 bytes).
    static const Prefix prefixes[] = {{"afternotok:", DependencyType::afternotok},
                                      {"aftercorr:", DependencyType::aftercorr},
                                      {"afterany:", DependencyType::afterany},
                                      {"afterok:", DependencyType::afterok},
                                      {"afterburstb", DependencyType::afterburstbuffer},
                                      {"after:", DependencyType::after}};
    const Prefix* found = nullptr;
    for (const auto& p : prefixes) {
      if (util::istarts_with(rest, p.text)) {
        found = &p;
        break;
      }
    }
    if (!found) {
      auto type = rest.substr(0, rest.find(':'));
      if (util::iequals(type, "expand")) return bad("\"expand\" dependencies are not supported");
      return bad("unknown dependency type " + util::quote(type));
    }
    pos = text.find(':', pos) + 1;
    DependencyItem item{found->type, {}};
    // slurmctld keeps the "+minutes" of an id for the ids after it in the same element.
    std::optional<std::uint32_t> carried_minutes;
    while (true) {
      DependencyTarget target;
      target.minutes = carried_minutes;
      if (!parse_job(pos, target))
        return bad("job id " + util::quote(text.substr(pos)) + " is not valid");
      char c = at(pos);
      if (c != '\0' && c != ',' && c != '?' && c != ':' && c != '+' && c != '(')
        return bad("unexpected " + util::quote(text.substr(pos)) + " after job id " + target.job_id);
      if (c == '+') {
        ++pos;
        auto minutes = c_strtol(text, pos);
        if (minutes.value <= 0) return bad("the +MINUTES of job " + target.job_id + " must be positive");
        target.minutes = static_cast<std::uint32_t>(std::min<long long>(minutes.value, UINT32_MAX / 60));
        carried_minutes = target.minutes;
      }
      if (!parse_state(pos)) return bad("unclosed '('");
      item.jobs.push_back(std::move(target));
      if (at(pos) != ':') break;
      ++pos;
    }
    dep.items.push_back(std::move(item));
    if (at(pos) == ',') {
      ++pos;
      continue;
    }
    if (at(pos) == '?') {
      ++pos;
      or_flag = true;
      continue;
    }
    if (at(pos) != '\0') return bad("unexpected " + util::quote(text.substr(pos)));
    break;
  }
  dep.mode = or_flag ? Dependency::Mode::any : Dependency::Mode::all;
  // Like slurmctld, keep the first of several identical (type, job, task) dependencies.
  std::set<std::tuple<DependencyType, std::string, std::string>> seen;
  std::vector<DependencyItem> unique;
  for (auto& item : dep.items) {
    if (item.type == DependencyType::singleton) {
      if (seen.insert({item.type, "", ""}).second) unique.push_back(std::move(item));
      continue;
    }
    DependencyItem kept{item.type, {}};
    for (auto& t : item.jobs) {
      if (seen.insert({item.type, t.job_id, t.task.value_or("")}).second) kept.jobs.push_back(std::move(t));
    }
    if (!kept.jobs.empty()) unique.push_back(std::move(kept));
  }
  dep.items = std::move(unique);
  return std::optional<Dependency>(std::move(dep));
}

Expected<void> check_begin(std::string_view text) {
  auto bad = [&] {
    return Unexpected("invalid value " + util::quote(text) +
                      " (expected HH:MM[:SS][AM|PM], MMDD[YY], MM/DD[/YY], YYYY-MM-DD[THH:MM[:SS]], "
                      "now[+COUNT[seconds|minutes|hours|days|weeks]], today, tomorrow, midnight, noon, "
                      "fika or teatime)");
  };
  if (util::istarts_with(text, "uts")) {
    std::size_t pos = 3;
    auto r = c_strtol(text, pos);
    if (!r.any || r.value < 1000000 || pos != text.size()) return bad();
    return {};
  }
  std::string s(text);
  s.push_back('\0');
  auto len = text.size();
  auto ch = [&](std::size_t p) { return p < len ? s[p] : '\0'; };
  bool have_hour = false, have_date = false;
  static const char* units[] = {"seconds", "second", "sec", "s", "minutes", "minute", "min", "m",
                                "hours", "hour", "h", "days", "day", "d", "weeks", "week", "w"};
  for (std::size_t pos = 0; pos < len && s[pos] != '\n'; ++pos) {
    char c = s[pos];
    if (c == ' ' || c == '\t' || c == '-' || c == 'T') continue;
    auto rest = std::string_view(s.data() + pos, len - pos);
    if (util::istarts_with(rest, "today") || util::istarts_with(rest, "tomorrow")) {
      have_date = true;
      pos += util::istarts_with(rest, "today") ? 4 : 7;
      continue;
    }
    if (util::istarts_with(rest, "midnight") || util::istarts_with(rest, "noon") ||
        util::istarts_with(rest, "fika") || util::istarts_with(rest, "teatime")) {
      have_hour = true;
      pos += util::istarts_with(rest, "midnight") ? 7 : util::istarts_with(rest, "teatime") ? 6 : 3;
      continue;
    }
    if (util::istarts_with(rest, "now")) {
      std::size_t i = pos + 3;
      while (ch(i) == ' ' || ch(i) == '\t') ++i;
      if (ch(i) == '+' || ch(i) == '-') {
        // A count with an optional unit; spaces are skipped.
        std::size_t off = i + 1;
        int digits = 0;
        bool unit = false;
        for (; off < len && s[off] != '\n'; ++off) {
          if (is_space(s[off])) continue;
          auto tail = std::string_view(s.data() + off, len - off);
          const char* matched = nullptr;
          for (auto u : units) {
            if (util::istarts_with(tail, u)) {
              matched = u;
              break;
            }
          }
          if (matched) {
            off += std::string_view(matched).size();
            unit = true;
            break;
          }
          if (is_digit(s[off])) {
            ++digits;
            continue;
          }
          return bad();
        }
        if (!digits) return bad();
        pos = off - 1;
        (void)unit;
      } else if (ch(i) != '\0' && ch(i) != '\n') {
        return bad();
      } else {
        pos = i - 1;
      }
      have_hour = have_date = true;
      continue;
    }
    if (!is_digit(c)) return bad();
    if (ch(pos + 1) == ':' || ch(pos + 2) == ':') {
      std::size_t off = pos;
      int hr = ch(off++) - '0';
      if (ch(off) != ':') {
        if (!is_digit(ch(off))) return bad();
        hr = hr * 10 + (ch(off++) - '0');
      }
      if (hr > 23 || ch(off) != ':') return bad();
      ++off;
      if (!is_digit(ch(off)) || !is_digit(ch(off + 1))) return bad();
      int min = (ch(off) - '0') * 10 + (ch(off + 1) - '0');
      off += 2;
      if (min > 59) return bad();
      if (ch(off) == ':') {
        ++off;
        if (!is_digit(ch(off)) || !is_digit(ch(off + 1))) return bad();
        int sec = (ch(off) - '0') * 10 + (ch(off + 1) - '0');
        off += 2;
        if (sec > 59) return bad();
      }
      while (is_space(ch(off))) ++off;
      auto tail = std::string_view(s.data() + std::min(off, len), len - std::min(off, len));
      if (util::istarts_with(tail, "pm")) {
        hr += 12;
        if (hr > 24) return bad();
        off += 2;
      } else if (util::istarts_with(tail, "am")) {
        if (hr > 12) return bad();
        off += 2;
      }
      pos = off - 1;
      have_hour = true;
      continue;
    }
    // A date.
    std::size_t off = pos;
    if (len >= off + 7 && ch(off + 4) == '-' && ch(off + 7) == '-') {
      for (int k = 0; k < 4; ++k)
        if (!is_digit(ch(off + static_cast<std::size_t>(k)))) return bad();
      off += 5;
      int mon = ch(off++) - '0';
      if (is_digit(ch(off))) mon = mon * 10 + (ch(off++) - '0');
      if (mon < 1 || mon > 12) return bad();
      ++off;
      if (!is_digit(ch(off))) return bad();
      int day = ch(off++) - '0';
      if (is_digit(ch(off))) day = day * 10 + (ch(off++) - '0');
      if (day < 1 || day > 31) return bad();
      pos = off - 1;
      have_date = true;
      continue;
    }
    int mon = ch(off++) - '0';
    if (is_digit(ch(off))) mon = mon * 10 + (ch(off++) - '0');
    if (mon < 1 || mon > 12) return bad();
    if (ch(off) == '.' || ch(off) == '/') ++off;
    if (!is_digit(ch(off))) return bad();
    int day = ch(off++) - '0';
    if (is_digit(ch(off))) day = day * 10 + (ch(off++) - '0');
    if (day < 1 || day > 31) return bad();
    if (ch(off) == '.' || ch(off) == '/') ++off;
    if (is_digit(ch(off))) {
      ++off;
      if (!is_digit(ch(off))) return bad();
      ++off;
    }
    pos = off - 1;
    have_date = true;
  }
  if (!have_hour && !have_date) return bad();
  return {};
}

Expected<SignalSpec> parse_signal(std::string_view text) {
  auto bad = [&] {
    return Unexpected("invalid value " + util::quote(text) +
                      " (expected [R][B][:]SIGNAL[@SECONDS], SIGNAL a number or a name such as USR1 or SIGTERM)");
  };
  struct Named {
    const char* name;
    int number;
  };
  static const Named names[] = {{"HUP", 1},   {"INT", 2},   {"QUIT", 3},  {"ABRT", 6},  {"KILL", 9},  {"ALRM", 14},
                                {"TERM", 15}, {"USR1", 10}, {"USR2", 12}, {"URG", 23},  {"CONT", 18}, {"STOP", 19},
                                {"TSTP", 20}, {"TTIN", 21}, {"TTOU", 22}, {"XCPU", 24}};
  SignalSpec out;
  std::string_view s = text;
  if (!s.empty() && (s[0] == 'R' || s[0] == 'r')) {
    out.reservation = true;
    s.remove_prefix(1);
  }
  if (!s.empty() && (s[0] == 'B' || s[0] == 'b')) {
    out.batch_shell_only = true;
    s.remove_prefix(1);
  }
  if (!s.empty() && (s[0] == 'R' || s[0] == 'r')) {
    out.reservation = true;
    s.remove_prefix(1);
  }
  if (!s.empty() && s[0] == ':') s.remove_prefix(1);
  auto at = s.find('@');
  auto sig = s.substr(0, at);
  int number = 0;
  std::size_t pos = 0;
  auto r = c_strtol(sig, pos);
  if (r.any) {
    if (only_spaces(sig.substr(pos))) number = static_cast<int>(r.value & 0xffff);
  } else {
    auto name = util::trim(sig);
    if (util::istarts_with(name, "SIG")) name.remove_prefix(3);
    for (const auto& n : names) {
      auto len = std::string_view(n.name).size();
      if (util::istarts_with(name, n.name) && only_spaces(name.substr(len))) {
        number = n.number;
        break;
      }
    }
  }
  if (number < 1) return bad();
  out.number = number;
  out.name = std::to_string(number);
  for (const auto& n : names) {
    if (n.number == number) out.name = n.name;
  }
  if (at == std::string_view::npos) {
    out.seconds_before = 60;
    return out;
  }
  auto secs = s.substr(at + 1);
  std::size_t spos = 0;
  auto t = c_strtol(secs, spos);
  if (t.value < 0 || t.value > 0xffff || spos != secs.size()) return bad();
  out.seconds_before = static_cast<std::uint32_t>(t.value);
  return out;
}

Expected<OpenMode> parse_open_mode(std::string_view text) {
  if (!text.empty() && (text[0] == 'a' || text[0] == 'A')) return OpenMode::append;
  if (!text.empty() && (text[0] == 't' || text[0] == 'T')) return OpenMode::truncate;
  return Unexpected("invalid value " + util::quote(text) + " (expected append or truncate)");
}

Expected<ExclusiveValue> parse_exclusive(std::optional<std::string_view> text) {
  ExclusiveValue out;
  if (!text || util::iequals(*text, "exclusive")) return out;
  if (util::iequals(*text, "oversubscribe")) {
    out.mode = Exclusive::no;
    out.oversubscribe = true;
    return out;
  }
  if (util::iequals(*text, "user")) {
    out.mode = Exclusive::user;
    return out;
  }
  if (util::iequals(*text, "mcs")) {
    out.mode = Exclusive::mcs;
    return out;
  }
  return Unexpected("invalid value " + util::quote(*text) + " (expected exclusive, user, mcs or oversubscribe)");
}

ExportSpec parse_export(std::string_view text) {
  ExportSpec out;
  out.spec = std::string(text);
  out.all = false;
  bool any_variable = false;
  for (const auto& item : util::split(text, ',')) {
    if (util::iequals(item, "ALL")) {
      out.all = true;
    } else if (util::iequals(item, "NONE")) {
      out.all = false;
    } else if (!item.empty()) {
      any_variable = true;
      auto eq = item.find('=');
      if (eq == std::string::npos) out.variables.emplace_back(item, std::nullopt);
      else out.variables.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
  }
  // "--export=VAR" alone exports only VAR (and SLURM_*); "ALL,VAR" adds VAR to everything.
  (void)any_variable;
  return out;
}

Expected<std::vector<std::string>> parse_mail_types(std::string_view text) {
  static const char* known[] = {"NONE", "ARRAY_TASKS", "BEGIN", "END", "FAIL", "INVALID_DEPEND", "REQUEUE", "ALL",
                                "STAGE_OUT", "TIME_LIMIT", "TIME_LIMIT_90", "TIME_LIMIT_80", "TIME_LIMIT_50"};
  std::vector<std::string> out;
  bool none = false;
  for (const auto& tok : util::split(text, ',')) {
    if (tok.empty()) continue;
    for (auto k : known) {
      if (util::iequals(tok, k)) {
        if (std::string_view(k) == "NONE") {
          none = true;
          out.clear();
        } else {
          out.emplace_back(k);
        }
        break;
      }
    }
    if (none) break;
  }
  if (out.empty() && !none)
    return Unexpected("invalid value " + util::quote(text) +
                      " (expected NONE, BEGIN, END, FAIL, REQUEUE, ALL, INVALID_DEPEND, STAGE_OUT, TIME_LIMIT, "
                      "TIME_LIMIT_90, TIME_LIMIT_80, TIME_LIMIT_50 or ARRAY_TASKS, separated by commas)");
  return out;
}

Expected<std::size_t> count_hostlist(std::string_view text) {
  auto bad = [&] { return Unexpected("invalid value " + util::quote(text) + " (expected host names or ranges like cn[01-04,07])"); };
  std::set<std::string> hosts;
  std::size_t i = 0;
  while (i < text.size()) {
    // One entry: text up to a ',' outside brackets.
    std::size_t start = i;
    int depth = 0;
    while (i < text.size() && (text[i] != ',' || depth > 0)) {
      if (text[i] == '[') ++depth;
      if (text[i] == ']') --depth;
      if (depth < 0 || depth > 1) return bad();
      ++i;
    }
    if (depth != 0) return bad();
    auto entry = text.substr(start, i - start);
    if (i < text.size()) ++i;
    if (entry.empty()) continue;
    auto open = entry.find('[');
    if (open == std::string_view::npos) {
      hosts.insert(std::string(entry));
      continue;
    }
    auto close = entry.find(']', open);
    auto prefix = std::string(entry.substr(0, open));
    auto suffix = std::string(entry.substr(close + 1));
    for (const auto& part : util::split(entry.substr(open + 1, close - open - 1), ',')) {
      auto dash = part.find('-');
      auto lo_text = part.substr(0, dash);
      auto hi_text = dash == std::string::npos ? lo_text : part.substr(dash + 1);
      auto lo = util::parse_uint(lo_text), hi = util::parse_uint(hi_text);
      if (!lo || !hi || *hi < *lo || *hi - *lo > 1000000) return bad();
      for (auto n = *lo; n <= *hi; ++n) {
        auto digits = std::to_string(n);
        if (digits.size() < lo_text.size()) digits.insert(0, lo_text.size() - digits.size(), '0');
        hosts.insert(prefix + digits + suffix);
      }
    }
  }
  return hosts.size();
}

Expected<bool> parse_yes_no(std::string_view text) {
  if (util::iequals(text, "yes")) return true;
  if (util::iequals(text, "no")) return false;
  return Unexpected("invalid value " + util::quote(text) + " (expected yes or no)");
}

} // namespace spawn::slurm
