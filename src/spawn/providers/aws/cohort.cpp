#include "providers/aws/cohort.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <set>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "util/files.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace spawn::providers::aws {

namespace {

// The four octets of a dotted IPv4 address, nullopt if it is not one.
std::optional<std::array<int, 4>> octets(const std::string& ip) {
  auto parts = util::split(ip, '.');
  if (parts.size() != 4) return std::nullopt;
  std::array<int, 4> out{};
  for (std::size_t i = 0; i < 4; ++i) {
    auto n = util::parse_uint(parts[i]);
    if (!n || *n > 255 || parts[i].empty() || parts[i].size() > 3) return std::nullopt;
    out[i] = static_cast<int>(*n);
  }
  return out;
}

// Runs argv (argv[0] found on PATH) with stdin, stdout and stderr on /dev/null; its exit status, or an error.
Expected<int> run_quietly(const std::vector<std::string>& argv) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd : {0, 1, 2}) posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Unexpected(argv[0] + ": cannot run it (" + std::string(std::strerror(rc)) + ")");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Unexpected(argv[0] + ": lost track of it");
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The bootstrap's cohort functions (bash). Globals of the bootstrap they use: root, dir, index, log, cohort_url,
// marker_url; say, fetch, upload, off. They set rank, node, node_ip, cohort_port and done_url.
constexpr std::string_view k_cohort_functions = R"SPAWN(
# --- cohort mode: this instance is one node of a multi-node task ---
cohort_join() {
  local deadline=$(( $(date +%s) + 900 )) line
  until curl -sf -m 20 -o "$root/cohort" "$cohort_url"; do
    (( $(date +%s) > deadline )) && { say "no cohort object after 900 s"; off; }
    sleep 1
  done
  line=$(awk -v i="$index" '$1 == "node" && $3 == i' "$root/cohort")
  [[ -n $line ]] || { say "launch index $index is not in the cohort"; off; }
  read -r _ rank _ node node_ip <<<"$line"
  cohort_port=$(awk '$1 == "port" {print $2}' "$root/cohort")
  done_url=$(awk '$1 == "done_url" {print $2}' "$root/cohort")
  say "node $node ($node_ip): rank $rank of the cohort"
  index=0 # the cohort's one task is line 0 of the manifest
}
# The task cannot run: its marker says why (from any node: a node that cannot serve is no passing loss to retry
# elsewhere), which also sends the other nodes home.
cohort_fail() {
  say "$1"
  printf 'state=FAILED\nexit_code=1\nsignal=0\nreason=%s\nstart=0\nend=%s\n' "$1" "$(date +%s)" >"$dir/marker.cohort"
  upload "$marker_url" "$dir/marker.cohort"
  off
}
# spawn's own sshd on the node's private address: the job's host key, the job's key the only one authorized.
# Its sessions run as srun's tasks do under Slurm: with the environment spawn passes, never root's ~/.bashrc (bash
# reads that file for a command sshd starts at SHLVL 0, and an AMI's or a host's rc file can be slow or hang: a
# stale `pyenv rehash` lock held every remote command for 60 s). SHLVL=1 is bash's own way to tell it is not.
cohort_sshd() {
  local sshd pam=no
  sshd=$(command -v sshd || echo /usr/sbin/sshd)
  [[ -x $sshd ]] || { say "no sshd on this image (a multi-node job needs the openssh-server package)"; return 1; }
  [[ -d /run/sshd ]] || mkdir -p -m 0755 /run/sshd # the privilege separation directory Debian's sshd insists on
  # A locked root account logs in by key only through PAM (Amazon Linux); elsewhere PAM is left out.
  [[ $(getent shadow root 2>/dev/null | cut -d: -f2) == '!'* ]] && pam=yes
  cat >"$dir/ssh/sshd_config" <<EOF
Port $cohort_port
ListenAddress $node_ip
HostKey $dir/ssh/host_ed25519
AuthorizedKeysFile $dir/ssh/authorized_keys
PidFile $dir/ssh/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM $pam
StrictModes no
SetEnv "SHLVL=1" "SPAWN_NODE_ROOT=$root" "SPAWN_NODE_DIR=$dir"
EOF
  "$sshd" -f "$dir/ssh/sshd_config" -E "$dir/ssh/sshd.log" || { say "sshd did not start (see $dir/ssh/sshd.log)"; return 1; }
  say "sshd listening on $node_ip:$cohort_port"
}
cohort_wait_peers() {
  local deadline=$(( $(date +%s) + 300 )) peer
  for peer in $(awk '$1 == "node" {print $4}' "$root/cohort"); do
    until "$dir/bin/ssh" -o ConnectTimeout=5 "$peer" true 2>>"$log"; do
      (( $(date +%s) > deadline )) && return 1
      sleep 1
    done
  done
  say "every node answers over ssh"
}
# Node 0, after the task: every other node sends its changes back (all at once, over the job's ssh; the peer's sshd
# names its task directory), before node 0's own and before the marker that tells the client to fetch them. What a
# node could not send is noted in node 0's peers.notes, for workdir.sh to put in the task's exit status.
cohort_send_back() {
  local r peer
  while read -r r peer; do
    { "$dir/bin/ssh" "$peer" 'd=$SPAWN_NODE_DIR; bash "$d/workdir.sh" out "$d" '"$r"' >>"$d/runtime.log" 2>&1;'\
        ' cat "$d/workdir.notes" 2>/dev/null; true' || echo "its files could not be sent back (ssh exit status $?)"
    } 2>>"$log" | sed "s/^/node $r: /" >"$dir/peer-$r.notes" &
  done < <(awk '$1 == "node" && $2 != 0 {print $2, $4}' "$root/cohort")
  wait
  cat "$dir"/peer-*.notes >"$dir/peers.notes" 2>/dev/null
  rm -f "$dir"/peer-*.notes
  say "the other nodes sent their changes back"
}
# Another node serves until node 0's marker exists. A spot interruption notice for it is passed to node 0 (as
# spot.peer in node 0's task directory), which gives the job its --signal and ends the task as preempted: the job
# cannot go on without this node.
cohort_serve() {
  say "serving the cohort until the task ends on node 0"
  local notice="" next_poll=0 node0
  node0=$(awk '$1 == "node" && $2 == 0 {print $4}' "$root/cohort")
  until curl -sf -m 20 -o /dev/null "$done_url"; do
    if [[ -z $notice ]] && (( $(date +%s) >= next_poll )); then
      next_poll=$(( $(date +%s) + spot_poll_seconds ))
      if notice=$(imds_get spot/instance-action); then
        say "spot interruption notice: $notice; telling node 0"
        printf '%s\n' "$notice" | "$dir/bin/ssh" "$node0" 'cat >"$SPAWN_NODE_DIR/spot.peer"' 2>>"$log" ||
          say "could not tell node 0 (ssh exit status $?)"
      else
        notice=""
      fi
    fi
    sleep 2
  done
  say "the task ended"
  [[ -f $dir/ssh/sshd.pid ]] && kill "$(<"$dir/ssh/sshd.pid")" 2>/dev/null
  off
}
)SPAWN";

} // namespace

