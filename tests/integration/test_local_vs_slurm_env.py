#!/usr/bin/env python3
"""Differential test: the same batch scripts under real Slurm 22.05 (partition `debug` of scripts/start-slurm.sh,
which really runs jobs on this machine) and under `spawn slurm submit` (the local provider), compared on

  - the environment of every task (SLURM_*, ENVIRONMENT, HOSTNAME) and of every srun step task,
  - the names and contents of the files each job leaves in its directory (output patterns, --chdir, stderr),
  - the final state and exit code of every task.

Each case runs in ROOT/slurm/CASE and ROOT/spawn/CASE; paths are compared with ROOT/{slurm,spawn} replaced by
<ROOT>, and every job id of a case (SLURM_JOB_ID, SLURM_ARRAY_JOB_ID, on either side) by <ID>, so %A/%j/%J in
file names compare as "an id" (their exact values are checked against real Slurm in tests/unit/
test_runtime_output_pattern.cpp). spawn's job ids start at 900000 in the test's SPAWN_HOME to keep them apart from
array indices.

Documented exceptions (not compared, with the reason):
  SLURM_TASK_PID, SLURM_SRUN_COMM_PORT, SLURM_STEP_LAUNCHER_PORT  pids and ports of this run (presence of the pid
                                                                   is compared; spawn's srun has no ports)
  SLURM_CONF, SLURM_WORKING_CLUSTER                                the site's slurmctld, which spawn does not have
  SLURM_JOB_PARTITION                                              Slurm's default partition is the site's (`debug`);
                                                                   spawn's is `spawn` unless -p names one
  timing of a time limit                                           slurmctld checks limits every ~30 s and its
                                                                   KillWait here is 5 s; spawn is exact (30 s kill
                                                                   wait): states, signals and messages are compared,
                                                                   not times
  multi-node                                                       the local Slurm has one node, so only one-node
                                                                   steps (srun -n 2) are compared; multi-node
                                                                   emulation is covered by tests/unit
                                                                   test_local_provider.cpp
  exit code of a task killed by a signal                           Slurm records 0:SIG; spawn's marker the shell's
                                                                   status 128+SIG (compared after mapping 0:SIG)
  srun's "got SIGCONT" and "forcing job termination" lines          the first cannot be had from bash (a CONT trap
                                                                   makes bash drop the TERM right behind it); the
                                                                   second depends on timing under Slurm itself; both
                                                                   are left out of the comparison, as is the kill
                                                                   wait in "Waiting up to N seconds"

Usage: test_local_vs_slurm_env.py --spawn build/spawn [-k PATTERN]... [--keep] [-v] [--no-slow]
Exit: 0 all agree, 1 disagreements, 77 Slurm unreachable or `spawn slurm submit` missing (unless SPAWN_TEST_SLURM=1).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slurmlib as sl  # noqa: E402

FINAL_STATES = {"COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
                "BOOT_FAIL", "DEADLINE"}
SKIP_KEYS = {"SLURM_SRUN_COMM_PORT", "SLURM_STEP_LAUNCHER_PORT", "SLURM_CONF", "SLURM_WORKING_CLUSTER",
             "SLURM_JOB_PARTITION"}
PRESENCE_KEYS = {"SLURM_TASK_PID"}
SPAWN_FIRST_JOB_ID = 900000

# Every script writes its environment (and srun steps theirs) next to the submission, named by task.
DUMP = r"""tag=${SLURM_ARRAY_TASK_ID:-single}
env | sort > "$SLURM_SUBMIT_DIR/env.$tag.txt"
"""
STEP_DUMP = r"""srun bash -c 'env | sort > "$SLURM_SUBMIT_DIR/step.$SLURM_STEP_ID.$SLURM_PROCID.txt"'
"""


@dataclass
class Case:
    name: str
    script: str
    args: list[str] = field(default_factory=list)       # sbatch options, before the script
    script_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)   # added to the submitting environment
    dirs: list[str] = field(default_factory=list)       # made before submitting
    slow: bool = False
    loose_output: bool = False                          # compare output as sets of lines (timing-dependent order)
    cancel_after: float | None = None                   # seconds after it starts running: scancel / spawn cancel


CASES = [
    Case("array_throttle_step", "#!/bin/bash\n" + DUMP + "echo task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT\n",
         ["--array=1-7:3%2", "-n", "2", "--mem=100"]),
    Case("array_patterns", "#!/bin/bash\n" + DUMP + "echo out $SLURM_ARRAY_TASK_ID\necho err $SLURM_ARRAY_TASK_ID >&2\n",
         ["--array=0-2", "-o", "o-%A_%a-%3a.txt", "-e", "e-%x-%j.txt", "-J", "pat"]),
    Case("patterns", "#!/bin/bash\n" + DUMP + "echo out\necho err >&2\n",
         ["-o", "p-%x-%j-%J-%4j-%N-%n-%t-%s-%u-%%-%q-%a.out", "--open-mode=append", "-J", "named"]),
    Case("backslash", "#!/bin/bash\n" + DUMP + "echo out\n", ["-o", "o\\%j.txt", "-e", "e\\\\%j.txt"]),
    Case("chdir", "#!/bin/bash\n" + DUMP + "echo \"pwd=$(pwd)\"\n", ["--chdir=sub"], dirs=["sub"]),
    Case("args_and_stdin", "#!/bin/bash\n" + DUMP + "echo \"n=$# 1=$1 2=$2\"\ncat\necho \"zero=${0##*/}\"\n",
         ["-c", "1", "--input=stdin.txt"], script_args=["a", "b c"]),
    Case("export_list", "#!/bin/bash\n" + DUMP + "echo \"FOO=${FOO-unset} CALLER=${DIFFTEST_CALLER-unset}\"\n",
         ["--export=ALL,FOO=bar"], env={"DIFFTEST_CALLER": "1"}),
    Case("export_none", "#!/bin/bash\n" + DUMP + "echo \"FOO=${FOO-unset} CALLER=${DIFFTEST_CALLER-unset}\"\n",
         ["--export=NONE,FOO=bar"], env={"DIFFTEST_CALLER": "1"}),
    Case("srun_two_tasks", "#!/bin/bash\n" + DUMP + STEP_DUMP + "srun -n 1 hostname >/dev/null\necho steps done\n",
         ["-n", "2", "--mem=200"]),
    Case("failing", "#!/bin/bash\n" + DUMP + "echo about to fail\nexit 3\n", []),
    Case("time_limit_batch_signal",
         "#!/bin/bash\n" + DUMP + "trap 'echo batch got USR1' USR1\n"
         "while :; do sleep 1; done\n",
         ["-t", "1", "--signal=B:USR1@50"], slow=True, loose_output=True),
    Case("time_limit_step_signal",
         "#!/bin/bash\n" + DUMP + "trap 'echo batch got USR1' USR1\n"
         "srun bash -c 'trap \"echo step got USR1\" USR1; while :; do sleep 1; done'\n",
         ["-t", "1", "--signal=USR1@50"], slow=True, loose_output=True),
    Case("cancelled", "#!/bin/bash\n" + DUMP + "trap 'echo batch got TERM; exit 7' TERM\necho started\n"
         "sleep 300 &\nwait\n", [], loose_output=True, cancel_after=2),
]


def log(msg: str) -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------- running


def prepare(case: Case, root: Path) -> Path:
    work = root / case.name
    work.mkdir(parents=True)
    for d in case.dirs:
        (work / d).mkdir(parents=True)
    (work / "job.sbatch").write_text(case.script)
    (work / "stdin.txt").write_text("from stdin\n")
    return work


def submit_slurm(case: Case, work: Path) -> str:
    env = sl.clean_environment(case.env)
    cmd = ["sbatch", "-p", "debug", *case.args, str(work / "job.sbatch"), *case.script_args]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, timeout=60)
    m = re.search(r"Submitted batch job (\d+)", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"{case.name}: sbatch rejected: {r.stderr.strip()}")
    return m.group(1)


def slurm_results(job_id: str, timeout: float) -> dict[str, tuple[str, int]] | None:
    """{task tag: (state, exit code)} once every record of the job is final; None on timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        records = sl.show_job(job_id)
        if records and all(r.get("JobState") in FINAL_STATES for r in records):
            out = {}
            for r in records:
                task = r.get("ArrayTaskId")
                tag = task if task and task != "N/A" else "single"
                code, _, sig = r.get("ExitCode", "0:0").partition(":")
                out[tag] = (r["JobState"], int(code) if int(sig or 0) == 0 else 128 + int(sig))
            return out
        time.sleep(2)
    return None


