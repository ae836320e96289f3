#include "runtime/output_pattern.hpp"

#include <cctype>

namespace spawn::runtime {

namespace {

constexpr std::size_t k_max_width = 10;

std::string padded(std::uint64_t n, std::size_t width) {
  std::string s = std::to_string(n);
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  return s;
}

// slurmstepd drops escaping backslashes ("\\" keeps one) and then substitutes nothing.
std::string remove_escapes(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\') {
      if (i + 1 < text.size() && text[i + 1] == '\\') out += text[++i];
      continue;
    }
    out += text[i];
  }
  return out;
}

std::string join_work_dir(std::string_view work_dir, std::string name) {
  if (!name.empty() && name.front() == '/') return name;
  std::string out(work_dir);
  if (out.empty() || out.back() != '/') out += '/';
  return out + name;
}

} // namespace

std::string expand_pattern(std::string_view pattern, const PatternContext& context, std::string_view work_dir) {
  if (pattern.find('\\') != std::string_view::npos) return join_work_dir(work_dir, remove_escapes(pattern));
  // A pattern that is only a number names the one task whose output it is (srun's --output=N); for the batch
  // script, task 0, every other number means /dev/null.
  bool digits = !pattern.empty();
  for (char c : pattern) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (digits && pattern.find_first_not_of('0') != std::string_view::npos) return "/dev/null";

  std::string out;
  std::size_t i = 0;
  while (i < pattern.size()) {
    char c = pattern[i];
    if (c != '%') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < pattern.size() && pattern[i + 1] == '%') {
      out += '%';
      i += 2;
      continue;
    }
    // "%<digits><letter>": the width is clamped to 10; as in fname.c, when the letter is unknown the '%' and all
    // digits but the last are dropped ("%12q" -> "2q").
    std::size_t j = i + 1;
    std::size_t width = 0;
    bool has_width = false;
    while (j < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[j]))) {
      has_width = true;
      width = std::min<std::size_t>(width * 10 + static_cast<std::size_t>(pattern[j] - '0'), 1000);
      ++j;
    }
    width = std::min(width, k_max_width);
    if (j >= pattern.size()) {
      out += has_width ? std::string(1, pattern[j - 1]) : std::string("%");
      break;
    }
    std::string value;
    bool known = true;
    switch (pattern[j]) {
    case 'a': value = padded(context.array_task_id.value_or(k_no_array_task), width); break;
    case 'A': value = padded(context.array_task_id ? context.array_job_id : context.job_id, width); break;
    case 'j': value = padded(context.job_id, width); break;
    case 'J': value = padded(context.job_id, width); break;  // the batch step adds no ".step"
    case 'n': value = padded(context.node_id, width); break;
    case 'N': value = context.node_name; break;
    case 's': value = "batch"; break;
    case 't': value = padded(context.task_id, width); break;
    case 'u': value = context.user; break;
    case 'x': value = context.job_name; break;
    default: known = false;
    }
    if (known) {
      out += value;
    } else if (has_width) {
      out += pattern[j - 1];
      out += pattern[j];
    } else {
      out += '%';
      out += pattern[j];
    }
    i = j + 1;
  }
  return join_work_dir(work_dir, out);
}

StdioPaths stdio_paths(const Plan& plan, const PatternContext& context) {
  StdioPaths paths;
  std::string default_output = plan.array ? "slurm-%A_%a.out" : "slurm-%j.out";
  paths.output = expand_pattern(plan.output.value_or(default_output), context, plan.work_dir);
  if (plan.error) paths.error = expand_pattern(*plan.error, context, plan.work_dir);
  if (plan.input) paths.input = expand_pattern(*plan.input, context, plan.work_dir);
  return paths;
}

} // namespace spawn::runtime
