#!/usr/bin/env python3
"""The AWS provider end to end against the local EC2+S3+IMDS endpoint (tests/aws_endpoint) with user data really
executed in its sandbox: `spawn slurm submit --provider aws --yes` on array jobs; logs and exit codes back, S3
objects, every instance terminated, batched RunInstances, capacity fallback, throttling, spot interruption
re-queued, a supervisor killed mid-launch and resumed without duplicate instances."""
import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "aws_endpoint"))
sys.path.insert(0, HERE)
import sandbox  # noqa: E402
from endpoint import Config, Endpoint  # noqa: E402
from spawnlib import time_scale  # noqa: E402

SPAWN = None
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
BUCKET = "spawn-test-bucket"


def wait_for(predicate, timeout=30.0):
    """Polls predicate until it is true (True) or timeout x SPAWN_TEST_TIME_SCALE seconds have passed (False)."""
    deadline = time.time() + timeout * time_scale()
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


class AwsProviderCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spawn-aws-provider-test-")
        if not os.environ.get("SPAWN_TEST_KEEP"):  # SPAWN_TEST_KEEP=1: the instances' files stay, to read after a failure
            self.addCleanup(shutil.rmtree, self.dir, True)
        # minute_seconds: the boot-time backstop `shutdown -h +(limit + 10)` of a -t 5 job fires after 60 s, long
        # after any of these jobs ends however slow the machine (RuntimeDies, which waits for it, makes it shorter).
        self.ep = Endpoint(Config(execute_user_data=True, pending_seconds=0.1, shutting_down_seconds=0.1,
                                  minute_seconds=4.0, credentials={KEY: SECRET}), os.path.join(self.dir, "ep")).start()
        self.addCleanup(self.ep.stop)
        os.makedirs(os.path.join(self.dir, "ep", "s3", BUCKET))
        self.work = os.path.join(self.dir, "work")
        os.makedirs(self.work)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SPAWN_", "SLURM_"))}
        self.env.update(SPAWN_HOME=os.path.join(self.dir, "home"), AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
                        AWS_REGION="us-east-1", AWS_ENDPOINT_URL=self.ep.url, SPAWN_AWS_BUCKET=BUCKET,
                        SPAWN_INSTANCE_TYPES="c5.large,c5.xlarge", AWS_CONFIG_FILE="/dev/null",
                        AWS_SHARED_CREDENTIALS_FILE="/dev/null", SPAWN_AWS_COOLDOWN_SECONDS="600")

    def job_object(self, job, key):
        """The text of the job's S3 object spawn/jobs/JOB/KEY in the endpoint's bucket."""
        with open(os.path.join(self.dir, "ep", "s3", BUCKET, urllib.parse.quote(f"spawn/jobs/{job}/{key}", safe=""))) as f:
            return f.read()

    def script(self, text, name="job.sbatch"):
        with open(os.path.join(self.work, name), "w") as f:
            f.write(text)
        return name

    def spawn(self, *args, timeout=120, check=False):
        p = subprocess.run([SPAWN, *args], cwd=self.work, env=self.env, capture_output=True, text=True,
                           timeout=timeout * time_scale())
        if check:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def calls(self, action):
        return [c for c in self.ep.calls if c["action"] == action]

    def assert_all_terminated(self):
        self.assertTrue(wait_for(lambda: all(i.state == "terminated" for i in self.ep.instances.values()), 20),
                        {i.id: i.state for i in self.ep.instances.values()})

    def read(self, name):
        with open(os.path.join(self.work, name)) as f:
            return f.read()

    def s3_keys(self):
        import urllib.parse
        return sorted(urllib.parse.unquote(n) for n in os.listdir(os.path.join(self.dir, "ep", "s3", BUCKET)))


