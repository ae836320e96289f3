#!/usr/bin/env python3
"""`spawn slurm estimate` on realistic scripts, run against the built binary (no Slurm needed).

Checks that the choice fits the job and is of the kind a user expects (a CUDA GPU for a GPU training job, x86_64
CPU types for MPI, a memory-optimised type for a memory-heavy job), that the arithmetic of the JSON is consistent
(waves, instance-hours, cost = instance-hours x price), that the --json keys of the contract are present, and that a
job without --time and without --runtime is refused (exit non-zero, nothing on stdout).

Usage: test_slurm_estimate.py --spawn build/spawn
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPTS = {
    "gpu_training.sbatch": """#!/bin/bash
#SBATCH --job-name=training
#SBATCH --array=1-100%20
#SBATCH --time=02:00:00
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --gres=gpu:1
python train.py --seed $SLURM_ARRAY_TASK_ID
""",
    "a100_training.sbatch": """#!/bin/bash
#SBATCH -J llm
#SBATCH -t 12:00:00
#SBATCH --gres=gpu:a100:8
#SBATCH -c 96
torchrun --nproc_per_node=8 train.py
""",
    "mpi.sbatch": """#!/bin/bash
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=32
#SBATCH --mem-per-cpu=2G
#SBATCH --time=6:00:00
srun ./simulate
""",
    "bio_array.sbatch": """#!/bin/bash
#SBATCH -a 1-24
#SBATCH -c 4
#SBATCH --mem=8G
#SBATCH -t 3:00:00
module load bwa
bwa mem ref.fa sample_${SLURM_ARRAY_TASK_ID}.fq > out.sam
""",
    "memory_heavy.sbatch": """#!/bin/bash
#SBATCH -c 16
#SBATCH --mem=500G
#SBATCH -t 4:00:00
./assemble --threads 16
""",
    "tiny.sbatch": """#!/bin/bash
