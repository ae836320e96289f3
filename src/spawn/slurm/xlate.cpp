#include "slurm/xlate.hpp"

#include <cctype>
#include <cstdlib>

#include "slurm/scanner.hpp"
#include "util/strings.hpp"

namespace spawn::slurm {

namespace {

constexpr ArgKind N = ArgKind::none;
constexpr ArgKind R = ArgKind::required;
constexpr ArgKind O = ArgKind::optional;

// A qsub or bsub option as sbatch's translator declares it. The long form may take its argument differently
// from the short one: PBS "-j" needs one, "--join" takes one only after '='.
struct WrapperOption {
  std::string_view long_name;  // empty: no long form
  char short_name;
  ArgKind short_arg;
  ArgKind long_arg;
};

const std::vector<WrapperOption>& pbs_options() {
  static const std::vector<WrapperOption> table = {
      {"start_time", 'a', R, R},    {"account", 'A', R, R},        {"checkpoint", 'c', R, R},
      {"working_dir", 'C', R, R},   {"error", 'e', R, R},          {"hold", 'h', N, N},
      {"interactive", 'I', N, N},   {"join", 'j', R, O},           {"job_array", 'J', R, R},
      {"keep", 'k', R, R},          {"resource_list", 'l', R, R},  {"mail_options", 'm', R, R},
      {"mail_user_list", 'M', R, R}, {"job_name", 'N', R, R},      {"out", 'o', R, R},
      {"priority", 'p', R, R},      {"destination", 'q', R, R},    {"rerunable", 'r', R, R},
      {"script_path", 'S', R, R},   {"array", 't', R, R},          {"running_user", 'u', R, R},
      {"variable_list", 'v', R, R}, {"all_env", 'V', N, N},        {"attributes", 'W', R, R},
      {"no_std", 'z', N, N},
  };
  return table;
}

const std::vector<WrapperOption>& bsub_options() {
  static const std::vector<WrapperOption> table = {
      {"cwd", 'c', R, R},          {"error_file", 'e', R, R}, {"job_name", 'J', R, R},
      {"hostname", 'm', R, R},     {"memory_limit", 'M', R, R}, {"", 'n', R, R},
      {"output_file", 'o', R, R},  {"queue_name", 'q', R, R}, {"time", 'W', R, R},
      {"exclusive", 'x', N, N},
  };
  return table;
}

struct WrapperArg {
  char option;  // the short name: sbatch's translator switches on it
  std::optional<std::string> value;
  int line;
};

struct WrapperParse {
  std::vector<WrapperArg> args;
  std::size_t stopped_at = 0;
  std::vector<std::pair<int, std::string>> errors;
};

// glibc getopt_long with "+" ordering over a wrapper's table; messages are glibc's, after "#PBS: ".
WrapperParse parse_wrapper_args(const std::vector<ArgToken>& args, const std::vector<WrapperOption>& table,
                                const std::string& directive) {
  WrapperParse out;
  auto fail = [&](int line, const std::string& message) { out.errors.emplace_back(line, directive + ": " + message); };
  std::size_t i = 0;
  while (i < args.size()) {
    const auto& tok = args[i];
    const std::string& a = tok.text;
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    ++i;
    if (a[1] == '-') {
      auto body = std::string_view(a).substr(2);
      auto eq = body.find('=');
      auto name = body.substr(0, eq);
      std::optional<std::string> attached;
      if (eq != std::string_view::npos) attached = std::string(body.substr(eq + 1));
      const WrapperOption* found = nullptr;
      std::vector<const WrapperOption*> candidates;
      for (const auto& o : table) {
        if (o.long_name.empty()) continue;
        if (o.long_name == name) {
          found = &o;
          break;
        }
        if (o.long_name.substr(0, name.size()) == name) candidates.push_back(&o);
      }
      if (!found && candidates.size() > 1) {
        std::string list;
        for (auto* c : candidates) list += " '--" + std::string(c->long_name) + "'";
        fail(tok.line, "option '--" + std::string(name) + "' is ambiguous; possibilities:" + list);
        continue;
      }
      if (!found && candidates.size() == 1) found = candidates.front();
      if (!found) {
        fail(tok.line, "unrecognized option '--" + std::string(name) + "'");
        continue;
      }
      WrapperArg arg{found->short_name, std::nullopt, tok.line};
      const std::string shown = "'--" + std::string(found->long_name) + "'";
      if (found->long_arg == ArgKind::none) {
        if (attached) {
          fail(tok.line, "option " + shown + " doesn't allow an argument");
          continue;
        }
      } else if (found->long_arg == ArgKind::optional || attached) {
        arg.value = attached;
      } else if (i < args.size()) {
        arg.value = args[i++].text;
      } else {
        fail(tok.line, "option " + shown + " requires an argument");
        continue;
      }
      out.args.push_back(std::move(arg));
      continue;
    }
    for (std::size_t k = 1; k < a.size();) {
      char c = a[k++];
      const WrapperOption* spec = nullptr;
      for (const auto& o : table) {
        if (o.short_name == c) spec = &o;
      }
      if (!spec) {
        fail(tok.line, std::string("invalid option -- '") + c + "'");
        continue;
      }
      WrapperArg arg{c, std::nullopt, tok.line};
      if (spec->short_arg == ArgKind::required) {
        if (k < a.size()) {
          arg.value = a.substr(k);
          k = a.size();
        } else if (i < args.size()) {
          arg.value = args[i++].text;
        } else {
          fail(tok.line, std::string("option requires an argument -- '") + c + "'");
          continue;
        }
      }
      out.args.push_back(std::move(arg));
    }
  }
  out.stopped_at = i;
  return out;
}

struct WrapperLines {
  bool found = false;
  std::vector<ArgToken> tokens;
  std::vector<std::pair<int, std::string>> errors;
};

// Every line starting with the magic word, anywhere in the script: sbatch does not stop at the first command
// here, only after more than 100 lines that do not start with '#' (blank lines count).
WrapperLines read_wrapper_lines(std::string_view text, const std::string& magic) {
  WrapperLines out;
  int lineno = 0;
  int non_comments = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(start, end - start);
    start = end + 1;
    ++lineno;
    if (line.substr(0, magic.size()) != magic) {
      if (line.empty() || line[0] != '#') ++non_comments;
      if (non_comments > 100) break;
      continue;
    }
    out.found = true;
    auto tokens = tokenize_directive(line.substr(magic.size()));
    if (tokens.error) {
      out.errors.emplace_back(lineno, magic + ": " + *tokens.error);
      continue;
    }
    for (auto& t : tokens.tokens) out.tokens.push_back({std::move(t), lineno});
  }
  return out;
}

// A whole-string positive decimal, as Slurm's parse_int(..., positive=true) accepts it.
std::optional<long> positive_int(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  long n = std::strtol(text.c_str(), &end, 10);
  if (*end != '\0' || n <= 0 || n >= 2147483647L) return std::nullopt;
  return n;
}

// Slurm's hostlist as far as PBS nodes=NAME needs it: hosts pushed one by one, a host following the previous
// one numerically joins its range, and the ranged string brackets neighbouring ranges of one prefix.
class Hostlist {
public:
  void push(const std::string& host) {
    Range r;
    std::size_t digits = 0;
    while (digits < host.size() && std::isdigit(static_cast<unsigned char>(host[host.size() - 1 - digits]))) ++digits;
    if (digits == 0) {
      r.prefix = host;
      r.single = true;
    } else {
      r.prefix = host.substr(0, host.size() - digits);
      r.lo = r.hi = std::strtoul(host.c_str() + (host.size() - digits), nullptr, 10);
      r.width = static_cast<int>(digits);
    }
    if (!m_ranges.empty()) {
      Range& tail = m_ranges.back();
      if (!tail.single && !r.single && tail.hi + 1 == r.lo && tail.prefix == r.prefix &&
          width_equivalent(tail.lo, tail.width, r.lo, r.width)) {
        tail.hi = r.hi;
        return;
      }
    }
    m_ranges.push_back(std::move(r));
  }
  bool empty() const { return m_ranges.empty(); }
  std::string ranged() const {
    std::string out;
    std::size_t i = 0;
    while (i < m_ranges.size()) {
      if (i) out += ',';
      const std::size_t first = i;
      bool bracket = m_ranges[i].count() > 1 || (i + 1 < m_ranges.size() && joins(m_ranges[i], m_ranges[i + 1]));
      out += m_ranges[i].prefix;
      if (bracket) out += '[';
      do {
        if (i > first) out += ',';
        out += m_ranges[i].numbers();
      } while (++i < m_ranges.size() && joins(m_ranges[i], m_ranges[i - 1]));
      if (bracket) out += ']';
    }
    return out;
  }

private:
  struct Range {
    std::string prefix;
    unsigned long lo = 0, hi = 0;
    int width = 0;
    bool single = false;
    unsigned long count() const { return single ? 1 : hi - lo + 1; }
    std::string numbers() const {
      if (single) return "";
      auto padded = [&](unsigned long n) {
        std::string s = std::to_string(n);
        return std::string(s.size() < static_cast<std::size_t>(width) ? width - s.size() : 0, '0') + s;
      };
      return lo < hi ? padded(lo) + "-" + padded(hi) : padded(lo);
    }
  };
  static bool joins(const Range& a, const Range& b) { return a.prefix == b.prefix && !a.single && !b.single; }
  static int zero_padding(unsigned long n, int width) {
    int digits = static_cast<int>(std::to_string(n).size());
    return width > digits ? width - digits : 0;
  }
  // Slurm's _width_equiv: "01" and "2" may share a range when one width can be read as the other.
  static bool width_equivalent(unsigned long n, int& wn, unsigned long m, int& wm) {
    if (wn == wm) return true;
    int npad = zero_padding(n, wn), nmpad = zero_padding(n, wm);
    int mpad = zero_padding(m, wm), mnpad = zero_padding(m, wn);
    if (npad != nmpad && mpad != mnpad) return false;
    if (npad != nmpad) wm = wn;
    else wn = wm;
    return true;
  }
  std::vector<Range> m_ranges;
};

class Translator {
public:
  Translator(XlateResult& out, const XlateContext& context)
      : m_out(out), m_export(context.export_env), m_constraint(context.constraint), m_gres(context.gres) {}

