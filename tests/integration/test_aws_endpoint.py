#!/usr/bin/env python3
"""The local EC2+S3+IMDS endpoint (tests/aws_endpoint): states, faults, spot notices, and user data really executed
in a sandbox that cannot switch this machine off. Run by ctest (the --spawn argument is accepted and unused)."""
import base64
import hashlib
import html
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "aws_endpoint"))
import sandbox  # noqa: E402
from endpoint import Config, Endpoint  # noqa: E402


def wait_for(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class EndpointCase(unittest.TestCase):
    def start(self, **config):
        self.dir = tempfile.mkdtemp(prefix="spawn-aws-endpoint-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.ep = Endpoint(Config(**config), self.dir).start()
        self.addCleanup(self.ep.stop)
        return self.ep

    def launch(self, user_data=None, count=1, **extra):
        params = {"Action": "RunInstances", "ImageId": "ami-0a1b2c3d4e5f60718", "InstanceType": "c5.large",
                  "MinCount": str(count), "MaxCount": str(count), "InstanceInitiatedShutdownBehavior": "terminate"}
        if user_data is not None:
            params["UserData"] = base64.b64encode(user_data.encode()).decode()
        params.update(extra)
        with self.ep.lock:
            pass
        self.ep.ec2("RunInstances", params, "AKIDTEST")
        return self.ep.order[-count:]

    def state(self, iid):
        return self.ep.instances[iid].state


class States(EndpointCase):
    def test_lifecycle_spot_notice_and_imds(self):
        # Each state lasts until the test has looked at it: pending, then shutting-down, are released by hand.
        ep = self.start(pending_seconds=3600, shutting_down_seconds=3600)
        [iid] = self.launch(None, 1, **{"InstanceMarketOptions.MarketType": "spot",
                                        "MetadataOptions.HttpTokens": "required", "IamInstanceProfile.Name": "role1"})
        self.assertEqual(self.state(iid), "pending")
        ep.config.pending_seconds = 0.1
        self.assertTrue(wait_for(lambda: self.state(iid) == "running"))
        imds = ep.imds_url(iid)
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(imds + "/latest/meta-data/instance-id")
        self.assertEqual(e.exception.code, 401)  # IMDSv2 required
        token = urllib.request.urlopen(urllib.request.Request(
            imds + "/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})).read()
        get = lambda p: urllib.request.urlopen(urllib.request.Request(imds + p, headers={"X-aws-ec2-metadata-token": token.decode()}))
        self.assertEqual(get("/latest/meta-data/instance-id").read().decode(), iid)
        self.assertEqual(get("/latest/meta-data/ami-launch-index").read(), b"0")
        self.assertEqual(get("/latest/meta-data/iam/security-credentials/").read(), b"role1")
        self.assertIn("AccessKeyId", json.loads(get("/latest/meta-data/iam/security-credentials/role1").read()))
        with self.assertRaises(urllib.error.HTTPError):
            get("/latest/meta-data/spot/instance-action")
        ep.interrupt_spot(iid, notice_seconds=0.3)
        self.assertEqual(json.loads(get("/latest/meta-data/spot/instance-action").read())["action"], "terminate")
        self.assertTrue(wait_for(lambda: self.state(iid) == "shutting-down"))
        self.assertEqual(ep.instances[iid].state_reason[0], "Server.SpotInstanceTermination")
        ep.config.shutting_down_seconds = 0.1
        self.assertTrue(wait_for(lambda: self.state(iid) == "terminated"))

    def test_partial_fill_and_capacity(self):
        ep = self.start()
        ep.add_fault({"type": "partial", "available": 3, "count": 1})
        ids = self.launch(None, 1, MinCount="2", MaxCount="5")
        self.assertEqual(len(ep.reservations[ep.instances[ids[0]].reservation_id]), 3)
        ep.add_fault({"type": "capacity", "instance_type": "c5.large", "zone": "us-east-1a", "count": 1})
        with self.assertRaises(Exception) as e:
            self.launch(None, 1)
        self.assertEqual(e.exception.code, "InsufficientInstanceCapacity")
        self.launch(None, 1, **{"Placement.AvailabilityZone": "us-east-1b"})


class S3Multipart(EndpointCase):
    """Multipart uploads as S3 answers them, and the single-PUT limit."""
    MiB = 1 << 20

    def setUp(self):
        self.ep = self.start()
        os.makedirs(os.path.join(self.dir, "s3", "b"))

    def s3(self, method, key, query=None, body=b"", headers=None):
        return self.ep.s3(method, "/b/" + key, query or {}, headers or {}, body)

    def error(self, *args, **kw):
        from endpoint import AwsError
        with self.assertRaises(AwsError) as e:
            self.s3(*args, **kw)
        return e.exception.code

    def create(self, key="k"):
        status, _, out = self.s3("POST", key, {"uploads": ""})
        self.assertEqual(status, 200)
        return re.search(r"<UploadId>([^<]+)</UploadId>", out.decode()).group(1)

    def part(self, upload_id, number, body, key="k"):
        headers = {"content-md5": base64.b64encode(hashlib.md5(body).digest()).decode()}
        status, hdrs, _ = self.s3("PUT", key, {"partNumber": str(number), "uploadId": upload_id}, body, headers)
        self.assertEqual(status, 200)
        return hdrs["ETag"]

    def complete(self, upload_id, parts, key="k"):
        body = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + "".join(
            f"<Part><ETag>{e}</ETag><PartNumber>{n}</PartNumber></Part>" for n, e in parts) + "</CompleteMultipartUpload>"
        return self.s3("POST", key, {"uploadId": upload_id}, body.encode())

    def test_object_appears_at_complete_with_the_multipart_etag(self):
        a, b = os.urandom(5 * self.MiB), os.urandom(1000)
        upload_id = self.create()
        parts = [(1, self.part(upload_id, 1, a)), (2, self.part(upload_id, 2, b))]
        self.assertEqual(self.error("GET", "k"), "NoSuchKey", "no object before Complete")
        status, _, out = self.complete(upload_id, parts)
        self.assertEqual(status, 200)
        etag = '"%s-2"' % hashlib.md5(hashlib.md5(a).digest() + hashlib.md5(b).digest()).hexdigest()
        self.assertIn(f"<ETag>{etag}</ETag>", html.unescape(out.decode()))
        status, hdrs, data = self.s3("GET", "k")
        self.assertEqual((status, data, hdrs["ETag"]), (200, a + b, etag))
        _, _, listing = self.ep.s3("GET", "/b", {"list-type": "2"}, {}, b"")
        self.assertIn(f"<ETag>{etag}</ETag>", html.unescape(listing.decode()))
        self.assertEqual(self.error("PUT", "k", {"partNumber": "3", "uploadId": upload_id}, b"x"), "NoSuchUpload")
        # A plain PUT over it has the plain MD5 ETag again.
        self.assertEqual(self.s3("PUT", "k", body=b"small")[1]["ETag"], '"%s"' % hashlib.md5(b"small").hexdigest())

    def test_complete_checks_parts_as_s3_does(self):
        small, big = os.urandom(1000), os.urandom(5 * self.MiB)
        upload_id = self.create()
        e1, e2, e3 = self.part(upload_id, 1, small), self.part(upload_id, 2, big), self.part(upload_id, 3, small)
        self.assertEqual(self.error("POST", "k", {"uploadId": upload_id}, b"<CompleteMultipartUpload/>"), "MalformedXML")
        with self.assertRaises(Exception) as e:
            self.complete(upload_id, [(2, e2), (1, e1)])
        self.assertEqual(e.exception.code, "InvalidPartOrder")
        with self.assertRaises(Exception) as e:
            self.complete(upload_id, [(1, e1), (4, e3)])
        self.assertEqual(e.exception.code, "InvalidPart")
        with self.assertRaises(Exception) as e:
            self.complete(upload_id, [(1, e2)])  # another part's ETag
        self.assertEqual(e.exception.code, "InvalidPart")
        with self.assertRaises(Exception) as e:
            self.complete(upload_id, [(1, e1), (2, e2)])  # part 1 is not the last and under 5 MiB
        self.assertEqual(e.exception.code, "EntityTooSmall")
        self.assertEqual(self.complete(upload_id, [(2, e2), (3, e3)])[0], 200)  # a subset, the small one last
        self.assertEqual(self.s3("GET", "k")[2], big + small)
        self.assertEqual(self.error("POST", "k", {"uploadId": upload_id}, b"<x/>"), "NoSuchUpload")

    def test_abort_leaves_nothing_and_bad_requests_are_refused(self):
        upload_id = self.create()
        self.part(upload_id, 1, b"x" * 100)
        self.assertEqual(self.error("PUT", "k", {"partNumber": "10001", "uploadId": upload_id}, b"x"), "InvalidArgument")
        self.assertEqual(self.error("PUT", "k", {"partNumber": "1", "uploadId": upload_id}, b"x",
                                    {"content-md5": "AAAAAAAAAAAAAAAAAAAAAA=="}), "BadDigest")
        self.assertEqual(self.error("PUT", "other", {"partNumber": "1", "uploadId": upload_id}, b"x"), "NoSuchUpload")
        self.assertEqual(self.s3("DELETE", "k", {"uploadId": upload_id})[0], 204)
        self.assertEqual(self.error("DELETE", "k", {"uploadId": upload_id}), "NoSuchUpload")
        self.assertEqual(os.listdir(os.path.join(self.dir, "s3-uploads")), [])
        self.assertEqual(os.listdir(os.path.join(self.dir, "s3", "b")), [])

    def test_single_put_limit_and_an_error_inside_a_200(self):
        self.ep.config.max_put_bytes = 1000
        self.assertEqual(self.s3("PUT", "k", body=b"x" * 1000)[0], 200)
        self.assertEqual(self.error("PUT", "k", body=b"x" * 1001), "EntityTooLarge")
        upload_id = self.create()
        e1 = self.part(upload_id, 1, b"y" * 2000)  # parts are not limited by it
        self.ep.add_fault({"type": "error", "action": "CompleteMultipartUpload", "code": "InternalError", "in_body": True,
                           "count": 1})
        status, _, out = self.complete(upload_id, [(1, e1)])
        self.assertEqual(status, 200)
        self.assertIn("<Error><Code>InternalError</Code>", out.decode())
        self.assertEqual(self.complete(upload_id, [(1, e1)])[0], 200)
        self.assertEqual(self.s3("GET", "k")[2], b"y" * 2000)


@unittest.skipIf(sandbox.available() is not None, f"sandbox unavailable: {sandbox.available()}")
class Sandboxed(EndpointCase):
    @classmethod
    def setUpClass(cls):
        # Before anything runs user data: the shims must be what a sandboxed process sees, and the host untouched.
        lines = sandbox.Sandbox(tempfile.mkdtemp(prefix="spawn-probe-"), "http://127.0.0.1:9/none").probe()
        bad = [l for l in lines if l.startswith(("BAD", "REFUSED"))]
        assert not bad and "done" in lines, f"sandbox probe failed, refusing to run user data: {lines}"
        assert any(l.startswith("ok /usr/sbin/shutdown") or l.startswith("ok /sbin/shutdown") for l in lines) or \
            not os.path.exists("/usr/sbin/shutdown"), lines
        assert "pid1 sh" in lines, lines
        assert sandbox.host_paths_untouched()

    def tearDown(self):
        self.assertTrue(sandbox.host_paths_untouched(), "a shim leaked out of its mount namespace")

    def test_scheduled_shutdown_then_cancel_keeps_running(self):
        # The minute outlasts starting the second shim (a python3) on a loaded machine, so the cancel comes first.
        ep = self.start(pending_seconds=0.05, minute_seconds=3.0, execute_user_data=True)
        [iid] = self.launch("#!/bin/sh\nshutdown -h +1\necho scheduled\nsleep 0.2\nshutdown -c\necho cancelled\n")
        self.assertTrue(wait_for(lambda: (ep.instances[iid].sandbox or None) is not None and
                                 ep.instances[iid].sandbox.status()["user_data_exit_code"] is not None))
        inst = ep.instances[iid]
        self.assertTrue(inst.sandbox.status()["verified"])
        self.assertEqual(inst.sandbox.status()["user_data_exit_code"], 0)
        self.assertEqual([e["command"] for e in inst.power_events], ["shutdown", "shutdown"])
        self.assertIsNone(inst.scheduled_shutdown)
        time.sleep(max(0.0, inst.power_events[0]["at"] + 3.0 + 0.5 - time.time()))  # past when it would have fired
        self.assertEqual(self.state(iid), "running")
        with open(inst.sandbox.status()["console"]) as f:
            self.assertEqual(f.read().splitlines().count("scheduled"), 1)

    def test_scheduled_shutdown_fires_when_not_cancelled(self):
        # Scheduled for a minute of 2 s: long enough for the test to see it scheduled and the instance still up.
        ep = self.start(pending_seconds=0.05, minute_seconds=2.0, shutting_down_seconds=0.05, execute_user_data=True)
        [iid] = self.launch("#!/bin/sh\nshutdown -h +1\nsleep 30\n")
        self.assertTrue(wait_for(lambda: ep.instances[iid].scheduled_shutdown is not None))
        self.assertEqual(self.state(iid), "running")
        self.assertTrue(wait_for(lambda: self.state(iid) == "terminated"))
        self.assertFalse(ep.instances[iid].sandbox.status()["running"])

    def test_poweroff_terminates_and_machine_is_untouched(self):
        ep = self.start(pending_seconds=0.05, shutting_down_seconds=0.1, execute_user_data=True)
        [iid] = self.launch("#!/bin/bash\necho before\napt-get install -y foo\npoweroff\necho after-poweroff\n")
        self.assertTrue(wait_for(lambda: self.state(iid) == "terminated"))
        inst = ep.instances[iid]
        self.assertEqual(inst.state_reason[0], "Client.InstanceInitiatedShutdown")
        self.assertEqual(inst.package_requests, [["apt-get", "install", "-y", "foo"]])
        with open(inst.sandbox.status()["console"]) as f:
            out = f.read()
        self.assertIn("before", out)
        self.assertNotIn("after-poweroff", out)
        self.assertFalse(inst.sandbox.status()["running"])
        with open("/proc/uptime") as f:
            self.assertGreater(float(f.read().split()[0]), 0)  # still here

    def test_stop_behavior_without_terminate(self):
        ep = self.start(pending_seconds=0.05, shutting_down_seconds=0.05, execute_user_data=True)
        [iid] = self.launch("#!/bin/sh\nsystemctl poweroff\n", InstanceInitiatedShutdownBehavior="stop")
        self.assertTrue(wait_for(lambda: self.state(iid) == "stopped"))


if __name__ == "__main__":
    argv = [a for i, a in enumerate(sys.argv) if a != "--spawn" and (i == 0 or sys.argv[i - 1] != "--spawn")]
    unittest.main(argv=argv)
