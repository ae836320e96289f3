#!/usr/bin/env python3
"""A job with a container image on the AWS provider, against the local EC2+S3+IMDS endpoint with the user data
really executed in its sandbox (the fixture of test_aws_provider.py): the bootstrap asks the package manager for
Docker (the sandbox's dnf shim records the request: nothing is installed) and starts it (systemctl shim), then the
runtime runs the script in the image on a private dockerd (containerlib.py) reached through DOCKER_HOST; output and
exit code come back through S3, no container is left, every instance is terminated.

Skips (77) when the sandbox cannot run here; the test skips, with the reason, when no Docker daemon can start.
"""
import json
import os
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import containerlib  # noqa: E402
import test_aws_provider as aws  # noqa: E402

IMAGE = "spawn-test/busybox-bash:1"


class ContainerOnEc2(aws.AwsProviderCase):
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = containerlib.daemon_or_skip(IMAGE)

    @classmethod
    def tearDownClass(cls):
        if cls.daemon:
            cls.daemon.stop()

    def setUp(self):
        super().setUp()
        # The simulated instances reach the test's daemon as an instance reaches its own.
        self.ep.config.instance_environment["DOCKER_HOST"] = self.daemon.host

    def test_bootstrap_installs_docker_and_the_script_runs_in_the_image(self):
        self.script(f"""#!/bin/bash
#SBATCH -t 5
#SBATCH -J boxed
#SPAWN --container {IMAGE}
. /etc/os-release
echo "os=$ID marker=$(cat {containerlib.IMAGE_MARKER}) job=$SLURM_JOB_ID node=$SLURMD_NODENAME"
srun -n 2 bash -c 'echo rank $SLURM_PROCID' | sort
echo to-stderr >&2
exit 5
""")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes", timeout=180)
        self.assertEqual(p.returncode, 5, p.stdout + p.stderr)
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        out = self.read(f"slurm-{job}.out")
        self.assertIn(f"os={containerlib.IMAGE_OS_ID} marker=inside the image job={job} node=ip-127-77-", out)
        self.assertIn("rank 0\nrank 1\n", out)
        self.assertIn("to-stderr\n", out)
        tasks = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual([(t["state"], t["exit_code"]) for t in tasks], [("FAILED", 5)])
        self.assert_all_terminated()
        (inst,) = self.ep.instances.values()
        self.assertEqual(inst.package_requests, [["dnf", "install", "-y", "docker"]])
        self.assertIn(("systemctl", ["start", "docker"]), [(e["command"], e["args"]) for e in inst.power_events])
        log_key = next(k for k in os.listdir(os.path.join(self.dir, "ep", "s3", aws.BUCKET))
                       if urllib.parse.unquote(k).endswith("/runtime.log"))
        with open(os.path.join(self.dir, "ep", "s3", aws.BUCKET, log_key)) as f:
            self.assertIn(f"running the batch script in {IMAGE} with docker", f.read())
        self.assertEqual(self.daemon.containers(), [])


if __name__ == "__main__":
    aws.main()