class Spawn:
    def __init__(self, binary: str, home: Path):
        self.binary = binary
        self.home = home

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        env = sl.clean_environment(extra)
        env["SPAWN_HOME"] = str(self.home)
        env.pop("SPAWN_CONFIG", None)
        return env

    def run(self, args: list[str], cwd: Path, extra: dict[str, str] | None = None, timeout: float = 300):
        return subprocess.run([self.binary, *args], cwd=cwd, env=self.env(extra or {}), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def bump_job_ids(self, cwd: Path) -> None:
        """Starts spawn's job ids at SPAWN_FIRST_JOB_ID so they never look like array indices."""
        self.run(["list"], cwd)
        db = self.home / "state.db"
        if db.exists():
            with sqlite3.connect(db) as c:
                c.execute("UPDATE meta SET value = ? WHERE key = 'next_job_id' AND value < ?",
                          (SPAWN_FIRST_JOB_ID, SPAWN_FIRST_JOB_ID))

    def submit(self, case: Case, work: Path) -> str:
        r = self.run(["slurm", "submit", *case.args, "job.sbatch", *case.script_args, "--detach", "--json"], work,
                     case.env)
        if r.returncode != 0:
            raise RuntimeError(f"{case.name}: spawn slurm submit failed ({r.returncode}): {r.stderr.strip()}")
        return str(json.loads(r.stdout)["job_id"])

    def results(self, job_id: str, work: Path, timeout: float) -> dict[str, tuple[str, int]] | None:
        self.run(["wait", job_id], work, timeout=timeout)
        r = self.run(["status", job_id, "--json"], work)
        if r.returncode != 0:
            return None
        status = json.loads(r.stdout)
        out = {}
        for t in status["tasks"]:
            tag = str(t["index"]) if status.get("is_array") else "single"
            out[tag] = (t["state"], int(t.get("exit_code") or 0))
        return out


def cancel_when_running(case: Case, sid: str, pid: str, pw: Path, spawn: Spawn, timeout: float) -> None:
    """Cancels both jobs cancel_after seconds after each is seen running."""
    deadline = time.time() + timeout
    pending = {"slurm", "spawn"}
    seen: dict[str, float] = {}
    while pending and time.time() < deadline:
        if "slurm" in pending:
            recs = sl.show_job(sid)
            if recs and recs[0].get("JobState") == "RUNNING":
                seen.setdefault("slurm", time.time())
        if "spawn" in pending:
            r = spawn.run(["status", pid, "--json"], pw)
            if r.returncode == 0 and json.loads(r.stdout)["tasks"][0]["state"] == "RUNNING":
                seen.setdefault("spawn", time.time())
        for side, t in seen.items():
            if side in pending and time.time() - t >= (case.cancel_after or 0):
                if side == "slurm":
                    sl.scancel(sid)
                else:
                    spawn.run(["cancel", pid], pw)
                pending.discard(side)
        time.sleep(0.2)


# ---------------------------------------------------------------- comparing


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text(errors="replace").splitlines():
        k, sep, v = line.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
            env[k] = v
    return env


def job_ids(work: Path) -> set[str]:
    ids = set()
    for p in list(work.glob("env.*.txt")) + list(work.glob("step.*.txt")):
        env = read_env(p)
        for k in ("SLURM_JOB_ID", "SLURM_JOBID", "SLURM_ARRAY_JOB_ID"):
            if env.get(k):
                ids.add(env[k])
    return ids


class Normaliser:
    def __init__(self, root: Path, ids: set[str]):
        self.root = str(root)
        self.id_re = re.compile(r"(?<![0-9])(" + "|".join(sorted(map(re.escape, ids), key=len, reverse=True)) +
                                r")(?![0-9])") if ids else None

    def __call__(self, text: str) -> str:
        text = text.replace(self.root, "<ROOT>")
        if self.id_re:
            text = self.id_re.sub("<ID>", text)
        text = re.sub(r"CANCELLED AT \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", "CANCELLED AT <TIME>", text)
        text = re.sub(r"Waiting up to \d+ seconds", "Waiting up to <KILLWAIT> seconds", text)
        text = re.sub(r"(?m)^srun: (got SIGCONT|forcing job termination)\n?", "", text)
        return text


def interesting(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items()
            if (k.startswith("SLURM") or k in ("ENVIRONMENT", "HOSTNAME")) and k not in SKIP_KEYS}


def compare_env(label: str, a: dict[str, str], b: dict[str, str], na: Normaliser, nb: Normaliser) -> list[str]:
    problems = []
    a, b = interesting(a), interesting(b)
    for k in sorted(set(a) | set(b)):
        if k not in a:
            problems.append(f"{label}: {k}={b[k]!r} only under spawn")
        elif k not in b:
            problems.append(f"{label}: {k}={a[k]!r} only under Slurm")
        elif k not in PRESENCE_KEYS and na(a[k]) != nb(b[k]):
            problems.append(f"{label}: {k}: Slurm {na(a[k])!r}, spawn {nb(b[k])!r}")
    return problems


def files_of(work: Path) -> dict[str, Path]:
    out = {}
    for p in sorted(work.rglob("*")):
        if p.is_file() and p.name not in ("job.sbatch", "stdin.txt"):
            out[str(p.relative_to(work))] = p
    return out


def compare_case(case: Case, sw: Path, pw: Path, sres, pres, root_s: Path, root_p: Path) -> list[str]:
    problems = []
    ns, np_ = Normaliser(root_s, job_ids(sw)), Normaliser(root_p, job_ids(pw))
    # States and exit codes, task by task.
    if sres is None:
        problems.append("Slurm: the job did not finish in time")
    if pres is None:
        problems.append("spawn: the job did not finish in time")
    if sres is not None and pres is not None:
        if set(sres) != set(pres):
            problems.append(f"tasks: Slurm {sorted(sres)}, spawn {sorted(pres)}")
        for tag in sorted(set(sres) & set(pres)):
            if sres[tag][0] != pres[tag][0]:
                problems.append(f"task {tag}: state Slurm {sres[tag][0]}, spawn {pres[tag][0]}")
            elif sres[tag][1] != pres[tag][1] and sres[tag][0] != "CANCELLED":
                problems.append(f"task {tag}: exit code Slurm {sres[tag][1]}, spawn {pres[tag][1]}")
    # Files: names, then environments and contents.
    # Names that differ only in job ids (e-%j.txt of three array tasks) normalise to one name: such a group is
    # compared as a sorted list of contents.
    def grouped(files: dict[str, Path], norm: Normaliser) -> dict[str, list[Path]]:
        out: dict[str, list[Path]] = {}
        for n, p in files.items():
            out.setdefault(norm(n), []).append(p)
        return out

    names_s, names_p = grouped(files_of(sw), ns), grouped(files_of(pw), np_)
    for n in sorted(set(names_s) - set(names_p)):
        problems.append(f"file {n}: only under Slurm")
    for n in sorted(set(names_p) - set(names_s)):
        problems.append(f"file {n}: only under spawn")
    for n in sorted(set(names_s) & set(names_p)):
        if len(names_s[n]) != len(names_p[n]):
            problems.append(f"file {n}: {len(names_s[n])} under Slurm, {len(names_p[n])} under spawn")
            continue
        if n.startswith(("env.", "step.")):
            problems += compare_env(n, read_env(names_s[n][0]), read_env(names_p[n][0]), ns, np_)
            continue
        def text(p: Path, norm: Normaliser) -> str:
            t = norm(p.read_text(errors="replace"))
            return "\n".join(sorted(set(t.splitlines()))) if case.loose_output else t
        a = "\n=====\n".join(sorted(text(p, ns) for p in names_s[n]))
        b = "\n=====\n".join(sorted(text(p, np_) for p in names_p[n]))
        if a != b:
            problems.append(f"file {n}: contents differ\n--- Slurm\n{a}\n--- spawn\n{b}")
    return problems


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spawn", required=True)
    ap.add_argument("-k", action="append", default=[], help="run only cases matching this glob")
    ap.add_argument("--keep", action="store_true", help="keep the working directories")
    ap.add_argument("--no-slow", action="store_true", help="skip the time-limit cases (about two minutes)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds to wait for each job (the queue included)")
    ap.add_argument("-v", action="store_true")
    opts = ap.parse_args()
    must = os.environ.get("SPAWN_TEST_SLURM") == "1"

    help_text = subprocess.run([opts.spawn, "slurm", "submit", "--help"], capture_output=True, text=True)
    if help_text.returncode != 0:
        log("skip: this spawn has no `slurm submit`")
        return 1 if must else sl.EXIT_SKIP
    if not sl.ensure_slurm():
        log("skip: Slurm is not reachable (scripts/start-slurm.sh)")
        return 1 if must else sl.EXIT_SKIP

    cases = [c for c in CASES if (not opts.k or any(fnmatch.fnmatch(c.name, f"*{k}*") for k in opts.k))
             and not (opts.no_slow and c.slow)]
    tmp = Path(tempfile.mkdtemp(prefix="spawn-vs-slurm-"))
    root_s, root_p = tmp / "slurm", tmp / "spawn"
    spawn = Spawn(os.path.abspath(opts.spawn), tmp / "home")
    (tmp / "home").mkdir()
    spawn.bump_job_ids(tmp)

    submitted = []
    try:
        for case in cases:
            sw, pw = prepare(case, root_s), prepare(case, root_p)
            sid = submit_slurm(case, sw)
            pid = spawn.submit(case, pw)
            log(f"{case.name}: Slurm job {sid}, spawn job {pid}")
            submitted.append((case, sw, pw, sid, pid))
        for case, sw, pw, sid, pid in submitted:
            if case.cancel_after is not None:
                cancel_when_running(case, sid, pid, pw, spawn, opts.timeout)
        failures = 0
        for case, sw, pw, sid, pid in submitted:
            timeout = opts.timeout
            pres = spawn.results(pid, pw, timeout)
            sres = slurm_results(sid, timeout)
            problems = compare_case(case, sw, pw, sres, pres, root_s, root_p)
            if problems:
                failures += 1
                log(f"FAIL {case.name}")
                for p in problems:
                    log("  " + p.replace("\n", "\n    "))
            else:
                log(f"ok   {case.name}" + (f" {sres}" if opts.v else ""))
        log(f"{len(submitted) - failures} of {len(submitted)} cases agree")
        return 1 if failures else 0
    finally:
        sl.scancel(*[s for _, _, _, s, _ in submitted])
        if opts.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
