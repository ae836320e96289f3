#include "runtime/hostlist.hpp"

#include <cctype>
#include <optional>

namespace spawn::runtime {

namespace {

struct Split {
  std::string prefix;
  std::optional<std::uint64_t> number;
  std::size_t width = 0;  // digits as written, for zero padding
};

Split split_name(const std::string& name) {
  std::size_t end = name.size();
  std::size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(name[begin - 1]))) --begin;
  // Slurm keeps at most 18 digits as a number; longer runs are part of the prefix.
  if (begin == end || end - begin > 18) return {name, std::nullopt, 0};
  return {name.substr(0, begin), std::stoull(name.substr(begin)), end - begin};
}

std::string padded(std::uint64_t n, std::size_t width) {
  std::string s = std::to_string(n);
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  return s;
}

// Slurm's rule (hostlist.c, _width_equiv): consecutive numbers of different widths share a range when one of them
// was written without zero padding ("n9" and "n10": "n[9-10]"); the range then takes the padded one's width.
std::size_t leading_zeros(std::uint64_t n, std::size_t width) {
  std::size_t digits = std::to_string(n).size();
  return width > digits ? width - digits : 0;
}

bool width_equiv(std::uint64_t n, std::size_t& wn, std::uint64_t m, std::size_t& wm) {
  if (wn == wm) return true;
  std::size_t npad = leading_zeros(n, wn), nmpad = leading_zeros(n, wm);
  std::size_t mpad = leading_zeros(m, wm), mnpad = leading_zeros(m, wn);
  if (npad != nmpad && mpad != mnpad) return false;
  if (npad != nmpad) {
    wm = wn;
  } else {
    wn = wm;
  }
  return true;
}

} // namespace

std::string compress_hostlist(const std::vector<std::string>& names) {
  std::string out;
  std::size_t i = 0;
  while (i < names.size()) {
    Split first = split_name(names[i]);
    if (!first.number) {
      out += (out.empty() ? "" : ",") + names[i];
      ++i;
      continue;
    }
    // Every following name with the same prefix joins this bracket; consecutive numbers of equivalent widths form
    // ranges, each printed with its own width.
    struct Range {
      std::uint64_t lo, hi;
      std::size_t width;
    };
    std::vector<Range> ranges{{*first.number, *first.number, first.width}};
    std::size_t j = i + 1;
    for (; j < names.size(); ++j) {
      Split next = split_name(names[j]);
      if (!next.number || next.prefix != first.prefix) break;
      Range& last = ranges.back();
      std::size_t last_width = last.width, next_width = next.width;
      // As Slurm (hostrange_width_combine), the range's first number decides.
      if (*next.number == last.hi + 1 && width_equiv(last.lo, last_width, *next.number, next_width)) {
        last.hi = *next.number;
        last.width = last_width;
      } else {
        ranges.push_back({*next.number, *next.number, next.width});
      }
    }
    out += out.empty() ? "" : ",";
    if (j == i + 1) {
      out += names[i];
    } else {
      out += first.prefix + "[";
      for (std::size_t r = 0; r < ranges.size(); ++r) {
        if (r) out += ",";
        out += padded(ranges[r].lo, ranges[r].width);
        if (ranges[r].hi != ranges[r].lo) out += "-" + padded(ranges[r].hi, ranges[r].width);
      }
      out += "]";
    }
    i = j;
  }
  return out;
}

std::vector<std::string> expand_hostlist(const std::string& list) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < list.size()) {
    // One element: a prefix, optionally one bracket, optionally a suffix; elements are separated by top-level commas.
    std::size_t open = std::string::npos, close = std::string::npos, end = i;
    for (; end < list.size(); ++end) {
      if (list[end] == '[' && open == std::string::npos) open = end;
      if (list[end] == ']' && open != std::string::npos) close = end;
      if (list[end] == ',' && (open == std::string::npos || close != std::string::npos)) break;
    }
    std::string element = list.substr(i, end - i);
    if (open == std::string::npos || close == std::string::npos) {
      if (!element.empty()) out.push_back(element);
    } else {
      std::string prefix = list.substr(i, open - i);
      std::string suffix = list.substr(close + 1, end - close - 1);
      std::string body = list.substr(open + 1, close - open - 1);
      std::size_t p = 0;
      while (p <= body.size()) {
        std::size_t comma = body.find(',', p);
        if (comma == std::string::npos) comma = body.size();
        std::string range = body.substr(p, comma - p);
        std::size_t dash = range.find('-');
        std::string lo = range.substr(0, dash);
        std::string hi = dash == std::string::npos ? lo : range.substr(dash + 1);
        bool numeric = !lo.empty() && !hi.empty();
        for (char c : lo + hi) numeric = numeric && std::isdigit(static_cast<unsigned char>(c));
        if (numeric) {
          for (std::uint64_t n = std::stoull(lo), last = std::stoull(hi); n <= last; ++n) {
            out.push_back(prefix + padded(n, lo.size()) + suffix);
          }
        } else if (!range.empty()) {
          out.push_back(prefix + range + suffix);
        }
        p = comma + 1;
      }
    }
    i = end + 1;
  }
  return out;
}

std::string compress_counts(const std::vector<std::uint32_t>& counts) {
  std::string out;
  std::size_t i = 0;
  while (i < counts.size()) {
    std::size_t j = i;
    while (j < counts.size() && counts[j] == counts[i]) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(counts[i]);
    if (j - i > 1) out += "(x" + std::to_string(j - i) + ")";
    i = j;
  }
  return out;
}

std::vector<std::uint32_t> distribute_tasks(std::uint32_t tasks, std::uint32_t nodes) {
  if (nodes == 0) return {};
  std::vector<std::uint32_t> out(nodes, tasks / nodes);
  for (std::uint32_t i = 0; i < tasks % nodes; ++i) ++out[i];
  return out;
}

} // namespace spawn::runtime
