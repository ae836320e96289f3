#!/usr/bin/env bash
# Starts a one-machine Slurm 22.05 (Debian 12 slurm-wlm + munge) for spawn's tests, as root, without systemd.
#   - partition "debug" (default): this host, CPUs=$(nproc), RealMemory a bit below MemTotal; jobs really run here.
#   - partition "cloud": 64 powered-down CLOUD nodes (192 CPUs, ~2 TB, 8 GPUs of one type each) that never boot;
#     held jobs submitted there are accepted and recorded exactly as sbatch/slurmctld parse them.
# Idempotent: when munged and Slurm already run with the same configuration it only checks and returns.
# A changed configuration restarts the daemons. Logs: /var/log/munge/munged.log, /var/log/slurm/*.log.
set -euo pipefail

say() { printf 'start-slurm: %s\n' "$*"; }
die() { printf 'start-slurm: error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
for b in munged munge unmunge slurmctld slurmd scontrol sinfo; do
  command -v "$b" >/dev/null || [[ -x /usr/sbin/$b ]] || die "$b not found; run scripts/install-deps.sh"
done

host=$(hostname -s)
cpus=$(nproc)
mem_total_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
# slurmd drains a node whose real memory is below RealMemory: leave 5% (at least 256 MB) of headroom.
headroom=$((mem_total_mb / 20))
((headroom < 256)) && headroom=256
real_mem=$((mem_total_mb - headroom))

# ---------------------------------------------------------------- munge
if [[ ! -s /etc/munge/munge.key ]]; then
  say "creating /etc/munge/munge.key (1 KiB random)"
  install -d -o munge -g munge -m 700 /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 755 /run/munge
install -d -o munge -g munge -m 700 /var/log/munge /var/lib/munge

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if munge_ok; then
  say "munged already running"
else
  # A stale pid file or socket from a killed daemon would make munged refuse to start.
  if [[ -f /run/munge/munged.pid ]] && ! kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
    rm -f /run/munge/munged.pid /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  fi
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge_ok && break; sleep 0.1; done
  munge_ok || die "munged did not come up (see /var/log/munge/munged.log)"
fi

# ---------------------------------------------------------------- configuration
conf_dir=/etc/slurm
install -d -m 755 "$conf_dir"
install -d -o slurm -g slurm -m 755 /var/lib/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
install -d -o root -g root -m 755 /var/spool/slurmd

new_conf=$(mktemp)
new_gres=$(mktemp)
trap 'rm -f "$new_conf" "$new_gres"' EXIT
cat >"$new_conf" <<EOF
# Written by spawn scripts/start-slurm.sh: one-machine Slurm for tests. Re-running the script rewrites it.
ClusterName=spawn
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
MaxArraySize=1000001
MaxJobCount=100000
ReturnToService=2
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No accounting daemon: sacct is unavailable, job records live in slurmctld memory for MinJobAge seconds.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Schedule often so small arrays of short jobs drain quickly on one node.
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,sched_min_interval=0,bf_interval=1,default_queue_depth=1000,batch_sched_delay=0
MessageTimeout=10
KillWait=5
MinJobAge=300
InactiveLimit=0
Waittime=0
# Cloud nodes never boot: resuming/suspending is a no-op, held jobs on them stay pending.
SuspendProgram=/bin/true
ResumeProgram=/bin/true
SuspendTime=600
# Never power down the real node (it would wait ResumeTimeout for a slurmd that never stopped).
SuspendExcNodes=$host
ResumeTimeout=600
SuspendTimeout=30
TreeWidth=65533

NodeName=$host CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
# Typed GPUs on the cloud nodes so both --gres=gpu:N and --gres=gpu:TYPE:N are accepted.
# Features let --constraint expressions be accepted (slurmctld rejects unknown features at submission).
NodeName=cloud[1-16] CPUs=192 RealMemory=2000000 Gres=gpu:a100:8 Features=a100,ib,avx512,cascadelake State=CLOUD
NodeName=cloud[17-32] CPUs=192 RealMemory=2000000 Gres=gpu:v100:8 Features=v100,skylake,avx512 State=CLOUD
NodeName=cloud[33-48] CPUs=192 RealMemory=2000000 Gres=gpu:h100:8 Features=h100,ib,avx512,icelake,bigmem State=CLOUD
NodeName=cloud[49-64] CPUs=192 RealMemory=2000000 Gres=gpu:k80:8 Features=k80,haswell State=CLOUD
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=cloud Nodes=cloud[1-64] MaxTime=INFINITE State=UP
EOF
cat >"$new_gres" <<EOF
# Written by spawn scripts/start-slurm.sh. The cloud nodes never run slurmd; their GPUs are declared in slurm.conf.
EOF

changed=0
if ! cmp -s "$new_conf" "$conf_dir/slurm.conf"; then
  install -m 644 "$new_conf" "$conf_dir/slurm.conf"; changed=1; say "wrote $conf_dir/slurm.conf"
fi
if ! cmp -s "$new_gres" "$conf_dir/gres.conf"; then
  install -m 644 "$new_gres" "$conf_dir/gres.conf"; changed=1; say "wrote $conf_dir/gres.conf"
fi
[[ -f $conf_dir/cgroup.conf ]] || { echo "CgroupPlugin=autodetect" >"$conf_dir/cgroup.conf"; }

# ---------------------------------------------------------------- daemons
pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop_daemon() { # pidfile name
  if pid_alive "$1"; then
    local pid; pid=$(cat "$1"); say "stopping $2 ($pid)"; kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$1"
}

if ((changed)); then
  stop_daemon /run/slurmd.pid slurmd
  stop_daemon /run/slurmctld.pid slurmctld
fi

if pid_alive /run/slurmctld.pid; then
  say "slurmctld already running"
else
  say "starting slurmctld"
  /usr/sbin/slurmctld
fi
if pid_alive /run/slurmd.pid; then
  say "slurmd already running"
else
  say "starting slurmd"
  /usr/sbin/slurmd
fi

# ---------------------------------------------------------------- wait for the local node
deadline=$((SECONDS + 60))
until scontrol ping 2>/dev/null | grep -q 'is UP'; do
  ((SECONDS < deadline)) || die "slurmctld does not answer 'scontrol ping' after 60 s (see /var/log/slurm/slurmctld.log)"
  sleep 0.5
done
state=""
stuck_since=""
cleared=0
while :; do
  state=$(sinfo -h -n "$host" -o '%t' 2>/dev/null | head -n1)
  case $state in
    idle|mix|alloc|comp) break ;;
    drain*|down*|inval*) # a node left down/drained by an earlier run: bring it back once
      scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true ;;
    unk*|*'#'|*'~'|pow*) # saved state from an earlier run can leave the real node UNKNOWN or powering up for good
      stuck_since=${stuck_since:-$SECONDS}
      if ((!cleared && SECONDS - stuck_since >= 20)); then
        say "node $host is stuck in '$state': restarting slurmctld with -c (clears its saved job and node state)"
        stop_daemon /run/slurmctld.pid slurmctld
        /usr/sbin/slurmctld -c
        cleared=1
        deadline=$((SECONDS + 60))
        until scontrol ping 2>/dev/null | grep -q 'is UP'; do
          ((SECONDS < deadline)) || die "slurmctld -c does not answer 'scontrol ping' after 60 s"
          sleep 0.5
        done
      fi ;;
  esac
  ((SECONDS < deadline)) || die "node $host is '$state', not idle, after 60 s (see /var/log/slurm/slurmd.log; sinfo -R)"
  sleep 0.5
done
say "Slurm is up: node $host is $state ($cpus CPUs, RealMemory=$real_mem MB); partitions: $(sinfo -h -o '%P' | tr '\n' ' ')"
