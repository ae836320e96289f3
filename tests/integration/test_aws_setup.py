#!/usr/bin/env python3
"""`spawn aws setup` against the local EC2+S3+IAM endpoint (tests/aws_endpoint): the bucket (in the region, public
access blocked, encrypted by default, spawn's prefix expiring), a security group with no inbound rule, the instance
role with the instance policy and its instance profile; a second run creates and writes nothing; --dry-run only
reads; the user's own lifecycle rules are kept; `spawn aws policy` allows every call setup makes."""
import argparse
import json
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "aws_endpoint"))
import test_catalog_refresh  # noqa: E402  (its AwsCliCase: endpoint, private HOME, spawn)
from test_catalog_refresh import SECRET  # noqa: E402

BUCKET = "spawn-123456789012-us-east-1"  # the default name: account and region
WRITES = re.compile(r"^(Create|Put|Add|Authorize|Delete|Run|Terminate)")
S3_ACTIONS = {"HeadBucket": "s3:ListBucket", "CreateBucket": "s3:CreateBucket",
              "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock", "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
              "GetBucketEncryption": "s3:GetEncryptionConfiguration", "PutBucketEncryption": "s3:PutEncryptionConfiguration",
              "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
              "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration"}


def s3_operation(call):
    """The S3 operation name of a recorded REST call ("PUT /bucket?lifecycle=" -> PutBucketLifecycleConfiguration)."""
    method, _, path = call["action"].partition(" ")
    query = call.get("query", "")
    for sub, get, put in (("publicAccessBlock", "GetPublicAccessBlock", "PutPublicAccessBlock"),
                          ("encryption", "GetBucketEncryption", "PutBucketEncryption"),
                          ("lifecycle", "GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration")):
        if sub in query:
            return get if method == "GET" else put
    return {"HEAD": "HeadBucket", "PUT": "CreateBucket"}.get(method, method)