  void pbs(const WrapperArg& a);
  void bsub(const WrapperArg& a);

private:
  void emit(int line, std::string option, std::optional<std::string> value) {
    if (option == "export") m_export = value;
    if (option == "constraint") m_constraint = value;
    if (option == "gres") m_gres = value;
    m_out.options.push_back({line, std::move(option), std::move(value)});
  }
  void error(int line, std::string message) { m_out.errors.emplace_back(line, std::move(message)); }
  void ignored(int line, const std::string& what) {
    m_out.warnings.emplace_back(line, what + ": not translated (sbatch ignores it)");
  }
  void resource_list(int line, const std::string& list);
  void node_spec(int line, const std::string& spec);

  XlateResult& m_out;
  std::optional<std::string> m_export, m_constraint, m_gres;
};

void Translator::pbs(const WrapperArg& a) {
  const std::string value = a.value.value_or("");
  const std::string shown = std::string("#PBS -") + a.option + (a.value ? " " + *a.value : "");
  switch (a.option) {
    case 'a': emit(a.line, "begin", value); break;
    case 'A': emit(a.line, "account", value); break;
    case 'e': emit(a.line, "error", value); break;
    case 'o': emit(a.line, "output", value); break;
    case 'h': emit(a.line, "hold", std::nullopt); break;
    case 'J':  // PBS Pro
    case 't':  // Torque
      emit(a.line, "array", value);
      break;
    case 'l': resource_list(a.line, value); break;
    case 'm': {
      std::vector<std::string> types;
      auto has = [&](char c) {
        return value.find(c) != std::string::npos ||
               value.find(static_cast<char>(std::toupper(c))) != std::string::npos;
      };
      if (has('b')) types.emplace_back("BEGIN");
      if (has('e')) types.emplace_back("END");
      if (has('a')) types.emplace_back("FAIL");
      if (has('n')) types = {"NONE"};
      if (types.empty())
        error(a.line,
              "#PBS -m " + util::quote(value) + ": no mail event (expected one or more of the letters a, b, e, n)");
      else
        emit(a.line, "mail-type", util::join(types, ","));
      break;
    }
    case 'M': emit(a.line, "mail-user", value); break;
    case 'N': emit(a.line, "job-name", value); break;
    case 'p': emit(a.line, "nice", value); break;
    case 'q': emit(a.line, "partition", value); break;
    case 'v': emit(a.line, "export", (m_export ? *m_export + "," : std::string()) + value); break;
    case 'W':
      if (util::istarts_with(value, "umask=")) {
        char* end = nullptr;
        long mask = std::strtol(value.c_str() + 6, &end, 0);
        if (mask < 0 || mask > 0777)
          error(a.line, "#PBS -W " + util::quote(value) + ": invalid umask (expected 0 to 0777)");
        else
          m_out.warnings.emplace_back(a.line, "#PBS -W " + value + ": sbatch sets the job's umask; spawn does not");
      } else if (util::istarts_with(value, "depend=")) {
        emit(a.line, "dependency", value.substr(7));
      } else {
        ignored(a.line, "#PBS -W " + value);
      }
      break;
    default:  // -c -C -I -j -k -r -S -u -V -z
      ignored(a.line, shown);
      break;
  }
}

void Translator::bsub(const WrapperArg& a) {
  const std::string value = a.value.value_or("");
  switch (a.option) {
    case 'c': emit(a.line, "chdir", value); break;
    case 'e': emit(a.line, "error", value); break;
    case 'J': emit(a.line, "job-name", value); break;
    case 'o': emit(a.line, "output", value); break;
    case 'm': emit(a.line, "nodelist", util::replace_all(value, " ", ",")); break;
    case 'M': {
      // LSF's unit is KB: a bare number gets a K.
      std::string mem = value;
      if (!mem.empty() && std::isdigit(static_cast<unsigned char>(mem.back()))) mem += 'K';
      emit(a.line, "mem-per-cpu", mem);
      break;
    }
    case 'n': {
      // "min,max": sbatch asks for the maximum.
      auto comma = value.find(',');
      if (comma == std::string::npos) {
        emit(a.line, "ntasks", value);
      } else if (comma + 1 == value.size()) {
        error(a.line, "#BSUB -n " + util::quote(value) + ": format not correct (expected N or MIN,MAX)");
      } else {
        emit(a.line, "ntasks", value.substr(comma + 1));
      }
      break;
    }
    case 'q': emit(a.line, "partition", value); break;
    case 'W': emit(a.line, "time", value); break;
    case 'x': emit(a.line, "exclusive", std::nullopt); break;
    default: break;
  }
}

// PBS -l: sbatch looks for known "key=" words at every position (an unknown character is skipped one at a
// time), so a key is recognised even inside another word; some values end at ',' and some at ':'.
void Translator::resource_list(int line, const std::string& list) {
  std::size_t i = 0;
  long gpus = 0;
  int pbs_pro = 0;  // select=1 ncpus=2 mpiprocs=4
  std::optional<std::string> ncpus, mpiprocs;
  auto at = [&](std::string_view key) { return list.compare(i, key.size(), key) == 0; };
  auto iat = [&](std::string_view key) { return util::istarts_with(std::string_view(list).substr(i), key); };
  auto take = [&](char sep) {
    std::size_t start = i;
    while (i < list.size() && list[i] != sep) ++i;
    std::string v = list.substr(start, i - start);
    if (i < list.size()) ++i;
    return v;
  };
  auto skip = [&](std::string_view key) {
    i += key.size();
    std::size_t start = i;
    while (i < list.size() && list[i] != ',') ++i;
    ignored(line, "#PBS -l " + std::string(key) + list.substr(start, i - start));
    if (i < list.size()) ++i;
  };
  // Torque writes "gb"/"mb": the trailing B goes.
  auto size = [](std::string v) {
    if (!v.empty() && std::toupper(static_cast<unsigned char>(v.back())) == 'B') v.pop_back();
    return v;
  };
  while (i < list.size()) {
    if (iat("accelerator=")) {
      i += 12;
      if (iat("true") && gpus < 1) gpus = 1;
    } else if (at("arch=")) {
      skip("arch=");
    } else if (at("cput=")) {
      i += 5;
      emit(line, "time", take(','));
    } else if (at("file=")) {
      i += 5;
      emit(line, "tmp", size(take(',')));
    } else if (at("host=")) {
      skip("host=");
    } else if (at("mem=")) {
      i += 4;
      emit(line, "mem", size(take(',')));
    } else if (iat("mpiprocs=")) {
      i += 9;
      mpiprocs = take(':');
      pbs_pro |= 4;
      emit(line, "ntasks-per-node", *mpiprocs);
    } else if (iat("naccelerators=")) {
      i += 14;
      auto v = take(',');
      auto n = positive_int(v);
      if (!n)
        error(line, "#PBS -l naccelerators=" + v + ": invalid value " + util::quote(v) +
                        " (expected a positive whole number)");
      else
        gpus = *n;
    } else if (iat("ncpus=")) {
      i += 6;
      ncpus = take(':');
      pbs_pro |= 2;
      emit(line, "mincpus", *ncpus);
    } else if (at("nice=")) {
      i += 5;
      emit(line, "nice", take(','));
    } else if (at("nodes=")) {
      i += 6;
      node_spec(line, take(','));
    } else if (at("opsys=")) {
      skip("opsys=");
    } else if (at("other=")) {
      skip("other=");
    } else if (at("pcput=")) {
      i += 6;
      emit(line, "time", take(','));
    } else if (at("pmem=")) {
      skip("pmem=");
    } else if (at("proc=")) {
      i += 5;
      auto v = take(',');
      if (m_constraint) v += "," + *m_constraint;
      emit(line, "constraint", v);
      // sbatch then skips the next resource as well.
      while (i < list.size() && list[i] != ',') ++i;
      if (i < list.size()) ++i;
    } else if (at("pvmem=")) {
      skip("pvmem=");
    } else if (iat("select=")) {
      i += 7;
      pbs_pro |= 1;
      emit(line, "nodes", take(':'));
    } else if (at("software=")) {
      skip("software=");
    } else if (at("vmem=")) {
      skip("vmem=");
    } else if (at("walltime=")) {
      i += 9;
      emit(line, "time", take(','));
    } else {
      ++i;
    }
  }
  // PBS Pro select=N:ncpus=C:mpiprocs=T: C CPUs per node for T tasks per node.
  if (pbs_pro == 7) {
    auto cpus = positive_int(*ncpus), tasks = positive_int(*mpiprocs);
    if (cpus && tasks && *cpus > *tasks) emit(line, "cpus-per-task", std::to_string(*cpus / *tasks));
  }
  if (gpus > 0) emit(line, "gres", (m_gres ? *m_gres + "," : std::string()) + "gpu:" + std::to_string(gpus));
}

// nodes=COUNT|NAME[:ppn=P][:gpus=G][+...]: counts add up, ppn adds up and is multiplied by the node count.
void Translator::node_spec(int line, const std::string& spec) {
  std::size_t i = 0;
  long ppn = 0, node_count = 0;
  Hostlist hosts;
  auto part = [&] {
    std::size_t start = i;
    while (i < spec.size() && spec[i] != '+' && spec[i] != ':') ++i;
    std::string v = spec.substr(start, i - start);
    if (i < spec.size()) ++i;
    return v;
  };
  while (i < spec.size()) {
    if (spec.compare(i, 5, "gpus=") == 0) {
      i += 5;
      emit(line, "gpus-per-node", part());
    } else if (spec.compare(i, 4, "ppn=") == 0) {
      i += 4;
      ppn += std::strtol(spec.c_str() + i, nullptr, 10);
      part();
    } else if (std::isdigit(static_cast<unsigned char>(spec[i]))) {
      node_count += std::strtol(spec.c_str() + i, nullptr, 10);
      part();
    } else if (std::isalpha(static_cast<unsigned char>(spec[i]))) {
      hosts.push(part());
    } else {
      ++i;
    }
  }
  if (node_count == 0) node_count = 1;
  else emit(line, "nodes", std::to_string(node_count));
  if (ppn != 0) emit(line, "ntasks", std::to_string(ppn * node_count));
  if (!hosts.empty()) emit(line, "nodelist", hosts.ranged());
}

// SBATCH_IGNORE_PBS and other flag variables: "", "yes" or a non-zero number set the flag.
bool env_flag(const std::string& value) {
  if (value.empty() || util::iequals(value, "yes")) return true;
  char* end = nullptr;
  long n = std::strtol(value.c_str(), &end, 10);
  return n != 0 && *end == '\0';
}

} // namespace

