#!/usr/bin/env python3
"""`spawn aws list`, `spawn list --aws` and `spawn aws cleanup` against the local EC2 endpoint (tests/aws_endpoint):
strays tagged spawn:managed (as a crashed supervisor leaves them) are listed and terminated, --job narrows to one
job, --dry-run and a missing terminal terminate nothing, and instances spawn did not launch are never touched; the
placement and security groups a dead multi-node job left are deleted once their instances are gone."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "aws_endpoint"))
sys.path.insert(0, HERE)
from endpoint import Config, Endpoint  # noqa: E402
from spawnlib import time_scale, wait_until  # noqa: E402

SPAWN = None
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


class AwsCleanupCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spawn-aws-cleanup-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.ep = Endpoint(Config(pending_seconds=0.1, shutting_down_seconds=0.1, credentials={KEY: SECRET}),
                           os.path.join(self.dir, "ep")).start()
        self.addCleanup(self.ep.stop)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SPAWN_", "SLURM_"))}
        self.env.update(SPAWN_HOME=os.path.join(self.dir, "home"), AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
                        AWS_REGION="us-east-1", AWS_ENDPOINT_URL=self.ep.url, AWS_CONFIG_FILE="/dev/null",
                        AWS_SHARED_CREDENTIALS_FILE="/dev/null", HOME=self.dir)

    def launch(self, count, tags):
        p = {"MinCount": str(count), "MaxCount": str(count), "InstanceType": "c5.large", "ImageId": "ami-0123456789abcdef0"}
        if tags:
            p["TagSpecification.1.ResourceType"] = "instance"
            for n, (k, v) in enumerate(tags.items(), 1):
                p[f"TagSpecification.1.Tag.{n}.Key"] = k
                p[f"TagSpecification.1.Tag.{n}.Value"] = v
        before = set(self.ep.instances)
        self.ep.ec2_run_instances(p, KEY)
        return sorted(set(self.ep.instances) - before)

    def states(self, ids):
        return {i: self.ep.instances[i].state for i in ids}

    def spawn(self, *args):
        return subprocess.run([SPAWN, *args], env=self.env, capture_output=True, text=True, timeout=60 * time_scale(),
                              stdin=subprocess.DEVNULL)

    def wait_terminated(self, ids):
        """Until the endpoint has moved the instances from shutting-down to terminated."""
        wait_until(lambda: set(self.states(ids).values()) == {"terminated"}, 30, 0.02)

    def test_lists_and_cleans_up_only_spawns_instances(self):
        job7 = self.launch(3, {"spawn:managed": "true", "spawn:job": "7", "Name": "spawn-7"})
        job8 = self.launch(2, {"spawn:managed": "true", "spawn:job": "8"})
        other = self.launch(2, {"Name": "not-spawn"}) + self.launch(1, {})

        listed = self.spawn("aws", "list", "--json")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        rows = json.loads(listed.stdout)
        self.assertEqual(sorted(r["id"] for r in rows), sorted(job7 + job8))
        self.assertEqual({r["job"] for r in rows}, {"7", "8"})
        self.assertTrue(all(r["type"] == "c5.large" and r["launch_time"] for r in rows))
        table = self.spawn("list", "--aws")
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("INSTANCE", table.stdout)
        for i in job7 + job8:
            self.assertIn(i, table.stdout)
        for i in other:
            self.assertNotIn(i, table.stdout)

        # No terminal and no --yes: refused, nothing terminated. --dry-run: listed, nothing terminated.
        refused = self.spawn("aws", "cleanup")
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("spawn: error: aws cleanup: would terminate 5 instance(s) in us-east-1; not done: there is no "
                      "terminal to confirm on (pass --yes)", refused.stderr)
        dry = self.spawn("aws", "cleanup", "--dry-run")
        self.assertEqual(dry.returncode, 0, dry.stderr)
        self.assertIn("dry run: would terminate 5 instance(s) in us-east-1", dry.stderr)
        self.assertNotIn("terminated", set(self.states(job7 + job8 + other).values()))
        self.assertNotIn("shutting-down", set(self.states(job7 + job8 + other).values()))

        # --job 7 only, then the rest.
        one = self.spawn("aws", "cleanup", "--job", "7", "--yes")
        self.assertEqual(one.returncode, 0, one.stderr)
        self.assertTrue(all(s in ("shutting-down", "terminated") for s in self.states(job7).values()))
        self.assertTrue(all(s not in ("shutting-down", "terminated") for s in self.states(job8 + other).values()))
        rest = self.spawn("aws", "cleanup", "--yes")
        self.assertEqual(rest.returncode, 0, rest.stderr)
        self.assertIn("terminating 2 instance(s) in us-east-1", rest.stderr)
        self.assertTrue(all(s in ("shutting-down", "terminated") for s in self.states(job7 + job8).values()))
        self.assertTrue(all(s not in ("shutting-down", "terminated") for s in self.states(other).values()))
        # The endpoint saw TerminateInstances only for spawn's instances.
        calls = [c for c in self.ep.calls if "TerminateInstances" in json.dumps(c)]
        self.assertTrue(calls)
        for c in calls:
            for i in other:
                self.assertNotIn(i, json.dumps(c))

        self.wait_terminated(job7 + job8)
        empty = self.spawn("aws", "list")
        self.assertEqual(empty.returncode, 0, empty.stderr)
        self.assertIn("no instances of spawn in us-east-1", empty.stdout)

    def test_cleanup_deletes_a_dead_multi_node_jobs_groups_once_its_instances_are_gone(self):
        # What a supervisor killed during a multi-node job leaves: its tagged placement and security groups and the
        # instances in them; plus groups spawn did not make.
        tags = {"TagSpecification.1.ResourceType": "placement-group", "TagSpecification.1.Tag.1.Key": "spawn:managed",
                "TagSpecification.1.Tag.1.Value": "true", "TagSpecification.1.Tag.2.Key": "spawn:job",
                "TagSpecification.1.Tag.2.Value": "9"}
        self.ep.ec2_create_placement_group({"GroupName": "spawn-9-0.1-ab", "Strategy": "cluster", **tags}, KEY)
        self.ep.ec2_create_placement_group({"GroupName": "theirs", "Strategy": "cluster"}, KEY)
        sg_tags = {k: v.replace("placement-group", "security-group") for k, v in tags.items()}
        self.ep.ec2_create_security_group({"GroupName": "spawn-9-0.1-ab", "GroupDescription": "d", **sg_tags}, KEY)
        self.ep.ec2_create_security_group({"GroupName": "theirs", "GroupDescription": "d"}, KEY)
        [sg] = [g for g, v in self.ep.security_groups.items() if v["name"] == "spawn-9-0.1-ab"]
        ids = self.launch(2, {"spawn:managed": "true", "spawn:job": "9"})
        for i in ids:
            self.ep.instances[i].placement_group = "spawn-9-0.1-ab"
            self.ep.instances[i].security_groups = [sg]

        dry = self.spawn("aws", "cleanup", "--dry-run")
        self.assertIn("dry run: would terminate 2 instance(s) and delete 2 placement/security group(s) in us-east-1",
                      dry.stderr)
        # EC2 refuses while the instances are shutting down; the next cleanup finishes the job. (They stay shutting
        # down until the first cleanup has returned, however long it takes.)
        self.ep.config.shutting_down_seconds = 3600
        first = self.spawn("aws", "cleanup", "--yes")
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn("terminating 2 instance(s) in us-east-1", first.stderr)
        self.assertIn("still in use by instances shutting down: run spawn aws cleanup again", first.stderr)
        self.assertEqual(set(self.states(ids).values()), {"shutting-down"})
        self.ep.config.shutting_down_seconds = 0.1
        self.wait_terminated(ids)
        second = self.spawn("aws", "cleanup", "--yes")
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(sorted(self.ep.placement_groups), ["theirs"])
        self.assertEqual([v["name"] for v in self.ep.security_groups.values()], ["theirs"])
        nothing = self.spawn("aws", "cleanup", "--dry-run")
        self.assertNotIn("would", nothing.stderr)

    def test_policy_allows_every_call_and_the_instance_policy_is_the_prefix_only(self):
        env_bucket = dict(SPAWN_AWS_BUCKET="lab-bucket", SPAWN_AWS_INSTANCE_PROFILE="spawn-node")
        self.env.update(env_bucket)
        p = self.spawn("aws", "policy", "--region", "eu-west-1")
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["Version"], "2012-10-17")
        text = json.dumps(doc)
        for action in ("ec2:RunInstances", "ec2:TerminateInstances", "ec2:DescribeInstances", "ec2:CreateTags",
                       "ec2:CreatePlacementGroup", "ec2:DeletePlacementGroup", "ec2:DescribePlacementGroups",
                       "ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:DeleteSecurityGroup",
                       "ssm:GetParameter", "pricing:GetProducts", "s3:PutObject", "iam:PassRole"):
            self.assertIn(action, text)
        self.assertIn("arn:aws:s3:::lab-bucket/spawn/*", text)
        self.assertIn("arn:aws:ssm:eu-west-1::parameter/aws/service/*", text)
        terminate = [s for s in doc["Statement"] if "ec2:TerminateInstances" in s["Action"]][0]
        self.assertEqual(terminate["Condition"], {"StringEquals": {"ec2:ResourceTag/spawn:managed": "true"}})
        inst = self.spawn("aws", "policy", "--for", "instance")
        self.assertEqual(inst.returncode, 0, inst.stderr)
        self.assertIn("runtime on the instances needs no IAM permission", inst.stderr)
        # What `aws setup` attaches to the instance role: the job's objects under the prefix, nothing else.
        instance = json.loads(inst.stdout)
        self.assertEqual(sorted(a for st in instance["Statement"] for a in st["Action"]),
                         ["s3:GetObject", "s3:ListBucket", "s3:PutObject"])
        self.assertIn("arn:aws:s3:::lab-bucket/spawn/*", json.dumps(instance))


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    parser = argparse.ArgumentParser()
    parser.add_argument("--spawn", default=os.path.join(HERE, "..", "..", "build", "spawn"))
    args, rest = parser.parse_known_args()
    SPAWN = os.path.abspath(args.spawn)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