Expected<std::string> node_name_from_ip(const std::string& ip) {
  if (!octets(ip)) return Unexpected("not a private IPv4 address: " + util::quote(ip));
  return "ip-" + util::replace_all(ip, ".", "-");
}

Expected<std::vector<CohortNode>> cohort_nodes(const std::vector<spawn::aws::Instance>& instances) {
  std::vector<std::pair<std::array<int, 4>, CohortNode>> sorted;
  std::set<std::string> seen;
  for (const auto& inst : instances) {
    auto address = octets(inst.private_ip);
    if (!address) return Unexpected("instance " + inst.id + " has no private IPv4 address (" + util::quote(inst.private_ip) + ")");
    if (!seen.insert(inst.private_ip).second) return Unexpected("two instances share the address " + inst.private_ip);
    CohortNode node;
    node.launch_index = inst.launch_index;
    node.name = *node_name_from_ip(inst.private_ip);
    node.ip = inst.private_ip;
    node.instance_id = inst.id;
    sorted.push_back({*address, std::move(node)});
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<CohortNode> out;
  for (auto& [address, node] : sorted) {
    node.rank = static_cast<std::uint32_t>(out.size());
    out.push_back(std::move(node));
  }
  return out;
}

std::vector<std::string> node_names(const std::vector<CohortNode>& nodes) {
  std::vector<std::string> out;
  for (const auto& n : nodes) out.push_back(n.name);
  return out;
}

std::string cohort_text(const std::vector<CohortNode>& nodes, const std::string& done_url) {
  std::string out = "# spawn cohort: the nodes of one multi-node task (node RANK LAUNCH_INDEX NAME IP)\n";
  out += "port " + std::to_string(k_cohort_ssh_port) + "\n";
  out += "done_url " + done_url + "\n";
  for (const auto& n : nodes)
    out += "node " + std::to_string(n.rank) + " " + std::to_string(n.launch_index) + " " + n.name + " " + n.ip + "\n";
  return out;
}

std::string ssh_client_config(const std::vector<CohortNode>& nodes, const std::string& dir) {
  std::string out = "# spawn: ssh between the nodes of this job (bin/ssh runs ssh -F with this file)\n";
  for (const auto& n : nodes) out += "Host " + n.name + "\n  HostName " + n.ip + "\n";
  out += "Host *\n  Port " + std::to_string(k_cohort_ssh_port) + "\n  User root\n  IdentityFile " + dir +
         "/ssh/id_ed25519\n  IdentitiesOnly yes\n  UserKnownHostsFile " + dir +
         "/ssh/known_hosts\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  CheckHostIP no\n"
         "  BatchMode yes\n  LogLevel ERROR\n";
  return out;
}

std::string ssh_wrapper(const std::string& dir) {
  return "#!/bin/sh\n# spawn: ssh to the other nodes of this job\nexec /usr/bin/ssh -F '" + dir + "/ssh/config' \"$@\"\n";
}

std::vector<std::pair<std::string, std::string>> mpi_environment(const std::string& dir, const std::string& hostfile) {
  return {{"OMPI_MCA_plm_rsh_agent", dir + "/bin/ssh"},
          {"OMPI_MCA_orte_default_hostfile", hostfile},
          {"OMPI_ALLOW_RUN_AS_ROOT", "1"},
          {"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"}};
}

Expected<void> make_job_keys(const std::filesystem::path& dir, const std::string& comment) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Unexpected(dir.string() + ": cannot create: " + ec.message());
  ::chmod(dir.c_str(), 0700);
  for (const char* name : {"id_ed25519", "host_ed25519"}) {
    auto key = dir / name;
    std::filesystem::remove(key, ec);
    std::filesystem::remove(key.string() + ".pub", ec);
    auto rc = run_quietly({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", key.string()});
    if (!rc) return Unexpected("making the job's ssh key: " + rc.error() + " (a multi-node job needs openssh-client)");
    if (*rc != 0) return Unexpected("making the job's ssh key: ssh-keygen exited with status " + std::to_string(*rc));
  }
  auto user = util::read_file(dir / "id_ed25519.pub");
  auto host = util::read_file(dir / "host_ed25519.pub");
  if (!user) return Unexpected(user.error());
  if (!host) return Unexpected(host.error());
  if (auto w = util::write_file_atomic(dir / "authorized_keys", *user); !w) return w;
  return util::write_file_atomic(dir / "known_hosts", "* " + *host);
}

Expected<void> write_cohort_files(const std::filesystem::path& stage, const std::filesystem::path& keys_dir,
                                  const std::vector<CohortNode>& nodes, const std::string& dir, const std::string& root) {
  std::error_code ec;
  std::filesystem::create_directories(stage / "ssh", ec);
  if (ec) return Unexpected((stage / "ssh").string() + ": cannot create: " + ec.message());
  auto write = [](const std::filesystem::path& path, const std::string& text, mode_t mode) -> Expected<void> {
    if (auto w = util::write_file_atomic(path, text); !w) return w;
    if (::chmod(path.c_str(), mode) != 0) return Unexpected(path.string() + ": cannot set its mode");
    return {};
  };
  for (const char* name : {"id_ed25519", "id_ed25519.pub", "host_ed25519", "host_ed25519.pub", "authorized_keys", "known_hosts"}) {
    auto text = util::read_file(keys_dir / name);
    if (!text) return Unexpected(text.error());
    if (auto w = write(stage / "ssh" / name, *text, 0600); !w) return w;
  }
  if (auto w = write(stage / "ssh/config", ssh_client_config(nodes, dir), 0644); !w) return w;
  if (auto w = write(stage / "bin/ssh", ssh_wrapper(dir), 0755); !w) return w;
  auto settings = util::read_file(stage / "settings");
  if (!settings) return Unexpected(settings.error());
  *settings += "SPAWN_RT_SSH='" + dir + "/bin/ssh'\nSPAWN_RT_ROOT='" + root + "'\n";
  return write(stage / "settings", *settings, 0644);
}

std::string cohort_group_name(std::uint64_t job_id, const std::string& task_name, const std::string& random) {
  return "spawn-" + std::to_string(job_id) + "-" + task_name + "-" + random;
}

std::string_view cohort_bootstrap_functions() { return k_cohort_functions; }

} // namespace spawn::providers::aws
