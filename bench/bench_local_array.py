#!/usr/bin/env python3
"""Benchmark (not a timed test): an array of trivial tasks run by `spawn slurm submit` with the local provider,
against the floor (`xargs -P$(nproc)` running the same script, each task's output to its own file, as spawn does)
and against real Slurm 22.05 when it is reachable (scripts/start-slurm.sh; the `debug` partition of this machine).
Prints the median wall time of each over a few runs and the ratios.

Usage: bench/bench_local_array.py --spawn build/spawn [--tasks 1000] [--runs 3] [--no-slurm]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
import slurmlib  # noqa: E402

SCRIPT = """#!/bin/bash
echo "task $SLURM_ARRAY_TASK_ID"
"""


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_spawn(spawn: str, tasks: int, work: Path) -> None:
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    env = dict(os.environ, SPAWN_HOME=str(home))
    r = subprocess.run([spawn, "slurm", "submit", f"--array=1-{tasks}", "-o", str(work / "out" / "slurm-%A_%a.out"),
                        str(work / "job.sh")], env=env, cwd=work, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"spawn failed ({r.returncode}): {r.stderr[-2000:]}")


def run_xargs(tasks: int, work: Path) -> None:
    cmd = (f"seq 1 {tasks} | xargs -P{os.cpu_count()} -I{{}} sh -c "
           f"'SLURM_ARRAY_TASK_ID={{}} {work}/job.sh > {work}/out/xargs-{{}}.out'")
    subprocess.run(cmd, shell=True, check=True, cwd=work)


def run_slurm(tasks: int, work: Path) -> None:
    subprocess.run(["sbatch", "--wait", "-p", "debug", f"--array=1-{tasks}", "-o", str(work / "out" / "slurm-%A_%a.out"),
                    str(work / "job.sh")], check=True, cwd=work, capture_output=True,
                   env=slurmlib.clean_environment())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spawn", required=True)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-slurm", action="store_true")
    args = parser.parse_args()
    spawn = str(Path(args.spawn).resolve())
    with tempfile.TemporaryDirectory(prefix="spawn-bench-") as tmp:
        work = Path(tmp)
        (work / "job.sh").write_text(SCRIPT)
        (work / "job.sh").chmod(0o755)
        contenders = {"xargs -P%d (floor)" % os.cpu_count(): lambda: run_xargs(args.tasks, work),
                      "spawn local": lambda: run_spawn(spawn, args.tasks, work)}
        if not args.no_slurm and slurmlib.ensure_slurm(start=False):
            contenders["slurm 22.05"] = lambda: run_slurm(args.tasks, work)
        else:
            print("slurm: not reachable (scripts/start-slurm.sh starts it); skipped")
        medians = {}
        for name, fn in contenders.items():
            times = []
            for _ in range(args.runs):
                shutil.rmtree(work / "out", ignore_errors=True)
                (work / "out").mkdir()
                times.append(timed(fn))
            medians[name] = statistics.median(times)
            print(f"{name:22s} median {medians[name]:8.2f} s  runs {', '.join(f'{t:.2f}' for t in times)}"
                  f"  ({args.tasks / medians[name]:.0f} tasks/s)")
        floor = next(iter(medians.values()))
        for name, m in medians.items():
            print(f"{name:22s} {m / floor:6.2f}x the floor")
        if "slurm 22.05" in medians:
            print(f"spawn local is {medians['slurm 22.05'] / medians['spawn local']:.1f}x faster than slurm 22.05")
    return 0


if __name__ == "__main__":
    sys.exit(main())
