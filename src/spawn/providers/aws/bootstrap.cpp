#include "providers/aws/bootstrap.hpp"

#include <algorithm>
#include <sys/stat.h>
#include <zlib.h>

#include "providers/aws/cohort.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

namespace spawn::providers::aws {

namespace {

std::string shell_quote(std::string_view text) { return "'" + util::replace_all(text, "'", "'\\''") + "'"; }

std::string base64(std::string_view bytes) {
  static const char* chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0, line = 0;
  auto put = [&](char c) {
    out += c;
    if (++line == 76) {
      out += '\n';
      line = 0;
    }
  };
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    put(chars[(n >> 18) & 63]), put(chars[(n >> 12) & 63]), put(chars[(n >> 6) & 63]), put(chars[n & 63]);
  }
  if (i < bytes.size()) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    put(chars[(n >> 18) & 63]), put(chars[(n >> 12) & 63]);
    put(i + 1 < bytes.size() ? chars[(n >> 6) & 63] : '='), put('=');
  }
  if (line) out += '\n';
  return out;
}

// The bootstrap. Runs as root under cloud-init (or the test endpoint's sandbox) with bash, coreutils and curl.
constexpr std::string_view k_script = R"SPAWN(
# spawn instance bootstrap: fetch this instance's task, run it with spawn's runtime, ship results, power off.
set -u
umask 077
root=${TMPDIR:-/var/tmp}/spawn
mkdir -p "$root/work" || exit 1
log=$root/bootstrap.log
exec >>"$log" 2>&1
say() { echo "$(date +%FT%T) $*"; }
# The hard backstop: even if everything below dies, the instance powers off (and so terminates) in time.
[[ -n $backstop_minutes ]] && shutdown -h "+$backstop_minutes" 2>&1
off() {
  say "powering off"
  shutdown -c 2>/dev/null
  poweroff
  sleep 600
  exit 0
}
imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
imds=${imds%/}
imds_token=""
imds_get() {
  local out
  out=$(curl -sf -m 5 -H "X-aws-ec2-metadata-token: $imds_token" "$imds/latest/meta-data/$1") && { printf '%s' "$out"; return 0; }
  imds_token=$(curl -sf -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$imds/latest/api/token") || return 1
  curl -sf -m 5 -H "X-aws-ec2-metadata-token: $imds_token" "$imds/latest/meta-data/$1"
}
fetch() { curl -sf --retry 8 --retry-all-errors --retry-delay 1 -o "$2" "$1"; }
upload() { curl -sf --retry 8 --retry-all-errors --retry-delay 1 -X PUT -T "$2" "$1" -o /dev/null; }

index=""
for _ in 1 2 3 4 5 6 7 8 9 10; do index=$(imds_get ami-launch-index) && break; sleep 1; done
[[ -n $index ]] || { say "no ami-launch-index from IMDS"; off; }
[[ -n $cohort_url ]] && cohort_join
fetch "$manifest_url" "$root/manifest" || { say "cannot fetch the manifest"; off; }
# This instance's tasks: the manifest lines of its launch index, run one after the other (one, unless the job packs
# several tasks per instance: aws.tasks_per_instance).
mapfile -t lines < <(awk -F'\t' -v i="$index" '$1 == i' "$root/manifest")
((${#lines[@]} > 0)) || { say "launch index $index is not in the manifest"; off; }
node=${node:-$(hostname -s 2>/dev/null || hostname)}

upload_outputs() {
  local i path
  for ((i = 5; i + 1 < ${#f[@]}; i += 2)); do
    path=${f[i]//@SPAWN_ROOT@/$root}
    path=${path//@SPAWN_NODE@/$node}
    [[ -f $path ]] && upload "${f[i + 1]}" "$path"
  done
  [[ -f $dir/runtime.log ]] && upload "$log_url" "$dir/runtime.log"
}
# The exit marker of a task this instance cannot run: state, reason.
give_up() {
  printf 'state=%s\nexit_code=%s\nsignal=0\nreason=%s\nstart=0\nend=%s\n' "$1" "$([[ $1 == PREEMPTED ]] && echo 0 || echo 1)" \
    "$2" "$(date +%s)" >"$root/$name.marker"
  upload "$marker_url" "$root/$name.marker"
}

preempted=""
for line in "${lines[@]}"; do
IFS=$'\t' read -r -a f <<<"$line"
name=${f[1]} bundle_url=${f[2]} marker_url=${f[3]} log_url=${f[4]}
dir=$root/$name
# A spot notice ends this task and the ones after it, which never started.
if [[ -n $preempted ]]; then
  give_up PREEMPTED "spot interruption before the task started ($(sed -n 's/.*"time" *: *"\([^"]*\)".*/\1/p' <<<"$notice"))"
  continue
fi
mkdir -p "$dir" && cd "$dir" || { give_up FAILED "cannot create $dir on the instance"; continue; }
if ! { fetch "$bundle_url" "$root/$name.bundle" && gzip -dc "$root/$name.bundle" | bash; }; then
  say "cannot unpack the task"
  [[ -n $cohort_url ]] && off
  give_up FAILED "the instance could not fetch or unpack the task"
  continue
fi
for file in settings job.env hostfile bin/srun bin/ssh ssh/config; do
  [[ -f $file ]] && sed -i -e "s|@SPAWN_ROOT@|${root//|/\\|}|g" -e "s|@SPAWN_NODE@|$node|g" "$file"
done

# A task with a container image: its runtime installed (a no-op when the AMI has it) and started; runtime.sh pulls
# the image and runs the script in it. GPU AMIs (the deep-learning AMIs) bring the NVIDIA container toolkit.
image=$(. ./settings && printf '%s' "${SPAWN_RT_CONTAINER:-}")
if [[ -n $image ]]; then
  kind=$(. ./settings && printf '%s' "${SPAWN_RT_CONTAINER_RUNTIME:-auto}")
  [[ $kind == auto ]] && kind=docker
  say "container image $image: making sure $kind is installed and running"
  if command -v dnf >/dev/null; then dnf install -y "$kind"
  elif command -v yum >/dev/null; then yum install -y "$kind"
  elif ! command -v "$kind" >/dev/null && command -v apt-get >/dev/null; then
    apt-get update -q && apt-get install -y "$([[ $kind == docker ]] && echo docker.io || echo "$kind")"
  fi
  if [[ $kind != apptainer ]]; then
    systemctl start "$kind"
    for _ in $(seq 120); do timeout 10 "$kind" version >/dev/null 2>&1 && break; sleep 1; done
  fi
fi

if [[ -n $cohort_url ]]; then
  cohort_sshd || cohort_fail "node $node: spawn's sshd did not start: $(tail -n 1 "$dir/ssh/sshd.log" 2>/dev/null)"
  # The other nodes get the job's files too (srun's tasks there start in the same directory); their changes come
  # back through node 0 (cohort_send_back) when the task ends.
  ((rank == 0)) || { [[ ! -f $dir/workdir.sh ]] || bash "$dir/workdir.sh" in "$dir" >>"$dir/runtime.log" 2>&1; cohort_serve; }
  cohort_wait_peers || cohort_fail "not every node of the job answered over ssh within 300 s"
fi
say "task $name (launch index $index) starting"
# The job's files (providers/aws/workdir.cpp) arrive before the runtime starts; failing that is the task's failure.
# The time limit counts from the runtime's start, and so does the backstop from then on: fetching a large working
# directory must not eat into the job's time.
( [[ ! -f $dir/workdir.sh ]] || bash "$dir/workdir.sh" in "$dir" || exit 1
  [[ -z $task_backstop_minutes ]] || shutdown -h "+$task_backstop_minutes"
  exec bash "$dir/runtime.sh" run "$dir" ) >>"$dir/runtime.log" 2>&1 &
rt=$!
tick=0
while kill -0 "$rt" 2>/dev/null; do
  sleep 1
  tick=$((tick + 1))
  # This node's notice, or one another node of the job passed on (cohort_serve): either ends the task here.
  if ((tick % spot_poll_seconds == 0)) && { notice=$(imds_get spot/instance-action) ||
    { [[ -s $dir/spot.peer ]] && IFS= read -r notice <"$dir/spot.peer"; }; }; then
    say "spot interruption notice: $notice"
    echo "$(date +%FT%T) spot interruption notice: $notice" >>"$dir/runtime.log"
    preempted=1
    at=$(sed -n 's/.*"time" *: *"\([^"]*\)".*/\1/p' <<<"$notice")
    deadline=$(( $(date -d "$at" +%s 2>/dev/null || echo $(( $(date +%s) + 120 ))) - 10 ))
    # The job's --signal (the runtime forwards USR1 as it does before a time limit), else SIGTERM as Slurm does.
    if grep -q "^SPAWN_RT_SIGNAL='[0-9]" settings; then kill -USR1 "$rt"; else kill -TERM "$rt"; fi
    while kill -0 "$rt" 2>/dev/null && (( $(date +%s) < deadline )); do sleep 1; done
    kill -0 "$rt" 2>/dev/null && kill -TERM "$rt"
    break
  fi
  if ((tick % log_sync_seconds == 0)); then upload_outputs; fi
done
[[ -z $preempted ]] && wait "$rt"
sleep 0.2
if [[ -z $preempted && -f $dir/workdir.sh ]]; then
  [[ -n $cohort_url ]] && cohort_send_back
  bash "$dir/workdir.sh" out "$dir" >>"$dir/runtime.log" 2>&1
fi
upload_outputs
if [[ -n $preempted ]]; then
  printf 'state=PREEMPTED\nexit_code=0\nsignal=0\nreason=spot interruption (%s)\nstart=0\nend=%s\n' \
    "$(sed -n 's/.*"time" *: *"\([^"]*\)".*/\1/p' <<<"$notice")" "$(date +%s)" >"$dir/marker.spot"
  upload "$marker_url" "$dir/marker.spot"
elif [[ -f $dir/marker ]]; then
  upload "$marker_url" "$dir/marker"
else
  printf 'state=FAILED\nexit_code=1\nsignal=0\nreason=the runtime ended without an exit status (see runtime.log)\nstart=0\nend=%s\n' \
    "$(date +%s)" >"$dir/marker.lost"
  upload "$marker_url" "$dir/marker.lost"
fi
say "task $name done"
cd "$root" || true
done
off
)SPAWN";

} // namespace

std::string bootstrap_script(const BootstrapSettings& s) {
  std::string out = "#!/bin/bash\n";
  out += "manifest_url=" + shell_quote(s.manifest_url) + "\n";
  out += "backstop_minutes=" + (s.backstop_minutes ? std::to_string(*s.backstop_minutes) : std::string()) + "\n";
  out += "task_backstop_minutes=" +
         (s.task_backstop_minutes ? std::to_string(*s.task_backstop_minutes)
                                  : s.backstop_minutes ? std::to_string(*s.backstop_minutes) : std::string()) + "\n";
  out += "spot_poll_seconds=" + std::to_string(std::max(1, s.spot_poll_seconds)) + "\n";
  out += "log_sync_seconds=" + std::to_string(std::max(1, s.log_sync_seconds)) + "\n";
  out += "cohort_url=" + (s.cohort_url ? shell_quote(*s.cohort_url) : std::string()) + "\n";
  if (s.cohort_url) out += cohort_bootstrap_functions();
  out += k_script;
  return out;
}

std::string manifest_text(const std::vector<ManifestEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    out += std::to_string(e.launch_index) + "\t" + e.task_name + "\t" + e.bundle_url + "\t" + e.marker_url + "\t" + e.log_url;
    for (const auto& [path, url] : e.outputs) out += "\t" + path + "\t" + url;
    out += "\n";
  }
  return out;
}

Expected<std::string> bundle_directory(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path());
  }
  if (ec) return Unexpected(dir.string() + ": cannot list: " + ec.message());
  std::sort(files.begin(), files.end());
  std::string out = "# spawn task bundle: recreates the task directory here\nset -e\n";
  for (const auto& path : files) {
    auto rel = std::filesystem::relative(path, dir).string();
    auto content = util::read_file(path);
    if (!content) return Unexpected(content.error());
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return Unexpected(path.string() + ": cannot stat");
    char mode[8];
    std::snprintf(mode, sizeof mode, "%o", static_cast<unsigned>(st.st_mode & 07777));
    auto parent = std::filesystem::path(rel).parent_path().string();
    if (!parent.empty()) out += "mkdir -p " + shell_quote(parent) + "\n";
    out += "base64 -d >" + shell_quote(rel) + " <<'SPAWN_BUNDLE_EOF'\n" + base64(*content) + "SPAWN_BUNDLE_EOF\n";
    out += "chmod " + std::string(mode) + " " + shell_quote(rel) + "\n";
  }
  return out;
}

Expected<std::string> gzip_bytes(std::string_view bytes) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Unexpected("gzip: cannot initialise zlib");
  std::string out(deflateBound(&z, bytes.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Unexpected("gzip: compression failed");
  return out;
}

} // namespace spawn::providers::aws
