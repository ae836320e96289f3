#!/usr/bin/env python3
"""Multi-node (MPI) jobs on the AWS provider, end to end against the local EC2+S3+IMDS endpoint with user data really
executed: each simulated instance has its own loopback private address (127.X.y.z) and runs spawn's own sshd on it,
so `srun` and `mpirun` on node 0 reach the other nodes over ssh as they would on EC2. One RunInstances of all the
nodes in a cluster placement group, a security group open only to itself, SLURM_JOB_NODELIST as Slurm prints it,
output and exit code back, every instance terminated, both groups deleted, the job's private key nowhere but in the
task bundle; a partial fill is never run short."""
import fcntl
import glob
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "aws_endpoint"))
import test_aws_provider  # noqa: E402  (its AwsProviderCase: endpoint with user data executed, spawn, helpers)
from spawnlib import time_scale  # noqa: E402
from test_aws_provider import BUCKET  # noqa: E402

MPI_HELLO = r"""
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char** argv) {
  int rank, size, sum = 0;
  char host[256] = {0};
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  gethostname(host, sizeof host - 1);
  MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  printf("rank %d of %d on %s sum %d\n", rank, size, host, sum);
  MPI_Finalize();
  return 0;
}
"""


def read_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


class AwsMpiCase(test_aws_provider.AwsProviderCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="spawn-aws-mpi-bin-")
        cls.program = None
        if shutil.which("mpicc"):
            src = os.path.join(cls.tmp, "mpi_hello.c")
            with open(src, "w") as f:
                f.write(MPI_HELLO)
            out = os.path.join(cls.tmp, "mpi_hello")
            if subprocess.run(["mpicc", "-o", out, src], capture_output=True).returncode == 0:
                cls.program = out

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def setUp(self):
        # Every endpoint numbers its instances 127.77.0.2, .3, ...: two of these suites at once on one machine would
        # both start sshds on 127.77.0.2:2222. One at a time, machine-wide (released after the endpoint stopped),
        # and in a loopback block of its own (against older copies of this suite that take no lock).
        lock = open("/tmp/spawn-test-aws-mpi.lock", "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        self.addCleanup(lock.close)
        super().setUp()
        self.octet = random.randint(100, 250)
        self.ep.config.private_ip_prefix = f"127.{self.octet}"
        self.home = self.env["SPAWN_HOME"]
        for k in [k for k in self.env if k.startswith("OMPI_")]:
            del self.env[k]

    def calls(self, action, ok=True):
        return [c for c in self.ep.calls if c["action"] == action and (not ok or c.get("status") == 200)]

    def s3_objects(self):
        root = os.path.join(self.dir, "ep", "s3", BUCKET)
        return {urllib.parse.unquote(n): os.path.join(root, n) for n in os.listdir(root)}

    def assert_groups_deleted(self):
        self.assertEqual(self.ep.placement_groups, {}, "the job's placement group is deleted")
        self.assertEqual(self.ep.security_groups, {}, "the job's security group is deleted")

    def mpi_script(self):
        run = f"mpirun {self.program}" if self.program else "mpirun hostname"
        return ("#!/bin/bash\n#SBATCH --nodes=3 --ntasks-per-node=2 -t 5\n#SBATCH -J mpi\n"
                "echo \"nodelist=$SLURM_JOB_NODELIST nodelist2=$SLURM_NODELIST nnodes=$SLURM_NNODES "
                "nodeid=$SLURM_NODEID nodename=$SLURMD_NODENAME host=$(hostname)\"\n"
                "sed 's/^/hostfile: /' \"$SPAWN_HOSTFILE\"\n"
                "srun bash -c 'echo \"srun task $SLURM_PROCID on $(hostname) nodeid=$SLURM_NODEID "
                "name=$SLURMD_NODENAME step=$SLURM_STEP_NODELIST\"'\n"
                f"{run}\necho mpirun exit $?\n"
                # Open MPI launches through srun inside a Slurm job; through its ssh agent when told to.
                f"{run.replace('mpirun', 'mpirun --mca plm rsh')} | sed 's/^/rsh: /'\nexit 3\n")


class MpiJob(AwsMpiCase):
    def slurm_hostlist(self, names):
        """What Slurm prints for names (scontrol show hostlist), when Slurm's commands are here."""
        if shutil.which("scontrol"):
            real = subprocess.run(["scontrol", "show", "hostlist", ",".join(names)], capture_output=True, text=True)
            if real.returncode == 0:
                return real.stdout.strip()
        return None

    def test_three_nodes_srun_and_mpirun(self):
        self.ep.next_ip = 7  # addresses 127.X.0.9, .10, .11: names whose numbers change width
        self.script(self.mpi_script())
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        out = self.read(f"slurm-{job}.out")

        # One RunInstances of all three, in the job's cluster placement group and self-referencing security group.
        [run] = self.calls("RunInstances")
        self.assertEqual((run["params"]["MinCount"], run["params"]["MaxCount"]), ("3", "3"))
        [pg] = self.calls("CreatePlacementGroup")
        self.assertEqual(pg["params"]["Strategy"], "cluster")
        group = pg["params"]["GroupName"]
        self.assertEqual(run["params"]["Placement.GroupName"], group)
        [sg_call] = self.calls("CreateSecurityGroup")
        [auth] = self.calls("AuthorizeSecurityGroupIngress")
        sg = auth["params"]["GroupId"]
        self.assertEqual(auth["params"]["IpPermissions.1.Groups.1.GroupId"], sg, "open to itself")
        self.assertEqual(auth["params"]["IpPermissions.1.IpProtocol"], "-1")
        self.assertFalse([k for k in auth["params"] if "IpRanges" in k or "CidrIp" in k], "open to nothing else")
        self.assertEqual(run["params"]["SecurityGroupId.1"], sg)
        self.assertEqual(len(self.ep.instances), 3)
        instances = sorted(self.ep.instances.values(), key=lambda i: i.launch_index)
        for inst in instances:
            self.assertEqual(inst.placement_group, group)
            self.assertIn(sg, inst.security_groups)
            self.assertEqual(inst.tags["spawn:job"], job)
            self.assertEqual(inst.tags["spawn:managed"], "true")
        names = ["ip-" + i.private_ip.replace(".", "-") for i in instances]
        self.assertEqual(len(set(names)), 3)

        # The batch script ran once, on node 0, with the environment Slurm gives a batch job on 3 nodes.
        expected_list = f"ip-127-{self.octet}-0-[9-11]"
        self.assertEqual(self.slurm_hostlist(names) or expected_list, expected_list)
        self.assertIn(f"nodelist={expected_list} nodelist2={expected_list} nnodes=3 nodeid=0 nodename={names[0]} "
                      f"host={names[0]}", out)
        self.assertEqual(out.count("nodelist="), 1, out)
        self.assertEqual([l for l in out.splitlines() if l.startswith("hostfile: ")],
                         [f"hostfile: {n} slots=2" for n in names])
        # srun: two tasks on each node, the remote ones really there.
        srun = sorted(re.findall(r"srun task (\d+) on (\S+) nodeid=(\d) name=(\S+) step=(\S+)", out))
        self.assertEqual(srun, [(str(k), names[k // 2], str(k // 2), names[k // 2], expected_list) for k in range(6)],
                         out)
        # mpirun: 6 ranks over the 3 nodes, talking to each other (the allreduce).
        if self.program:
            ranks = sorted(re.findall(r"^rank (\d) of 6 on (\S+) sum 15$", out, re.M))
            self.assertEqual([r for r, _ in ranks], [str(k) for k in range(6)], out)
            self.assertEqual(sorted(h for _, h in ranks), sorted(names * 2), out)
        else:
            self.assertEqual(sorted(l for l in out.splitlines() if l in names), sorted(names * 2), out)
        self.assertIn("mpirun exit 0", out)
        if self.program:
            over_ssh = sorted(re.findall(r"rsh: rank (\d) of 6 on (\S+) sum 15", out))
            self.assertEqual(sorted(h for _, h in over_ssh), sorted(names * 2), out)

        # The exit code came back; everything is gone.
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual((task["state"], task["exit_code"]), ("FAILED", 3), task)
        self.assert_all_terminated()
        self.assert_groups_deleted()
        self.assertEqual(len(self.calls("DeletePlacementGroup")), 1)
        self.assertEqual(len(self.calls("DeleteSecurityGroup")), 1)

        # The private key: in the task bundle only (and the task's state directory it was made in).
        # (made in the task's state directory, staged beside it into the bundle's directory)
        keys = {read_bytes(os.path.join(d, f)) for d, _, fs in os.walk(self.home) for f in fs if f == "id_ed25519"}
        self.assertEqual(len(keys), 1)
        [key] = keys
        self.assertIn(b"OPENSSH PRIVATE KEY", key)
        secret_line = key.splitlines()[2]
        bundles = 0
        for name, path in self.s3_objects().items():
            data = read_bytes(path)
            if name.endswith("/bundle.sh.gz"):
                bundles += 1
                self.assertIn(b"'ssh/id_ed25519'", data, "the key travels in the bundle")
                continue
            self.assertNotIn(secret_line, data, name)
        self.assertEqual(bundles, 1)
        for inst in instances:
            self.assertNotIn(secret_line, inst.user_data)
            self.assertNotIn(b"OPENSSH PRIVATE KEY", gzip.decompress(inst.user_data))
            root = os.path.join(self.dir, "ep", "instances", inst.id)
            for d, _, fs in os.walk(root):
                for f in fs:
                    if f.endswith(".log") or f == "user-data":
                        self.assertNotIn(secret_line, read_bytes(os.path.join(d, f)), os.path.join(d, f))
        self.assertNotIn(secret_line.decode(), p.stdout + p.stderr + out)


    def test_node_list_across_address_blocks_as_slurm_prints_it(self):
        self.ep.next_ip = 248  # 127.X.0.250, 127.X.0.251, 127.X.1.2
        self.script("#!/bin/bash\n#SBATCH -N 3 -t 5\necho job=$SLURM_JOB_NODELIST\n"
                    "srun -N 2 bash -c 'echo step=$SLURM_STEP_NODELIST'\nsrun -w \"$SLURM_JOB_NODELIST\" hostname\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        out = self.read(f"slurm-{job}.out").splitlines()
        x = self.octet
        names = [f"ip-127-{x}-0-250", f"ip-127-{x}-0-251", f"ip-127-{x}-1-2"]
        self.assertEqual(sorted("ip-" + i.private_ip.replace(".", "-") for i in self.ep.instances.values()), sorted(names))
        expected = f"ip-127-{x}-0-[250-251],ip-127-{x}-1-2"
        self.assertEqual(self.slurm_hostlist(names) or expected, expected)
        self.assertEqual(out[0], "job=" + expected)
        self.assertEqual(out[1:3], [f"step=ip-127-{x}-0-[250-251]"] * 2)
        self.assertEqual(sorted(out[3:]), names, "srun -w expands the list and reaches every node")


class NodesFiles(AwsMpiCase):
    def test_every_nodes_changes_come_back_node_0_wins_a_file_both_wrote(self):
        """A cluster's nodes share one file system: what srun's tasks write on any node is in the submit directory
        after the job. On EC2 each node has its own copy, so each node's changes come back."""
        with open(os.path.join(self.work, "input.txt"), "w") as f:
            f.write("from the submit host\n")
        self.script("#!/bin/bash\n#SBATCH -N 3 --ntasks-per-node=1 -t 5\n"
                    "srun bash -c 'mkdir -p res && { echo \"task $SLURM_PROCID on $(hostname)\"; cat input.txt; }"
                    " > res/out-$SLURM_PROCID.txt; echo node $SLURM_NODEID > shared.txt'\n"
                    "echo batch script > shared.txt\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        hosts = []
        for k in range(3):
            text = self.read(f"res/out-{k}.txt")
            self.assertRegex(text, rf"^task {k} on \S+\nfrom the submit host\n$")
            hosts.append(text.split()[3])
        self.assertEqual(sorted(hosts), sorted("ip-" + i.private_ip.replace(".", "-") for i in self.ep.instances.values()),
                         "written on each of the three nodes")
        # Nodes 1 and 2 each wrote shared.txt too; node 0's copy (its batch script wrote last there) is kept.
        self.assertEqual(self.read("shared.txt"), "batch script\n")
        self.assertEqual(self.read("input.txt"), "from the submit host\n")
        [task] = json.loads(self.spawn("status", p.stdout.split("Submitted batch job ")[1].split()[0], "--json", check=True).stdout)["tasks"]
        self.assertEqual((task["state"], task["exit_code"]), ("COMPLETED", 0), task)
        self.assertRegex(task["reason"], r"^exit 0; on \S+$", "nothing was left behind on any node")
        self.assert_all_terminated()
        self.assert_groups_deleted()

    def test_what_a_node_could_not_send_is_in_the_tasks_reason(self):
        # 16 pieces of 64 KiB: node 1's 2 MiB of random bytes cannot come back; node 0's small file does.
        self.env["SPAWN_AWS_BACK_PIECE_BYTES"] = "65536"
        self.script("#!/bin/bash\n#SBATCH -N 2 --ntasks-per-node=1 -t 5\n"
                    "srun bash -c 'if [ $SLURM_NODEID = 1 ]; then head -c 2097152 /dev/urandom > big.bin; fi'\n"
                    "echo small > small.txt\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertRegex(task["reason"], r"node 1: the files of \S+/work were not sent back: \d{7} bytes packed, more "
                                         r"than the 16 pieces of 65536 bytes a task can send back")
        self.assertFalse(os.path.exists(os.path.join(self.work, "big.bin")))
        self.assertEqual(self.read("small.txt"), "small\n")
        self.assert_all_terminated()


class Signals(AwsMpiCase):
    def test_signal_and_time_limit_reach_the_srun_tasks_on_every_node(self):
        """--signal=USR1@N and the time limit's SIGTERM reach every srun task, on node 0 and on the others, as slurmd
        signals each node's tasks; each task's own exit status comes back through srun."""
        self.script("#!/bin/bash\n#SBATCH -N 2 --ntasks-per-node=1 -t 1\n#SBATCH --signal=USR1@5\n"
                    "srun bash -c 'f=got-$SLURM_PROCID.txt; trap \"echo USR1 >> $f\" USR1; "
                    "trap \"echo TERM >> $f; exit 7\" TERM; echo start > $f; while :; do sleep 0.2; done'\n"
                    "echo srun exit $?\n")
        self.spawn("slurm", "convert", "job.sbatch", "-o", "job.json", check=True)
        with open(os.path.join(self.work, "job.json")) as f:
            params = json.load(f)
        params["job"]["time_limit"] = "12s"  # a minute is the least a script can ask for
        self.ep.config.minute_seconds = 60.0  # the backstop (limit + 10 minutes) in real minutes here
        with open(os.path.join(self.work, "job.json"), "w") as f:
            json.dump(params, f)
        p = self.spawn("launch", "--param-file", "job.json", "--provider", "aws", "--yes")
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual(task["state"], "TIMEOUT", task)
        # Each node's task wrote its file (the files of every node come back) and saw both signals, in order.
        for k in range(2):
            self.assertEqual(self.read(f"got-{k}.txt"), "start\nUSR1\nTERM\n", f"task {k}")
        out = self.read(f"slurm-{job}.out")
        # srun reports the tasks that ended badly. (Not which words: runtime.sh's srun can lose a task's status when
        # the task exits just as srun's own SIGTERM interrupts its wait, and then says "Terminated" for "exit 7", a
        # known bash 5.2 race of the runtime, not of the signals this test is about.)
        self.assertRegex(out, r"srun: error: \S+: task \d: ")
        self.assert_all_terminated()


class Spot(AwsMpiCase):
    def test_a_notice_for_another_node_checkpoints_the_job_and_requeues_it(self):
        """A spot notice for node 1: the job cannot go on without it, so node 0 gives the batch script its --signal
        and ends the task as preempted, and it runs again (as for a notice on node 0)."""
        self.script("#!/bin/bash\n#SBATCH -N 2 -t 5\n#SBATCH --requeue\n#SBATCH --signal=B:USR1@60\n"
                    "trap 'echo checkpoint; exit 0' USR1\n"
                    "echo start restart=${SLURM_RESTART_COUNT:-0}\n"
                    "if [ \"${SLURM_RESTART_COUNT:-0}\" = 0 ]; then for i in $(seq 300); do sleep 1; done; fi\n"
                    "echo end\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes", "--detach", check=True)
        job = p.stdout.split("Submitted batch job ")[1].split()[0]

        def started():
            for inst in self.ep.instances.values():
                if inst.sandbox and glob.glob(os.path.join(inst.sandbox.root, "tmp", "spawn", "*", "batch.pid")):
                    return True
            return False
        self.assertTrue(test_aws_provider.wait_for(started, 90), "the batch script started on node 0")
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        node0, node1 = task["handle"].split(",")
        self.ep.interrupt_spot(node1, notice_seconds=60)
        self.assertEqual(self.spawn("wait", job, timeout=180).returncode, 0)

        self.assertEqual(self.read(f"slurm-{job}.out"), "start restart=1\nend\n")  # truncated at the restart
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual((task["state"], task["restart_count"]), ("COMPLETED", 1), task)
        self.assertEqual(len(self.ep.instances), 4, "both nodes again for the second run")
        marker = self.job_object(job, "markers/0.1")
        self.assertIn("state=PREEMPTED", marker)
        self.assertIn("reason=spot interruption", marker)
        # The first attempt's --signal reached its batch shell, which checkpointed and ended at once.
        runtime_log = self.job_object(job, "tasks/0.1/runtime.log")
        self.assertIn("spot interruption notice", runtime_log)
        self.assertIn("sent signal 10 to the batch shell", runtime_log)
        with open(os.path.join(self.dir, "ep", "instances", node1, "tmp", "spawn", "bootstrap.log")) as f:
            self.assertIn("spot interruption notice", f.read(), "node 1 had the notice and passed it on")
        with open(os.path.join(self.dir, "ep", "instances", node0, "tmp", "spawn", "bootstrap.log")) as f:
            self.assertIn("spot interruption notice", f.read())
        # The detached supervisor deletes the last cohort's groups once its nodes are gone, after the job's end.
        test_aws_provider.wait_for(lambda: not self.ep.placement_groups and not self.ep.security_groups, 60)
        self.assert_all_terminated()
        self.assert_groups_deleted()


class Launch(AwsMpiCase):
    def test_spawn_launch_mpi_runs_the_command_on_node_0_of_n_instances(self):
        p = self.spawn("launch", "--count", "2", "--mpi", "--provider", "aws", "--instance-type", "c5.large", "--yes",
                       "--", "srun", "hostname")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        [run] = self.calls("RunInstances")
        self.assertEqual((run["params"]["MinCount"], run["params"]["MaxCount"]), ("2", "2"))
        self.assertIn("Placement.GroupName", run["params"])
        job = p.stdout.split("Submitted batch job ")[1].split()[0] if "Submitted batch job " in p.stdout else "1"
        logs = self.spawn("logs", job, check=True).stdout
        self.assertEqual(sorted(logs.split()), sorted("ip-" + i.private_ip.replace(".", "-")
                                                      for i in self.ep.instances.values()), logs)
        self.assert_all_terminated()
        self.assert_groups_deleted()


class Lifecycle(AwsMpiCase):
    def test_the_next_task_does_not_wait_for_the_last_ones_nodes_to_shut_down(self):
        # EC2 takes a while to terminate an instance and refuses to delete a group still in use: the ended cohort's
        # groups wait for its nodes to be gone, the next task of the array does not.
        # Task 0's nodes stay shutting down until task 1's RunInstances has come (were task 1 waiting for them, it
        # never would), then terminate.
        self.ep.config.shutting_down_seconds = 3600
        self.script("#!/bin/bash\n#SBATCH -N 2 -t 5 --array=0-1%1\nsrun hostname\n")
        proc = subprocess.Popen([test_aws_provider.SPAWN, "slurm", "submit", "job.sbatch", "--provider", "aws", "--yes"],
                                cwd=self.work, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertTrue(test_aws_provider.wait_for(lambda: len(self.calls("RunInstances")) == 2, 120),
                        [(i.id, i.state) for i in self.ep.instances.values()])
        self.ep.config.shutting_down_seconds = 0.1
        out, err = proc.communicate(timeout=120 * time_scale())
        self.assertEqual(proc.returncode, 0, out + err)
        runs = self.calls("RunInstances")
        self.assertEqual(len(runs), 2)
        groups = [c["params"]["GroupId"] for c in self.calls("AuthorizeSecurityGroupIngress")]
        self.assertEqual(len(groups), 2)
        deleted = {c["params"]["GroupId"]: c["time"] for c in self.calls("DeleteSecurityGroup")}
        self.assertEqual(sorted(deleted), sorted(groups), "both cohorts' security groups deleted")
        first_nodes = [i for i in self.ep.instances.values() if i.client_token == runs[0]["params"]["ClientToken"]]
        self.assertEqual(len(first_nodes), 2)
        self.assertLess(runs[1]["time"], deleted[groups[0]],
                        "task 1 waited for task 0's nodes to shut down")
        self.assertEqual(len(self.calls("DeletePlacementGroup")), 2)
        self.assert_all_terminated()
        self.assert_groups_deleted()

    def started_on_node_0(self):
        for inst in self.ep.instances.values():
            log = os.path.join(self.dir, "ep", "instances", inst.id, "tmp", "spawn", "bootstrap.log")
            if os.path.exists(log):
                with open(log) as f:
                    if "starting" in f.read():
                        return True
        return False

    def test_cancel_terminates_every_node_and_deletes_the_groups(self):
        self.script("#!/bin/bash\n#SBATCH -N 2 -t 5\nsrun sleep 120\n")
        proc = subprocess.Popen([test_aws_provider.SPAWN, "slurm", "submit", "job.sbatch", "--provider", "aws", "--yes"],
                                cwd=self.work, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertTrue(test_aws_provider.wait_for(self.started_on_node_0, 60),
                        self.spawn("status", "1", "--json").stdout)
        job = "1"
        c = self.spawn("cancel", job)
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        out, err = proc.communicate(timeout=120 * time_scale())
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual(task["state"], "CANCELLED", task)
        self.assertEqual(len(self.ep.instances), 2)
        self.assert_all_terminated()
        self.assert_groups_deleted()

    def test_killed_mid_launch_then_resumed_without_duplicates_or_orphans(self):
        # The answer to RunInstances never reaches the client: the nodes exist, the cohort object is never written.
        self.ep.add_fault({"type": "delay", "action": "RunInstances", "seconds": 10, "count": 1})
        self.script("#!/bin/bash\n#SBATCH -N 2 -t 5\nsrun hostname\n")
        proc = subprocess.Popen([test_aws_provider.SPAWN, "slurm", "submit", "job.sbatch", "--provider", "aws", "--yes"],
                                cwd=self.work, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        self.assertTrue(test_aws_provider.wait_for(lambda: len(self.ep.instances) == 2, 30))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        first = set(self.ep.instances)
        r = self.spawn("resume", "1", "--foreground")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # The stranded pair was terminated, a new pair ran the job once, and nothing is left.
        second = set(self.ep.instances) - first
        self.assertEqual(len(second), 2)
        out = self.read("slurm-1.out")
        self.assertEqual(sorted(out.split()), sorted("ip-" + self.ep.instances[i].private_ip.replace(".", "-")
                                                     for i in second), out)
        self.assert_all_terminated()
        self.assert_groups_deleted()
        self.assertEqual(len(self.calls("CreatePlacementGroup")), 2)
        self.assertEqual(len(self.calls("DeletePlacementGroup")), 2)


class Efa(AwsMpiCase):
    def test_an_efa_type_gets_an_efa_interface_carrying_subnet_and_groups(self):
        self.env["SPAWN_INSTANCE_TYPES"] = "c5n.18xlarge"
        self.script("#!/bin/bash\n#SBATCH -N 2 -t 5\nsrun hostname\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        [run] = self.calls("RunInstances")
        [auth] = self.calls("AuthorizeSecurityGroupIngress")
        params = run["params"]
        self.assertEqual(params["NetworkInterface.1.InterfaceType"], "efa")
        self.assertEqual(params["NetworkInterface.1.DeviceIndex"], "0")
        self.assertEqual(params["NetworkInterface.1.SecurityGroupId.1"], auth["params"]["GroupId"])
        self.assertNotIn("SecurityGroupId.1", params)
        self.assertNotIn("SubnetId", params)
        self.assertTrue(all(i.efa for i in self.ep.instances.values()))
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        self.assertEqual(sorted(self.read(f"slurm-{job}.out").split()),
                         sorted("ip-" + i.private_ip.replace(".", "-") for i in self.ep.instances.values()))
        self.assert_all_terminated()
        self.assert_groups_deleted()

    def test_a_type_without_efa_gets_none(self):
        self.script("#!/bin/bash\n#SBATCH -N 2 -t 5\nsrun true\n")
        self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes", check=True)
        [run] = self.calls("RunInstances")
        self.assertFalse([k for k in run["params"] if k.startswith("NetworkInterface")])
        self.assertFalse(any(i.efa for i in self.ep.instances.values()))


class PartialFill(AwsMpiCase):
    def test_two_of_three_are_terminated_and_the_retry_runs_all_three(self):
        # EC2 hands back 2 instances for a request of 3 (the endpoint ignores MinCount once).
        self.ep.add_fault({"type": "partial", "instance_type": "c5.large", "available": 2, "count": 1,
                           "ignore_min_count": True})
        self.script("#!/bin/bash\n#SBATCH -N 3 -t 5\nsrun hostname\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        runs = self.calls("RunInstances")
        self.assertEqual(len(runs), 2)
        self.assertTrue(all((r["params"]["MinCount"], r["params"]["MaxCount"]) == ("3", "3") for r in runs))
        first = [i for i in self.ep.instances.values() if i.client_token == runs[0]["params"]["ClientToken"]]
        second = [i for i in self.ep.instances.values() if i.client_token == runs[1]["params"]["ClientToken"]]
        self.assertEqual((len(first), len(second)), (2, 3))
        # The short cohort never ran the job: only the full one's nodes appear in the output.
        out = self.read(f"slurm-{job}.out")
        hosts = sorted(out.split())
        self.assertEqual(hosts, sorted("ip-" + i.private_ip.replace(".", "-") for i in second), out)
        self.assertNotEqual(runs[0]["params"]["InstanceType"] + runs[0]["params"]["Placement.AvailabilityZone"],
                            runs[1]["params"]["InstanceType"] + runs[1]["params"]["Placement.AvailabilityZone"],
                            "the retry goes to the next pool")
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertIn("partial fill (2 of 3)", task["reason"])
        self.assert_all_terminated()
        self.assert_groups_deleted()

    def test_capacity_for_fewer_than_all_nodes_tries_the_next_type(self):
        # EC2 as it is: MinCount=3 with room for 2 is a capacity error; spawn moves on, never asks for fewer.
        self.ep.add_fault({"type": "partial", "instance_type": "c5.large", "available": 2, "count": None})
        self.script("#!/bin/bash\n#SBATCH -N 3 -t 5\nsrun hostname\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual({i.instance_type for i in self.ep.instances.values()}, {"c5.xlarge"})
        self.assertEqual(len(self.ep.instances), 3)
        for r in self.calls("RunInstances", ok=False):
            self.assertEqual((r["params"]["MinCount"], r["params"]["MaxCount"]), ("3", "3"))
        self.assert_all_terminated()
        self.assert_groups_deleted()


if __name__ == "__main__":
    if not os.path.exists("/usr/sbin/sshd"):
        print("skipped: no /usr/sbin/sshd (scripts/install-deps.sh installs openssh-server)")
        sys.exit(77)
    test_aws_provider.main()
