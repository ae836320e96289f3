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
    // Every following name with the same prefix and width joins this bracket; consecutive numbers form ranges.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges{{*first.number, *first.number}};
    std::size_t j = i + 1;
    for (; j < names.size(); ++j) {
      Split next = split_name(names[j]);
      if (!next.number || next.prefix != first.prefix || next.width != first.width) break;
      if (*next.number == ranges.back().second + 1) {
        ranges.back().second = *next.number;
      } else {
        ranges.emplace_back(*next.number, *next.number);
      }
    }
    out += out.empty() ? "" : ",";
    if (j == i + 1) {
      out += names[i];
    } else {
      out += first.prefix + "[";
      for (std::size_t r = 0; r < ranges.size(); ++r) {
        if (r) out += ",";
        out += padded(ranges[r].first, first.width);
        if (ranges[r].second != ranges[r].first) out += "-" + padded(ranges[r].second, first.width);
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