#SBATCH -t 10
echo hello
""",
}

CONTRACT = ["region", "market", "instance_type", "candidates", "requirements_per_node", "tasks", "nodes_per_task",
            "max_concurrent", "waves", "runtime_seconds", "wall_time_seconds", "instance_hours", "cost_usd",
            "price_date", "cluster", "assumptions"]

failures: list[str] = []


def check(condition: bool, message: str) -> None:
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")


def estimate(spawn: str, workdir: Path, name: str, *extra: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SBATCH_", "SPAWN_"))}
    env["XDG_CONFIG_HOME"] = str(workdir / "config")  # no user config
    env["XDG_CACHE_HOME"] = str(workdir / "cache")    # the built-in catalog
    p = subprocess.run([spawn, "slurm", "estimate", name, *extra], cwd=workdir, env=env, capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=60)
    return p.returncode, p.stdout, p.stderr


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spawn", required=True)
    args = ap.parse_args()
    args.spawn = str(Path(args.spawn).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, text in SCRIPTS.items():
            (work / name).write_text(text)
        results = {}
        for name in SCRIPTS:
            rc, out, err = estimate(args.spawn, work, name, "--json")
            check(rc == 0, f"{name}: exit {rc}: {err.strip()}")
            if rc == 0:
                results[name] = json.loads(out)

        for name, j in results.items():
            for key in CONTRACT:
                check(key in j, f"{name}: --json lacks {key}")
            need = j["requirements_per_node"]
            for c in j["candidates"]:
                check(c["vcpus"] >= need["vcpus"], f"{name}: {c['instance_type']} has {c['vcpus']} < {need['vcpus']} vCPUs")
                if need["memory_mib"]:
                    check(c["memory_gib"] * 1024 >= need["memory_mib"], f"{name}: {c['instance_type']} memory too small")
                check(c["gpus"] >= need["gpus"], f"{name}: {c['instance_type']} lacks GPUs")
                check(c["arch"] == "x86_64", f"{name}: {c['instance_type']} is {c['arch']} (arm64 needs an opt-in)")
                check(not c["instance_type"].startswith(("t2.", "t3.", "t3a.", "t4g.")), f"{name}: burstable {c['instance_type']}")
            prices = [c["price_per_hour_usd"] for c in j["candidates"]]
            check(prices == sorted(prices), f"{name}: candidates not cheapest first: {prices}")
            families = [c["instance_type"].split(".")[0] for c in j["candidates"]]
            check(len(set(families)) == len(families), f"{name}: candidates repeat a family: {families}")
            # Arithmetic: waves, instance-hours, cost.
            conc = j["max_concurrent"] or j["tasks"]
            check(j["waves"] == math.ceil(j["tasks"] / conc), f"{name}: waves {j['waves']}")
            billed = max(j["runtime_seconds"] + j["boot_overhead_seconds"], 60)
            inst_h = j["tasks"] * j["nodes_per_task"] * billed / 3600
            check(abs(j["instance_hours"] - inst_h) < 0.06, f"{name}: instance_hours {j['instance_hours']} != {inst_h:.2f}")
            check(j["wall_time_seconds"] == j["waves"] * (j["runtime_seconds"] + j["boot_overhead_seconds"]),
                  f"{name}: wall time {j['wall_time_seconds']}")
            first = j["candidates"][0]
            for market, key in (("spot", "spot_price_per_hour_usd"), ("on_demand", "on_demand_price_per_hour_usd")):
                if first[key] is not None:
                    want = inst_h * first[key]
                    check(abs(j["cost_usd"][market] - want) <= 0.01 + want * 1e-6,
                          f"{name}: {market} cost {j['cost_usd'][market]} != {want:.4f}")
            check(j["cost_usd"]["spot"] <= j["cost_usd"]["on_demand"], f"{name}: spot dearer than on-demand")

        if "gpu_training.sbatch" in results:
            j = results["gpu_training.sbatch"]
            check(j["candidates"][0]["gpu_model"] in ("T4", "A10G", "L4", "L40S", "V100", "A100"),
                  f"gpu_training: unexpected GPU {j['candidates'][0]['gpu_model']}")
            check(j["waves"] == 5 and j["max_concurrent"] == 20, "gpu_training: 100 tasks at 20 at a time is 5 waves")
        if "a100_training.sbatch" in results:
            j = results["a100_training.sbatch"]
            check(all(c["gpu_model"] in ("A100", "A100-80GB") and c["gpus"] >= 8 for c in j["candidates"]),
                  f"a100_training: {[(c['instance_type'], c['gpu_model']) for c in j['candidates']]}")
        if "mpi.sbatch" in results:
            j = results["mpi.sbatch"]
            check(j["nodes_per_task"] == 4 and j["requirements_per_node"]["vcpus"] == 32, "mpi: 4 nodes of 32 vCPUs")
            check(j["requirements_per_node"]["memory_mib"] == 65536, "mpi: 32 CPUs x 2G = 64 GiB per node")
            check(all(c["gpus"] == 0 for c in j["candidates"]), "mpi: a CPU job must not get a GPU type")
        if "memory_heavy.sbatch" in results:
            j = results["memory_heavy.sbatch"]
            check(j["candidates"][0]["memory_gib"] >= 500, "memory_heavy: needs 500 GiB")
            check(j["candidates"][0]["instance_type"][0] in "rxzu", f"memory_heavy: {j['candidates'][0]['instance_type']}")
        if "tiny.sbatch" in results:
            j = results["tiny.sbatch"]
            check(j["instance_hours"] > 0 and j["cost_usd"]["spot"] >= 0, "tiny: a cost is quoted")

        # No --time and no --runtime: refused, nothing on stdout.
        (work / "notime.sbatch").write_text("#!/bin/bash\n#SBATCH -c 2\necho\n")
        rc, out, err = estimate(args.spawn, work, "notime.sbatch")
        check(rc != 0 and out == "" and "no --time" in err, f"notime: rc={rc} out={out!r} err={err!r}")
        rc, out, err = estimate(args.spawn, work, "notime.sbatch", "--runtime", "30m", "--json")
        check(rc == 0 and json.loads(out)["runtime_seconds"] == 1800, f"notime --runtime: rc={rc} err={err!r}")
        # Command-line market and region.
        rc, out, err = estimate(args.spawn, work, "bio_array.sbatch", "--on-demand", "--region", "eu-west-1", "--json")
        check(rc == 0, f"bio on-demand: {err}")
        if rc == 0:
            j = json.loads(out)
            check(j["market"] == "on-demand" and j["region"] == "eu-west-1", f"bio: market/region {j['market']} {j['region']}")
        # An impossible job says which requirement failed.
        (work / "huge.sbatch").write_text("#!/bin/bash\n#SBATCH -c 5000 -t 10\necho\n")
        rc, out, err = estimate(args.spawn, work, "huge.sbatch")
        check(rc != 0 and "5000 vCPUs" in err and "largest" in err, f"huge: rc={rc} err={err!r}")
        # A queue time range gives a time-saved range.
        rc, out, err = estimate(args.spawn, work, "gpu_training.sbatch", "--queue-time", "2h-24h", "--json")
        if rc == 0:
            c = json.loads(out)["cluster"]
            check(c["queue_time_seconds"] == [7200, 86400] and c["time_saved_seconds"] is not None, f"queue: {c}")
        else:
            check(False, f"queue-time: {err}")
    print(f"summary: {len(SCRIPTS)} scripts, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
