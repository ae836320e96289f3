#include "slurm/scanner.hpp"

#include <cctype>

#include "util/strings.hpp"

namespace spawn::slurm {

namespace {
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// "hetjob"/"packjob" followed by the end or a space: sbatch's separator between job components.
bool starts_with_separator(std::string_view s) {
  for (std::string_view word : {std::string_view("hetjob"), std::string_view("packjob")}) {
    if (util::istarts_with(s, word) && (s.size() == word.size() || is_space(s[word.size()]))) return true;
  }
  return false;
}
} // namespace

std::optional<std::string> check_script_text(std::string_view text) {
  bool blank = true;
  for (char c : text) blank = blank && is_space(c);
  if (blank) return std::string("the batch script is empty");
  if (text.size() < 2 || text[0] != '#' || text[1] != '!')
    return std::string("the batch script does not start with \"#!\" (sbatch needs an interpreter line, e.g. #!/bin/bash)");
  if (text.find('\0') != std::string_view::npos) return std::string("the batch script contains a NUL byte");
  if (text.find("\r\n") != std::string_view::npos)
    return std::string("the batch script contains DOS line breaks (\\r\\n) instead of UNIX line breaks (\\n); "
                       "convert it with dos2unix");
  return std::nullopt;
}

TokenizeResult tokenize_directive(std::string_view line) {
  TokenizeResult out;
  std::size_t p = 0;
  while (true) {
    while (p < line.size() && is_space(line[p])) ++p;
    // sbatch blanks a component separator word and then finds no argument: the rest of the line is dropped.
    if (starts_with_separator(line.substr(p))) return out;
    if (p < line.size() && line[p] == ':') {
      out.error = "unexpected ':' in " + util::quote(line);
      return out;
    }
    if (p >= line.size()) return out;
    std::string token;
    bool any = false, escape = false, quoted = false;
    char quote_char = 0;
    while (p < line.size() && (quoted || !is_space(line[p])) && line[p] != '\n') {
      char c = line[p];
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
        ++p;
        continue;
      } else if (quoted) {
        if (c == quote_char) {
          quoted = false;
          ++p;
          continue;
        }
      } else if (c == '"' || c == '\'') {
        quoted = true;
        quote_char = c;
        ++p;
        continue;
      } else if (c == '#') {
        break;
      }
      token += c;
      any = true;
      ++p;
    }
    if (quoted) {
      out.error = std::string("unmatched ") + quote_char + " in " + util::quote(line);
      return out;
    }
    if (!any) return out;  // an empty token ("" or a '#') ends the line for sbatch
    out.tokens.push_back(std::move(token));
    if (p < line.size() && line[p] == '#') return out;
  }
}

ScriptScan scan_script(std::string_view text) {
  ScriptScan out;
  int lineno = 0;
  std::size_t start = 0;
  bool warned_slurm = false;
  bool stopped = false;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(start, end - start);
    start = end + 1;
    ++lineno;
    std::string_view rest;
    bool spawn = false;
    if (line.substr(0, 7) == "#SBATCH") {
      rest = line.substr(7);
    } else if (line.substr(0, 6) == "#SLURM") {
      rest = line.substr(6);
      if (!warned_slurm) {
        out.warnings.emplace_back(lineno, "#SLURM is deprecated: change it to #SBATCH");
        warned_slurm = true;
      }
    } else if (line.substr(0, 6) == "#SPAWN") {
      rest = line.substr(6);
      spawn = true;
    } else {
      bool command = false;
      for (char c : line) {
        if (is_space(c)) continue;
        command = c != '#';
        break;
      }
      if (command) {
        out.body_line = lineno;
        stopped = true;
        break;
      }
      continue;
    }
    auto trimmed = rest;
    while (!trimmed.empty() && is_space(trimmed.front())) trimmed.remove_prefix(1);
    if (!spawn && starts_with_separator(trimmed)) {
      out.het_job_line = lineno;
      out.warnings.emplace_back(lineno, "heterogeneous job: only the first component (the directives before this "
                                        "line) is read; spawn runs it as one job");
      // sbatch reads the other components separately; their lines are not part of this job.
      auto next = text.find('\n', start);
      (void)next;
      // Keep scanning only to find the body line and #SPAWN lines.
      continue;
    }
    auto tokens = tokenize_directive(rest);
    if (tokens.error) {
      out.errors.emplace_back(lineno, *tokens.error);
      continue;
    }
    if (spawn) {
      out.spawn_directives.push_back({lineno, std::move(tokens.tokens)});
    } else if (!out.het_job_line) {
      for (auto& t : tokens.tokens) out.sbatch_tokens.push_back({std::move(t), lineno});
    }
  }
  if (!stopped) out.body_line = lineno + 1;
  return out;
}

} // namespace spawn::slurm
