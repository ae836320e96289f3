#!/usr/bin/env bash
# Installs everything spawn needs to build and test, from Debian 12's archive only.
# Idempotent: a package already present is left as it is.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git python3
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev libexpected-dev
  libsqlite3-dev libcurl4-openssl-dev libpugixml-dev libssl-dev python3-botocore python3-boto3 libgtest-dev libgmock-dev
  clang clang-format libclang-rt-14-dev
  slurm-wlm munge openmpi-bin
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
