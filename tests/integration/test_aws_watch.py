#!/usr/bin/env python3
"""Watching, logs, cancel and cost of jobs on the AWS provider, end to end against the local EC2+S3+IMDS endpoint
(tests/aws_endpoint) with user data really executed in its sandbox: `spawn cancel` of a running array (one
TerminateInstances, confirmed, every task CANCELLED), `spawn status` from one tag-filtered DescribeInstances with
each task's instance and cost, an instance whose runtime dies (only the boot-time `shutdown -h +N` backstop ends
it), a partially filled RunInstances (the rest on the next pool, every task once), `spawn logs --follow` from S3
while a detached supervisor drives the job, and the cost in status/cost against price x time."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_aws_provider as base  # noqa: E402  (the endpoint fixture: AwsProviderCase)
from spawnlib import time_scale  # noqa: E402
from test_aws_provider import AwsProviderCase, wait_for  # noqa: E402


def job_of(stdout):
    return stdout.split("Submitted batch job ")[1].split()[0]


class WatchCase(AwsProviderCase):
    def status(self, job):
        return json.loads(self.spawn("status", job, "--json", check=True).stdout)

    def running_in_sandbox(self, n):
        return wait_for(lambda: len(self.ep.instances) == n and all(
            i.state == "running" and i.sandbox for i in self.ep.instances.values()), 60)

    def catalog_price(self, instance_type, market):
        out = json.loads(self.spawn("catalog", "list", "--region", "us-east-1", "--all", "--limit", "100000", "--json",
                                    check=True).stdout)
        [entry] = [t for t in out["instance_types"] if t["instance_type"] == instance_type]
        return entry["spot_per_hour_usd" if market == "spot" else "on_demand_per_hour_usd"]


class Cancel(WatchCase):
    def test_cancel_running_array_terminates_in_one_call_and_confirms(self):
        self.script("#!/bin/bash\n#SBATCH --array=0-9\n#SBATCH -t 10\necho started $SLURM_ARRAY_TASK_ID\nsleep 300\n")
        job = job_of(self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes", "--detach",
                                check=True).stdout)
        self.assertTrue(self.running_in_sandbox(10), {i.id: i.state for i in self.ep.instances.values()})
        self.assertTrue(wait_for(lambda: self.status(job)["counts"]["running"] == 10, 30))

        # Status while nobody supervises: one DescribeInstances for the whole job, each task with its instance.
        supervisor = self.status(job)["supervisor_pid"]
        os.kill(supervisor, signal.SIGTERM)
        self.assertTrue(wait_for(lambda: not self.status(job)["supervised"], 20))
        before = len(self.calls("DescribeInstances"))
        st = self.status(job)
        self.assertEqual(len(self.calls("DescribeInstances")) - before, 1, "status: one call for 10 tasks")
        by_id = {i.id: i for i in self.ep.instances.values()}
        for t in st["tasks"]:
            self.assertEqual(t["state"], "RUNNING", t)
            inst = by_id[t["aws"]["instance_id"]]
            self.assertEqual(t["handle"], inst.id)
            self.assertEqual(t["aws"]["instance_state"], "running")
            self.assertEqual((t["aws"]["instance_type"], t["aws"]["zone"], t["aws"]["market"]),
                             (inst.instance_type, inst.zone, "spot"))
            self.assertTrue(t["aws"]["billing"])
            self.assertGreater(t["aws"]["cost_micro_usd"], 0)
        self.assertEqual(st["cost"]["instances_running"], 10)
        self.assertEqual(st["cost"]["micro_usd"], sum(t["aws"]["cost_micro_usd"] for t in st["tasks"]))
        table = self.spawn("status", job, check=True).stdout
        self.assertIn(f"job {job} on aws: 10 instance(s) running, cost so far $", table)
        for inst in self.ep.instances.values():
            self.assertIn(f"{inst.id} ({inst.instance_type} {inst.zone} spot)", table)

        # Supervised again (detached), then cancelled from here: the supervisor terminates all ten in one call.
        self.spawn("resume", job, check=True)
        self.assertTrue(wait_for(lambda: self.status(job)["supervised"], 20))
        p = self.spawn("cancel", job, timeout=240)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"job {job}: 10 task(s) CANCELLED; 10 instance(s) shutting down or terminated", p.stdout)
        terminations = [c for c in self.calls("TerminateInstances") if c.get("status") == 200]
        self.assertEqual(len(terminations), 1, "ten instances, one TerminateInstances")
        for inst in self.ep.instances.values():
            self.assertEqual(inst.state_reason[0], "Client.UserInitiatedShutdown", inst.id)
            self.assertNotIn(("shutdown", ["-c"]), [(e["command"], e["args"]) for e in inst.power_events])
        st = self.status(job)
        self.assertEqual([t["state"] for t in st["tasks"]], ["CANCELLED"] * 10)
        self.assertEqual(st["state"], "CANCELLED")
        # Nothing left running or billing.
        self.assert_all_terminated()
        left = json.loads(self.spawn("aws", "list", "--job", job, "--json", check=True).stdout)
        self.assertEqual(left, [], left)
        cost = json.loads(self.spawn("cost", job, "--json", check=True).stdout)
        self.assertEqual(cost["cost"]["instances_running"], 0)
        self.assertGreater(cost["cost"]["micro_usd"], 0)


class RuntimeDies(WatchCase):
    def run_with_runtime_killed(self, directives, expected_status):
        """Runs a task that sleeps on its first attempt, kills everything the user data started on that instance once
        the job runs, checks that only the backstop ended it, and returns (job id, the first instance)."""
        # -t 1: the backstop is `shutdown -h +11` (limit + 600 s grace), 11 s at minute_seconds=1.
        self.ep.config.minute_seconds = 1.0
        self.script("#!/bin/bash\n#SBATCH -t 1\n" + directives + "echo attempt ${SLURM_RESTART_COUNT:-0}\n"
                    "if [ \"${SLURM_RESTART_COUNT:-0}\" = 0 ]; then sleep 300; fi\n")
        proc = subprocess.Popen([base.SPAWN, "slurm", "submit", "job.sbatch", "--provider", "aws", "--yes"],
                                cwd=self.work, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertTrue(self.running_in_sandbox(1))
        [inst] = self.ep.instances.values()
        self.assertTrue(wait_for(lambda: inst.scheduled_shutdown is not None, 30), inst.power_events)
        self.assertEqual(inst.power_events[0]["args"], ["-h", "+11"])
        self.assertTrue(wait_for(lambda: os.path.exists(os.path.join(inst.sandbox.root, "tmp", "spawn", "0.1",
                                                                     "batch.pid")), 30))
        killed_at = time.time()
        self.assertGreater(inst.sandbox.kill_user_data(), 0)
        self.assertEqual(inst.state, "running", "the machine stays up with its software gone")
        out, err = proc.communicate(timeout=120 * time_scale())
        self.assertEqual(proc.returncode, expected_status, out + err)
        # The foreground submit's progress lines carry the cost so far.
        self.assertRegex(err, r"job \d+: 1 running, \$[0-9.]+ so far \(")
        self.assertRegex(err, r"job \d+ (FAILED|COMPLETED): .*, \$[0-9.]+ in ")
        # Only the scheduled shutdown ended it: no cancel, no power-off from the (dead) bootstrap. Scheduled at boot,
        # then again as the runtime started (the time limit counts from there).
        commands = [(e["command"], e["args"]) for e in inst.power_events]
        self.assertEqual(commands, [("shutdown", ["-h", "+11"]), ("shutdown", ["-h", "+11"]), ("poweroff", ["(scheduled)"])])
        # The scheduled power-off, not an earlier one: never before the 11 s (the endpoint's timer starts after it
        # records the shutdown request). How late a loaded machine runs that timer is the endpoint's, not spawn's.
        fired = inst.power_events[2]["at"] - inst.power_events[1]["at"]
        self.assertGreaterEqual(fired, 10.9)
        self.assertLess(fired, 11.0 + 10 * time_scale())
        self.assertGreater(inst.power_events[2]["at"], killed_at)
        self.assertEqual(inst.state_reason[0], "Client.InstanceInitiatedShutdown")
        self.assert_all_terminated()
        return job_of(out), inst

    def test_backstop_terminates_an_instance_whose_runtime_died_and_the_task_fails(self):
        job, inst = self.run_with_runtime_killed("#SBATCH --no-requeue\n", 1)
        self.assertEqual(len(self.ep.instances), 1)
        [task] = self.status(job)["tasks"]
        self.assertEqual(task["state"], "FAILED")
        self.assertIsNone(task["exit_code"])
        self.assertEqual(task["reason"], f"instance {inst.id} ended without an exit status "
                                         "(Client.InstanceInitiatedShutdown: Instance initiated shutdown)")

    def test_backstop_then_requeue_runs_the_task_again(self):
        job, inst = self.run_with_runtime_killed("#SBATCH --requeue\n", 0)
        self.assertEqual(len(self.ep.instances), 2, "the lost task ran again on a new instance")
        [task] = self.status(job)["tasks"]
        self.assertEqual((task["state"], task["restart_count"]), ("COMPLETED", 1))
        self.assertEqual(self.read(f"slurm-{job}.out"), "attempt 1\n")


class PartialFill(WatchCase):
    def test_partial_fill_runs_every_task_once_with_logs_followed_and_cost(self):
        self.ep.add_fault({"type": "partial", "instance_type": "c5.large", "available": 6, "count": 1})
        self.env["SPAWN_AWS_LOG_SYNC_SECONDS"] = "1"
        # Task 0 ends only once the test opens its gate (the simulated instances see this machine's files).
        gate = os.path.join(self.dir, "task-0-may-end")
        self.script("#!/bin/bash\n#SBATCH --array=0-9\n#SBATCH -t 5\n#SBATCH -e err-%a.txt\n"
                    "echo begin $SLURM_ARRAY_TASK_ID\necho oops $SLURM_ARRAY_TASK_ID >&2\n"
                    f"if [ $SLURM_ARRAY_TASK_ID = 0 ]; then while [ ! -e {gate} ]; do sleep 0.2; done; fi\n"
                    "echo end $SLURM_ARRAY_TASK_ID\n")
        job = job_of(self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes", "--detach",
                                check=True).stdout)
        self.assertTrue(wait_for(lambda: self.status(job)["counts"]["running"] >= 1, 30))
        # Followed from this terminal while the detached supervisor drives the job.
        lines = []
        follow = subprocess.Popen([base.SPAWN, "logs", f"{job}_0", "--follow"], cwd=self.work, env=self.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def read():
            for line in follow.stdout:
                lines.append((time.time(), line.rstrip("\n")))
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        stderr_follow = subprocess.Popen([base.SPAWN, "logs", f"{job}_0", "--follow", "--stderr"], cwd=self.work,
                                         env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for p in (follow, stderr_follow):
            self.addCleanup(p.stderr.close)
            self.addCleanup(p.stdout.close)
            self.addCleanup(lambda p=p: p.poll() is None and p.kill())
        # "begin 0" arrives while the task still runs: it cannot end before the gate opens.
        self.assertTrue(wait_for(lambda: lines, 60), "no line of task 0 while it runs")
        opened = time.time()
        open(gate, "w").close()
        err_out, err_err = stderr_follow.communicate(timeout=120 * time_scale())
        self.assertEqual(stderr_follow.returncode, 0, err_err)
        self.assertEqual(err_out, "oops 0\n")
        self.assertEqual(follow.wait(timeout=120 * time_scale()), 0, follow.stderr.read())
        reader.join(10 * time_scale())
        self.assertEqual([text for _, text in lines], ["begin 0", "end 0"])
        self.assertLess(lines[0][0], opened, lines)
        self.assertGreater(lines[1][0], opened, lines)
        self.assertEqual(self.spawn("wait", job, timeout=120).returncode, 0)

        # 6 of 10 on the first pool, the other 4 on the next; every task ran exactly once.
        runs = [c for c in self.calls("RunInstances") if c.get("status") == 200]
        self.assertEqual(len(runs), 2)
        self.assertEqual(len(self.ep.instances), 10)
        zones = sorted(i.zone for i in self.ep.instances.values())
        self.assertEqual(zones, ["us-east-1a"] * 6 + ["us-east-1b"] * 4)
        for i in range(10):
            self.assertEqual(self.read(f"slurm-{job}_{i}.out"), f"begin {i}\nend {i}\n")
            self.assertEqual(self.read(f"err-{i}.txt"), f"oops {i}\n")
        self.assert_all_terminated()
        st = self.status(job)
        late = [t for t in st["tasks"] if t["aws"]["zone"] == "us-east-1b"]
        self.assertEqual(len(late), 4)
        for t in late:
            self.assertIn("c5.large/us-east-1a/spot: partial fill (6 of 10)", t["aws"]["tried"])

        # Cost: instance time (60 s minimum) x the catalog's spot price of c5.large in us-east-1.
        price = self.catalog_price("c5.large", "spot")
        total = 0
        for t in st["tasks"]:
            a = t["aws"]
            self.assertEqual(a["price_per_hour_usd"], price)
            self.assertFalse(a["billing"])
            self.assertGreaterEqual(a["billed_seconds"], 60)
            self.assertLess(a["billed_seconds"], 60 + 30)
            self.assertAlmostEqual(a["cost_micro_usd"], price * 1e6 * a["billed_seconds"] / 3600, delta=1)
            total += a["cost_micro_usd"]
        self.assertGreater(total, 0)
        self.assertEqual(st["cost"]["micro_usd"], total)
        cost = json.loads(self.spawn("cost", job, "--json", check=True).stdout)
        self.assertEqual(cost["cost"]["micro_usd"], total)
        text = self.spawn("cost", job, check=True).stdout
        self.assertIn("Total: $", text)
        self.assertIn("c5.large/us-east-1b/spot", text)


if __name__ == "__main__":
    base.main()
