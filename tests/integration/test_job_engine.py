#!/usr/bin/env python3
"""The engine end to end with the local provider: `spawn slurm submit`, status, logs, cancel, wait, dependencies,
and the crash test (kill -9 of the supervisor in the middle of an array, then `spawn resume`: every task ends
exactly once, with its correct state).

Each test runs with SPAWN_HOME in its own temporary directory. Skips (77) when the local provider is not built.

Usage: test_job_engine.py --spawn build/spawn [-k NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spawnlib  # noqa: E402

SPAWN = ""
EXIT_SKIP = spawnlib.EXIT_SKIP
expect = spawnlib.expect


class Env(spawnlib.SpawnEnv):
    def __init__(self) -> None:
        super().__init__(SPAWN, "spawn-engine-it-", dict(os.environ))

    def submit_detached(self, *args: str) -> dict:
        r = self.run("slurm", "submit", *args, "--detach", "--json", check=True)
        return json.loads(r.stdout)


def states(status: dict) -> dict[int, str]:
    return {t["index"]: t["state"] for t in status["tasks"]}


# ---------------------------------------------------------------- tests


def test_array_runs_every_task_once_with_arguments() -> None:
    e = Env()
    ledger = e.dir / "ledger"
    e.script("a.sbatch", f"""#!/bin/bash
#SBATCH --array=0-5%2
echo "$SLURM_ARRAY_TASK_ID $1 $2" >> {ledger}
""")
    r = e.run("slurm", "submit", "a.sbatch", "one", "two")
    expect(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
    expect(r.stdout.strip() == "Submitted batch job 1", r.stdout)
    lines = sorted(ledger.read_text().splitlines())
    expect(lines == [f"{i} one two" for i in range(6)], f"ledger: {lines}")
    s = e.status(1)
    expect(s["state"] == "COMPLETED", json.dumps(s))
    expect(all(st == "COMPLETED" for st in states(s).values()), json.dumps(s))
    expect([t["task_job_id"] for t in s["tasks"]] == [1, 2, 3, 4, 5, 6], "each array task has its own job id")


def test_detach_status_logs_wait() -> None:
    e = Env()
    e.script("a.sbatch", """#!/bin/bash
#SBATCH --array=1-3
#SBATCH -o out-%A_%a.txt
sleep 0.5
echo "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID"
""")
    sub = e.submit_detached("a.sbatch")
    job = sub["job_id"]
    table = e.run("status", check=True).stdout
    expect("JOBID" in table and "REASON" in table, table)
    expect(e.run("wait", str(job)).returncode == 0, "wait")
    out = e.run("logs", f"{job}_2", check=True).stdout
    expect(out == f"task 2 of {job}\n", repr(out))
    lst = e.run("list", check=True).stdout
    expect("COMPLETED" in lst and "3/3" in lst, lst)


def test_failed_task_sets_the_exit_status() -> None:
    e = Env()
    e.script("a.sbatch", """#!/bin/bash
#SBATCH --array=1-4
[ "$SLURM_ARRAY_TASK_ID" = 3 ] && exit 5
[ "$SLURM_ARRAY_TASK_ID" = 4 ] && exit 2
exit 0
""")
    r = e.run("slurm", "submit", "a.sbatch")
    expect(r.returncode == 5, f"exit {r.returncode}")
    s = e.status(1)
    expect(states(s) == {1: "COMPLETED", 2: "COMPLETED", 3: "FAILED", 4: "FAILED"}, json.dumps(s))
    expect(s["state"] == "FAILED", s["state"])
    expect(e.run("wait", "1").returncode == 5, "wait exit status")


def test_cancel_running_and_pending() -> None:
    e = Env()
    e.script("a.sbatch", """#!/bin/bash
#SBATCH --array=1-6%2
sleep 60
""")
    job = e.submit_detached("a.sbatch")["job_id"]
    e.wait_until(lambda: list(states(e.status(job)).values()).count("RUNNING") == 2)
    t0 = time.time()
    e.run("cancel", str(job), check=True)
    rc = e.run("wait", str(job)).returncode
    expect(rc != 0, "a cancelled job does not succeed")
    expect(time.time() - t0 < 40 * spawnlib.time_scale(), "cancel stops running tasks")
    expect(set(states(e.status(job)).values()) == {"CANCELLED"}, json.dumps(e.status(job)))


def test_cancel_one_task() -> None:
    e = Env()
    e.script("a.sbatch", """#!/bin/bash
