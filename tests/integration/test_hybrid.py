#!/usr/bin/env python3
"""Hybrid jobs against the real Slurm 22.05 of this machine (scripts/start-slurm.sh): the slurm provider, one job id
split between the cluster (partition debug really runs jobs here) and the local provider standing in for the cloud,
cancel across both halves, a dependency on a hybrid job, and queue waits measured with `sbatch --test-only`.

Exits 77 (skipped) when Slurm is unreachable, unless SPAWN_TEST_SLURM=1 (then that is a failure).
Each test runs with SPAWN_HOME in its own temporary directory; Slurm-side arrays stay small (the one-node cluster
drains slowly) and every script asks for little memory so two tasks fit on the node at once.

Usage: test_hybrid.py --spawn build/spawn [-k NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slurmlib  # noqa: E402
import spawnlib  # noqa: E402

SPAWN = ""
ENVS: list["Env"] = []


class Env(spawnlib.SpawnEnv):
    def __init__(self) -> None:
        super().__init__(SPAWN, "spawn-hybrid-it-", slurmlib.clean_environment(), timeout=300)
        ENVS.append(self)

    def wait_until(self, what, timeout: float = 240, step: float = 0.5):
        return spawnlib.wait_until(what, timeout, step)

    def close(self) -> None:
        """Cancels what a failed test left running (detached supervisors, Slurm jobs), then removes the directory."""
        try:
            jobs = json.loads(self.run("list", "--json", timeout=60).stdout or '{"jobs": []}')["jobs"]
            for j in jobs:
                if j["state"] in ("PENDING", "RUNNING"):
                    self.run("cancel", str(j["job_id"]), timeout=120)
        except Exception:
            traceback.print_exc()
        super().close()


expect = spawnlib.expect


def by_index(status: dict) -> dict[int, dict]:
    return {t["index"]: t for t in status["tasks"]}


ARRAY = """#!/bin/bash
#SBATCH --time=2
#SBATCH --mem=50M
#SBATCH --array=0-5
#SBATCH -o out-%a.txt
echo "index=$SLURM_ARRAY_TASK_ID spawn=$SPAWN_JOB_ID"
sleep 1
[ $((SLURM_ARRAY_TASK_ID % 3)) = 2 ] && exit 4
exit 0
"""


# ---------------------------------------------------------------- tests


def test_hybrid_array_runs_on_both_sides() -> None:
    e = Env()
    e.script("a.sbatch", ARRAY)
    t0 = time.time()
    r = e.run("slurm", "submit", "a.sbatch", "--hybrid", "--cloud-share", "0.5", "--cloud-provider", "local")
    elapsed = time.time() - t0
    expect(r.returncode == 4, f"exit {r.returncode} (the highest exit code is 4)\n{r.stdout}\n{r.stderr}")
    plan_at = r.stdout.find("Hybrid plan for a.sbatch")
    expect(0 <= plan_at < r.stdout.find("Submitted batch job 1"), f"the plan comes before the job: {r.stdout}")
    expect("3 task(s) [0-2] with sbatch on partition debug" in r.stdout, r.stdout)
    expect("3 task(s) [3-5] on local" in r.stdout, r.stdout)
    s = e.status(1)
    tasks = by_index(s)
    for i in range(6):
        t = tasks[i]
        side = "slurm" if i < 3 else "local"
        expect(t["provider"] == side, f"task {i} on {t['provider']}, expected {side}")
        want = ("FAILED", 4) if i % 3 == 2 else ("COMPLETED", 0)
        expect((t["state"], t["exit_code"]) == want, f"task {i}: {t}")
        out = (e.dir / f"out-{i}.txt").read_text()
        expect(out == f"index={i} spawn=1\n", f"out-{i}.txt: {out!r}")
    # The cluster half is one real Slurm array holding exactly indices 0-2, marked with spawn's job id.
    slurm_job = tasks[0]["handle"].split("_")[0]
    expect(all(tasks[i]["handle"] == f"{slurm_job}_{i}" for i in range(3)), f"handles {[tasks[i]['handle'] for i in range(3)]}")
    records = [rec for rec in slurmlib.show_job(slurm_job) if rec.get("ArrayTaskId", "").isdigit()]
    expect(sorted(int(rec["ArrayTaskId"]) for rec in records) == [0, 1, 2], f"Slurm's tasks: {records}")
    expect(all(rec["Comment"] == "spawn:1" for rec in records), "comment")
    expect(next(rec for rec in records if rec["ArrayTaskId"] == "2")["ExitCode"] == "4:0", "Slurm's exit code")
    # logs find each side's file; cost accounts for both.
    expect(e.run("logs", "1_1", check=True).stdout == "index=1 spawn=1\n", "logs of a cluster task")
    expect(e.run("logs", "1_4", check=True).stdout == "index=4 spawn=1\n", "logs of a cloud task")
    cost = json.loads(e.run("cost", "1", "--json", check=True).stdout)
    expect(cost["cluster"]["tasks"] == 3 and cost["cluster"]["ended"] == 3, f"cost: {cost['cluster']}")
    expect(cost["cloud"]["tasks"] == 3 and cost["cloud"]["ended"] == 3, f"cost: {cost['cloud']}")
    expect(all(t["runtime_seconds"] is not None and t["runtime_seconds"] >= 1 for t in cost["tasks"]), f"{cost['tasks']}")
    print(f"      hybrid 3+3 array: {elapsed:.1f}s end to end")


def test_cancel_across_both_halves() -> None:
    e = Env()
    e.script("a.sbatch", """#!/bin/bash
