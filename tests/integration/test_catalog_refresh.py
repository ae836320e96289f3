#!/usr/bin/env python3
"""`spawn catalog refresh` against the local EC2 + Price List endpoint (tests/aws_endpoint), which answers
DescribeInstanceTypes, DescribeAvailabilityZones, DescribeSpotPriceHistory and GetProducts from the catalog file with
AWS's paging and filters: the refreshed copy lands in the user's cache, `catalog list` and `slurm estimate` use its
prices and name it, a second region keeps the first, and a failed call is reported with nothing written."""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "aws_endpoint"))
from endpoint import Config, Endpoint  # noqa: E402

SPAWN = None
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
BUILTIN = os.path.join(HERE, "..", "..", "data", "catalog", "aws-ec2.catalog")


def utc_day():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def type_lines(path):
    with open(path) as f:
        return {line.split()[1]: line.strip() for line in f if line.startswith("type ")}


def region_prices(path, region):
    """type -> the price line of region."""
    out, current = {}, None
    with open(path) as f:
        for line in f:
            if line.startswith("type "):
                current = line.split()[1]
            elif line.startswith(f"price {region} "):
                out[current] = line.split()
    return out


class AwsCliCase(unittest.TestCase):
    """A local endpoint (no user data executed) and spawn pointed at it with a private HOME; test_aws_setup too."""
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix=f"spawn-{type(self).__name__.lower()}-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.ep = Endpoint(Config(credentials={KEY: SECRET}), os.path.join(self.dir, "ep")).start()
        self.addCleanup(self.ep.stop)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SPAWN_", "SLURM_", "XDG_"))}
        self.env.update(SPAWN_HOME=os.path.join(self.dir, "spawn-home"), HOME=self.dir, AWS_ACCESS_KEY_ID=KEY,
                        AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1", AWS_ENDPOINT_URL=self.ep.url,
                        AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")

    def spawn(self, *args):
        return subprocess.run([SPAWN, *args], env=self.env, cwd=self.dir, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)


class CatalogRefresh(AwsCliCase):
    def setUp(self):
        super().setUp()
        self.cache = os.path.join(self.dir, ".cache", "spawn", "catalog", "aws-ec2.catalog")

    def listing(self, *args):
        p = self.spawn("catalog", "list", "--json", "--limit", "0", *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_refreshed_prices_replace_the_builtin_ones(self):
        before = self.listing("--region", "us-east-1", "--vcpus", "2", "--on-demand")
        self.assertEqual(before["catalog"], "built-in")
        # AWS changed its prices since the snapshot: c5.large on demand and in one zone on spot.
        self.ep.offers("us-east-1")["c5.large"]["od"] = 0.0123
        self.ep.offers("us-east-1")["c5.large"]["spot"]["use1-az1"] = 0.0011

        day_before = utc_day()
        p = self.spawn("catalog", "refresh", "--region", "us-east-1")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        days = {day_before, utc_day()}  # the refresh's date (two when it ran across midnight UTC)
        offered_before = region_prices(BUILTIN, "us-east-1")  # what the endpoint serves: the catalog's us-east-1
        self.assertIn(f"us-east-1: {len(offered_before)} instance types", p.stderr)
        self.assertIn("Refreshed us-east-1 (", p.stdout)
        self.assertIn(self.cache, p.stdout)
        self.assertTrue(os.path.exists(self.cache))
        self.assertFalse([n for n in os.listdir(os.path.dirname(self.cache)) if n != "aws-ec2.catalog"],
                         "the atomic write leaves no temporary file")

        # Every call went out paged as AWS pages them; the Price List was asked for Linux shared tenancy only.
        calls = [c["action"] for c in self.ep.calls]
        with_price = [n for n, line in offered_before.items() if line[2] != "-"]
        self.assertEqual(calls.count("DescribeInstanceTypes"), -(-len(offered_before) // 100))  # 100 per page
        self.assertEqual(calls.count("GetProducts"), -(-len(with_price) // 100))                # 100 per page
        self.assertIn("DescribeAvailabilityZones", calls)

        after = self.listing("--region", "us-east-1", "--vcpus", "2", "--on-demand")
        self.assertEqual(after["catalog"], self.cache)
        self.assertIn(after["price_date"], days)
        c5 = [t for t in after["instance_types"] if t["instance_type"] == "c5.large"][0]
        self.assertEqual(c5["on_demand_per_hour_usd"], 0.0123)
        self.assertEqual(after["instance_types"][0]["instance_type"], "c5.large", "now the cheapest fitting type")
        spot = self.listing("--region", "us-east-1", "--vcpus", "2", "--spot")
        c5 = [t for t in spot["instance_types"] if t["instance_type"] == "c5.large"][0]
        # Zone ids, not the account's zone names; only the endpoint's three zones (az1..az3) are offered.
        self.assertEqual(c5["spot_per_zone_usd"], {"use1-az1": 0.0011, "use1-az2": 0.0326})

        # The estimate prices with the refreshed catalog and names it.
        with open(os.path.join(self.dir, "job.sbatch"), "w") as f:
            f.write("#!/bin/bash\n#SBATCH -c 2\n#SBATCH --mem=4G\n#SBATCH -t 1:00:00\necho hi\n")
        est = self.spawn("slurm", "estimate", "job.sbatch", "--on-demand", "--region", "us-east-1")
        self.assertEqual(est.returncode, 0, est.stderr)
        self.assertIn("c5.large (2 vCPU, 4 GiB) on-demand in us-east-1 at $0.0123/h", est.stdout)
        self.assertIn(f"prices of {after['price_date']} ({self.cache})", est.stdout)

        # Faithful to the snapshot: the facts of every type read back from DescribeInstanceTypes are the
        # catalog's own, and the on-demand prices are the same except the one AWS changed.
        builtin, refreshed = type_lines(BUILTIN), type_lines(self.cache)
        offered = region_prices(self.cache, "us-east-1")
        self.assertGreater(len(offered), 900)
        for name in offered:
            self.assertEqual(refreshed[name], builtin[name])
        old = region_prices(BUILTIN, "us-east-1")
        changed = [n for n in offered if offered[n][2] != old[n][2]]
        self.assertEqual(changed, ["c5.large"])
        # Other regions are the built-in ones, untouched.
        self.assertEqual(region_prices(self.cache, "eu-west-1"), region_prices(BUILTIN, "eu-west-1"))

    def test_a_second_region_keeps_the_first(self):
        self.ep.offers("us-east-1")["m5.large"]["od"] = 0.0555
        day_before = utc_day()
        self.assertEqual(self.spawn("catalog", "refresh", "--region", "us-east-1").returncode, 0)
        self.ep.offers("eu-west-1")["m5.large"]["od"] = 0.0777
        p = self.spawn("catalog", "refresh", "--region", "eu-west-1")
        self.assertEqual(p.returncode, 0, p.stderr)
        # The endpoint answered each region's calls from that region's data (the request's signing region).
        self.assertEqual({c["region"] for c in self.ep.calls if c["action"] == "DescribeInstanceTypes"},
                         {"us-east-1", "eu-west-1"})
        self.assertEqual(region_prices(self.cache, "us-east-1")["m5.large"][2], "0.0555")
        self.assertEqual(region_prices(self.cache, "eu-west-1")["m5.large"][2], "0.0777")
        with open(self.cache) as f:
            source = [line for line in f if line.startswith("source ")][0]
        days = {day_before, utc_day()}  # the refreshes' dates (two when they ran across midnight UTC)
        m = re.match(r"source refresh eu-west-1=(\S+) us-east-1=(\S+); base built-in ", source)
        self.assertTrue(m and {m.group(1), m.group(2)} <= days, source)
        eu = self.listing("--region", "eu-west-1", "--vcpus", "2", "--mem", "8G", "--on-demand")
        self.assertEqual(eu["instance_types"][0]["instance_type"], "m5.large")
        self.assertEqual(eu["instance_types"][0]["on_demand_per_hour_usd"], 0.0777)

    def test_a_failed_call_is_named_and_nothing_is_written(self):
        self.ep.faults["errors"].append({"action": "DescribeSpotPriceHistory", "status": 403,
                                         "code": "UnauthorizedOperation",
                                         "message": "You are not authorized to perform this operation."})
        p = self.spawn("catalog", "refresh", "--region", "us-east-1")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("spawn: error: catalog refresh: ec2 DescribeSpotPriceHistory (us-east-1): UnauthorizedOperation: "
                      "You are not authorized to perform this operation.", p.stderr)
        self.assertFalse(os.path.exists(self.cache))
        self.assertNotIn(SECRET, p.stderr + p.stdout)
        self.assertEqual(self.listing("--region", "us-east-1")["catalog"], "built-in")

    def test_a_malformed_cache_is_repaired_by_a_refresh(self):
        os.makedirs(os.path.dirname(self.cache))
        with open(self.cache, "w") as f:
            f.write("spawn-catalog 1\nprovider aws\nsnapshot 2099-01-01\ntype c5.large c5 x86_64 2 4096 none 0 - 0 -\n"
                    "price us-east-1 cheap\nend\n")
        bad = self.spawn("catalog", "list")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn('aws-ec2.catalog:5: c5.large in us-east-1: bad on-demand price "cheap"', bad.stderr)
        p = self.spawn("catalog", "refresh")  # the region from AWS_REGION
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("warning: ignoring the cached catalog", p.stderr)
        self.assertEqual(self.listing("--region", "us-east-1")["catalog"], self.cache)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--spawn", required=True)
    args, rest = parser.parse_known_args()
    SPAWN = os.path.abspath(args.spawn)
    unittest.main(argv=[sys.argv[0]] + rest)
