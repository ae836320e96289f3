#include "core/job.hpp"

#include <algorithm>
#include <set>

namespace spawn {

const char* to_string(OptionSource source) {
  switch (source) {
  case OptionSource::script: return "script";
  case OptionSource::environment: return "environment";
  case OptionSource::command_line: return "command line";
  }
  return "?";
}

const char* to_string(DependencyType type) {
  switch (type) {
  case DependencyType::after: return "after";
  case DependencyType::afterany: return "afterany";
  case DependencyType::afterok: return "afterok";
  case DependencyType::afternotok: return "afternotok";
  case DependencyType::aftercorr: return "aftercorr";
  case DependencyType::afterburstbuffer: return "afterburstbuffer";
  case DependencyType::singleton: return "singleton";
  }
  return "?";
}

std::vector<std::uint64_t> ArraySpec::indices() const {
  std::set<std::uint64_t> seen;
  for (const auto& r : ranges) {
    for (std::uint64_t i = r.first; i <= r.last; i += r.step) {
      seen.insert(i);
      if (r.last - i < r.step) break;
    }
  }
  return {seen.begin(), seen.end()};
}

const Directive* Job::find(const std::string& option) const {
  auto it = std::find_if(directives.rbegin(), directives.rend(),
                         [&](const Directive& d) { return d.option == option; });
  return it == directives.rend() ? nullptr : &*it;
}

} // namespace spawn
