#!/usr/bin/env bash
# Stops the daemons scripts/start-slurm.sh started (slurmd, slurmctld, then munged), by their pid files.
# Harmless when they are not running. Pass --keep-munge to leave munged up.
set -euo pipefail
say() { printf 'stop-slurm: %s\n' "$*"; }
[[ $(id -u) -eq 0 ]] || { echo "stop-slurm: error: must run as root" >&2; exit 1; }

stop_daemon() { # pidfile name
  if [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; then
    local pid; pid=$(cat "$1"); say "stopping $2 ($pid)"; kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then say "$2 ($pid) ignored SIGTERM; killing"; kill -9 "$pid"; fi
  else
    say "$2 not running"
  fi
  rm -f "$1"
}

stop_daemon /run/slurmd.pid slurmd
stop_daemon /run/slurmctld.pid slurmctld
[[ ${1:-} == --keep-munge ]] || stop_daemon /run/munge/munged.pid munged
