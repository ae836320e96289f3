#!/usr/bin/env python3
"""`spawn slurm convert` against the built binary (no Slurm needed).

1. Golden files: each tests/data/golden/NAME.sbatch converts (with tests/data/golden/mapping.yaml, from a
   temporary submit directory) to exactly tests/data/golden/NAME.params.yaml (the submit directory written as
   {SUBMIT_DIR}). The goldens were reviewed by eye; regenerate with --update and review the diff.
2. The body of every accepted corpus script, extracted from its parameter file (YAML and JSON), is byte-identical
   to the script.
3. Each parameter file reads back: `convert --format json` of the YAML-read plan is the same document
   (checked through `spawn launch --param-file F --dry-run --json` when that command exists).

Usage: test_convert.py --spawn build/spawn [--update]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "data" / "golden"
CORPUS = REPO / "tests" / "data" / "corpus"

failures: list[str] = []


def check(ok: bool, message: str) -> None:
    if not ok:
        failures.append(message)
        print(f"FAIL: {message}")


def env_for(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SBATCH_", "SPAWN_"))}
    env["XDG_CONFIG_HOME"] = str(work / "config")
    env["XDG_CACHE_HOME"] = str(work / "cache")
    env["SPAWN_HOME"] = str(work / "home")
    return env


def run(spawn: str, work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([spawn, *args], cwd=work, env=env_for(work), capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=120)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spawn", required=True)
    ap.add_argument("--update", action="store_true")
    args = ap.parse_args()
    spawn = str(Path(args.spawn).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "submit"
        work.mkdir()
        shutil.copy(GOLDEN / "mapping.yaml", work / "mapping.yaml")
        goldens = sorted(GOLDEN.glob("*.sbatch"))
        for script in goldens:
            shutil.copy(script, work / script.name)
            out = script.with_suffix(".params.yaml").name
            p = run(spawn, work, "slurm", "convert", script.name, "--config", "mapping.yaml", "-o", out)
            check(p.returncode == 0, f"{script.name}: convert exit {p.returncode}: {p.stderr.decode()}")
            if p.returncode != 0:
                continue
            text = (work / out).read_text().replace(str(work), "{SUBMIT_DIR}")
            golden = GOLDEN / out
            if args.update or not golden.exists():
                golden.write_text(text)
                print(f"wrote {golden}")
            else:
                check(text == golden.read_text(), f"{script.name}: differs from {golden.name} (run with --update and review)")
            # The report names modules and unhonoured options with their lines.
            report = p.stdout.decode()
            check(f"wrote {out}" in report, f"{script.name}: report lacks the summary line")

        help_text = run(spawn, work, "--help").stdout.decode()
        has_launch = any(line.startswith("  spawn launch ") for line in help_text.splitlines())

        # The body travels verbatim, for every corpus script spawn accepts.
        checked = 0
        round_trips = 0
        for script in sorted(CORPUS.glob("*.sbatch")):
            if script.name.startswith("reject_") or Path(str(script) + ".case.json").exists():
                continue
            raw = script.read_bytes()
            if b"{JOB" in raw or b"{ARRAY" in raw:
                continue
            shutil.copy(script, work / script.name)
            for fmt in ("json", "yaml"):
                out = work / f"{script.stem}.{fmt}"
                p = run(spawn, work, "slurm", "convert", script.name, "-o", out.name)
                if p.returncode != 0:
                    check(False, f"{script.name}: convert failed: {p.stderr.decode().strip()}")
                    break
                if fmt == "json":
                    doc = json.loads(out.read_text())
                    check(doc["script"].encode() == raw, f"{script.name}: JSON body differs from the script")
                elif has_launch:
                    # Read the YAML back with spawn itself: the same plan, the same bytes.
                    p = run(spawn, work, "launch", "--param-file", out.name, "--dry-run", "--json")
                    check(p.returncode == 0, f"{script.name}: launch --dry-run of the YAML failed: {p.stderr.decode().strip()}")
                    if p.returncode == 0:
                        back = json.loads(p.stdout)
                        check(back.get("script", "").encode() == raw, f"{script.name}: YAML body differs from the script")
                        check(back == doc, f"{script.name}: the YAML file reads back to a different plan than the JSON")
                        # Round trip: convert + launch plans exactly what submit plans from the script.
                        p = run(spawn, work, "slurm", "submit", script.name, "--dry-run", "--json")
                        check(p.returncode == 0, f"{script.name}: submit --dry-run failed: {p.stderr.decode().strip()}")
                        if p.returncode == 0:
                            check(json.loads(p.stdout) == back,
                                  f"{script.name}: submit --dry-run plans differently from convert + launch --dry-run")
                            round_trips += 1
            checked += 1
        print(f"corpus bodies checked: {checked}, convert+launch == submit round trips: {round_trips}")
        check(not has_launch or round_trips == checked, "every corpus script must round-trip")
    print(f"summary: {len(goldens)} goldens, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
