#!/usr/bin/env bash
# Installs everything spawn needs to build and test, from Debian 12's archive only.
# Idempotent: a package already present is left as it is.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git python3
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev libexpected-dev
  libsqlite3-dev libcurl4-openssl-dev libpugixml-dev libssl-dev python3-botocore python3-boto3 libgtest-dev libgmock-dev
  clang clang-format libclang-rt-14-dev
  slurm-wlm munge openmpi-bin libopenmpi-dev
  # The AWS MPI test runs spawn's own sshd per simulated node (port 2222, its own config); never the machine's.
  openssh-server
  # The container tests run a private dockerd and build their image from busybox-static (no registry needed).
  docker.io busybox-static
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  # Installing openssh-server here must not start (or enable at boot) a machine-wide sshd on port 22: Debian's
  # init script and systemd unit both refuse to run while this file exists. (A machine that already had the
  # package keeps its sshd as it was.)
  if [[ " ${missing[*]} " == *" openssh-server "* ]]; then
    mkdir -p /etc/ssh
    [[ -e /etc/ssh/sshd_not_to_be_run ]] || : >/etc/ssh/sshd_not_to_be_run
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