#SBATCH --time=5
#SBATCH --mem=50M
#SBATCH --array=0-3
#SBATCH -o out-%a.txt
echo started
sleep 300
""")
    r = e.run("slurm", "submit", "a.sbatch", "--hybrid", "--cloud-share", "0.5", "--cloud-provider", "local",
              "--detach", "--json", check=True)
    job = json.loads(r.stdout)["job_id"]
    # Wait for a cloud task to run and for the cluster half to be in Slurm.
    e.wait_until(lambda: (e.dir / "out-2.txt").exists() and by_index(e.status(job))[0].get("handle"))
    s = e.status(job)
    slurm_job = by_index(s)[0]["handle"].split("_")[0]
    expect(any(rec.get("JobState") in ("PENDING", "RUNNING") for rec in slurmlib.show_job(slurm_job)), "in Slurm")
    t0 = time.time()
    e.run("cancel", str(job), check=True)
    expect(e.run("wait", str(job), timeout=200).returncode != 0, "a cancelled job does not succeed")
    took = time.time() - t0
    s = e.status(job)
    expect(s["state"] == "CANCELLED", json.dumps(s))
    expect(all(t["state"] == "CANCELLED" for t in s["tasks"]), json.dumps(s["tasks"]))
    states = {rec.get("ArrayTaskId"): rec.get("JobState") for rec in slurmlib.show_job(slurm_job)}
    expect(states and all(v == "CANCELLED" for v in states.values()), f"Slurm's records: {states}")
    print(f"      cancel across both halves: {took:.1f}s")


def test_dependency_on_a_hybrid_job() -> None:
    e = Env()
    e.script("a.sbatch", """#!/bin/bash
#SBATCH --time=2
#SBATCH --mem=50M
#SBATCH --array=0-1
sleep 2
date +%s.%N > done-$SLURM_ARRAY_TASK_ID
""")
    e.script("b.sbatch", """#!/bin/bash