#SBATCH --array=1-2
[ "$SLURM_ARRAY_TASK_ID" = 1 ] && sleep 60
exit 0
""")
    job = e.submit_detached("a.sbatch")["job_id"]
    e.wait_until(lambda: states(e.status(job))[1] == "RUNNING")
    e.run("cancel", f"{job}_1", check=True)
    e.run("wait", str(job))
    expect(states(e.status(job)) == {1: "CANCELLED", 2: "COMPLETED"}, json.dumps(e.status(job)))


def test_afterok_chain_and_command_line_dependency() -> None:
    e = Env()
    log = e.dir / "order"
    gate = e.dir / "a-may-end"  # a runs until the test has seen b and c wait for it
    e.script("a.sbatch", f"#!/bin/bash\nwhile [ ! -e {gate} ]; do sleep 0.05; done\necho a >> {log}\n")
    e.script("b.sbatch", f"#!/bin/bash\necho b >> {log}\n")
    a = e.submit_detached("a.sbatch")["job_id"]
    # --dependency after the script, on spawn's command line.
    b = e.submit_detached("b.sbatch", "--dependency", f"afterok:{a}")["job_id"]
    c = e.submit_detached(f"--dependency=afterok:{b}", "b.sbatch")["job_id"]
    for job in (b, c):
        e.wait_until(lambda: e.status(job)["tasks"][0]["reason"] == "Dependency", timeout=20)
        s = e.status(job)
        expect(s["tasks"][0]["state"] == "PENDING", json.dumps(s))
    gate.touch()
    expect(e.run("wait", str(c)).returncode == 0, "chain completes")
    expect(log.read_text() == "a\nb\nb\n", log.read_text())


def test_never_satisfiable_dependency() -> None:
    e = Env()
    e.script("fail.sbatch", "#!/bin/bash\nexit 1\n")
    e.script("b.sbatch", "#!/bin/bash\necho never\n")
    a = e.submit_detached("fail.sbatch")["job_id"]
    e.run("wait", str(a))
    b = e.submit_detached(f"--dependency=afterok:{a}", "b.sbatch")["job_id"]
    e.wait_until(lambda: e.status(b)["tasks"][0]["reason"] == "DependencyNeverSatisfied", timeout=20)
    expect(e.status(b)["tasks"][0]["state"] == "PENDING", "stays pending like Slurm")
    table = e.run("status", str(b), check=True).stdout
    expect("DependencyNeverSatisfied" in table, table)
    e.run("cancel", str(b), check=True)
    e.run("wait", str(b))
    expect(e.status(b)["tasks"][0]["state"] == "CANCELLED", "cancelled")
    # With --kill-on-invalid-dep=yes the job is cancelled at once.
    c = e.submit_detached(f"--dependency=afterok:{a}", "--kill-on-invalid-dep=yes", "b.sbatch")["job_id"]
    e.run("wait", str(c))
    s = e.status(c)
    expect(s["tasks"][0]["state"] == "CANCELLED" and s["tasks"][0]["reason"] == "DependencyNeverSatisfied", json.dumps(s))
    # A job spawn never knew is refused, as sbatch does.
    r = e.run("slurm", "submit", "--dependency=afterok:999", "b.sbatch")
    expect(r.returncode != 0 and "afterok:999" in r.stderr, r.stderr)


def test_aftercorr_between_arrays() -> None:
    e = Env()
    log = e.dir / "log"
    e.script("a.sbatch", f"""#!/bin/bash
#SBATCH --array=0-3
sleep 0.$((SLURM_ARRAY_TASK_ID * 3))
echo "a $SLURM_ARRAY_TASK_ID $(date +%s.%N)" >> {log}
[ "$SLURM_ARRAY_TASK_ID" = 2 ] && exit 1
exit 0
""")
    e.script("b.sbatch", f"""#!/bin/bash
#SBATCH --array=0-3
echo "b $SLURM_ARRAY_TASK_ID $(date +%s.%N)" >> {log}
""")
    a = e.submit_detached("a.sbatch")["job_id"]
    b = e.submit_detached(f"--dependency=aftercorr:{a}", "--kill-on-invalid-dep=yes", "b.sbatch")["job_id"]
    e.run("wait", str(b))
    s = e.status(b)
    expect(states(s) == {0: "COMPLETED", 1: "COMPLETED", 2: "CANCELLED", 3: "COMPLETED"}, json.dumps(s))
    times = {}
    for line in log.read_text().splitlines():
        who, index, t = line.split()
        times[(who, int(index))] = float(t)
    for i in (0, 1, 3):
        expect(times[("b", i)] >= times[("a", i)], f"b_{i} ran before a_{i}")
    expect(("b", 2) not in times, "b_2 never ran")


def test_singleton() -> None:
    e = Env()
    log = e.dir / "log"
    e.script("s.sbatch", f"""#!/bin/bash
