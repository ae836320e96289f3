#!/usr/bin/env python3
"""A GPU job on the AWS provider, end to end against the local EC2+S3+IMDS endpoint with user data really executed:
`#SBATCH --gres=gpu:1` selects an NVIDIA GPU type from the catalog, RunInstances boots the Deep Learning Base AMI
(NVIDIA driver, Amazon Linux 2023) that the public SSM parameter names, the script sees the Slurm GPU environment
the shared runtime sets, output and exit code come back and the instance is terminated. A config AMI
wins over the default; a Graviton type boots the arm64 Amazon Linux 2023 AMI."""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "aws_endpoint"))
import test_aws_provider  # noqa: E402  (its AwsProviderCase: endpoint with user data executed, spawn, helpers)

DLAMI = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"
AL2023_ARM = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
GPU_VARS = ("CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "SLURM_JOB_GPUS", "SLURM_GPUS_ON_NODE", "SLURM_GPUS",
            "SLURM_GPUS_PER_NODE")
SCRIPT = ("#!/bin/bash\n#SBATCH --gres=gpu:1 -t 5\n#SBATCH -J gpu\n"
          + "".join(f'echo "{v}=${{{v}-unset}}"\n' for v in GPU_VARS) + "exit 4\n")


class GpuJob(test_aws_provider.AwsProviderCase):
    def setUp(self):
        super().setUp()
        del self.env["SPAWN_INSTANCE_TYPES"]  # chosen from the catalog, as a user's job would be
        self.env["XDG_CACHE_HOME"] = os.path.join(self.dir, "cache")  # the built-in catalog, not a refreshed one

    def gpu_env(self, text):
        return dict(re.findall(r"^(\w+)=(.*)$", text, re.M))

    def test_gpu_job_boots_the_dlami_and_sees_the_slurm_gpu_environment(self):
        self.script(SCRIPT)
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
        job = p.stdout.split("Submitted batch job ")[1].split()[0]

        [run] = [c for c in self.calls("RunInstances") if c.get("status") == 200]
        itype = run["params"]["InstanceType"]
        facts = __import__("catalog").load()[0][itype]
        self.assertEqual(facts["accel_kind"], "nvidia-gpu", f"{itype} is not an NVIDIA GPU type")
        self.assertEqual(run["params"]["ImageId"], self.ep.config.ssm_parameters[DLAMI])
        [ssm] = [c for c in self.ep.calls if c["action"] == "GetParameter"]
        [inst] = self.ep.instances.values()
        self.assertEqual(inst.image_id, self.ep.config.ssm_parameters[DLAMI])
        self.assertEqual(inst.instance_type, itype)

        # The GPU variables runtime/environment.cpp sets for one GPU per node, as on the local provider (which
        # refuses to run this job on a machine without GPUs, so the values are spelled out here) and as Slurm sets
        # them: the node's GPUs numbered from 0.
        self.assertEqual(self.gpu_env(self.read(f"slurm-{job}.out")),
                         {"CUDA_VISIBLE_DEVICES": "0", "GPU_DEVICE_ORDINAL": "0", "SLURM_JOB_GPUS": "0",
                          "SLURM_GPUS_ON_NODE": "1", "SLURM_GPUS": "unset", "SLURM_GPUS_PER_NODE": "1"})

        tasks = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual([(t["state"], t["exit_code"]) for t in tasks], [("FAILED", 4)])
        self.assert_all_terminated()

    def test_the_configured_ami_wins(self):
        self.env["SPAWN_AMI"] = "ami-0123456789abcdef0"
        self.script(SCRIPT)
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
        [run] = [c for c in self.calls("RunInstances") if c.get("status") == 200]
        self.assertEqual(run["params"]["ImageId"], "ami-0123456789abcdef0")
        self.assertEqual([c for c in self.ep.calls if c["action"] in ("GetParameter", "DescribeInstanceTypes")], [])
        self.assert_all_terminated()

    def test_a_graviton_type_boots_the_arm64_ami(self):
        self.env["SPAWN_INSTANCE_TYPES"] = "c6g.large"
        self.script("#!/bin/bash\n#SBATCH -t 5\necho on $(hostname)\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        [run] = [c for c in self.calls("RunInstances") if c.get("status") == 200]
        self.assertEqual(run["params"]["InstanceType"], "c6g.large")
        self.assertEqual(run["params"]["ImageId"], self.ep.config.ssm_parameters[AL2023_ARM])
        self.assert_all_terminated()


if __name__ == "__main__":
    test_aws_provider.main()