date +%s.%N > b-started
""")
    r = e.run("slurm", "submit", "a.sbatch", "--hybrid", "--cloud-share", "0.5", "--cloud-provider", "local",
              "--detach", "--json", check=True)
    a = json.loads(r.stdout)["job_id"]
    b = json.loads(e.run("slurm", "submit", "--dependency", f"afterok:{a}", "b.sbatch", "--detach", "--json",
                         check=True).stdout)["job_id"]
    expect(e.run("wait", str(b), timeout=240).returncode == 0, "b runs once a has succeeded")
    sa = e.status(a)
    expect([t["provider"] for t in sa["tasks"]] == ["slurm", "local"], f"{sa['tasks']}")
    expect(sa["state"] == "COMPLETED", json.dumps(sa))
    started = float((e.dir / "b-started").read_text())
    ended = max(float((e.dir / f"done-{i}").read_text()) for i in range(2))
    expect(started >= ended, f"b started {started}, before a's last task ended {ended}")


def test_test_only_estimates_read_and_used() -> None:
    e = Env()
    e.script("a.sbatch", ARRAY)
    est = json.loads(e.run("slurm", "estimate", "a.sbatch", "--json", check=True).stdout)["cluster"]
    expect(est["source"].startswith("sbatch --test-only: start "), f"{est}")
    expect(est["test_only"]["partition"] == "debug" and est["test_only"]["processors"] >= 1, f"{est}")
    wait = est["queue_time_seconds"]
    expect(wait[0] == wait[1] and wait[0] >= 0, f"{est}")
    print(f"      sbatch --test-only from estimate: {est['test_only']['latency_ms']} ms, queue wait {wait[0]} s")
    # The hybrid plan uses the measured wait: the cluster keeps the tasks it finishes by the deadline, counted from
    # the queue wait --test-only reported, its slots and the task runtime; the cloud takes the rest.
    for deadline, runtime in (("2h", []), ("160s", ["--runtime", "60s"])):
        plan = json.loads(e.run("slurm", "submit", "a.sbatch", "--hybrid", "--deadline", deadline, *runtime,
                                "--cloud-provider", "local", "--dry-run", "--json", check=True).stdout)
        c = plan["cluster"]
        expect(c["queue_wait_source"] == "sbatch --test-only" and c["test_only"]["partition"] == "debug", f"{c}")
        expect(c["slots"] >= 1 and c["partition_cpus"] >= 1, f"{c}")
        limit, task = plan["deadline_seconds"], plan["task_seconds"]
        k = 0
        while k < 6 and c["queue_wait_seconds"] + task * ((k + 1 + c["slots"] - 1) // c["slots"]) <= limit:
            k += 1
        expect(c["indices"] == list(range(k)) and plan["cloud"]["indices"] == list(range(k, 6)),
               f"deadline {deadline}: expected {k} on the cluster: {plan}")
        print(f"      --deadline {deadline}, tasks of {task} s, queue {c['queue_wait_seconds']} s, {c['slots']} slots:"
              f" {k} on the cluster, {6 - k} in the cloud (--test-only {c['test_only']['latency_ms']} ms)")
    # No cluster: estimate says so and falls back; --hybrid refuses.
    no_slurm = dict(e.env, PATH="/nonexistent")
    r = e.run("slurm", "estimate", "a.sbatch", "--json", env=no_slurm, check=True)
    est = json.loads(r.stdout)["cluster"]
    expect(est["test_only"] is None and "no Slurm cluster reachable" in est["not_measured"], f"{est}")
    r = e.run("slurm", "submit", "a.sbatch", "--hybrid", "--cloud-share", "0.5", "--cloud-provider", "local",
              env=no_slurm)
    expect(r.returncode != 0 and "--hybrid: no Slurm cluster reachable" in r.stderr, r.stderr)


def test_busy_cluster_queue_moves_work_to_the_cloud() -> None:
    """A job holding every CPU of partition debug for up to 3 minutes: --test-only now reports a real wait, and a
    deadline split sends to the cloud what the cluster would finish too late."""
    e = Env()
    e.script("a.sbatch", ARRAY)
    # Long enough for the steps below at this build's speed (SPAWN_TEST_TIME_SCALE); cancelled at the end.
    minutes = 3 * int(spawnlib.time_scale() + 0.5)
    blocker = e.script("blocker.sbatch", f"#!/bin/bash\n#SBATCH --time={minutes}\n#SBATCH --mem=50M\nsleep {minutes * 60 - 5}\n")
    cpus = int(subprocess.run(["sinfo", "-h", "-p", "debug", "-o", "%C"], capture_output=True, text=True).stdout.split("/")[3])
    sub = slurmlib.sbatch(blocker, ["-c", str(cpus), "-o", "/dev/null"], env=slurmlib.clean_environment(),
                          cwd=e.dir, hold=False, partition="debug")
    expect(sub.accepted, sub.stderr)
    try:
        e.wait_until(lambda: any(r.get("JobState") == "RUNNING" for r in slurmlib.show_job(sub.job_id)), timeout=240)
        est = json.loads(e.run("slurm", "estimate", "a.sbatch", "--json", check=True).stdout)["cluster"]
        wait = est["queue_time_seconds"][0]
        expect(wait >= 60, f"a full node means a wait: {est}")
        plan = json.loads(e.run("slurm", "submit", "a.sbatch", "--hybrid", "--deadline", "4m", "--runtime", "60s",
                                "--cloud-provider", "local", "--dry-run", "--json", check=True).stdout)
        c = plan["cluster"]
        k = 0
        while k < 6 and c["queue_wait_seconds"] + 60 * ((k + c["slots"]) // c["slots"]) <= 240:
            k += 1
        expect(c["queue_wait_seconds"] >= 60 and c["indices"] == list(range(k)), f"{plan}")
        expect(plan["cloud"]["indices"] == list(range(k, 6)) and len(plan["cloud"]["indices"]) > 0, f"{plan}")
        print(f"      busy cluster: --test-only wait {c['queue_wait_seconds']} s -> {k} on the cluster, {6 - k} in the cloud")
        # Submitted behind the blocker, the cluster's half waits in Slurm's queue, and status says so.
        r = e.run("slurm", "submit", "a.sbatch", "--hybrid", "--cloud-share", "0.5", "--cloud-provider", "local",
                  "--detach", "--json", check=True)
        job = json.loads(r.stdout)["job_id"]
        e.wait_until(lambda: all((t.get("slurm") or {}).get("state") == "PENDING" for t in e.status(job)["tasks"][:3]),
                     timeout=60)
        table = e.run("status", str(job), check=True).stdout
        expect(any(line.startswith(f"{job}_0 ") and " PENDING " in line and "(Slurm " in line
                   for line in table.splitlines()), table)
        e.run("cancel", str(job), check=True)
        expect(e.run("wait", str(job), timeout=120).returncode != 0, "cancelled")
    finally:
        slurmlib.scancel(sub.job_id)


def test_slurm_provider_alone_with_command_line_options() -> None:
    e = Env()
    e.script("a.sbatch", ARRAY.replace("--array=0-5", "--array=1-4").replace("exit 0", '[ "$SLURM_ARRAY_TASK_ID" = 4 ] && kill -9 $$\nexit 0'))
    r = e.run("slurm", "submit", "--provider", "slurm", "-o", "cl-%a.txt", "a.sbatch")
    expect(r.returncode == 137, f"exit {r.returncode}\n{r.stderr}")
    s = e.status(1)
    expect([(t["index"], t["state"], t["exit_code"], t["reason"], t["provider"]) for t in s["tasks"]] ==
           [(1, "COMPLETED", 0, "exit 0", None), (2, "FAILED", 4, "exit 4", None), (3, "COMPLETED", 0, "exit 0", None),
            (4, "FAILED", 137, "killed by signal 9", None)], json.dumps(s["tasks"]))
    for i in (1, 2, 3):  # -o before the script beats the script's -o, as with sbatch
        expect((e.dir / f"cl-{i}.txt").read_text() == f"index={i} spawn=1\n", f"cl-{i}.txt")
        expect(not (e.dir / f"out-{i}.txt").exists(), "the script's -o is overridden")
    expect(e.run("logs", "1_2", check=True).stdout == "index=2 spawn=1\n", "logs")


def test_supervisor_crash_and_resume_runs_each_task_once() -> None:
    """kill -9 of the supervisor while both halves run; `spawn resume` takes the Slurm tasks up again through their
    recorded handles (and the local ones through theirs): every index runs exactly once."""
    e = Env()
    ledger = e.dir / "ledger"
    e.script("a.sbatch", f"""#!/bin/bash
