#!/usr/bin/env python3
"""API calls and wall time for `spawn slurm submit --provider aws` to launch a 1,000-task array against the local
endpoint (tests/aws_endpoint) with AWS's documented EC2 rate limits (RunInstances bucket 1,000 instances refilling
2/s, Describe* bucket 100 refilling 20/s; --scale divides the refill periods). Instances are not executed: this
measures launching, from submit until every instance exists.
    python3 bench/bench_aws_launch.py --spawn build/spawn [--tasks 1000]"""
import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "aws_endpoint"))
from endpoint import Config, Endpoint  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spawn", default=os.path.join(HERE, "..", "build", "spawn"))
    ap.add_argument("--tasks", type=int, default=1000)
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="spawn-bench-aws-")
    ep = Endpoint(Config(execute_user_data=False, pending_seconds=0.1, credentials={"AKIDEXAMPLE": "secret"},
                         run_bucket_capacity=1000, run_bucket_refill=2, describe_bucket_capacity=100,
                         describe_bucket_refill=20), os.path.join(d, "ep")).start()
    os.makedirs(os.path.join(d, "ep", "s3", "bench"))
    work = os.path.join(d, "work")
    os.makedirs(work)
    with open(os.path.join(work, "job.sbatch"), "w") as f:
        f.write(f"#!/bin/bash\n#SBATCH --array=0-{args.tasks - 1}\n#SBATCH -t 10\necho $SLURM_ARRAY_TASK_ID\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SPAWN_"))}
    env.update(SPAWN_HOME=os.path.join(d, "home"), AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
               AWS_REGION="us-east-1", AWS_ENDPOINT_URL=ep.url, SPAWN_AWS_BUCKET="bench", SPAWN_INSTANCE_TYPES="c5.large",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    start = time.time()
    proc = subprocess.Popen([os.path.abspath(args.spawn), "slurm", "submit", "job.sbatch", "--provider", "aws", "--yes"],
                            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while len(ep.instances) < args.tasks and proc.poll() is None and time.time() - start < 600:
        time.sleep(0.01)
    wall = time.time() - start
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    calls = collections.Counter((c["service"], c["action"].split(" /")[0]) for c in ep.calls)
    runs = calls[("ec2", "RunInstances")]
    ec2 = sum(n for (s, _), n in calls.items() if s == "ec2")
    s3 = sum(n for (s, _), n in calls.items() if s == "s3")
    print(f"tasks launched: {len(ep.instances)} of {args.tasks} in {wall:.2f} s")
    for (service, action), n in sorted(calls.items()):
        print(f"  {service:4} {action:22} {n}")
    print(f"RunInstances calls: {runs} ({len(ep.instances) / max(runs, 1):.1f} instances per call; "
          f"one call per task would be {args.tasks}: {args.tasks / max(runs, 1):.0f}x fewer)")
    print(f"EC2 calls: {ec2}, S3 calls: {s3} ({s3 / max(args.tasks, 1):.2f} per task)")
    ep.stop()
    shutil.rmtree(d, True)


if __name__ == "__main__":
    main()