XlateContext xlate_context(const std::vector<ParsedOption>& script_options,
                           const std::vector<std::string>& command_line,
                           const std::vector<std::pair<std::string, std::string>>& environment) {
  XlateContext ctx;
  for (const auto& [name, value] : environment) {
    if (name == "SBATCH_IGNORE_PBS") ctx.ignore = env_flag(value);
  }
  // sbatch's first pass reads the whole command line before the script, so --ignore-pbs there counts.
  std::vector<ArgToken> cli;
  for (const auto& a : command_line) cli.push_back({a, 0});
  for (const auto& p : getopt_long(cli).options) {
    if (p.spec->long_name == "ignore-pbs") ctx.ignore = true;
  }
  for (const auto& p : script_options) {
    const auto name = p.spec->long_name;
    if (name == "ignore-pbs") ctx.ignore = true;
    else if (name == "export") ctx.export_env = p.value;
    else if (name == "constraint") ctx.constraint = p.value;
    else if (name == "gres") ctx.gres = p.value;
  }
  return ctx;
}

XlateResult translate_pbs_bsub(std::string_view script_text, const XlateContext& context) {
  XlateResult out;
  if (context.ignore) return out;
  for (const std::string magic : {"#BSUB", "#PBS"}) {
    auto lines = read_wrapper_lines(script_text, magic);
    if (!lines.found) continue;
    out.directive = magic;
    out.errors = std::move(lines.errors);
    const bool bsub = magic == "#BSUB";
    if (bsub) {
      // bsub's "-cwd" is a long option with one dash: sbatch rewrites it to -c, but only where an option is
      // expected by position (every other word).
      for (std::size_t k = 0; k < lines.tokens.size(); k += 2) {
        if (lines.tokens[k].text == "-cwd") lines.tokens[k].text = "-c";
      }
    }
    auto parsed = parse_wrapper_args(lines.tokens, bsub ? bsub_options() : pbs_options(), magic);
    for (const auto& e : parsed.errors) out.errors.push_back(e);
    Translator translator(out, context);
    for (const auto& a : parsed.args) {
      if (bsub) translator.bsub(a);
      else translator.pbs(a);
    }
    // After a getopt error sbatch has already given up; the word it would have stopped at says nothing more.
    if (parsed.errors.empty() && parsed.stopped_at < lines.tokens.size()) {
      const auto& stray = lines.tokens[parsed.stopped_at];
      out.errors.emplace_back(stray.line, magic + ": invalid argument " + util::quote(stray.text) +
                                              " (sbatch translates options only; a word that is not one ends them)");
    }
    break;  // one kind at most
  }
  return out;
}

} // namespace spawn::slurm