#SBATCH --time=2
#SBATCH --mem=50M
#SBATCH --array=0-3
#SBATCH -o /dev/null
sleep 4
echo "$SLURM_ARRAY_TASK_ID" >> {ledger}
""")
    r = e.run("slurm", "submit", "a.sbatch", "--hybrid", "--cloud-share", "0.5", "--cloud-provider", "local",
              "--detach", "--json", check=True)
    job = json.loads(r.stdout)["job_id"]
    pid = e.wait_until(lambda: (lambda s: s["supervised"] and all(t["handle"] for t in s["tasks"]) and s["supervisor_pid"])(e.status(job)))
    os.kill(pid, 9)
    e.wait_until(lambda: not e.status(job)["supervised"], timeout=10, step=0.05)
    e.run("resume", str(job), check=True)
    expect(e.run("wait", str(job), timeout=240).returncode == 0, "wait after resume")
    expect(sorted(int(w) for w in ledger.read_text().split()) == [0, 1, 2, 3], f"ledger: {ledger.read_text()!r}")
    expect(all(t["state"] == "COMPLETED" for t in e.status(job)["tasks"]), "all completed")


def test_hybrid_with_aws_as_the_cloud() -> None:
    """The cloud half on the aws provider, against the local EC2+S3 endpoint (tests/aws_endpoint) that really runs
    each instance's user data: one job id, the cluster's tasks in Slurm, the cloud's on instances."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "aws_endpoint"))
    from endpoint import Config, Endpoint  # noqa: E402

    e = Env()
    key, secret, bucket = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "spawn-test-bucket"
    # minute_seconds=4: the instances' boot-time backstop (`shutdown -h +12` for --time=2) fires after 48 s, never
    # during a task on a loaded machine.
    ep = Endpoint(Config(execute_user_data=True, pending_seconds=0.1, shutting_down_seconds=0.1, minute_seconds=4.0,
                         credentials={key: secret}), str(e.dir / "ep")).start()
    try:
        (e.dir / "ep" / "s3" / bucket).mkdir(parents=True)
        env = {k: v for k, v in e.env.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION="us-east-1",
                   AWS_ENDPOINT_URL=ep.url, SPAWN_AWS_BUCKET=bucket, SPAWN_INSTANCE_TYPES="c5.large,c5.xlarge",
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        e.script("a.sbatch", ARRAY.replace("--array=0-5", "--array=0-3"))
        r = e.run("slurm", "submit", "a.sbatch", "--hybrid", "--cloud-share", "0.5", "--cloud-provider", "aws", "--yes",
                  env=env)
        expect(r.returncode == 4, f"exit {r.returncode} (task 2 exits 4)\n{r.stdout}\n{r.stderr}")
        expect("2 task(s) [2-3] on aws (priced as c5.large" in r.stdout, r.stdout)
        s = json.loads(e.run("status", "1", "--json", env=env, check=True).stdout)
        expect([(t["index"], t["provider"], t["state"], t["exit_code"]) for t in s["tasks"]] ==
               [(0, "slurm", "COMPLETED", 0), (1, "slurm", "COMPLETED", 0), (2, "aws", "FAILED", 4),
                (3, "aws", "COMPLETED", 0)], json.dumps(s["tasks"]))
        for i in range(4):
            out = (e.dir / f"out-{i}.txt").read_text()
            expect(out == f"index={i} spawn=1\n", f"out-{i}.txt: {out!r}")
        instances = list(ep.instances.values())
        expect(len(instances) == 2 and all(inst.tags.get("spawn:task") == "2-3" for inst in instances),
               f"{[inst.tags for inst in instances]}")
        e.wait_until(lambda: all(inst.state == "terminated" for inst in ep.instances.values()), timeout=30)
        cost = json.loads(e.run("cost", "1", "--json", env=env, check=True).stdout)
        expect(cost["cloud"]["ended"] == 2 and cost["cluster"]["ended"] == 2, f"{cost}")
    finally:
        ep.stop()


def test_hybrid_policy_errors() -> None:
    e = Env()
    e.script("a.sbatch", ARRAY)
    e.script("single.sbatch", "#!/bin/bash\n#SBATCH --time=1\ntrue\n")
    r = e.run("slurm", "submit", "a.sbatch", "--hybrid", "--cloud-provider", "local")
    expect(r.returncode != 0 and "--hybrid needs a policy" in r.stderr, r.stderr)
    r = e.run("slurm", "submit", "single.sbatch", "--hybrid", "--cloud-share", "0.5", "--cloud-provider", "local")
    expect(r.returncode != 0 and "this job has no --array" in r.stderr, r.stderr)
    r = e.run("slurm", "submit", "a.sbatch", "--hybrid", "--cloud-share", "0.5", "--deadline", "1h")
    expect(r.returncode != 0 and "--cloud-share is a policy of its own" in r.stderr, r.stderr)
    r = e.run("slurm", "submit", "a.sbatch", "--hybrid", "--budget", "0", "--deadline", "30s", "--cloud-provider", "local")
    expect(r.returncode != 0 and "cannot be met" in r.stderr, r.stderr)


# ---------------------------------------------------------------- driver


def main() -> int:
    global SPAWN
    parser = argparse.ArgumentParser()
    parser.add_argument("--spawn", required=True)
    parser.add_argument("-k", default="")
    args = parser.parse_args()
    SPAWN = str(Path(args.spawn).resolve())
    version = subprocess.run([SPAWN, "--version"], capture_output=True, text=True).stdout
    if "slurm (not built yet)" in version or "local (not built yet)" in version:
        print("skipped: the slurm or local provider is not built")
        return slurmlib.EXIT_SKIP
    if not slurmlib.ensure_slurm():
        if os.environ.get("SPAWN_TEST_SLURM") == "1":
            print("FAIL  Slurm is unreachable and SPAWN_TEST_SLURM=1")
            return 1
        print("skipped: Slurm is unreachable (scripts/start-slurm.sh starts it; SPAWN_TEST_SLURM=1 makes this a failure)")
        return slurmlib.EXIT_SKIP
    def close_envs() -> None:
        while ENVS:
            ENVS.pop().close()

    return spawnlib.run_tests(globals(), args.k, after_each=close_envs)

if __name__ == "__main__":
    sys.exit(main())