class ArrayJob(AwsProviderCase):
    def test_array_runs_on_instances_in_one_call(self):
        self.script("#!/bin/bash\n#SBATCH --array=0-19\n#SBATCH -t 5\n#SBATCH -J sweep\n"
                    "echo task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID on $(hostname)\necho to-stderr >&2\n"
                    "exit $((SLURM_ARRAY_TASK_ID % 3 == 1 ? 3 : 0))\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertNotEqual(p.returncode, 0, "tasks 1, 4, ... exit 3")
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        for i in range(20):
            out = self.read(f"slurm-{job}_{i}.out")
            self.assertIn(f"task {i} of {job} on ip-127-77-", out)
            self.assertIn("to-stderr", out)
        # One RunInstances for 20 identical tasks; every instance terminated.
        runs = [c for c in self.calls("RunInstances") if c.get("status") == 200]
        self.assertEqual(len(runs), 1)
        self.assertEqual(len(self.ep.instances), 20)
        self.assert_all_terminated()
        for inst in self.ep.instances.values():
            self.assertEqual(inst.shutdown_behavior, "terminate")
            self.assertEqual(inst.http_tokens, "required")
            self.assertTrue(inst.spot)
            self.assertEqual(inst.tags["spawn:job"], job)
            self.assertEqual(inst.tags["spawn:task"], "0-19")
            self.assertEqual(inst.tags["spawn:managed"], "true")
            self.assertTrue(inst.tags["Name"].startswith(f"spawn-{job}"))
            # The backstop was scheduled at boot and cancelled at the end, before the power-off.
            commands = [(e["command"], e["args"]) for e in inst.power_events]
            self.assertEqual(commands[0][0], "shutdown")
            self.assertTrue(commands[0][1][-1].startswith("+"), commands)
            self.assertIn(("shutdown", ["-c"]), commands)
            self.assertEqual(commands[-1][0], "poweroff")
            # User data carries no secret.
            self.assertNotIn(SECRET.encode(), inst.user_data)
            self.assertLess(len(inst.user_data), 16 * 1024)
        # Exit codes as the engine recorded them.
        tasks = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual(len(tasks), 20)
        for t in tasks:
            self.assertEqual(t["exit_code"], 3 if t["index"] % 3 == 1 else 0, t)
            self.assertEqual(t["state"], "FAILED" if t["index"] % 3 == 1 else "COMPLETED", t)
        keys = self.s3_keys()
        self.assertIn(f"spawn/jobs/{job}/output/slurm-{job}_7.out", keys)
        self.assertIn(f"spawn/jobs/{job}/markers/7.1", keys)
        for key in keys:
            with open(os.path.join(self.dir, "ep", "s3", BUCKET, __import__("urllib.parse").parse.quote(key, safe="")), "rb") as f:
                self.assertNotIn(SECRET.encode(), f.read(), key)
        # The instance fetched and uploaded through presigned URLs only (no credentials on the instance).
        presigned = [c for c in self.ep.calls if c.get("presigned")]
        self.assertGreaterEqual(len(presigned), 20 * 3)


class Packing(AwsProviderCase):
    def test_tasks_per_instance_runs_short_tasks_one_after_the_other_on_fewer_instances(self):
        # aws.tasks_per_instance = 4: ten short tasks boot three instances (4 + 4 + 2), in one RunInstances.
        config = os.path.join(self.dir, "config.yaml")
        with open(config, "w") as f:
            f.write("version: 1\ndefaults:\n  aws:\n    tasks_per_instance: 4\n")
        self.env["SPAWN_CONFIG"] = config
        self.script("#!/bin/bash\n#SBATCH --array=0-9\n#SBATCH -t 1\n"
                    "echo task $SLURM_ARRAY_TASK_ID on $(hostname) at $(date +%s.%N)\n"
                    "exit $((SLURM_ARRAY_TASK_ID == 5 ? 3 : 0))\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertNotEqual(p.returncode, 0, "task 5 exits 3")
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        [run] = [c for c in self.ep.calls if c["action"] == "RunInstances" and c.get("status") == 200]
        self.assertEqual((run["params"]["MinCount"], run["params"]["MaxCount"]), ("1", "3"))
        self.assertEqual(len(self.ep.instances), 3)
        hosts, times = {}, {}
        for i in range(10):
            words = self.read(f"slurm-{job}_{i}.out").split()
            self.assertEqual(words[:2], ["task", str(i)])
            hosts[i], times[i] = words[3], float(words[5])
        self.assertEqual([len({hosts[i] for i in group}) for group in ([0, 1, 2, 3], [4, 5, 6, 7], [8, 9])], [1, 1, 1])
        self.assertEqual(len(set(hosts.values())), 3)
        for group in ([0, 1, 2, 3], [4, 5, 6, 7], [8, 9]):
            self.assertEqual([times[i] for i in group], sorted(times[i] for i in group), "one after the other")
        tasks = {t["index"]: t for t in json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]}
        self.assertEqual([tasks[i]["state"] for i in range(10)], ["COMPLETED"] * 5 + ["FAILED"] + ["COMPLETED"] * 4)
        self.assertEqual(tasks[5]["exit_code"], 3, "a task's failure is its own")
        # The instance's time is billed to the first task on it (a minute at least); the others from their own start.
        for i in range(10):
            if i in (0, 4, 8):
                self.assertGreaterEqual(tasks[i]["aws"]["billed_seconds"], 60, tasks[i])
            else:
                self.assertLess(tasks[i]["aws"]["billed_seconds"], 30, tasks[i])
        # The backstop at boot covers four tasks (4 x 60 s + 600 s grace); each task's start moves it to one's worth.
        for inst in self.ep.instances.values():
            commands = [(e["command"], e["args"]) for e in inst.power_events]
            self.assertEqual(commands[0], ("shutdown", ["-h", "+14"]), commands)
            self.assertIn(("shutdown", ["-h", "+11"]), commands)
        self.assert_all_terminated()

    def test_a_spot_notice_ends_the_running_task_and_those_queued_behind_it_and_all_run_again(self):
        self.env["SPAWN_AWS_TASKS_PER_INSTANCE"] = "3"
        self.script("#!/bin/bash\n#SBATCH --array=0-2\n#SBATCH -t 5\n#SBATCH --requeue\n"
                    "echo task $SLURM_ARRAY_TASK_ID restart=${SLURM_RESTART_COUNT:-0}\n"
                    "if [ \"${SLURM_RESTART_COUNT:-0}\" = 0 ]; then for i in $(seq 120); do sleep 1; done; fi\n")
        proc = subprocess.Popen([SPAWN, "slurm", "submit", "job.sbatch", "--provider", "aws", "--yes"], cwd=self.work,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertTrue(wait_for(lambda: any(i.sandbox and glob.glob(os.path.join(i.sandbox.root, "tmp", "spawn", "*",
                                                                                   "batch.pid"))
                                             for i in self.ep.instances.values()), 60))
        [first] = self.ep.instances
        self.ep.interrupt_spot(first, notice_seconds=15)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, out + err)
        job = out.split("Submitted batch job ")[1].split()[0]
        # Ran again on new instances: one, or two when the provider saw the first marker before the other two
        # (the instance uploads them one after the other).
        self.assertIn(len(self.ep.instances), (2, 3))
        tasks = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual([(t["state"], t["restart_count"]) for t in tasks], [("COMPLETED", 1)] * 3)
        for i in range(3):
            self.assertEqual(self.read(f"slurm-{job}_{i}.out"), f"task {i} restart=1\n")
        self.assertIn("reason=spot interruption (", self.job_object(job, "markers/0.1"))
        for i in (1, 2):
            self.assertIn("reason=spot interruption before the task started", self.job_object(job, f"markers/{i}.1"))
        self.assert_all_terminated()


class Faults(AwsProviderCase):
    def test_capacity_error_falls_over_to_next_type(self):
        self.ep.add_fault({"type": "capacity", "instance_type": "c5.large", "count": None})
        self.script("#!/bin/bash\n#SBATCH --array=0-3\n#SBATCH -t 5\necho ok $SLURM_ARRAY_TASK_ID\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes", check=True)
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        types = {i.instance_type for i in self.ep.instances.values()}
        self.assertEqual(types, {"c5.xlarge"})
        failed = [c for c in self.calls("RunInstances") if c.get("code") == "InsufficientInstanceCapacity"]
        self.assertEqual(len(failed), 3, "c5.large in each of the three zones, then c5.xlarge")
        self.assert_all_terminated()
        # What was tried and why it failed is in each task's reason (spawn status --json).
        tasks = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        for t in tasks:
            self.assertIn("on c5.xlarge/us-east-1a/spot after c5.large/us-east-1a/spot: InsufficientInstanceCapacity", t["reason"])

    def test_spot_exhausted_falls_back_to_on_demand_with_other_codes(self):
        for t in ("c5.large", "c5.xlarge"):
            self.ep.add_fault({"type": "capacity", "instance_type": t, "market": "spot", "count": None,
                               "code": "MaxSpotInstanceCountExceeded"})
        self.env["SPAWN_SPOT_FALLBACK_TO_ON_DEMAND"] = "true"
        self.script("#!/bin/bash\n#SBATCH -t 5\necho on-demand\n")
        self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes", check=True)
        self.assertEqual([i.spot for i in self.ep.instances.values()], [False])
        self.assert_all_terminated()

    def test_throttling_storm_survived(self):
        self.ep.add_fault({"type": "throttle", "action": "RunInstances", "count": 3})
        self.ep.add_fault({"type": "throttle", "action": "DescribeInstances", "count": 3})
        self.ep.add_fault({"type": "throttle", "action": "s3", "count": 3})
        self.script("#!/bin/bash\n#SBATCH --array=1-5\n#SBATCH -t 5\necho fine\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes", check=True)
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        for i in range(1, 6):
            self.assertIn("fine", self.read(f"slurm-{job}_{i}.out"))
        self.assertEqual(len(self.ep.instances), 5)
        self.assert_all_terminated()

    def test_spot_interruption_requeues(self):
        self.script("#!/bin/bash\n#SBATCH -t 5\n#SBATCH --requeue\n#SBATCH --signal=B:USR1@60\n"
                    "trap 'echo checkpoint at restart $SLURM_RESTART_COUNT' USR1\n"
                    "echo start restart=${SLURM_RESTART_COUNT:-0}\n"
                    "if [ \"${SLURM_RESTART_COUNT:-0}\" = 0 ]; then for i in $(seq 60); do sleep 1; done; fi\necho end\n")
        proc = subprocess.Popen([SPAWN, "slurm", "submit", "job.sbatch", "--provider", "aws", "--yes"], cwd=self.work,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertTrue(wait_for(lambda: any(i.state == "running" and i.sandbox for i in self.ep.instances.values())))
        first = next(iter(self.ep.instances))
        # The notice comes once the script runs with its trap set (its first line, seen in its output on the instance).
        outputs = os.path.join(self.ep.instances[first].sandbox.root, "tmp", "spawn", "work", "slurm-*.out")

        def started():
            for path in glob.glob(outputs):
                with open(path) as f:
                    if "start restart=0" in f.read():
                        return True
            return False
        self.assertTrue(wait_for(started, 60), glob.glob(outputs))
        self.ep.interrupt_spot(first, notice_seconds=15)
        out, err = proc.communicate(timeout=90 * time_scale())
        self.assertEqual(proc.returncode, 0, out + err)
        self.assertEqual(len(self.ep.instances), 2, "the task ran again on a new instance")
        job = out.split("Submitted batch job ")[1].split()[0]
        log = self.read(f"slurm-{job}.out")
        self.assertIn("start restart=1", log)
        self.assertIn("end", log)
        self.assert_all_terminated()
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual(task["restart_count"], 1)
        # The first attempt's marker says why it ended; its --signal reached the batch shell first.
        marker = self.job_object(job, "markers/0.1")
        self.assertIn("state=PREEMPTED", marker)
        self.assertIn("reason=spot interruption", marker)
        runtime_log = self.job_object(job, "tasks/0.1/runtime.log")
        self.assertIn("spot interruption notice", runtime_log)
        self.assertIn("sent signal 10 to the batch shell", runtime_log)

    def test_killed_mid_launch_then_resumed_without_duplicates(self):
        self.ep.add_fault({"type": "delay", "action": "RunInstances", "seconds": 10, "count": 1})
        self.script("#!/bin/bash\n#SBATCH --array=0-5\n#SBATCH -t 5\necho once $SLURM_ARRAY_TASK_ID\n")
        proc = subprocess.Popen([SPAWN, "slurm", "submit", "job.sbatch", "--provider", "aws", "--yes"], cwd=self.work,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        self.assertTrue(wait_for(lambda: len(self.ep.instances) == 6, 20))
        os.killpg(proc.pid, signal.SIGKILL)  # the answer to RunInstances never arrives
        proc.communicate()
        job = "1"
        r = self.spawn("resume", job, "--foreground")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(self.ep.instances), 6, "no duplicate instances")
        for i in range(6):
            self.assertIn(f"once {i}", self.read(f"slurm-{job}_{i}.out"))
        self.assert_all_terminated()


def main():
    """Runs the tests of the script that was started (this one or a suite built on AwsProviderCase) against the
    spawn binary given by --spawn; exits 77 (skipped) where the sandbox cannot run."""
    global SPAWN
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    parser = argparse.ArgumentParser()
    parser.add_argument("--spawn", default=os.path.join(HERE, "..", "..", "build", "spawn"))
    args, rest = parser.parse_known_args()
    SPAWN = os.path.abspath(args.spawn)
    why = sandbox.available()
    if why:
        print("skipped: " + why)
        sys.exit(77)
    unittest.main(module="__main__", argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
