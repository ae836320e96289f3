#!/usr/bin/env python3
"""API calls and wall time for `spawn slurm submit --provider aws` to launch an N-task array (1,000 by default)
against the local endpoint (tests/aws_endpoint), under AWS's documented rate limits:
  * EC2 RunInstances resource bucket: 1,000 instances, refilling 2 per second;
  * EC2 non-mutating (Describe*) request bucket: 100 requests, refilling 20 per second
    (docs: "Request throttling for the Amazon EC2 API"; /work/shared/reference/aws-notes.md);
  * S3: 3,500 PUT and 5,500 GET requests per second per prefix (checked on the calls made, not simulated).
Throttled calls are answered RequestLimitExceeded as EC2 does and counted. --scale F multiplies the refill rates
(F times faster refills, the same bucket sizes), for arrays far beyond one bucket; F=1 is AWS's. Instances are not
executed: this measures launching, from submit until every instance exists. Prints each run and the medians.
    python3 bench/bench_aws_launch.py --spawn build/spawn [--tasks 1000] [--runs 3] [--scale 1]"""
import argparse
import collections
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "aws_endpoint"))
from endpoint import Config, Endpoint  # noqa: E402

# AWS's documented limits (the endpoint enforces the EC2 ones; S3's are checked on the calls afterwards).
RUN_BUCKET, RUN_REFILL = 1000, 2.0
DESCRIBE_BUCKET, DESCRIBE_REFILL = 100, 20.0
S3_PUT_PER_SECOND, S3_GET_PER_SECOND = 3500, 5500


def peak_per_second(times):
    """The most calls in any one-second window."""
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def one_run(spawn, tasks, scale):
    d = tempfile.mkdtemp(prefix="spawn-bench-aws-")
    ep = Endpoint(Config(execute_user_data=False, pending_seconds=0.1, credentials={"AKIDEXAMPLE": "secret"},
                         run_bucket_capacity=RUN_BUCKET, run_bucket_refill=RUN_REFILL * scale,
                         describe_bucket_capacity=DESCRIBE_BUCKET, describe_bucket_refill=DESCRIBE_REFILL * scale),
                  os.path.join(d, "ep")).start()
    try:
        os.makedirs(os.path.join(d, "ep", "s3", "bench"))
        work = os.path.join(d, "work")
        os.makedirs(work)
        with open(os.path.join(work, "job.sbatch"), "w") as f:
            f.write(f"#!/bin/bash\n#SBATCH --array=0-{tasks - 1}\n#SBATCH -t 10\necho $SLURM_ARRAY_TASK_ID\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SPAWN_"))}
        env.update(SPAWN_HOME=os.path.join(d, "home"), AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
                   AWS_REGION="us-east-1", AWS_ENDPOINT_URL=ep.url, SPAWN_AWS_BUCKET="bench",
                   SPAWN_INSTANCE_TYPES="c5.large", AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   # The provider paces launches by the account's bucket: here the endpoint's, scaled.
                   SPAWN_AWS_LAUNCH_BURST=str(RUN_BUCKET), SPAWN_AWS_LAUNCH_RATE=str(RUN_REFILL * scale))
        start = time.time()
        proc = subprocess.Popen([spawn, "slurm", "submit", "job.sbatch", "--provider", "aws", "--yes"], cwd=work,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        while len(ep.instances) < tasks and proc.poll() is None and time.time() - start < 1800:
            time.sleep(0.01)
        wall = time.time() - start
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        calls = list(ep.calls)
        launched = len(ep.instances)
    finally:
        ep.stop()
        shutil.rmtree(d, True)
    by_action = collections.Counter((c["service"], c["action"].split(" /")[0]) for c in calls)
    s3_put = [c["time"] for c in calls if c["service"] == "s3" and c["action"].startswith("PUT")]
    s3_get = [c["time"] for c in calls if c["service"] == "s3" and c["action"].startswith("GET")]
    return {"wall": wall, "launched": launched, "calls": by_action,
            "throttled": sum(1 for c in calls if c.get("code") == "RequestLimitExceeded"),
            "ec2": sum(n for (s, _), n in by_action.items() if s == "ec2"),
            "s3": sum(n for (s, _), n in by_action.items() if s == "s3"),
            "runs": by_action[("ec2", "RunInstances")],
            "peak_s3_put": peak_per_second(s3_put), "peak_s3_get": peak_per_second(s3_get)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spawn", default=os.path.join(HERE, "..", "build", "spawn"))
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="refill rates x F (1: AWS's documented rates)")
    args = ap.parse_args()
    if args.tasks < 1 or args.runs < 1 or args.scale <= 0:
        ap.error("--tasks and --runs must be at least 1, --scale above 0")
    spawn = os.path.abspath(args.spawn)
    print(f"limits: RunInstances {RUN_BUCKET} instances refilling {RUN_REFILL * args.scale:g}/s, Describe* "
          f"{DESCRIBE_BUCKET} requests refilling {DESCRIBE_REFILL * args.scale:g}/s (scale {args.scale:g}); "
          f"S3 {S3_PUT_PER_SECOND} PUT/s, {S3_GET_PER_SECOND} GET/s per prefix")
    results = []
    for n in range(args.runs):
        r = one_run(spawn, args.tasks, args.scale)
        results.append(r)
        print(f"run {n + 1}: {r['launched']} of {args.tasks} launched in {r['wall']:.2f} s; RunInstances {r['runs']}, "
              f"EC2 calls {r['ec2']}, S3 calls {r['s3']}, throttled {r['throttled']}, "
              f"peak S3 PUT {r['peak_s3_put']}/s, GET {r['peak_s3_get']}/s")
    last = results[-1]
    for (service, action), n in sorted(last["calls"].items()):
        print(f"  {service:4} {action:22} {n}")
    median = lambda key: statistics.median(r[key] for r in results)  # noqa: E731
    runs = median("runs")
    print(f"median of {args.runs}: {args.tasks} tasks launched in {median('wall'):.2f} s "
          f"({median('wall') / args.tasks * 1000:.1f} ms per task); RunInstances calls {runs:g} "
          f"({args.tasks / max(runs, 1):.1f} instances per call; one call per task would be {args.tasks}: "
          f"{args.tasks / max(runs, 1):.0f}x fewer); EC2 calls {median('ec2'):g}, S3 calls {median('s3'):g} "
          f"({median('s3') / args.tasks:.2f} per task); throttled {median('throttled'):g}")
    within = all(r["peak_s3_put"] <= S3_PUT_PER_SECOND and r["peak_s3_get"] <= S3_GET_PER_SECOND for r in results)
    print(f"within S3's request rates: {'yes' if within else 'NO'}; every instance launched: "
          f"{'yes' if all(r['launched'] == args.tasks for r in results) else 'NO'}")


if __name__ == "__main__":
    main()