#SBATCH -J same --dependency=singleton
echo "start $1" >> {log}; sleep 1; echo "end $1" >> {log}
""")
    a = e.submit_detached("s.sbatch", "1")["job_id"]
    b = e.submit_detached("s.sbatch", "2")["job_id"]
    e.run("wait", str(b))
    expect(log.read_text().splitlines() == ["start 1", "end 1", "start 2", "end 2"], log.read_text())
    _ = a


def test_launch_count_and_dry_run() -> None:
    e = Env()
    ledger = e.dir / "ledger"
    r = e.run("launch", "--count", "3", "--", "sh", "-c", f"echo $SLURM_ARRAY_TASK_ID >> {ledger}")
    expect(r.returncode == 0, r.stderr)
    expect(sorted(ledger.read_text().split()) == ["0", "1", "2"], ledger.read_text())
    e.script("a.sbatch", "#!/bin/bash\n#SBATCH --array=1-4\necho hi\n")
    dry = e.run("slurm", "submit", "a.sbatch", "--dry-run", "--json", check=True)
    doc = json.loads(dry.stdout)
    expect(doc["job"]["array"] == "1-4", dry.stdout[:200])
    expect(not (e.dir / "home" / "jobs" / "2").exists(), "dry run launches nothing")


def test_paid_provider_refuses_without_terminal() -> None:
    e = Env()
    e.script("a.sbatch", "#!/bin/bash\n#SBATCH -t 10\necho hi\n")
    r = e.run("slurm", "submit", "--provider", "aws", "a.sbatch")
    expect(r.returncode != 0 and "--yes" in r.stderr, r.stderr)


def test_crash_and_resume_runs_every_task_exactly_once() -> None:
    """kill -9 the supervisor while the array runs, several times; then resume. Each task appends its index to a
    ledger exactly when it runs its body: a count of 1 per index proves no task was lost or run twice. The last six
    tasks wait for a gate the test opens after the third crash, so however fast the array runs, every crash comes
    in the middle of it."""
    e = Env()
    ledger = e.dir / "ledger"
    gate = e.dir / "last-tasks-may-end"
    n = 24
    e.script("a.sbatch", f"""#!/bin/bash
#SBATCH --array=0-{n - 1}%4
[ $SLURM_ARRAY_TASK_ID -ge {n - 6} ] && while [ ! -e {gate} ]; do sleep 0.05; done
sleep 0.$((RANDOM % 6 + 2))
echo "$SLURM_ARRAY_TASK_ID" >> {ledger}
[ $((SLURM_ARRAY_TASK_ID % 7)) = 3 ] && exit 3
exit 0
""")
    sub = e.submit_detached("a.sbatch")
    job = sub["job_id"]
    kills = 0
    for threshold in (3, 9, 15):
        e.wait_until(lambda: ledger.exists() and len(ledger.read_text().split()) >= threshold, timeout=60, step=0.02)
        pid = e.wait_until(lambda: e.status(job).get("supervised") and e.status(job)["supervisor_pid"])
        os.kill(pid, signal.SIGKILL)
        kills += 1
        e.wait_until(lambda: not e.status(job)["supervised"], timeout=10, step=0.02)
        mid = e.status(job)
        expect(any(st in ("RUNNING", "PENDING", "LAUNCHING") for st in states(mid).values()), "killed mid-array")
        time.sleep(0.7)  # tasks that were running go on (and some end) while nobody supervises
        r = e.run("resume", str(job), check=True)
        expect("supervisor started" in r.stdout, r.stdout)
    gate.touch()
    rc = e.run("wait", str(job), timeout=180).returncode
    expect(rc == 3, f"wait exit {rc} (the highest exit code is 3)")
    counts: dict[int, int] = {}
    for word in ledger.read_text().split():
        counts[int(word)] = counts.get(int(word), 0) + 1
    expect(counts == {i: 1 for i in range(n)}, f"each task exactly once: {counts}; {[(t['index'], t['state'], t['reason']) for t in e.status(job)['tasks'] if counts.get(t['index']) != 1]}")
    s = e.status(job)
    for t in s["tasks"]:
        want = "FAILED" if t["index"] % 7 == 3 else "COMPLETED"
        expect(t["state"] == want, f"task {t['id']}: {t['state']} (expected {want}): {t}")
        expect(t["exit_code"] == (3 if want == "FAILED" else 0), f"task {t['id']} exit code {t['exit_code']}")
    expect(kills == 3, "three crashes")


# ---------------------------------------------------------------- driver


def main() -> int:
    global SPAWN
    parser = argparse.ArgumentParser()
    parser.add_argument("--spawn", required=True)
    parser.add_argument("-k", default="")
    args = parser.parse_args()
    SPAWN = str(Path(args.spawn).resolve())
    version = subprocess.run([SPAWN, "--version"], capture_output=True, text=True).stdout
    if "local (not built yet)" in version or "local:" not in version:
        print("skipped: the local provider is not built yet")
        return EXIT_SKIP
    return spawnlib.run_tests(globals(), args.k)

if __name__ == "__main__":
    sys.exit(main())