class AwsSetup(test_catalog_refresh.AwsCliCase):
    def operations(self, since=0):
        return [s3_operation(c) if c["service"] == "s3" else c["action"] for c in self.ep.calls[since:]]

    def test_creates_what_is_missing_then_nothing(self):
        p = self.spawn("aws", "setup", "--expire-days", "14")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"bucket {BUCKET}: created in us-east-1", p.stdout)
        first = self.operations()
        for op in ("CreateBucket", "PutPublicAccessBlock", "PutBucketEncryption", "PutBucketLifecycleConfiguration",
                   "CreateSecurityGroup", "CreateRole", "PutRolePolicy", "CreateInstanceProfile",
                   "AddRoleToInstanceProfile"):
            self.assertIn(op, first)

        # The bucket's settings as S3 holds them.
        settings = self.ep.bucket_settings[BUCKET]
        block = settings["publicAccessBlock"].decode()
        for name in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"):
            self.assertIn(f"<{name}>true</{name}>", block)
        self.assertIn("<SSEAlgorithm>AES256</SSEAlgorithm>", settings["encryption"].decode())
        lifecycle = settings["lifecycle"].decode()
        self.assertIn("<ID>spawn-expire</ID><Filter><Prefix>spawn/</Prefix></Filter><Status>Enabled</Status>"
                      "<Expiration><Days>14</Days></Expiration>", lifecycle)
        # A security group with no inbound rule (EC2 adds the allow-all outbound rule itself), tagged as spawn's.
        [(gid, group)] = self.ep.security_groups.items()
        self.assertEqual((group["name"], group["vpc"], group["rules"]), ("spawn-instances", "vpc-00000001", []))
        self.assertEqual(group["tags"].get("spawn:managed"), "true")
        # The role EC2 may assume, with exactly the policy `spawn aws policy --for instance` prints.
        role = self.ep.iam_roles["spawn-instance"]
        self.assertEqual(json.loads(role["trust"])["Statement"][0]["Principal"], {"Service": "ec2.amazonaws.com"})
        self.env["SPAWN_AWS_BUCKET"] = BUCKET  # what the config lines below name
        printed = self.spawn("aws", "policy", "--for", "instance")
        del self.env["SPAWN_AWS_BUCKET"]
        self.assertEqual(json.loads(role["policies"]["spawn-instance"]), json.loads(printed.stdout))
        self.assertIn(f"arn:aws:s3:::{BUCKET}/spawn/*", printed.stdout)
        self.assertEqual(self.ep.iam_profiles["spawn-instance"]["roles"], ["spawn-instance"])
        # The config lines to add name all three.
        self.assertIn(f"defaults:\n  aws:\n    bucket: {BUCKET}\n    security_groups: [{gid}]\n"
                      f"    instance_profile: spawn-instance\n", p.stdout)

        # Twice: nothing is created or written, and the same names are printed.
        mark = len(self.ep.calls)
        again = self.spawn("aws", "setup", "--expire-days", "14")
        self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
        second = self.operations(mark)
        self.assertEqual([op for op in second if WRITES.match(op)], [], second)
        self.assertIn(f"bucket {BUCKET}: exists", again.stdout)
        self.assertIn(f"security group spawn-instances: exists ({gid} in vpc-00000001)", again.stdout)
        self.assertIn(f"security_groups: [{gid}]", again.stdout)

        # With the names in the config, it says so; a new expiry replaces spawn's rule only.
        config = os.path.join(self.dir, "spawn.yaml")
        with open(config, "w") as f:
            f.write(f"defaults:\n  aws:\n    bucket: {BUCKET}\n    security_groups: [{gid}]\n"
                    f"    instance_profile: spawn-instance\n")
        third = self.spawn("aws", "setup", "--config", config, "--expire-days", "7")
        self.assertEqual(third.returncode, 0, third.stdout + third.stderr)
        self.assertIn("The config already names them.", third.stdout)
        lifecycle = self.ep.bucket_settings[BUCKET]["lifecycle"].decode()
        self.assertIn("<Days>7</Days>", lifecycle)
        self.assertEqual(lifecycle.count("<Rule>"), 1)

        # `spawn aws policy` (for the user) allows every call setup made.
        user = self.spawn("aws", "policy")
        self.assertEqual(user.returncode, 0, user.stderr)
        actions = {a for st in json.loads(user.stdout)["Statement"] for a in st["Action"]}
        for call in self.ep.calls:
            op = s3_operation(call) if call["service"] == "s3" else call["action"]
            action = S3_ACTIONS.get(op) if call["service"] == "s3" else f"{call['service']}:{op}"
            if action == "sts:GetCallerIdentity":
                continue  # AWS allows it to every principal; no policy can deny it
            self.assertIn(action, actions, op)

    def test_dry_run_only_reads(self):
        p = self.spawn("aws", "setup", "--dry-run")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("dry run: nothing is changed", p.stdout)
        self.assertIn(f"bucket {BUCKET}: missing, would create in us-east-1", p.stdout)
        self.assertIn("role spawn-instance: missing, would create", p.stdout)
        self.assertEqual([op for op in self.operations() if WRITES.match(op)], [])
        self.assertFalse(os.path.isdir(os.path.join(self.dir, "ep", "s3", BUCKET)))
        self.assertEqual((self.ep.security_groups, self.ep.iam_roles, self.ep.iam_profiles), ({}, {}, {}))

    def test_another_region_and_the_users_own_lifecycle_rules(self):
        bucket = "lab-spawn-eu"
        os.makedirs(os.path.join(self.dir, "ep", "s3", bucket))
        # The lab's own rule on the bucket stays; spawn adds its own beside it.
        own = ('<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>lab-archive</ID>'
               "<Filter><Prefix>archive/</Prefix></Filter><Status>Enabled</Status><Transitions/></Rule>"
               "</LifecycleConfiguration>")
        self.ep.bucket_settings[bucket] = {"lifecycle": own.encode()}
        p = self.spawn("aws", "setup", "--region", "eu-west-1", "--bucket", bucket)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"bucket {bucket}: exists", p.stdout)
        self.assertNotIn("CreateBucket", self.operations())
        lifecycle = self.ep.bucket_settings[bucket]["lifecycle"].decode()
        self.assertIn("<ID>lab-archive</ID>", lifecycle)
        self.assertIn("<ID>spawn-expire</ID>", lifecycle)
        # A new bucket in eu-west-1 is created there (the LocationConstraint the endpoint checks against the region).
        q = self.spawn("aws", "setup", "--region", "eu-west-1", "--bucket", "lab-spawn-eu-2")
        self.assertEqual(q.returncode, 0, q.stdout + q.stderr)
        self.assertIn("bucket lab-spawn-eu-2: created in eu-west-1", q.stdout)
        # IAM is global: signed for us-east-1 whatever the region.
        self.assertEqual({c["region"] for c in self.ep.calls if c["service"] == "iam"}, {"us-east-1"})

    def test_a_failed_call_names_itself(self):
        self.ep.faults["errors"].append({"action": "CreateSecurityGroup", "status": 403, "code": "UnauthorizedOperation",
                                         "message": "You are not authorized to perform this operation."})
        p = self.spawn("aws", "setup")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("spawn: error: aws setup: creating security group spawn-instances: ec2 CreateSecurityGroup "
                      "(us-east-1): UnauthorizedOperation", p.stderr)
        self.assertNotIn(SECRET, p.stdout + p.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--spawn", required=True)
    args, rest = parser.parse_known_args()
    test_catalog_refresh.SPAWN = os.path.abspath(args.spawn)
    unittest.main(argv=[sys.argv[0]] + rest)
