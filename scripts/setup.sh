#!/usr/bin/env bash
# First-time set-up on Debian 12 as root: install what spawn needs, build it, and show what spawn
# makes of an example batch script.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target spawn
echo
./build/spawn slurm inspect examples/training.sbatch
