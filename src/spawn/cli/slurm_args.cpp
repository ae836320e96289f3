#include "cli/slurm_args.hpp"

#include "slurm/options.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace spawn::cli {

std::optional<std::string> SlurmArgs::value(std::string_view name) const {
  auto it = values.find(std::string(name));
  if (it == values.end()) return std::nullopt;
  return it->second;
}

namespace {

const SpawnOption* match(const std::vector<SpawnOption>& options, std::string_view word, std::optional<std::string>& attached) {
  auto eq = word.find('=');
  auto name = word.substr(0, eq);
  for (const auto& o : options) {
    if (name == o.name || (!o.alias.empty() && name == o.alias)) {
      if (eq != std::string_view::npos) attached = std::string(word.substr(eq + 1));
      return &o;
    }
  }
  return nullptr;
}

bool is_sbatch_option_name(std::string_view word) {
  auto name = word.substr(0, word.find('='));
  if (name.size() == 2 && name[0] == '-' && name[1] != '-') {
    for (const auto& o : slurm::option_table())
      if (o.short_name == name[1]) return true;
    return false;
  }
  if (name.substr(0, 2) != "--") return false;
  return slurm::find_option(name.substr(2)) != nullptr;
}

} // namespace

SlurmArgs parse_slurm_args(std::string_view command, const std::vector<std::string>& args,
                           const std::vector<SpawnOption>& options) {
  SlurmArgs out;
  std::vector<std::string> before;
  std::size_t i = 0;
  auto take_value = [&](const SpawnOption& o, std::optional<std::string> attached) {
    if (!o.takes_value) {
      if (attached) throw Error(std::string(command) + ": " + std::string(o.name) + " takes no value");
      out.values[std::string(o.name)] = "";
      return;
    }
    if (attached) {
      out.values[std::string(o.name)] = *attached;
      return;
    }
    if (i + 1 >= args.size()) throw Error(std::string(command) + ": " + std::string(o.name) + " needs a value");
    out.values[std::string(o.name)] = args[++i];
  };
  // Before the script: sbatch's options, with spawn's own where sbatch has no such name.
  std::optional<std::string> script;
  for (; i < args.size(); ++i) {
    const auto& word = args[i];
    if (word == "--") {
      if (i + 1 < args.size()) script = args[++i];
      ++i;
      break;
    }
    if (word.size() < 2 || word[0] != '-') {
      script = word;
      ++i;
      break;
    }
    std::optional<std::string> attached;
    const auto* o = is_sbatch_option_name(word) ? nullptr : match(options, word, attached);
    if (o) {
      take_value(*o, attached);
      continue;
    }
    // An sbatch option: let getopt say whether it takes the next word as its value.
    std::vector<slurm::ArgToken> probe{{word, 0}};
    if (i + 1 < args.size()) probe.push_back({args[i + 1], 0});
    // The next word is this option's value only when getopt took it as such (not when it is an option itself).
    auto result = slurm::getopt_long(probe);
    bool takes_next = result.stopped_at >= 2 && result.options.size() == 1 && result.options[0].value &&
                      *result.options[0].value == probe[1].text;
    before.push_back(word);
    if (takes_next) before.push_back(args[++i]);
  }
  if (!script) throw Error(std::string(command) + ": no batch script given (usage: spawn " +
                           std::string(command) + " [SBATCH OPTIONS] SCRIPT ...)");
  out.request.script_path = *script;
  out.request.command_line = before;
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  // After the script: spawn's options anywhere, the rest are the script's arguments.
  bool options_done = false;
  std::vector<std::string> script_args;
  for (std::size_t k = 0; k < rest.size(); ++k) {
    if (!options_done && rest[k] == "--") {
      options_done = true;
      continue;
    }
    std::optional<std::string> attached;
    const auto* o = options_done ? nullptr : match(options, rest[k], attached);
    if (!o) {
      script_args.push_back(rest[k]);
      continue;
    }
    if (o->takes_value && !attached) {
      if (k + 1 >= rest.size()) throw Error(std::string(command) + ": " + std::string(o->name) + " needs a value");
      attached = rest[++k];
    }
    if (!o->takes_value && attached) throw Error(std::string(command) + ": " + std::string(o->name) + " takes no value");
    out.values[std::string(o->name)] = attached.value_or("");
  }
  out.request.script_args = std::move(script_args);
  out.request.environment = slurm::current_environment();
  return out;
}

} // namespace spawn::cli
