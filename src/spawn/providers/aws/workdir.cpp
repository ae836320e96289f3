#include "providers/aws/workdir.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fnmatch.h>
#include <fstream>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/encoding.hpp"
#include "aws/presign.hpp"
#include "providers/aws/archive.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::providers::aws {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_ignore_file = ".spawnignore";

// What runs on the instance: `workdir.sh in DIR` before the runtime (mounts, then the listing's directories,
// files in one parallel curl, links, modes and times; a failure writes the task's FAILED marker), `workdir.sh out
// DIR` after it (per area, what is new or changed against the listing, packed with tar and PUT). bash, coreutils,
// curl, tar and gzip only. DIR is the task directory, its parent the instance's spawn root; `out DIR R` on node R of a
// multi-node task sends that node's changes (conf lines "back:R"; node 0's are "back"). An archive goes up in
// pieces (split, one presigned PUT each: S3 takes at most 5 GB in one); more pieces than the URLs the client
// presigned, or a failed upload, is said in the log and in the task's exit status (the marker's reason).
constexpr std::string_view k_instance_script = R"SPAWN(# spawn: the job's files on the instance (providers/aws/workdir.cpp)
set -u
mode=$1 dir=$2 rank=${3:-0}
root=${dir%/*}
work=$root/work
conf=$dir/workdir.conf
say() { echo "$(date +%FT%T) workdir: $*"; }
fail() {
  say "$*"
  local now
  now=$(date +%s)
  printf 'state=FAILED\nexit_code=1\nsignal=0\nreason=%s\nstart=%s\nend=%s\n' "${*//$'\n'/ }" "$now" "$now" >"$dir/marker.tmp"
  mv -f "$dir/marker.tmp" "$dir/marker"
  exit 1
}
copt=(-sS --no-progress-meter -f --retry 8 --retry-all-errors --retry-delay 1)
# What did not come back: the log and the reason of the task's exit status say so (another node's notes reach node
# 0 from workdir.notes, see cohort_send_back).
note() {
  say "$*"
  printf '%s\n' "$*" >>"$dir/workdir.notes"
  [[ -f $dir/marker ]] || return 0
  local line out="" found=""
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line == reason=* ]]; then
      found=1
      if [[ $line == reason= ]]; then line+=$*; else line+="; $*"; fi
    fi
    out+=$line$'\n'
  done <"$dir/marker"
  [[ -n $found ]] || out+="reason=$*"$'\n'
  printf '%s' "$out" >"$dir/marker.tmp" && mv -f "$dir/marker.tmp" "$dir/marker"
}
# p= the instance path of a listing or conf path: absolute as it is, else under the working directory.
at() {
  p=$1
  while [[ $p == */ && $p != / ]]; do p=${p%/}; done
  if [[ $p == . ]]; then p=$work; elif [[ $p != /* ]]; then p=$work/$p; fi
}
# Runs "$@" followed by the paths of a newline-separated list, 500 at a time.
chunked() {
  local list=$1 files
  shift
  mapfile -t files <<<"${list%$'\n'}"
  local i
  for ((i = 0; i < ${#files[@]}; i += 500)); do "$@" "${files[@]:i:500}" || return 1; done
}

fetch_in() {
  mkdir -p "$work" || fail "cannot create $work"
  local kind a b
  while IFS=$'\t' read -r kind a b; do
    [[ $kind == mount ]] || continue
    mkdir -p "$b" && mount -t nfs4 -o nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport "$a" "$b" ||
      fail "cannot mount $a at $b (the AMI needs nfs-utils, and the file system a mount target open to the instance on port 2049)"
    say "mounted $a at $b"
  done <"$conf"
  local url
  url=$(awk -F'\t' '$1 == "listing" {print $2}' "$conf")
  [[ -n $url ]] || { : >"$dir/workdir.in"; return 0; }
  curl "${copt[@]}" -o "$dir/listing" "$url" || fail "cannot fetch the job's file listing"
  local cfg=$dir/listing.curl n=0 size mtime sha path q
  declare -A modes=() times=()
  : >"$cfg"
  : >"$dir/listing.sha"
  while IFS=$'\t' read -r kind mode size mtime sha path url; do
    at "$path"
    case $kind in
    d) mkdir -p "$p" || fail "cannot create $p" ;;
    f)
      mkdir -p "${p%/*}" || fail "cannot create ${p%/*}"
      q=${p//\\/\\\\}
      printf 'url = "%s"\noutput = "%s"\n' "$url" "${q//\"/\\\"}" >>"$cfg"
      n=$((n + 1))
      [[ $sha == - ]] || printf '%s  %s\n' "$sha" "$p" >>"$dir/listing.sha"
      [[ $mtime == - ]] || times[$mtime]+=$p$'\n'
      ;;
    l) ln -sfn -- "$sha" "$p" || fail "cannot link $p" ;;
    esac
    [[ $kind == l ]] || modes[$mode]+=$p$'\n'
  done <"$dir/listing"
  if ((n > 0)); then
    curl "${copt[@]}" --parallel --parallel-max 16 -K "$cfg" || fail "downloading the job's files failed (curl status $?)"
  fi
  while IFS=$'\t' read -r kind mode size mtime sha path url; do
    [[ $kind == f ]] || continue
    at "$path"
    [[ -f $p && $(stat -c %s -- "$p") == "$size" ]] || fail "$path: not downloaded whole"
  done <"$dir/listing"
  if [[ -s $dir/listing.sha ]]; then
    sha256sum --quiet -c "$dir/listing.sha" || fail "the job's files do not match their hashes"
  fi
  local k
  for k in "${!times[@]}"; do chunked "${times[$k]}" touch -m -d "@$k" -- || fail "cannot set times"; done
  for k in "${!modes[@]}"; do chunked "${modes[$k]}" chmod "$k" -- || fail "cannot set modes"; done
  say "fetched $n file(s)"
  : >"$dir/workdir.in"
}

# What is new or changed under each area (not links; not the skip paths), packed and PUT.
send_back() {
  local l want=back
  ((rank == 0)) || want=back:$rank
  if [[ -f $dir/peers.notes ]]; then
    while IFS= read -r l; do note "$l"; done <"$dir/peers.notes"
    rm -f "$dir/peers.notes"
  fi
  [[ -f $dir/workdir.in ]] || return 0
  declare -A known=() links=()
  local kind mode size mtime sha path url listed=()
  if [[ -f $dir/listing ]]; then
    while IFS=$'\t' read -r kind mode size mtime sha path url; do
      [[ $kind == f || $kind == l ]] || continue
      at "$path"
      if [[ $kind == f ]]; then known[$p]="$size $mtime $sha"; else links[$p]=$sha; fi
      # The working directory's own files and links (stage-ins have no hash): their deletion comes back too.
      [[ $path != /* && ($kind == l || $sha != -) ]] && listed+=("$kind"$'\t'"$size"$'\t'"$mtime"$'\t'"$sha"$'\t'"$path")
    done <"$dir/listing"
  fi
  local skips=() a b i=0 piece=4294967296 gone_url=""
  while IFS=$'\t' read -r kind a b; do
    [[ $kind == skip ]] && { at "$a"; skips+=("$p"); }
    [[ $kind == piece ]] && piece=$a
    [[ $kind == "${want/back/gone}" ]] && gone_url=$a
  done <"$conf"
  shopt -s globstar dotglob nullglob
  while IFS=$'\t' read -r kind a b; do
    [[ $kind == "$want" ]] || continue
    i=$((i + 1))
    at "$a"
    local base=$p list=$dir/back-$i.list f s x changed=0 top
    : >"$list"
    if [[ -f $base && ! -L $base ]]; then
      top=${base%/*}
      set -- "${base##*/}"
    elif [[ -d $base ]]; then
      top=$base
      set --
      pushd "$top" >/dev/null || continue
      for f in **; do [[ (-L $f || -f $f) && $f != *$'\n'* ]] && set -- "$@" "$f"; done
      popd >/dev/null || return 1
    else
      continue
    fi
    for f in "$@"; do
      [[ $top == / ]] && p=/$f || p=$top/$f
      if [[ $a == . ]]; then  # the skip paths are the working directory's
        for s in ${skips[@]+"${skips[@]}"}; do [[ $p == "$s" || $p == "$s"/* ]] && continue 2; done
      fi
      if [[ -L $p ]]; then  # a link: back when new or pointing elsewhere
        [[ -n ${links[$p]+set} && $(readlink -- "$p") == "${links[$p]}" ]] && continue
        printf '%s\n' "$f" >>"$list"
        changed=$((changed + 1))
        continue
      fi
      x=${known[$p]-}
      if [[ -n $x ]]; then
        read -r size mtime sha <<<"$x"
        [[ $(stat -c '%s %Y' -- "$p") == "$size $mtime" ]] && continue
        [[ $sha != - && $(sha256sum <"$p") == "$sha "* ]] && continue
      fi
      printf '%s\n' "$f" >>"$list"
      changed=$((changed + 1))
    done
    # What the job deleted from the working directory: listed for the client, which deletes what it still has as
    # it was (kind size mtime target path, as in the listing).
    if [[ $a == . && -n $gone_url ]]; then
      local e gone=$dir/gone-$i.list
      : >"$gone"
      for e in ${listed[@]+"${listed[@]}"}; do
        IFS=$'\t' read -r kind size mtime sha path <<<"$e"
        at "$path"
        for s in ${skips[@]+"${skips[@]}"}; do [[ $p == "$s" || $p == "$s"/* ]] && continue 2; done
        [[ -e $p || -L $p ]] || printf '%s\n' "$e" >>"$gone"
      done
      if [[ -s $gone ]]; then
        if curl "${copt[@]}" -X PUT -T "$gone" -o /dev/null "$gone_url"; then say "$(wc -l <"$gone") deleted under $base"
        else note "cannot send the list of what the job deleted under $base"; fi
      fi
    fi
    ((changed > 0)) || { say "nothing new under $base"; continue; }
    local urls=() pieces=() k sent=0 packed=$dir/back-$i.tar.gz.
    IFS=$'\t' read -ra urls <<<"$b"
    rm -f "$packed"*
    tar -czf - --format=gnu -C "$top" --verbatim-files-from -T "$list" | split -a 3 -d -b "$piece" - "$packed"
    [[ ${PIPESTATUS[*]} == "0 0" ]] || { rm -f "$packed"*; note "cannot pack the files of $base"; continue; }
    pieces=("$packed"???)
    if ((${#pieces[@]} > ${#urls[@]})); then
      size=$(cat "${pieces[@]}" | wc -c)
      rm -f "$packed"*
      note "the files of $base were not sent back: $size bytes packed, more than the ${#urls[@]} pieces of $piece bytes a task can send back"
      continue
    fi
    for ((k = 0; k < ${#pieces[@]}; k++)); do
      # The backstop follows the sending: 5 minutes plus one piece at 20 MB/s from each piece's start, so a large
      # result is not cut off by a backstop counted from the time limit, and a stuck upload still ends.
      shutdown -h "+$((5 + piece / (20 * 1048576 * 60) + 1))" >/dev/null 2>&1
      curl "${copt[@]}" -X PUT -T "${pieces[k]}" -o /dev/null "${urls[k]}" || break
      rm -f "${pieces[k]}"
      sent=$((sent + 1))
    done
    rm -f "$packed"*
    if ((sent == ${#pieces[@]})); then say "sent back $changed file(s) from $base in $sent piece(s)"
    else note "cannot send back the files of $base (piece $((sent + 1)) of ${#pieces[@]})"; fi
  done <"$conf"
}

case $mode in
in) fetch_in ;;
out) send_back ;;
*) echo "usage: workdir.sh in DIR | out DIR [NODE]" >&2; exit 2 ;;
esac
)SPAWN";

std::string sha256_file(const fs::path& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path.string() + ": cannot read";
    return {};
  }
  spawn::aws::Sha256Stream sha;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) sha.update(std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
  }
  if (in.bad()) {
    error = path.string() + ": read error";
    return {};
  }
  return sha.hex();
}

bool inside(const fs::path& root, const fs::path& path) {
  auto r = root.lexically_normal().string(), p = path.lexically_normal().string();
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return p == r || p.starts_with(r + "/");
}

struct S3Url {
  std::string bucket, key;
};
S3Url parse_s3(std::string_view url) {
  auto rest = url.substr(5);  // after "s3://" (checked by the config and the plan)
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return {std::string(rest), ""};
  return {std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
}

std::string octal(std::uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%o", mode & 07777);
  return buf;
}

std::string piece_key(const std::string& key, std::size_t index) {
  std::string n = std::to_string(index);
  return key + "." + std::string(n.size() < 3 ? 3 - n.size() : 0, '0') + n;
}

bool bad_name(std::string_view name) { return name.find_first_of("\t\n\r") != std::string_view::npos; }

// Whether pattern segments match path segments from (pi, si); "**" is any number of segments (at least one at the
// end of a pattern: "dir/**" is what dir holds, not dir).
bool match_segments(const std::vector<std::string>& pat, std::size_t pi, const std::vector<std::string>& path,
                    std::size_t si) {
  if (pi == pat.size()) return si == path.size();
  if (pat[pi] == "**") {
    if (pi + 1 == pat.size()) return si < path.size();
    for (std::size_t k = si; k <= path.size(); ++k)
      if (match_segments(pat, pi + 1, path, k)) return true;
    return false;
  }
  if (si == path.size()) return false;
  if (::fnmatch(pat[pi].c_str(), path[si].c_str(), 0) != 0) return false;
  return match_segments(pat, pi + 1, path, si + 1);
}

} // namespace

Expected<void> IgnoreRules::add(std::string_view raw, const std::string& origin) {
  std::string text(raw);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  // Trailing spaces are dropped unless escaped with a backslash.
  while (!text.empty() && text.back() == ' ' && !(text.size() > 1 && text[text.size() - 2] == '\\')) text.pop_back();
  if (text.empty() || text.front() == '#') return {};
  Rule rule;
  if (text.front() == '!') {
    rule.negate = true;
    text.erase(0, 1);
  } else if (text.starts_with("\\!") || text.starts_with("\\#")) {
    text.erase(0, 1);
  }
  if (!text.empty() && text.back() == '/') {
    rule.dir_only = true;
    while (!text.empty() && text.back() == '/') text.pop_back();
  }
  if (text.empty()) return Unexpected(origin + ": " + util::quote(raw) + ": a pattern without a name");
  bool anchored = text.find('/') != std::string::npos;
  if (text.front() == '/') text.erase(0, 1);
  for (const auto& seg : util::split(text, '/')) {
    if (seg.empty()) return Unexpected(origin + ": " + util::quote(raw) + ": an empty path segment (\"//\")");
    if (seg.find("**") != std::string::npos && seg != "**")
      return Unexpected(origin + ": " + util::quote(raw) + ": ** must be a whole path segment (**/x, x/**, a/**/b)");
    if (seg.find('[') != std::string::npos && seg.find(']', seg.find('[')) == std::string::npos)
      return Unexpected(origin + ": " + util::quote(raw) + ": an unclosed [");
    rule.segments.push_back(seg);
  }
  if (!anchored) rule.segments.insert(rule.segments.begin(), "**");
  m_rules.push_back(std::move(rule));
  return {};
}

bool IgnoreRules::ignored(std::string_view rel, bool is_dir) const {
  auto path = util::split(rel, '/');
  bool out = false;
  for (const auto& rule : m_rules) {
    if (rule.dir_only && !is_dir) continue;
    // A leading "**" (an unanchored pattern) may match nothing at all.
    bool hit = rule.segments.front() == "**" && rule.segments.size() > 1
                   ? [&] {
                       for (std::size_t k = 0; k < path.size(); ++k)
                         if (match_segments(rule.segments, 1, path, k)) return true;
                       return false;
                     }()
                   : match_segments(rule.segments, 0, path, 0);
    if (hit) out = !rule.negate;
  }
  return out;
}

std::uint64_t Tree::files() const {
  return static_cast<std::uint64_t>(std::count_if(entries.begin(), entries.end(), [](const auto& e) { return e.kind == 'f'; }));
}

std::uint64_t Tree::bytes() const {
  std::uint64_t n = 0;
  for (const auto& e : entries) n += e.kind == 'f' ? e.size : 0;
  return n;
}

fs::path hash_cache_path(const fs::path& data_home, const fs::path& dir) {
  return data_home / "workdir-cache" / (spawn::aws::sha256_hex(dir.lexically_normal().string()).substr(0, 24) + ".tsv");
}

std::string describe_size(std::uint64_t files, std::uint64_t bytes) {
  char buf[64];
  if (bytes < 1024) std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
  else if (bytes < (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  else if (bytes < (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / 1073741824.0);
  return std::to_string(files) + (files == 1 ? " file, " : " files, ") + buf;
}

Expected<Tree> scan_directory(const fs::path& dir_in, const WorkdirPolicy& policy, const ScanOptions& options) {
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(dir_in, ec);
  if (ec || !fs::is_directory(dir)) return Unexpected(dir_in.string() + ": not a directory");
  std::vector<std::string> errors;
  IgnoreRules rules;
  for (const auto& p : policy.exclude)
    if (auto r = rules.add(p, "workdir.exclude"); !r) errors.push_back(r.error());
  if (fs::exists(dir / k_ignore_file)) {
    auto text = util::read_file(dir / k_ignore_file);
    if (!text) return Unexpected(text.error());
    int n = 0;
    for (const auto& line : util::split(*text, '\n'))
      if (auto r = rules.add(line, (dir / k_ignore_file).string() + ":" + std::to_string(++n)); !r) errors.push_back(r.error());
  }
  if (!errors.empty()) return Unexpected(util::join(errors, "\n"));

  // The cache: "size<TAB>mtime_ns<TAB>sha256<TAB>path" lines.
  std::map<std::string, std::tuple<std::uint64_t, std::int64_t, std::string>> cache, fresh;
  if (options.cache) {
    if (auto text = util::read_file(*options.cache)) {
      for (const auto& line : util::split(*text, '\n')) {
        auto f = util::split(line, '\t');
        if (f.size() != 4) continue;
        auto size = util::parse_uint(f[0]);
        auto mtime = util::parse_int(f[1]);
        if (size && mtime) cache[f[3]] = {*size, *mtime, f[2]};
      }
    }
  }
  std::vector<fs::path> skip;
  for (const auto& s : options.skip) skip.push_back(fs::weakly_canonical(s, ec));

  Tree tree;
  std::vector<std::string> pending = {""};  // directories to list, relative
  while (!pending.empty()) {
    std::string rel_dir = pending.back();
    pending.pop_back();
    std::vector<fs::directory_entry> children;
    for (auto it = fs::directory_iterator(dir / rel_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      children.push_back(*it);
    if (ec) {
      errors.push_back((dir / rel_dir).string() + ": cannot list: " + ec.message());
      ec.clear();
      continue;
    }
    std::vector<std::string> subdirs;
    for (const auto& child : children) {
      const std::string name = child.path().filename().string();
      const std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
      const fs::path full = dir / rel;
      if (std::any_of(skip.begin(), skip.end(), [&](const fs::path& s) { return inside(s, full); })) continue;
      struct stat st {};
      if (::lstat(full.c_str(), &st) != 0) continue;  // gone meanwhile
      bool is_dir = S_ISDIR(st.st_mode);
      if (rules.ignored(rel, is_dir)) continue;
      if (bad_name(rel)) {
        errors.push_back(full.string() + ": a name with a tab or newline cannot travel (add it to .spawnignore)");
        continue;
      }
      TreeEntry e;
      e.path = rel;
      e.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
      e.mtime = st.st_mtim.tv_sec;
      if (S_ISLNK(st.st_mode)) {
        auto target = fs::read_symlink(full, ec);
        if (ec) {
          errors.push_back(full.string() + ": cannot read the link: " + ec.message());
          ec.clear();
          continue;
        }
        fs::path resolved = target.is_absolute() ? target : (full.parent_path() / target);
        resolved = fs::weakly_canonical(resolved, ec);
        if (ec || !inside(dir, resolved)) {
          errors.push_back(full.string() + " -> " + target.string() + ": the link leads outside the working directory " +
                           dir.string() + "; add it to .spawnignore, or map its prefix with `paths` in the config");
          ec.clear();
          continue;
        }
        e.kind = 'l';
        e.sha256 = target.is_absolute() ? fs::relative(resolved, full.parent_path()).string() : target.string();
        tree.entries.push_back(std::move(e));
      } else if (is_dir) {
        e.kind = 'd';
        tree.entries.push_back(std::move(e));
        subdirs.push_back(rel);
      } else if (S_ISREG(st.st_mode)) {
        e.kind = 'f';
        e.size = static_cast<std::uint64_t>(st.st_size);
        std::int64_t mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        if (options.hash) {
          auto it = cache.find(rel);
          if (it != cache.end() && std::get<0>(it->second) == e.size && std::get<1>(it->second) == mtime_ns) {
            e.sha256 = std::get<2>(it->second);
          } else {
            std::string error;
            e.sha256 = sha256_file(full, error);
            if (!error.empty()) {
              errors.push_back(error);
              continue;
            }
          }
          fresh[rel] = {e.size, mtime_ns, e.sha256};
        } else if (::access(full.c_str(), R_OK) != 0) {
          errors.push_back(full.string() + ": cannot read");
          continue;
        }
        tree.entries.push_back(std::move(e));
      }
      // Sockets, pipes and devices stay behind.
    }
    for (auto& s : subdirs) pending.push_back(std::move(s));
  }
  if (!errors.empty()) return Unexpected(util::join(errors, "\n"));
  std::sort(tree.entries.begin(), tree.entries.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  if (options.hash && options.cache) {
    std::string text;
    for (const auto& [path, v] : fresh)
      text += std::to_string(std::get<0>(v)) + "\t" + std::to_string(std::get<1>(v)) + "\t" + std::get<2>(v) + "\t" + path + "\n";
    fs::create_directories(options.cache->parent_path(), ec);
    (void)util::write_file_atomic(*options.cache, text);  // only a cache: a failure costs a rehash next time
  }
  return tree;
}

namespace {

// The ignore pattern for the files an output pattern names (slurm-%A_%a.out -> /slurm-*_*.out), anchored at the
// working directory; nullopt for a pattern outside it.
std::optional<std::string> output_glob(const std::string& pattern, const std::string& work_dir) {
  std::string rel = pattern;
  if (rel.starts_with("/")) {
    if (!rel.starts_with(work_dir + "/")) return std::nullopt;
    rel = rel.substr(work_dir.size() + 1);
  }
  if (rel.find('\\') != std::string::npos) return "/" + rel;  // a backslash turns substitution off (Slurm)
  std::string out = "/";
  for (std::size_t i = 0; i < rel.size(); ++i) {
    char c = rel[i];
    if (c == '%') {
      std::size_t j = i + 1;
      while (j < rel.size() && std::isdigit(static_cast<unsigned char>(rel[j]))) ++j;
      if (j < rel.size() && rel[j] == '%') out += '%';
      else if (out.back() != '*') out += '*';
      i = j;
    } else {
      if (c == '*' || c == '?' || c == '[' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out;
}

} // namespace

Expected<Tree> travelling_files(const Plan& plan, const fs::path& data_home, bool hash) {
  // The job's own output files of earlier runs never travel.
  WorkdirPolicy policy = plan.workdir;
  for (const auto& o : {plan.output, plan.error})
    if (o)
      if (auto glob = output_glob(*o, plan.work_dir)) policy.exclude.push_back(*glob);
  ScanOptions options;
  options.hash = hash;
  if (hash) options.cache = hash_cache_path(data_home, plan.work_dir);
  options.skip = {data_home};
  return scan_directory(plan.work_dir, policy, options);
}

std::int64_t upload_seconds(std::uint64_t bytes) {
  if (!bytes) return 0;
  return static_cast<std::int64_t>((bytes * 8 + k_estimate_upload_bits_per_second - 1) / k_estimate_upload_bits_per_second);
}

std::vector<std::string> missing_blobs(const Tree& tree, const std::set<std::string>& stored) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& e : tree.entries) {
    if (e.kind != 'f' || e.sha256.empty() || stored.count(e.sha256) || !seen.insert(e.sha256).second) continue;
    out.push_back(e.sha256);
  }
  return out;
}

Expected<JobFiles> upload_job_files(const Transfer& t, const Plan& plan, const fs::path& data_home) {
  JobFiles out;
  std::string listing;  // kind mode size mtime sha256|target path url
  auto sign_get = [&](const std::string& bucket, const std::string& key) -> Expected<std::string> {
    auto url = spawn::aws::presign_s3(t.session, "GET", bucket, key, t.validity);
    if (!url) return Unexpected("presigning s3://" + bucket + "/" + key + ": " + url.error().to_string());
    return *url;
  };
  if (plan.workdir.travel) {
    auto tree = travelling_files(plan, data_home, true);
    if (!tree) return Unexpected(tree.error());
    out.files = tree->files();
    out.bytes = tree->bytes();
    const std::string blob_prefix = t.prefix + "/files/";
    std::set<std::string> stored;
    auto listed = t.s3.list_objects(t.bucket, blob_prefix);
    if (!listed) return Unexpected("listing s3://" + t.bucket + "/" + blob_prefix + ": " + listed.error().to_string());
    for (const auto& o : *listed) stored.insert(o.key.substr(blob_prefix.size()));
    std::map<std::string, const TreeEntry*> by_hash;
    for (const auto& e : tree->entries)
      if (e.kind == 'f') by_hash.emplace(e.sha256, &e);
    for (const auto& sha : missing_blobs(*tree, stored)) {
      const auto& e = *by_hash.at(sha);
      // Streamed (one part in memory at a time); the hash of what went up must be the one the listing names.
      auto put = t.s3.put_file(t.bucket, blob_prefix + sha, fs::path(plan.work_dir) / e.path);
      if (!put) return Unexpected(put.error().to_string());
      if (put->sha256 != sha) {
        // A blob must hold what its name says: a later submission would take it as stored.
        auto removed = t.s3.delete_objects(t.bucket, {blob_prefix + sha});
        return Unexpected(plan.work_dir + "/" + e.path + ": changed while it was being uploaded (is something writing there? leave it out "
                          "with .spawnignore); submit again" +
                          (removed && removed->empty() ? std::string()
                                                       : " after deleting s3://" + t.bucket + "/" + blob_prefix + sha + " by hand"));
      }
      ++out.uploaded_files;
      out.uploaded_bytes += e.size;
    }
    for (const auto& e : tree->entries) {
      std::string url = "-";
      if (e.kind == 'f') {
        auto u = sign_get(t.bucket, blob_prefix + e.sha256);
        if (!u) return Unexpected(u.error());
        url = *u;
      }
      listing += std::string(1, e.kind) + "\t" + octal(e.mode) + "\t" + std::to_string(e.size) + "\t" +
                 std::to_string(e.mtime) + "\t" + (e.sha256.empty() ? "-" : e.sha256) + "\t" + e.path + "\t" + url + "\n";
    }
  }
  // Stage-in sources and S3 path mappings: every object under the S3 URL, to its place on the instance.
  struct Down {
    std::string source, destination;
    bool stage_in;  // an empty stage-in is an error; an empty mapped prefix is a first run
  };
  std::vector<Down> downs;
  for (const auto& s : plan.stage_in) downs.push_back({s.source, s.destination, true});
  for (const auto& m : plan.path_mappings)
    if (m.target.starts_with("s3://")) downs.push_back({m.target, m.prefix + "/", false});
  for (const auto& [source, destination, stage_in] : downs) {
    auto url = parse_s3(source);
    std::vector<std::pair<std::string, spawn::aws::ObjectInfo>> objects;  // instance path, object
    bool prefix = url.key.empty() || url.key.back() == '/';
    if (!prefix) {  // one object by that name, else the "directory" of that name
      auto listed = t.s3.list_objects(url.bucket, url.key);
      if (!listed) return Unexpected("stage-in " + source + ": " + listed.error().to_string());
      auto exact = std::find_if(listed->begin(), listed->end(), [&](const auto& o) { return o.key == url.key; });
      if (exact != listed->end()) {
        objects.push_back({destination.back() == '/' ? destination + fs::path(url.key).filename().string() : destination, *exact});
      } else {
        url.key += "/";
        prefix = true;
      }
    }
    if (prefix) {
      auto listed = t.s3.list_objects(url.bucket, url.key);
      if (!listed) return Unexpected("stage-in " + source + ": " + listed.error().to_string());
      std::string base = destination.back() == '/' ? destination : destination + "/";
      for (const auto& o : *listed) {
        if (o.key.back() == '/') continue;  // a console "folder"
        std::string rel = o.key.substr(url.key.size());
        auto parts = util::split(rel, '/');
        if (bad_name(rel) || std::any_of(parts.begin(), parts.end(), [](const auto& x) { return x.empty() || x == ".." || x == "."; }))
          return Unexpected("stage-in " + source + ": the key " + util::quote(o.key) + " cannot be a file name");
        objects.push_back({base + rel, o});
      }
      if (objects.empty() && stage_in) return Unexpected("stage-in " + source + ": no objects there");
    }
    for (const auto& [path, o] : objects) {
      auto u = sign_get(url.bucket, o.key);
      if (!u) return Unexpected(u.error());
      std::string mtime = "-";
      if (auto when = spawn::aws::parse_iso8601(o.last_modified))
        mtime = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(when->time_since_epoch()).count());
      listing += "f\t644\t" + std::to_string(o.size) + "\t" + mtime + "\t-\t" + path + "\t" + *u + "\n";
    }
  }
  if (listing.empty()) return out;
  const std::string key = t.job_prefix + "/workdir.listing";
  if (auto put = t.s3.put_object(t.bucket, key, listing, "text/plain"); !put)
    return Unexpected("uploading the job's file listing: " + put.error().to_string());
  auto u = sign_get(t.bucket, key);
  if (!u) return Unexpected(u.error());
  out.listing_url = *u;
  return out;
}

Expected<void> prepare_task_files(const Transfer& t, const Plan& plan, const JobFiles& files, const std::string& task_name,
                                  const fs::path& stage, const std::string& instance_work,
                                  const std::vector<std::string>& outputs, const fs::path& record_file) {
  std::string conf, record;
  if (files.listing_url) conf += "listing\t" + *files.listing_url + "\n";
  for (const auto& m : plan.path_mappings) {
    if (!m.target.starts_with("efs://")) continue;
    auto rest = m.target.substr(6);
    auto slash = rest.find('/');
    std::string fs_id = rest.substr(0, slash), sub = slash == std::string::npos ? "/" : rest.substr(slash);
    conf += "mount\t" + fs_id + ".efs." + t.session.region() + ".amazonaws.com:" + sub + "\t" + m.prefix + "\n";
  }
  // The areas whose changes come back: the working directory, each stage-out, each S3 path mapping.
  struct Back {
    std::string path, destination;
  };
  std::vector<Back> backs;
  if (plan.workdir.travel) backs.push_back({".", plan.work_dir});
  for (const auto& s : plan.stage_out) backs.push_back({s.source, s.destination});
  for (const auto& m : plan.path_mappings)
    if (m.target.starts_with("s3://")) backs.push_back({m.prefix, m.target});
  if (conf.empty() && backs.empty()) return {};
  if (!backs.empty()) conf += "piece\t" + std::to_string(t.back_piece_bytes) + "\n";
  // A multi-node task: every node has its own copy of the files (no shared file system), and each node's changes
  // come back, as they would all have landed in the one directory on a cluster. Node 0's archives are applied last,
  // so where two nodes wrote the same file, node 0's copy is the one kept. Conf lines: "back" for node 0,
  // "back:R" for node R.
  std::vector<std::uint32_t> order;
  for (std::uint32_t node = 1; node < plan.nodes; ++node) order.push_back(node);
  order.push_back(0);
  for (std::uint32_t node : order) {
    const std::string kind = node == 0 ? "back" : "back:" + std::to_string(node);
    const std::string dir = t.job_prefix + "/tasks/" + task_name + (node == 0 ? "" : "/node-" + std::to_string(node));
    for (std::size_t i = 0; i < backs.size(); ++i) {
      std::string key = dir + "/back-" + std::to_string(i + 1) + ".tar.gz";
      conf += kind + "\t" + backs[i].path;
      for (std::size_t k = 0; k < k_back_pieces; ++k) {
        auto url = spawn::aws::presign_s3(t.session, "PUT", t.bucket, piece_key(key, k), t.validity);
        if (!url) return Unexpected("presigning " + piece_key(key, k) + ": " + url.error().to_string());
        conf += "\t" + *url;
      }
      conf += "\n";
      record += key + "\t" + backs[i].destination;
      if (backs[i].path == ".") {  // and what the job deleted there
        const std::string gone = dir + "/gone-" + std::to_string(i + 1);
        auto url = spawn::aws::presign_s3(t.session, "PUT", t.bucket, gone, t.validity);
        if (!url) return Unexpected("presigning " + gone + ": " + url.error().to_string());
        conf += (node == 0 ? std::string("gone") : "gone:" + std::to_string(node)) + "\t" + *url + "\n";
        record += "\t" + gone;
      }
      record += "\n";
    }
  }
  // The Slurm output files come back their own way; a stage-out's source goes to its destination instead.
  for (const auto& o : outputs)
    if (o.starts_with(instance_work + "/")) conf += "skip\t" + o.substr(instance_work.size() + 1) + "\n";
  if (plan.workdir.travel)
    for (const auto& s : plan.stage_out) {
      std::string src = s.source;
      while (src.size() > 1 && src.back() == '/') src.pop_back();
      conf += "skip\t" + src + "\n";
    }
  if (auto w = util::write_file_atomic(stage / "workdir.conf", conf); !w) return Unexpected(w.error());
  if (auto w = util::write_file_atomic(stage / "workdir.sh", k_instance_script); !w) return Unexpected(w.error());
  if (auto w = util::write_file_atomic(record_file, record); !w) return Unexpected(w.error());
  return {};
}

namespace {

// One member into target through a temporary beside it; false (and a problem) when it could not be written.
bool extract_file(const TarEntry& m, TarContent& content, const fs::path& target, std::vector<std::string>& problems) {
  auto file = util::AtomicFile::create(target);
  if (!file) {
    problems.push_back(file.error());
    return false;
  }
  while (true) {
    auto chunk = content.read();
    if (!chunk) return false;  // the archive's error, reported once by read_tar_gz
    if (chunk->empty()) break;
    if (auto w = file->write(*chunk); !w) {
      problems.push_back(w.error());
      return false;
    }
  }
  if (auto c = file->commit(m.mode, m.mtime); !c) {
    problems.push_back(c.error());
    return false;
  }
  return true;
}

// The members of one area's archive to their places: files and directories under a local destination, files to
// keys under an s3:// one.
void place_member(spawn::aws::S3Client* s3, const std::string& where, const std::string& destination,
                  const fs::path& scratch, const TarEntry& m, TarContent& content, std::vector<std::string>& problems) {
  fs::path rel = fs::path(m.path).lexically_normal();
  if (rel.empty() || rel.is_absolute() || *rel.begin() == "..") {
    problems.push_back(where + ": " + util::quote(m.path) + " leads outside its directory");
    return;
  }
  if (destination.starts_with("s3://")) {
    if (m.type != '0') return;
    auto url = parse_s3(destination);
    std::string dest_key = url.key.empty() || url.key.back() == '/' ? url.key + rel.generic_string()
                                                                     : url.key + "/" + rel.generic_string();
    const fs::path staged = scratch / "member";
    if (!extract_file(m, content, staged, problems)) return;
    if (!s3) {
      problems.push_back("s3://" + url.bucket + "/" + dest_key + ": no S3 client");
    } else if (auto put = s3->put_file(url.bucket, dest_key, staged); !put) {  // streamed, multipart when large
      problems.push_back("s3://" + url.bucket + "/" + dest_key + ": " + put.error().to_string());
    }
    std::error_code ec;
    fs::remove(staged, ec);
    return;
  }
  const fs::path root(destination);
  const fs::path target = root / rel;
  std::error_code ec;
  // A link in the way (a directory replaced by a link since the upload) must not lead the file elsewhere.
  auto parent = fs::weakly_canonical(target.parent_path(), ec);
  if (!inside(fs::weakly_canonical(root, ec), parent)) {
    problems.push_back(target.string() + ": its directory leads outside " + root.string());
    return;
  }
  if (m.type == '5') {
    fs::create_directories(target, ec);
    return;
  }
  fs::create_directories(target.parent_path(), ec);
  if (m.type == '2') {  // a link the job made: made here beside its place, then renamed over it
    const fs::path temp = target.parent_path() / ("." + target.filename().string() + ".spawn-" + std::to_string(::getpid()));
    fs::remove(temp, ec);
    fs::create_symlink(m.link, temp, ec);
    if (!ec) fs::rename(temp, target, ec);
    if (ec) {
      problems.push_back(target.string() + ": cannot make the link to " + util::quote(m.link) + " (" + ec.message() + ")");
      fs::remove(temp, ec);
    }
    return;
  }
  extract_file(m, content, target, problems);
}

// The files and links the job deleted from the working directory (lines "KIND SIZE MTIME TARGET PATH" as the
// listing had them), deleted here too when each is still as the job found it; one changed here since is kept and
// named. Directories stay.
void delete_what_the_job_deleted(const std::string& list, const std::string& destination,
                                 std::vector<std::string>& problems) {
  const fs::path root(destination);
  std::error_code ec;
  const fs::path real_root = fs::weakly_canonical(root, ec);
  for (const auto& line : util::split(list, '\n')) {
    auto f = util::split(line, '\t');
    if (f.size() != 5) continue;
    const fs::path rel = fs::path(f[4]).lexically_normal();
    if (rel.empty() || rel.is_absolute() || *rel.begin() == "..") {
      problems.push_back(util::quote(f[4]) + ": deleted by the job, but it leads outside " + root.string());
      continue;
    }
    const fs::path target = root / rel;
    if (!inside(real_root, fs::weakly_canonical(target.parent_path(), ec))) {
      problems.push_back(target.string() + ": deleted by the job, but its directory leads outside " + root.string());
      continue;
    }
    struct stat st {};
    if (::lstat(target.c_str(), &st) != 0) continue;  // not here either
    const bool as_found = f[0] == "l" ? S_ISLNK(st.st_mode) && fs::read_symlink(target, ec).string() == f[3]
                                      : S_ISREG(st.st_mode) && std::to_string(st.st_size) == f[1] &&
                                            std::to_string(st.st_mtim.tv_sec) == f[2];
    if (!as_found) {
      problems.push_back(target.string() + ": deleted by the job, kept here (changed since the job started)");
      continue;
    }
    if (::unlink(target.c_str()) != 0)
      problems.push_back(target.string() + ": deleted by the job, cannot delete it here (" + std::strerror(errno) + ")");
  }
}

} // namespace

std::vector<std::string> extract_archive(const PieceSource& pieces, const std::string& destination,
                                         const std::string& where, spawn::aws::S3Client* s3, const fs::path& scratch,
                                         std::size_t buffer_bytes) {
  std::vector<std::string> problems;
  auto read = read_tar_gz(
      pieces, [&](const TarEntry& m, TarContent& content) { place_member(s3, where, destination, scratch, m, content, problems); },
      buffer_bytes);
  if (!read) problems.push_back(where + ": " + read.error());
  return problems;
}

std::vector<std::string> bring_back(spawn::aws::S3Client& s3, const std::string& bucket, const fs::path& record_file,
                                    std::size_t buffer_bytes) {
  std::vector<std::string> problems;
  auto record = util::read_file(record_file);
  if (!record) return problems;
  const fs::path scratch = record_file.parent_path();
  const fs::path piece = scratch / "back.piece";
  for (const auto& line : util::split(*record, '\n')) {
    auto fields = util::split(line, '\t');  // KEY DESTINATION [GONE_KEY]
    if (fields.size() < 2) continue;
    const std::string key = fields[0], destination = fields[1];
    const std::string gone_key = fields.size() > 2 ? fields[2] : "";
    const std::string where = "s3://" + bucket + "/" + key;
    if (!gone_key.empty()) {
      auto gone = s3.get_object(bucket, gone_key);
      if (gone) delete_what_the_job_deleted(*gone, destination, problems);
      else if (gone.error().code != "NoSuchKey") problems.push_back("s3://" + bucket + "/" + gone_key + ": " + gone.error().to_string());
    }
    // The archive arrives in pieces (key.000, key.001, ...), each fetched when the reader reaches it.
    auto first = s3.get_object_to_file(bucket, piece_key(key, 0), piece);
    if (!first) {
      if (first.error().code != "NoSuchKey") problems.push_back(where + ": " + first.error().to_string());
      continue;  // no archive: nothing changed there
    }
    std::size_t next = 0;
    PieceSource pieces = [&]() -> Expected<std::optional<fs::path>> {
      if (next > 0) {
        auto got = s3.get_object_to_file(bucket, piece_key(key, next), piece);
        if (!got && got.error().code == "NoSuchKey") return std::optional<fs::path>();
        if (!got) return Unexpected(piece_key(key, next) + ": " + got.error().to_string());
      }
      ++next;
      return std::optional<fs::path>(piece);
    };
    auto more = extract_archive(pieces, destination, where, &s3, scratch, buffer_bytes);
    problems.insert(problems.end(), more.begin(), more.end());
    std::error_code ec;
    fs::remove(piece, ec);
  }
  return problems;
}

} // namespace spawn::providers::aws
