#!/usr/bin/env python3
"""A local endpoint that behaves like EC2 + S3 + STS + SSM + Pricing + IAM + per-instance IMDS, for spawn's tests.

Python 3 standard library only. One HTTP port on loopback serves:
  * signed AWS requests (the service is read from the SigV4 credential scope of the Authorization header, which is
    required; signatures are verified when the access key's secret is known, see Config.credentials),
  * IMDS of each instance under /imds/<instance-id>/latest/... (IMDSv2 tokens),
  * a JSON control API under /_spawn/... for tests (faults, spot interruptions, instance inspection).
Instances move pending -> running -> shutting-down -> terminated with configurable delays; with
Config.execute_user_data their user data really runs in a sandbox (sandbox.py) that cannot power off this machine.

Start it from Python (Endpoint(Config(...)).start()) or as a process:
    python3 tests/aws_endpoint/endpoint.py --port 0 --port-file /tmp/port --state-dir /tmp/aws [--config JSON]
"""
import argparse
import base64
import fnmatch
import datetime
import gzip
import hashlib
import hmac
import http.server
import json
import os
import random
import re
import secrets
import shutil
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import catalog  # noqa: E402  (the small instance-type table)

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
ACCOUNT = "123456789012"
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
CAPACITY_CODES = ("InsufficientInstanceCapacity",)


@dataclass
class Config:
    region: str = "us-east-1"
    zones: List[str] = field(default_factory=lambda: ["a", "b", "c"])
    pending_seconds: float = 0.2          # pending -> running
    shutting_down_seconds: float = 0.2    # shutting-down -> terminated (and stopping -> stopped)
    minute_seconds: float = 60.0          # how long "shutdown -h +1" waits (scale down in tests)
    spot_notice_seconds: float = 120.0    # spot notice -> termination (AWS: two minutes)
    run_bucket_capacity: float = 1000.0   # RunInstances token bucket (instances), refill per second
    run_bucket_refill: float = 2.0
    describe_bucket_capacity: float = 100.0  # Describe* request bucket
    describe_bucket_refill: float = 20.0
    page_size_default: int = 1000          # DescribeInstances page size without MaxResults
    credentials: Dict[str, str] = field(default_factory=dict)  # access key -> secret: signatures verified
    verify_signatures: bool = True        # when the secret is known
    require_known_keys: bool = False      # unknown access keys answer AuthFailure
    max_put_bytes: int = 5 << 30          # the largest single PutObject (S3: 5 GiB); above it EntityTooLarge
    # What a real S3 costs per request, for benchmarks and concurrency tests: each S3 request is answered after
    # s3_latency_seconds plus its body's bytes (sent or received) at s3_stream_bytes_per_second (0: no limit), as
    # one connection to S3 carries far less than a link can. Requests on several connections wait side by side.
    s3_latency_seconds: float = 0.0
    s3_stream_bytes_per_second: float = 0.0
    execute_user_data: bool = False       # really run user data in a sandbox (sandbox.py)
    instance_environment: Dict[str, str] = field(default_factory=dict)  # more variables for every sandboxed user data
    private_ip_prefix: str = "127.77"     # instance k gets 127.77.(k//250).(k%250+2): reachable on loopback
    ssm_parameters: Dict[str, str] = field(default_factory=lambda: {
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64": "ami-0a1b2c3d4e5f60718",
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64": "ami-0f1e2d3c4b5a69788",
        "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id":
            "ami-0d1a2b3c4d5e6f708",
        "/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id":
            "ami-0e9d8c7b6a5f4e3d2",
    })


class TokenBucket:
    def __init__(self, capacity, refill, clock=time.monotonic):
        self.capacity, self.refill, self.clock = capacity, refill, clock
        self.tokens, self.stamp = capacity, clock()
        self.lock = threading.Lock()

    def level(self):
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        return self.tokens

    def take_up_to(self, minimum, maximum):
        """Takes between minimum and maximum tokens (as many as there are); 0 when fewer than minimum."""
        with self.lock:
            have = int(self.level())
            if have < minimum:
                return 0
            n = min(have, maximum)
            self.tokens -= n
            return n


class AwsError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def now_iso(offset=0.0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def tag_xml(tags):
    return "<tagSet>" + "".join(
        f"<item><key>{escape(k)}</key><value>{escape(v)}</value></item>" for k, v in tags.items()) + "</tagSet>"


class Instance:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.state = "pending"
        self.state_since = time.monotonic()
        self.state_reason = None            # (code, message)
        self.transition_reason = ""
        self.spot_action = None             # {"action": "terminate", "time": ...}
        self.imds_tokens = set()
        self.scheduled_shutdown = None      # {"action": "poweroff", "at": epoch, "timer": Timer}
        self.power_events = []              # what the sandboxed instance asked for
        self.package_requests = []
        self.sandbox = None                 # sandbox.Sandbox when executing
        self.role_credentials = None

    def public(self):
        return {
            "id": self.id, "state": self.state, "instance_type": self.instance_type, "image_id": self.image_id,
            "launch_index": self.launch_index, "zone": self.zone, "private_ip": self.private_ip, "tags": self.tags,
            "spot": self.spot, "client_token": self.client_token, "reservation_id": self.reservation_id,
            "state_reason": self.state_reason[0] if self.state_reason else None,
            "scheduled_shutdown": None if not self.scheduled_shutdown else
            {k: v for k, v in self.scheduled_shutdown.items() if k != "timer"},
            "power_events": self.power_events, "package_requests": self.package_requests,
            "shutdown_behavior": self.shutdown_behavior, "placement_group": self.placement_group,
            "security_groups": self.security_groups, "efa": self.efa,
            "user_data_bytes": len(self.user_data or b""),
            "sandbox": self.sandbox.status() if self.sandbox else None,
        }


class Endpoint:
    """The simulated AWS account. Thread-safe: one lock guards all state."""

    def __init__(self, config: Optional[Config] = None, state_dir: Optional[str] = None):
        self.config = config or Config()
        self.state_dir = state_dir or os.path.join("/tmp", f"spawn-aws-endpoint-{os.getpid()}-{secrets.token_hex(4)}")
        os.makedirs(os.path.join(self.state_dir, "s3"), exist_ok=True)
        self.lock = threading.RLock()
        self.instances: Dict[str, Instance] = {}
        self.order: List[str] = []
        self.tokens: Dict[str, dict] = {}     # ClientToken -> {"reservation": id, "signature": ...}
        self.reservations: Dict[str, List[str]] = {}
        self.placement_groups: Dict[str, dict] = {}
        self.security_groups: Dict[str, dict] = {}
        self.tags: Dict[str, Dict[str, str]] = {}  # other resources' tags
        self.run_bucket = TokenBucket(self.config.run_bucket_capacity, self.config.run_bucket_refill)
        self.describe_bucket = TokenBucket(self.config.describe_bucket_capacity, self.config.describe_bucket_refill)
        self.faults = {"capacity": [], "partial": [], "throttle": [], "drop": 0, "errors": [], "delay": [], "cut": []}
        self.local = threading.local()  # the region the current request was signed for
        self.region_offers = {}         # region -> type -> prices (catalog.region_offers), see offers()
        self.bucket_settings = {}       # bucket -> subresource -> XML (public access block, encryption, lifecycle)
        self.uploads = {}               # multipart UploadId -> {"bucket", "key", "parts": {number: (md5 hex, size)}}
        self.multipart_etags = {}       # (bucket, key) -> the ETag of an object a multipart upload made
        self.etag_cache = {}            # (inode, mtime ns, size) -> an object file's MD5 ETag
        self.iam_roles = {}             # name -> {"arn", "trust", "policies": {name: document}, "tags"}
        self.iam_profiles = {}          # name -> {"arn", "roles": [names], "tags"}
        self.calls: List[dict] = []           # every AWS call: service, action, access key, status
        self.s3_in_flight = 0                  # S3 requests being answered now (each call records the count it saw)
        self.next_ip = 0
        self.server = None
        self.thread = None
        self.ticker = None
        self.stopping = threading.Event()

    # ----- lifecycle -----
    def start(self, port=0, host="127.0.0.1"):
        endpoint = self

        class Handler(RequestHandler):
            pass
        Handler.endpoint = endpoint
        self.server = ThreadingServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.ticker = threading.Thread(target=self._tick_loop, daemon=True)
        self.ticker.start()
        return self

    def stop(self):
        self.stopping.set()
        with self.lock:
            for inst in self.instances.values():
                if inst.scheduled_shutdown:
                    inst.scheduled_shutdown["timer"].cancel()
                if inst.sandbox:
                    inst.sandbox.kill()
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def imds_url(self, instance_id):
        return f"{self.url}/imds/{instance_id}"

    # ----- state machine -----
    def _tick_loop(self):
        while not self.stopping.wait(0.02):
            self.tick()

    def tick(self):
        to_start = []
        with self.lock:
            now = time.monotonic()
            for inst in self.instances.values():
                age = now - inst.state_since
                if inst.state == "pending" and age >= self.config.pending_seconds:
                    self._set_state(inst, "running")
                    if self.config.execute_user_data and inst.user_data:
                        to_start.append(inst)
                elif inst.state == "shutting-down" and age >= self.config.shutting_down_seconds:
                    self._set_state(inst, "terminated")
                elif inst.state == "stopping" and age >= self.config.shutting_down_seconds:
                    self._set_state(inst, "stopped")
        for inst in to_start:
            self._start_sandbox(inst)

    def _set_state(self, inst, state):
        inst.state = state
        inst.state_since = time.monotonic()

    def power_off(self, instance_id, reason_code, reason_message, stop_behavior=None):
        """The instance powers itself off (or is terminated): its sandbox is killed, state moves on."""
        with self.lock:
            inst = self.instances.get(instance_id)
            if not inst or inst.state in ("shutting-down", "terminated", "stopping", "stopped"):
                return
            if inst.scheduled_shutdown:
                inst.scheduled_shutdown["timer"].cancel()
                inst.scheduled_shutdown = None
            behavior = stop_behavior or inst.shutdown_behavior
            self._set_state(inst, "shutting-down" if behavior == "terminate" else "stopping")
            inst.state_reason = (reason_code, reason_message)
            sandbox = inst.sandbox
        if sandbox:
            sandbox.kill()

    # ----- sandbox (user data really executed) -----
    def _start_sandbox(self, inst):
        import sandbox as sandbox_module
        data = inst.user_data
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        inst.sandbox = sandbox_module.Sandbox(
            root=os.path.join(self.state_dir, "instances", inst.id), control_url=f"{self.url}/_spawn/instances/{inst.id}/power",
            hostname="ip-" + inst.private_ip.replace(".", "-"),
            environment={
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds_url(inst.id),
                "AWS_ENDPOINT_URL": self.url, "AWS_REGION": self.config.region, "AWS_DEFAULT_REGION": self.config.region,
                "SPAWN_SANDBOX_INSTANCE_ID": inst.id, **self.config.instance_environment,
            })
        inst.sandbox.start(data)

    def power_request(self, instance_id, name, args):
        """A shim in the sandbox (shutdown, poweroff, halt, reboot, systemctl, init, apt...) asks for something."""
        with self.lock:
            inst = self.instances.get(instance_id)
            if not inst:
                raise AwsError(404, "NotFound", instance_id)
            inst.power_events.append({"command": name, "args": args, "at": time.time()})
        verb = name
        if name == "systemctl":
            verb = next((a for a in args if not a.startswith("-")), "")
        elif name in ("init", "telinit"):
            verb = {"0": "poweroff", "6": "reboot"}.get(args[0] if args else "", "")
        if name in ("apt", "apt-get", "dnf", "yum", "rpm", "dpkg", "snap", "pip", "pip3"):
            with self.lock:
                inst.package_requests.append([name] + args)
            return {"result": "package request recorded, nothing installed"}
        if verb == "shutdown":
            return self._shutdown_command(inst, args)
        if verb in ("poweroff", "halt"):
            self.power_off(instance_id, "Client.InstanceInitiatedShutdown", "Client.InstanceInitiatedShutdown: "
                           "Instance initiated shutdown")
            return {"result": "powering off"}
        if verb == "reboot":
            with self.lock:
                sandbox = inst.sandbox
            if sandbox:
                sandbox.kill()  # user data is not run again after a reboot, as with cloud-init
            return {"result": "rebooted"}
        return {"result": f"{name} {' '.join(args)}: simulated, nothing done"}

    def _shutdown_command(self, inst, args):
        action, when, cancel = "poweroff", None, False
        for a in args:
            if a in ("-c", "--cancel"):
                cancel = True
            elif a in ("-r", "--reboot"):
                action = "reboot"
            elif a in ("-h", "-P", "--poweroff", "-H", "--halt"):
                action = "poweroff"
            elif a in ("-k",):
                return {"result": "wall message only"}
            elif not a.startswith("-") and when is None:
                when = a
        with self.lock:
            if cancel:
                if inst.scheduled_shutdown:
                    inst.scheduled_shutdown["timer"].cancel()
                    inst.scheduled_shutdown = None
                    return {"result": "cancelled"}
                return {"result": "nothing scheduled"}
            delay_minutes = 1.0 if when is None else None  # systemd's shutdown defaults to +1
            if when in ("now", "+0"):
                delay_minutes = 0.0
            elif when and when.startswith("+"):
                delay_minutes = float(when[1:])
            elif when and re.fullmatch(r"\d{1,2}:\d{2}", when):
                h, m = map(int, when.split(":"))
                now = datetime.datetime.now()
                target = now.replace(hour=h, minute=m, second=0, microsecond=0)
                if target <= now:
                    target += datetime.timedelta(days=1)
                delay_minutes = (target - now).total_seconds() / 60
            if delay_minutes is None:
                return {"result": f"unrecognised time {when}"}
            if inst.scheduled_shutdown:
                inst.scheduled_shutdown["timer"].cancel()
            seconds = delay_minutes * self.config.minute_seconds
            if seconds <= 0:
                inst.scheduled_shutdown = None
            else:
                timer = threading.Timer(seconds, self._scheduled_fire, args=(inst.id, action))
                timer.daemon = True
                inst.scheduled_shutdown = {"action": action, "minutes": delay_minutes, "at": time.time() + seconds,
                                           "timer": timer}
                timer.start()
                return {"result": f"{action} scheduled in {delay_minutes:g} min"}
        return self.power_request(inst.id, action, [])

    def _scheduled_fire(self, instance_id, action):
        with self.lock:
            inst = self.instances.get(instance_id)
            if not inst or not inst.scheduled_shutdown:
                return
            inst.scheduled_shutdown = None
        self.power_request(instance_id, action, ["(scheduled)"])

    # ----- faults -----
    def add_fault(self, fault):
        """fault: {"type": "capacity", "instance_type": t, "zone": z|None, "market": "spot"|"on-demand"|None,
        "count": n|None, "code": c|None (InsufficientInstanceCapacity)} | {"type": "partial", "instance_type": t|None, "available": n, "count": n|None} |
        {"type": "throttle", "action": a|None, "count": n} | {"type": "drop", "count": n} |
        {"type": "error", "action": a, "code": c, "status": s, "count": n} |
        {"type": "delay", "action": a|None, "seconds": s, "count": n}: the call is carried out, then answered late
        (RunInstances: after the instances exist), so a client killed meanwhile never sees the answer. |
        {"type": "cut", "action": "GET /bucket/key"|None, "bytes": b, "count": n}: an S3 GET answered 200 with the
        whole Content-Length but only the first b bytes of the body, then the connection closed."""
        with self.lock:
            kind = fault["type"]
            if kind == "drop":
                self.faults["drop"] += int(fault.get("count", 1))
            else:
                key = {"capacity": "capacity", "partial": "partial", "throttle": "throttle", "error": "errors",
                       "delay": "delay", "cut": "cut"}[kind]
                self.faults[key].append(dict(fault))

    def _consume(self, key, predicate):
        with self.lock:
            for f in self.faults[key]:
                if predicate(f):
                    if f.get("count") is not None:
                        f["count"] -= 1
                        if f["count"] <= 0:
                            self.faults[key].remove(f)
                    return f
        return None

    def interrupt_spot(self, instance_id, notice_seconds=None):
        """Posts a spot interruption notice (IMDS spot/instance-action) and terminates after notice_seconds."""
        notice = self.config.spot_notice_seconds if notice_seconds is None else notice_seconds
        with self.lock:
            inst = self.instances[instance_id]
            inst.spot_action = {"action": "terminate", "time": now_iso(notice)}
        timer = threading.Timer(notice, self.power_off, args=(
            instance_id, "Server.SpotInstanceTermination", "Server.SpotInstanceTermination: Spot instance termination"),
            kwargs={"stop_behavior": "terminate"})
        timer.daemon = True
        timer.start()

    # ----- EC2 -----
    def ec2(self, action, params, access_key):
        handler = getattr(self, "ec2_" + re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower(), None)
        if handler is None:
            raise AwsError(400, "InvalidAction", f"The action {action} is not valid for this web service.")
        fault = self._consume("errors", lambda f: f.get("action") in (None, action))
        if fault:
            raise AwsError(int(fault.get("status", 500)), fault["code"], fault.get("message", fault["code"]))
        if self._consume("throttle", lambda f: f.get("action") in (None, action)):
            raise AwsError(503, "RequestLimitExceeded", "Request limit exceeded.")
        if action.startswith("Describe") and self.describe_bucket.take_up_to(1, 1) == 0:
            raise AwsError(503, "RequestLimitExceeded", "Request limit exceeded.")
        return handler(params, access_key)

    @staticmethod
    def _list(params, prefix):
        out, i = [], 1
        while f"{prefix}.{i}" in params:
            out.append(params[f"{prefix}.{i}"])
            i += 1
        return out

    @staticmethod
    def _structs(params, prefix):
        out, i = [], 1
        while any(k.startswith(f"{prefix}.{i}.") for k in params):
            p = f"{prefix}.{i}."
            out.append({k[len(p):]: v for k, v in params.items() if k.startswith(p)})
            i += 1
        return out

    def _filters(self, params):
        return [(f["Name"], self._list(f, "Value")) for f in self._structs(params, "Filter")]

    def ec2_run_instances(self, p, access_key):
        for required in ("MinCount", "MaxCount"):
            if required not in p:
                raise AwsError(400, "MissingParameter", f"The request must contain the parameter {required}")
        lo, hi = int(p["MinCount"]), int(p["MaxCount"])
        if lo < 1 or hi < lo:
            raise AwsError(400, "InvalidParameterValue", "MinCount must be at least 1 and at most MaxCount")
        itype = p.get("InstanceType", "m1.small")
        if itype not in self.offers(self.request_region()):
            raise AwsError(400, "InvalidParameterValue", f"Invalid value '{itype}' for InstanceType.")
        image = p.get("ImageId", "")
        if not re.fullmatch(r"ami-[0-9a-f]{8,17}", image):
            raise AwsError(400, "InvalidAMIID.Malformed", f'Invalid id: "{image}"')
        # The public AMIs the endpoint's SSM parameters name have an architecture; a mismatch fails as on AWS.
        ami_arch = {v: "arm64" if "arm64" in k else "x86_64" for k, v in self.config.ssm_parameters.items()}.get(image)
        type_arch = catalog.load()[0].get(itype, {}).get("arch")
        if ami_arch and type_arch and ami_arch != type_arch:
            raise AwsError(400, "InvalidParameterValue", f"The architecture '{type_arch}' of the specified instance "
                           f"type does not match the architecture '{ami_arch}' of the specified AMI.")
        token = p.get("ClientToken")
        signature = json.dumps({k: v for k, v in sorted(p.items()) if k not in ("ClientToken",)})
        with self.lock:
            if token and token in self.tokens:
                known = self.tokens[token]
                if known["signature"] != signature:
                    raise AwsError(400, "IdempotentParameterMismatch",
                                   "The client token you have provided is associated with a resource that has "
                                   "different parameters.")
                return self._reservation_xml("RunInstancesResponse", known["reservation"])
        zone = p.get("Placement.AvailabilityZone") or self.config.region + self.config.zones[0]
        if zone not in [self.config.region + z for z in self.config.zones]:
            raise AwsError(400, "InvalidParameterValue", f"Invalid availability zone: [{zone}]")
        spot = p.get("InstanceMarketOptions.MarketType") == "spot"
        market = "spot" if spot else "on-demand"
        group = p.get("Placement.GroupName")
        if group and group not in self.placement_groups:
            raise AwsError(400, "InvalidPlacementGroup.Unknown", f"The Placement Group '{group}' is unknown.")
        capacity = self._consume("capacity", lambda f: f.get("instance_type") in (None, itype) and
                                 f.get("zone") in (None, zone) and f.get("market") in (None, market))
        if capacity:
            code = capacity.get("code", "InsufficientInstanceCapacity")
            raise AwsError(500 if code.startswith("Insufficient") else 400, code,
                           f"We currently do not have sufficient {itype} capacity in the Availability Zone you "
                           f"requested ({zone}). Our system will be working on provisioning additional capacity.")
        partial = self._consume("partial", lambda f: f.get("instance_type") in (None, itype))
        if partial:
            available = int(partial["available"])
            # ignore_min_count: fewer instances than MinCount come back (EC2 promises otherwise; a client must still
            # never run a cohort short).
            if available < lo and partial.get("ignore_min_count"):
                lo = available
            if available < lo:
                raise AwsError(500, "InsufficientInstanceCapacity",
                               f"There is no {itype} capacity for {lo} instances in {zone} (only {available}).")
            hi = min(hi, available)
        granted = self.run_bucket.take_up_to(lo, hi)
        if granted == 0:
            raise AwsError(503, "RequestLimitExceeded", "Request limit exceeded.")
        interfaces = self._structs(p, "NetworkInterface")
        if interfaces and ("SubnetId" in p or "SecurityGroupId.1" in p):
            raise AwsError(400, "InvalidParameterCombination", "Network interfaces and an instance-level subnet ID or "
                           "security groups may not be specified on the same request")
        efa = any(i.get("InterfaceType") == "efa" for i in interfaces)
        if efa and not catalog.load()[0][itype].get("efa"):
            raise AwsError(400, "InvalidParameterCombination", f"EFA interfaces are not supported on {itype}")
        subnet = (interfaces[0].get("SubnetId") if interfaces else p.get("SubnetId")) or "subnet-" + zone[-1] * 8
        groups = self._list(interfaces[0], "SecurityGroupId") if interfaces else self._list(p, "SecurityGroupId")
        user_data = base64.b64decode(p["UserData"]) if p.get("UserData") else None
        tags = {}
        for spec in self._structs(p, "TagSpecification"):
            if spec.get("ResourceType") == "instance":
                for t in self._structs(spec, "Tag"):
                    tags[t["Key"]] = t.get("Value", "")
        with self.lock:
            rid = "r-" + secrets.token_hex(8+ 1)[:17]
            ids = []
            for index in range(granted):
                iid = "i-" + secrets.token_hex(9)[:17]
                n = self.next_ip
                self.next_ip += 1
                inst = Instance(
                    id=iid, instance_type=itype, image_id=image, launch_index=index, zone=zone, reservation_id=rid,
                    client_token=token or "", tags=dict(tags), user_data=user_data, spot=spot,
                    shutdown_behavior=p.get("InstanceInitiatedShutdownBehavior", "stop"), placement_group=group or "",
                    private_ip=f"{self.config.private_ip_prefix}.{n // 250}.{n % 250 + 2}", launch_time=now_iso(),
                    subnet_id=subnet, security_groups=groups, efa=efa,
                    iam_profile=p.get("IamInstanceProfile.Name"), http_tokens=p.get("MetadataOptions.HttpTokens", "optional"),
                    access_key=access_key)
                self.instances[iid] = inst
                self.order.append(iid)
                ids.append(iid)
            self.reservations[rid] = ids
            if token:
                self.tokens[token] = {"reservation": rid, "signature": signature}
        delay = self._consume("delay", lambda f: f.get("action") in (None, "RunInstances"))
        if delay:
            time.sleep(float(delay.get("seconds", 1)))
        return self._reservation_xml("RunInstancesResponse", rid)

    def _instance_xml(self, inst):
        reason = ""
        if inst.state_reason:
            reason = (f"<stateReason><code>{escape(inst.state_reason[0])}</code>"
                      f"<message>{escape(inst.state_reason[1])}</message></stateReason>")
        lifecycle = "<instanceLifecycle>spot</instanceLifecycle>" if inst.spot else ""
        group = f"<groupName>{escape(inst.placement_group)}</groupName>" if inst.placement_group else "<groupName/>"
        profile = (f"<iamInstanceProfile><arn>arn:aws:iam::{ACCOUNT}:instance-profile/{escape(inst.iam_profile)}</arn>"
                   f"<id>AIPA{inst.id[2:14].upper()}</id></iamInstanceProfile>") if inst.iam_profile else ""
        sgs = "".join(f"<item><groupId>{escape(g)}</groupId><groupName>{escape(g)}</groupName></item>"
                      for g in inst.security_groups)
        return (f"<item><instanceId>{inst.id}</instanceId><imageId>{escape(inst.image_id)}</imageId>"
                f"<instanceState><code>{STATE_CODES[inst.state]}</code><name>{inst.state}</name></instanceState>"
                f"<privateDnsName>ip-{inst.private_ip.replace('.', '-')}.ec2.internal</privateDnsName>"
                f"<reason>{escape(inst.transition_reason)}</reason><amiLaunchIndex>{inst.launch_index}</amiLaunchIndex>"
                f"<instanceType>{inst.instance_type}</instanceType><launchTime>{inst.launch_time}</launchTime>"
                f"<placement><availabilityZone>{inst.zone}</availabilityZone>{group}<tenancy>default</tenancy></placement>"
                f"<monitoring><state>disabled</state></monitoring><subnetId>{escape(inst.subnet_id)}</subnetId>"
                f"<vpcId>vpc-00000001</vpcId><privateIpAddress>{inst.private_ip}</privateIpAddress>"
                f"<groupSet>{sgs}</groupSet>{reason}<architecture>{catalog.load()[0][inst.instance_type]['arch']}</architecture>"
                f"<rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/xvda</rootDeviceName>{lifecycle}"
                f"<clientToken>{escape(inst.client_token)}</clientToken>{tag_xml(inst.tags)}{profile}"
                f"<metadataOptions><state>applied</state><httpTokens>{inst.http_tokens}</httpTokens>"
                f"<httpEndpoint>enabled</httpEndpoint></metadataOptions></item>")

    def _reservation_xml(self, root, rid):
        with self.lock:
            items = "".join(self._instance_xml(self.instances[i]) for i in self.reservations[rid])
        return (f'<{root} xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId><reservationId>{rid}</reservationId>'
                f"<ownerId>{ACCOUNT}</ownerId><groupSet/><instancesSet>{items}</instancesSet></{root}>")

    def _match(self, inst, filters):
        for name, values in filters:
            if name.startswith("tag:"):
                actual = inst.tags.get(name[4:])
            else:
                actual = {"instance-state-name": inst.state, "instance-type": inst.instance_type,
                          "instance-id": inst.id, "availability-zone": inst.zone, "reservation-id": inst.reservation_id,
                          "client-token": inst.client_token, "image-id": inst.image_id,
                          "instance-lifecycle": "spot" if inst.spot else None,
                          "placement-group-name": inst.placement_group or None,
                          "private-ip-address": inst.private_ip}.get(name, "__unsupported__")
                if actual == "__unsupported__":
                    if name == "tag-key":
                        if not any(v in inst.tags for v in values):
                            return False
                        continue
                    raise AwsError(400, "InvalidParameterValue", f"The filter '{name}' is invalid")
            if actual is None or not any(re.fullmatch(re.escape(v).replace(r"\*", ".*").replace(r"\?", "."), actual)
                                         for v in values):
                return False
        return True

    def ec2_describe_instances(self, p, access_key):
        ids = self._list(p, "InstanceId")
        if ids and "MaxResults" in p:
            raise AwsError(400, "InvalidParameterCombination",
                           "The parameter instancesSet cannot be used with the parameter maxResults")
        filters = self._filters(p)
        with self.lock:
            for i in ids:
                if not re.fullmatch(r"i-[0-9a-f]{8,17}", i):
                    raise AwsError(400, "InvalidInstanceID.Malformed", f'Invalid id: "{i}"')
                if i not in self.instances:
                    raise AwsError(400, "InvalidInstanceID.NotFound", f"The instance ID '{i}' does not exist")
            chosen = [self.instances[i] for i in (ids or self.order) if self._match(self.instances[i], filters)]
            size = int(p.get("MaxResults", self.config.page_size_default))
            if not ids and not 5 <= size <= 1000:
                raise AwsError(400, "InvalidParameterValue", "Value for parameter maxResults is invalid. "
                               "Expecting a value greater than 5 and less than 1000.")
            start = int(base64.b64decode(p["NextToken"]).decode()) if p.get("NextToken") else 0
            page = chosen[start:start + size] if not ids else chosen
            next_token = base64.b64encode(str(start + size).encode()).decode() if not ids and start + size < len(chosen) else ""
            groups, current = [], None
            for inst in page:
                if current is None or current[0] != inst.reservation_id:
                    current = (inst.reservation_id, [])
                    groups.append(current)
                current[1].append(inst)
            body = "".join(
                f"<item><reservationId>{rid}</reservationId><ownerId>{ACCOUNT}</ownerId><groupSet/>"
                f"<instancesSet>{''.join(self._instance_xml(i) for i in insts)}</instancesSet></item>" for rid, insts in groups)
        token_xml = f"<nextToken>{next_token}</nextToken>" if next_token else ""
        return (f'<DescribeInstancesResponse xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId>'
                f"<reservationSet>{body}</reservationSet>{token_xml}</DescribeInstancesResponse>")

    def ec2_terminate_instances(self, p, access_key):
        ids = self._list(p, "InstanceId")
        if not ids:
            raise AwsError(400, "MissingParameter", "The request must contain the parameter InstanceId")
        with self.lock:
            missing = [i for i in ids if i not in self.instances]
            if missing:
                raise AwsError(400, "InvalidInstanceID.NotFound", f"The instance IDs '{', '.join(missing)}' do not exist")
            previous = {i: self.instances[i].state for i in ids}
        for i in ids:
            self.power_off(i, "Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown",
                           stop_behavior="terminate")
        with self.lock:
            items = "".join(
                f"<item><instanceId>{i}</instanceId><currentState><code>{STATE_CODES[self.instances[i].state]}</code>"
                f"<name>{self.instances[i].state}</name></currentState><previousState><code>{STATE_CODES[previous[i]]}"
                f"</code><name>{previous[i]}</name></previousState></item>" for i in ids)
        return (f'<TerminateInstancesResponse xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId>'
                f"<instancesSet>{items}</instancesSet></TerminateInstancesResponse>")

    def ec2_create_tags(self, p, access_key):
        ids = self._list(p, "ResourceId")
        tags = {t["Key"]: t.get("Value", "") for t in self._structs(p, "Tag")}
        with self.lock:
            for i in ids:
                if i.startswith("i-"):
                    if i not in self.instances:
                        raise AwsError(400, "InvalidInstanceID.NotFound", f"The instance ID '{i}' does not exist")
                    self.instances[i].tags.update(tags)
                else:
                    self.tags.setdefault(i, {}).update(tags)
        return f'<CreateTagsResponse xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId><return>true</return></CreateTagsResponse>'

    def _paged(self, root, set_name, items, p, default_size=100):
        size = int(p.get("MaxResults", default_size))
        start = int(base64.b64decode(p["NextToken"]).decode()) if p.get("NextToken") else 0
        page = items[start:start + size]
        token = base64.b64encode(str(start + size).encode()).decode() if start + size < len(items) else ""
        token_xml = f"<nextToken>{token}</nextToken>" if token else ""
        return (f'<{root} xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId><{set_name}>{"".join(page)}</{set_name}>'
                f"{token_xml}</{root}>")

    # ----- The catalog calls (DescribeInstanceTypes, DescribeAvailabilityZones, DescribeSpotPriceHistory; the
    # Price List below): answered per request region from spawn's catalog file (catalog.load()); tests change
    # prices through self.offers(region). -----
    def request_region(self):
        return getattr(self.local, "region", None) or self.config.region

    def offers(self, region=None):
        region = region or self.config.region
        with self.lock:
            if region not in self.region_offers:
                self.region_offers[region] = catalog.region_offers(region)
            return self.region_offers[region]

    def zone_ids(self, region):
        prefix = catalog.zone_prefix(region)
        return {region + z: f"{prefix}-az{ord(z) - ord('a') + 1}" for z in self.config.zones}

    @staticmethod
    def _max_results(p, low, high, default):
        if "MaxResults" not in p:
            return default
        n = int(p["MaxResults"])
        if not low <= n <= high:
            raise AwsError(400, "InvalidParameterValue", f"MaxResults must be between {low} and {high}, got {n}")
        return n

    def ec2_describe_instance_types(self, p, access_key):
        region = self.request_region()
        offered = self.offers(region)
        facts = catalog.load()[0]
        names = self._list(p, "InstanceType")
        for n in names:
            if n not in offered:
                raise AwsError(400, "InvalidInstanceType", f"The following supplied instance types do not exist: [{n}]")
        names = names or sorted(offered)
        checks = {
            "current-generation": lambda t, v: str(t["current"]).lower() in v,
            "instance-type": lambda t, v: any(fnmatch.fnmatchcase(t["name"], x) for x in v),
            "processor-info.supported-architecture": lambda t, v: t["arch"] in v,
            "burstable-performance-supported": lambda t, v: str(t["burstable"]).lower() in v,
        }
        filters = self._filters(p)
        for f, _ in filters:
            if f not in checks:
                raise AwsError(400, "InvalidParameterValue", f"The filter '{f}' is invalid")
        items = [catalog.type_xml(n) for n in names
                 if all(checks[f](dict(facts[n], name=n), v) for f, v in filters)]
        return self._paged("DescribeInstanceTypesResponse", "instanceTypeSet", items, p,
                           self._max_results(p, 5, 100, 100))

    def ec2_describe_availability_zones(self, p, access_key):
        region = self.request_region()
        items = "".join(f"<item><zoneName>{name}</zoneName><zoneState>available</zoneState><regionName>{region}"
                        f"</regionName><zoneId>{zid}</zoneId><zoneType>availability-zone</zoneType></item>"
                        for name, zid in self.zone_ids(region).items())
        return (f'<DescribeAvailabilityZonesResponse xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId>'
                f"<availabilityZoneInfo>{items}</availabilityZoneInfo></DescribeAvailabilityZonesResponse>")

    def ec2_describe_spot_price_history(self, p, access_key):
        """The price in effect at StartTime (default now) per type, zone and product, and every change after it:
        each zone's price changed two hours ago, so a StartTime before that also returns the older price."""
        region = self.request_region()
        offered = self.offers(region)
        filters = dict(self._filters(p))
        types = self._list(p, "InstanceType") or filters.get("instance-type") or sorted(offered)
        products = self._list(p, "ProductDescription") or filters.get("product-description") or \
            ["Linux/UNIX", "Windows"]
        zones = self.zone_ids(region)
        wanted_zones = [p["AvailabilityZone"]] if p.get("AvailabilityZone") else \
            filters.get("availability-zone") or list(zones)
        start = p.get("StartTime")
        now = datetime.datetime.now(datetime.timezone.utc)
        changed = now - datetime.timedelta(hours=2)
        since = datetime.datetime.strptime(start[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc) if start else now
        items = []
        for n in types:
            if n not in offered:
                continue
            for zone in wanted_zones:
                price = offered[n]["spot"].get(zones.get(zone, ""))
                if price is None:
                    continue
                for product in products:
                    if product not in ("Linux/UNIX", "Windows"):
                        continue
                    current = price if product == "Linux/UNIX" else price + 0.046 * max(1, offered[n]["od"] or 1)
                    history = [(changed, current)]
                    if since < changed:
                        history.append((changed - datetime.timedelta(days=1), current * 1.25))
                    for stamp, value in history:
                        items.append(f"<item><instanceType>{n}</instanceType><productDescription>{product}"
                                     f"</productDescription><spotPrice>{value:.6f}</spotPrice><timestamp>"
                                     f"{stamp.strftime('%Y-%m-%dT%H:%M:%S.000Z')}</timestamp><availabilityZone>{zone}"
                                     f"</availabilityZone></item>")
        return self._paged("DescribeSpotPriceHistoryResponse", "spotPriceHistorySet", items, p,
                           self._max_results(p, 5, 1000, 1000))

    def ec2_create_placement_group(self, p, access_key):
        name = p.get("GroupName", "")
        with self.lock:
            if name in self.placement_groups:
                raise AwsError(400, "InvalidPlacementGroup.Duplicate", f"The Placement Group '{name}' already exists.")
            tags = {}
            for spec in self._structs(p, "TagSpecification"):
                tags.update({t["Key"]: t.get("Value", "") for t in self._structs(spec, "Tag")})
            self.placement_groups[name] = {"strategy": p.get("Strategy", "cluster"), "tags": tags}
        return (f'<CreatePlacementGroupResponse xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId><return>true</return>'
                f"<placementGroup><groupName>{escape(name)}</groupName><state>available</state>"
                f"<strategy>{escape(p.get('Strategy', 'cluster'))}</strategy></placementGroup></CreatePlacementGroupResponse>")

    def ec2_delete_placement_group(self, p, access_key):
        name = p.get("GroupName", "")
        with self.lock:
            if name not in self.placement_groups:
                raise AwsError(400, "InvalidPlacementGroup.Unknown", f"The Placement Group '{name}' is unknown.")
            if any(i.placement_group == name and i.state != "terminated" for i in self.instances.values()):
                raise AwsError(400, "InvalidPlacementGroup.InUse", f"The Placement Group '{name}' is in use.")
            del self.placement_groups[name]
        return f'<DeletePlacementGroupResponse xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId><return>true</return></DeletePlacementGroupResponse>'

    def ec2_describe_placement_groups(self, p, access_key):
        names = self._list(p, "GroupName")
        filters = self._filters(p)
        with self.lock:
            for n in names:
                if n not in self.placement_groups:
                    raise AwsError(400, "InvalidPlacementGroup.Unknown", f"The Placement Group '{n}' is unknown.")
            items = []
            for name, g in self.placement_groups.items():
                if names and name not in names:
                    continue
                if not self._match_tags(g["tags"], filters, {"group-name": name, "strategy": g["strategy"],
                                                             "state": "available"}):
                    continue
                items.append(f"<item><groupName>{escape(name)}</groupName><strategy>{escape(g['strategy'])}</strategy>"
                             f"<state>available</state>{tag_xml(g['tags'])}</item>")
        return (f'<DescribePlacementGroupsResponse xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId>'
                f"<placementGroupSet>{''.join(items)}</placementGroupSet></DescribePlacementGroupsResponse>")

    @staticmethod
    def _match_tags(tags, filters, fields):
        """Filters on a resource other than an instance: tag:KEY, tag-key and the given fields."""
        for name, values in filters:
            if name.startswith("tag:"):
                actual = tags.get(name[4:])
            elif name == "tag-key":
                if not any(v in tags for v in values):
                    return False
                continue
            elif name in fields:
                actual = fields[name]
            else:
                raise AwsError(400, "InvalidParameterValue", f"The filter '{name}' is invalid")
            if actual is None or actual not in values:
                return False
        return True

    def ec2_delete_security_group(self, p, access_key):
        gid = p.get("GroupId", "")
        with self.lock:
            if gid not in self.security_groups:
                raise AwsError(400, "InvalidGroup.NotFound", f"The security group '{gid}' does not exist")
            if any(gid in i.security_groups and i.state != "terminated" for i in self.instances.values()):
                raise AwsError(400, "DependencyViolation", f"resource {gid} has a dependent object")
            del self.security_groups[gid]
        return f'<DeleteSecurityGroupResponse xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId><return>true</return></DeleteSecurityGroupResponse>'

    def ec2_create_security_group(self, p, access_key):
        name = p.get("GroupName", "")
        with self.lock:
            if any(g["name"] == name for g in self.security_groups.values()):
                raise AwsError(400, "InvalidGroup.Duplicate", f"The security group '{name}' already exists for VPC "
                               f"'{p.get('VpcId', 'vpc-00000001')}'")
            gid = "sg-" + secrets.token_hex(9)[:17]
            tags = {}
            for spec in self._structs(p, "TagSpecification"):
                tags.update({t["Key"]: t.get("Value", "") for t in self._structs(spec, "Tag")})
            self.security_groups[gid] = {"name": name, "description": p.get("GroupDescription", ""),
                                         "vpc": p.get("VpcId", "vpc-00000001"), "rules": [], "tags": tags}
        return (f'<CreateSecurityGroupResponse xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId><return>true</return>'
                f"<groupId>{gid}</groupId></CreateSecurityGroupResponse>")

    def ec2_authorize_security_group_ingress(self, p, access_key):
        gid = p.get("GroupId", "")
        with self.lock:
            if gid not in self.security_groups:
                raise AwsError(400, "InvalidGroup.NotFound", f"The security group '{gid}' does not exist")
            rules = self._structs(p, "IpPermissions")
            for r in rules:
                if r in self.security_groups[gid]["rules"]:
                    raise AwsError(400, "InvalidPermission.Duplicate", "the specified rule already exists")
            self.security_groups[gid]["rules"].extend(rules)
        return f'<AuthorizeSecurityGroupIngressResponse xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId><return>true</return></AuthorizeSecurityGroupIngressResponse>'

    def ec2_describe_security_groups(self, p, access_key):
        ids = self._list(p, "GroupId")
        filters = self._filters(p)
        with self.lock:
            for i in ids:
                if i not in self.security_groups:
                    raise AwsError(400, "InvalidGroup.NotFound", f"The security group '{i}' does not exist")
            items = [
                f"<item><ownerId>{ACCOUNT}</ownerId><groupId>{gid}</groupId><groupName>{escape(g['name'])}</groupName>"
                f"<groupDescription>{escape(g['description'])}</groupDescription><vpcId>{g['vpc']}</vpcId>"
                f"<ipPermissions/>{tag_xml(g['tags'])}</item>"
                for gid, g in self.security_groups.items()
                if (not ids or gid in ids) and self._match_tags(g["tags"], filters, {"group-name": g["name"], "group-id": gid,
                                                                                       "vpc-id": g["vpc"]})]
        return self._paged("DescribeSecurityGroupsResponse", "securityGroupInfo", items, p, 1000)

    def ec2_describe_subnets(self, p, access_key):
        ids = self._list(p, "SubnetId")
        items = []
        for k, z in enumerate(self.config.zones):
            sid = "subnet-" + z * 8
            if ids and sid not in ids:
                continue
            items.append(f"<item><subnetId>{sid}</subnetId><state>available</state><vpcId>vpc-00000001</vpcId>"
                         f"<cidrBlock>172.31.{16 * k}.0/20</cidrBlock><availableIpAddressCount>4091</availableIpAddressCount>"
                         f"<availabilityZone>{self.config.region}{z}</availabilityZone><availabilityZoneId>use1-az{k + 1}"
                         f"</availabilityZoneId><defaultForAz>true</defaultForAz><mapPublicIpOnLaunch>true"
                         f"</mapPublicIpOnLaunch></item>")
        return self._paged("DescribeSubnetsResponse", "subnetSet", items, p, 1000)

    def ec2_describe_vpcs(self, p, access_key):
        items = ["<item><vpcId>vpc-00000001</vpcId><state>available</state><cidrBlock>172.31.0.0/16</cidrBlock>"
                 "<isDefault>true</isDefault></item>"]
        ids = self._list(p, "VpcId")
        if ids and "vpc-00000001" not in ids:
            raise AwsError(400, "InvalidVpcID.NotFound", f"The vpc ID '{ids[0]}' does not exist")
        return self._paged("DescribeVpcsResponse", "vpcSet", items, p, 1000)

    # ----- S3 (path-style) -----
    def _bucket_dir(self, bucket):
        return os.path.join(self.state_dir, "s3", bucket)

    def _object_path(self, bucket, key):
        return os.path.join(self._bucket_dir(bucket), urllib.parse.quote(key, safe=""))

    BUCKET_SETTINGS = {  # subresource -> (root element of its document, error code when the bucket has none)
        "publicAccessBlock": ("PublicAccessBlockConfiguration", "NoSuchPublicAccessBlockConfiguration"),
        "encryption": ("ServerSideEncryptionConfiguration", "ServerSideEncryptionConfigurationNotFoundError"),
        "lifecycle": ("LifecycleConfiguration", "NoSuchLifecycleConfiguration"),
    }

    def _bucket_setting(self, bucket, bdir, method, settings, headers, body):
        """HeadBucket, and Get/Put of the bucket's public access block, default encryption and lifecycle."""
        if not os.path.isdir(bdir):
            raise AwsError(404, "NoSuchBucket", "The specified bucket does not exist")
        if method == "HEAD":
            return 200, {"x-amz-bucket-region": self.request_region()}, b""
        [name] = settings
        root, missing = self.BUCKET_SETTINGS[name]
        stored = self.bucket_settings.setdefault(bucket, {})
        if method == "GET":
            if name not in stored:
                raise AwsError(404, missing, f"The {name} configuration was not found")
            return 200, {"Content-Type": "application/xml"}, stored[name]
        if method == "PUT":
            if not headers.get("content-md5") and not any(h.startswith("x-amz-checksum-") for h in headers):
                raise AwsError(400, "InvalidRequest", "Missing required header for this request: Content-MD5")
            if base64.b64encode(hashlib.md5(body).digest()).decode() != headers.get("content-md5", ""):
                raise AwsError(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
            if not re.match(rf"\s*(<\?xml[^>]*>\s*)?<{root}[\s>]", body.decode()):
                raise AwsError(400, "MalformedXML", f"The XML you provided was not well-formed: expected <{root}>")
            stored[name] = body
            return 200, {}, b""
        raise AwsError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")

    def s3(self, method, path, query, headers, body):
        parts = path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        if not bucket:
            raise AwsError(400, "InvalidRequest", "path-style requests only: /bucket/key")
        bdir = self._bucket_dir(bucket)
        settings = [q for q in ("publicAccessBlock", "encryption", "lifecycle") if q in query]
        if not key and (settings or method == "HEAD"):
            return self._bucket_setting(bucket, bdir, method, settings, headers, body)
        if method == "PUT" and not key:
            region = self.request_region()
            constraint = re.search(r"<LocationConstraint>([^<]*)</LocationConstraint>", body.decode() if body else "")
            if (constraint.group(1) if constraint else "us-east-1") != region:
                raise AwsError(400, "IllegalLocationConstraintException", f"The {constraint.group(1) if constraint else 'unspecified'} "
                               f"location constraint is incompatible for the region specific endpoint this request was sent to.")
            if os.path.isdir(bdir):
                raise AwsError(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
            os.makedirs(bdir)
            return 200, {"Location": "/" + bucket}, b""
        if not os.path.isdir(bdir):
            raise AwsError(404, "NoSuchBucket", "The specified bucket does not exist")
        operation = self.s3_operation(method, key, query)
        fault = self._consume("errors", lambda f: f.get("action") == operation)
        if fault and not fault.get("in_body"):
            raise AwsError(int(fault.get("status", 500)), fault["code"], fault.get("message", fault["code"]))
        if operation in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload"):
            return self._multipart(operation, bucket, key, query, headers, body, fault)
        if method == "PUT":
            if len(body) > self.config.max_put_bytes:
                raise AwsError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
            if headers.get("content-md5") and base64.b64encode(hashlib.md5(body).digest()).decode() != headers["content-md5"]:
                raise AwsError(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
            self._store(bucket, key, [body])
            return 200, {"ETag": f'"{hashlib.md5(body).hexdigest()}"'}, b""
        if method in ("GET", "HEAD") and key:
            fp = self._object_path(bucket, key)
            try:
                f = open(fp, "rb")
            except (FileNotFoundError, IsADirectoryError):
                raise AwsError(404, "NoSuchKey", "The specified key does not exist.")
            with f:  # the object as it was opened (a replacement is a rename: this one stays whole)
                stat = os.fstat(f.fileno())
                size = stat.st_size
                etag = self._etag(bucket, key, f, stat)
                mtime = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.timezone.utc)
                hdrs = {"ETag": etag, "Last-Modified": mtime.strftime("%a, %d %b %Y %H:%M:%S GMT"),
                        "Content-Type": "application/octet-stream", "Content-Length": str(size)}
                if headers.get("if-match") and headers["if-match"] not in ("*", etag):
                    raise AwsError(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
                ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", headers.get("range", ""))
                if ranged and method == "GET":  # one byte range, as S3: 206 with Content-Range, 416 past the end
                    first = int(ranged.group(1))
                    last = min(int(ranged.group(2)), size - 1) if ranged.group(2) else size - 1
                    if first >= size or last < first:
                        raise AwsError(416, "InvalidRange", "The requested range is not satisfiable")
                    hdrs.update({"Content-Range": f"bytes {first}-{last}/{size}", "Content-Length": str(last - first + 1)})
                    f.seek(first)
                    return 206, hdrs, f.read(last - first + 1)
                return 200, hdrs, (f.read() if method == "GET" else b"")
        if method == "GET" and query.get("list-type") == "2":
            return 200, {"Content-Type": "application/xml"}, self._list_objects(bucket, query).encode()
        if method == "POST" and "delete" in query:
            return 200, {"Content-Type": "application/xml"}, self._delete_objects(bucket, headers, body).encode()
        if method == "DELETE" and key:
            self._remove(bucket, key)
            return 204, {}, b""
        raise AwsError(501, "NotImplemented", f"{method} {path} is not implemented by the local endpoint")

    @staticmethod
    def s3_operation(method, key, query):
        """The S3 operation a request on an existing bucket is (the names botocore's model gives them)."""
        if key and method == "POST" and "uploads" in query:
            return "CreateMultipartUpload"
        if key and "uploadId" in query:
            return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload",
                    "GET": "ListParts"}.get(method, method)
        if key:
            return {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        return "ListObjectsV2" if method == "GET" else method

    def _store(self, bucket, key, chunks, etag=None):
        """Writes the object atomically from chunks (bytes or file paths); etag: a multipart object's own."""
        fp = self._object_path(bucket, key)
        tmp = fp + ".part-" + secrets.token_hex(4)
        with open(tmp, "wb") as f:
            for c in chunks:
                if isinstance(c, bytes):
                    f.write(c)
                else:
                    with open(c, "rb") as part:
                        shutil.copyfileobj(part, f, 1 << 20)
        with self.lock:
            os.replace(tmp, fp)
            if etag:
                self.multipart_etags[(bucket, key)] = etag
            else:
                self.multipart_etags.pop((bucket, key), None)

    def _remove(self, bucket, key):
        with self.lock:
            fp = self._object_path(bucket, key)
            if os.path.isfile(fp):
                os.remove(fp)
            self.multipart_etags.pop((bucket, key), None)

    def _etag(self, bucket, key, f, stat):
        """The object's ETag: a multipart upload's own, else the MD5 of the open file f (kept per inode and mtime,
        so ranged GETs of a large object do not hash it whole each time)."""
        with self.lock:
            etag = self.multipart_etags.get((bucket, key))
            cached = self.etag_cache.get((stat.st_ino, stat.st_mtime_ns, stat.st_size))
        if etag or cached:
            return etag or cached
        md5 = hashlib.md5()
        for block in iter(lambda: f.read(1 << 20), b""):
            md5.update(block)
        f.seek(0)
        with self.lock:
            self.etag_cache[(stat.st_ino, stat.st_mtime_ns, stat.st_size)] = f'"{md5.hexdigest()}"'
        return f'"{md5.hexdigest()}"'

    def _upload_dir(self, upload_id):
        return os.path.join(self.state_dir, "s3-uploads", upload_id)

    MIN_PART_BYTES = 5 << 20     # every part but the last (S3's EntityTooSmall)
    MAX_PART_BYTES = 5 << 30
    MAX_PARTS = 10000

    def _multipart(self, operation, bucket, key, query, headers, body, fault):
        """CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload as S3 answers them: the
        object appears only at Complete, with the ETag "<md5 of the parts' binary md5s>-<count>"."""
        import xml.etree.ElementTree as ET
        if operation == "CreateMultipartUpload":
            upload_id = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=")
            os.makedirs(self._upload_dir(upload_id))
            with self.lock:
                self.uploads[upload_id] = {"bucket": bucket, "key": key, "parts": {}}
            return 200, {"Content-Type": "application/xml"}, (
                f'<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult xmlns="{S3_NS}"><Bucket>'
                f"{escape(bucket)}</Bucket><Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId>"
                f"</InitiateMultipartUploadResult>").encode()
        upload_id = query.get("uploadId", "")
        with self.lock:
            upload = self.uploads.get(upload_id)
        if upload is None or upload["bucket"] != bucket or upload["key"] != key:
            raise AwsError(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, "
                           "or the upload may have been aborted or completed.")
        if operation == "AbortMultipartUpload":
            with self.lock:
                self.uploads.pop(upload_id, None)
            shutil.rmtree(self._upload_dir(upload_id), True)
            return 204, {}, b""
        if operation == "UploadPart":
            number = int(query.get("partNumber", "0")) if query.get("partNumber", "").isdigit() else 0
            if not 1 <= number <= self.MAX_PARTS:
                raise AwsError(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
            if len(body) > self.MAX_PART_BYTES:
                raise AwsError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
            if headers.get("content-md5") and base64.b64encode(hashlib.md5(body).digest()).decode() != headers["content-md5"]:
                raise AwsError(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
            md5 = hashlib.md5(body).hexdigest()
            tmp = os.path.join(self._upload_dir(upload_id), f"{number}.tmp-{secrets.token_hex(4)}")
            with open(tmp, "wb") as f:
                f.write(body)
            os.replace(tmp, os.path.join(self._upload_dir(upload_id), str(number)))
            with self.lock:
                upload["parts"][number] = (md5, len(body))
            return 200, {"ETag": f'"{md5}"'}, b""
        # CompleteMultipartUpload
        if fault:  # S3 may answer 200 and put the failure in the body
            return 200, {"Content-Type": "application/xml"}, (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(fault["code"])}</Code><Message>'
                f'{escape(fault.get("message", fault["code"]))}</Message><RequestId>{secrets.token_hex(8).upper()}'
                f"</RequestId></Error>").encode()
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise AwsError(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against "
                           "our published schema")
        listed = []
        for part in root.iter():
            if part.tag.split("}")[-1] != "Part":
                continue
            fields = {child.tag.split("}")[-1]: (child.text or "").strip() for child in part}
            if not fields.get("PartNumber", "").isdigit() or "ETag" not in fields:
                raise AwsError(400, "MalformedXML", "The XML you provided was not well-formed or did not validate "
                               "against our published schema")
            listed.append((int(fields["PartNumber"]), fields["ETag"].strip('"')))
        if not listed:
            raise AwsError(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against "
                           "our published schema")
        numbers = [n for n, _ in listed]
        if numbers != sorted(set(numbers)):
            raise AwsError(400, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must "
                           "be specified in order by part number.")
        with self.lock:
            stored = dict(upload["parts"])
        for n, etag in listed:
            if n not in stored or stored[n][0] != etag:
                raise AwsError(400, "InvalidPart", "One or more of the specified parts could not be found. The part "
                               "may not have been uploaded, or the specified entity tag may not match the part's "
                               "entity tag.")
        for n, _ in listed[:-1]:
            if stored[n][1] < self.MIN_PART_BYTES:
                raise AwsError(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
        etag = '"%s-%d"' % (hashlib.md5(b"".join(bytes.fromhex(stored[n][0]) for n, _ in listed)).hexdigest(), len(listed))
        self._store(bucket, key, [os.path.join(self._upload_dir(upload_id), str(n)) for n, _ in listed], etag)
        with self.lock:
            self.uploads.pop(upload_id, None)
        shutil.rmtree(self._upload_dir(upload_id), True)
        return 200, {"Content-Type": "application/xml"}, (
            f'<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult xmlns="{S3_NS}"><Location>'
            f"{escape(getattr(self, 'url', None) or '')}/{escape(bucket)}/{escape(key)}</Location><Bucket>{escape(bucket)}</Bucket>"
            f"<Key>{escape(key)}</Key><ETag>{escape(etag)}</ETag></CompleteMultipartUploadResult>").encode()

    def _keys(self, bucket):
        return sorted(urllib.parse.unquote(n) for n in os.listdir(self._bucket_dir(bucket)) if ".part-" not in n)

    def _list_objects(self, bucket, q):
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter")
        max_keys = int(q.get("max-keys", 1000))
        after = q.get("start-after", "")
        if q.get("continuation-token"):
            after = base64.b64decode(q["continuation-token"]).decode()
        contents, prefixes, count, truncated, last = [], [], 0, False, ""
        for key in self._keys(bucket):
            if not key.startswith(prefix) or key <= after:
                continue
            if count >= max_keys:
                truncated = True
                break
            if delimiter and delimiter in key[len(prefix):]:
                cp = prefix + key[len(prefix):].split(delimiter, 1)[0] + delimiter
                if cp not in prefixes:
                    prefixes.append(cp)
                    count += 1
                last = key
                continue
            fp = self._object_path(bucket, key)
            with open(fp, "rb") as f:
                etag = self._etag(bucket, key, f, os.fstat(f.fileno())).strip('"')
            mtime = datetime.datetime.fromtimestamp(os.path.getmtime(fp), datetime.timezone.utc)
            contents.append(f"<Contents><Key>{escape(key)}</Key><LastModified>{mtime.strftime('%Y-%m-%dT%H:%M:%S.000Z')}"
                            f"</LastModified><ETag>&quot;{etag}&quot;</ETag><Size>{os.path.getsize(fp)}</Size>"
                            f"<StorageClass>STANDARD</StorageClass></Contents>")
            count += 1
            last = key
        token = (f"<NextContinuationToken>{base64.b64encode(last.encode()).decode()}</NextContinuationToken>"
                 if truncated else "")
        cps = "".join(f"<CommonPrefixes><Prefix>{escape(c)}</Prefix></CommonPrefixes>" for c in prefixes)
        return (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{S3_NS}"><Name>{escape(bucket)}</Name>'
                f"<Prefix>{escape(prefix)}</Prefix><KeyCount>{count}</KeyCount><MaxKeys>{max_keys}</MaxKeys>"
                f"<IsTruncated>{str(truncated).lower()}</IsTruncated>{''.join(contents)}{cps}{token}</ListBucketResult>")

    def _delete_objects(self, bucket, headers, body):
        import xml.etree.ElementTree as ET
        if "content-md5" not in headers and not any(h.startswith("x-amz-checksum-") for h in headers):
            raise AwsError(400, "InvalidRequest", "Missing required header for this request: Content-MD5")
        if headers.get("content-md5") and base64.b64encode(hashlib.md5(body).digest()).decode() != headers["content-md5"]:
            raise AwsError(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
        root = ET.fromstring(body)
        ns = {"s": S3_NS}
        quiet = (root.findtext("s:Quiet", "false", ns) or root.findtext("Quiet", "false")).lower() == "true"
        deleted = []
        for obj in root.findall("s:Object", ns) + root.findall("Object"):
            key = obj.findtext("s:Key", None, ns) or obj.findtext("Key")
            self._remove(bucket, key)
            deleted.append(key)
        items = "" if quiet else "".join(f"<Deleted><Key>{escape(k)}</Key></Deleted>" for k in deleted)
        return f'<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="{S3_NS}">{items}</DeleteResult>'

    # ----- IAM (global; the role and instance profile `spawn aws setup` creates) -----
    def iam(self, action, p):
        if self.request_region() != "us-east-1":
            raise AwsError(400, "SignatureDoesNotMatch", "Credential should be scoped to a valid region, not "
                           f"'{self.request_region()}'.")
        tags = lambda: {t["Key"]: t.get("Value", "") for t in self._structs(p, "Tags.member")}
        quote = lambda doc: escape(urllib.parse.quote(doc, safe=""))

        def role_xml(name):
            r = self.iam_roles[name]
            return (f"<Role><Path>/</Path><RoleName>{escape(name)}</RoleName><RoleId>AROA{r['id']}</RoleId>"
                    f"<Arn>{r['arn']}</Arn><CreateDate>{r['created']}</CreateDate>"
                    f"<AssumeRolePolicyDocument>{quote(r['trust'])}</AssumeRolePolicyDocument></Role>")

        def profile_xml(name):
            pr = self.iam_profiles[name]
            roles = "".join(f"<member>{role_xml(r)[6:-7]}</member>" for r in pr["roles"])
            return (f"<InstanceProfile><Path>/</Path><InstanceProfileName>{escape(name)}</InstanceProfileName>"
                    f"<InstanceProfileId>AIPA{pr['id']}</InstanceProfileId><Arn>{pr['arn']}</Arn>"
                    f"<CreateDate>{pr['created']}</CreateDate><Roles>{roles}</Roles></InstanceProfile>")

        def answer(result=""):
            body = f"<{action}Result>{result}</{action}Result>" if result else ""
            return (f'<{action}Response xmlns="{IAM_NS}">{body}<ResponseMetadata><RequestId>{uuid.uuid4()}'
                    f"</RequestId></ResponseMetadata></{action}Response>")

        def need(*names):
            for n in names:
                if not p.get(n):
                    raise AwsError(400, "ValidationError", f"1 validation error detected: Value null at '{n}'")

        def role(name):
            if name not in self.iam_roles:
                raise AwsError(404, "NoSuchEntity", f"The role with name {name} cannot be found.")
            return self.iam_roles[name]

        def profile(name):
            if name not in self.iam_profiles:
                raise AwsError(404, "NoSuchEntity", f"Instance Profile {name} cannot be found.")
            return self.iam_profiles[name]

        with self.lock:
            if action == "GetRole":
                need("RoleName")
                role(p["RoleName"])
                return answer(role_xml(p["RoleName"]))
            if action == "CreateRole":
                need("RoleName", "AssumeRolePolicyDocument")
                if p["RoleName"] in self.iam_roles:
                    raise AwsError(409, "EntityAlreadyExists", f"Role with name {p['RoleName']} already exists.")
                json.loads(p["AssumeRolePolicyDocument"])  # a malformed document fails as below
                self.iam_roles[p["RoleName"]] = {
                    "id": secrets.token_hex(8).upper(), "arn": f"arn:aws:iam::{ACCOUNT}:role/{p['RoleName']}",
                    "trust": p["AssumeRolePolicyDocument"], "policies": {}, "tags": tags(), "created": now_iso()}
                return answer(role_xml(p["RoleName"]))
            if action == "GetRolePolicy":
                need("RoleName", "PolicyName")
                r = role(p["RoleName"])
                if p["PolicyName"] not in r["policies"]:
                    raise AwsError(404, "NoSuchEntity", f"The role policy with name {p['PolicyName']} cannot be found.")
                return answer(f"<RoleName>{escape(p['RoleName'])}</RoleName><PolicyName>{escape(p['PolicyName'])}"
                              f"</PolicyName><PolicyDocument>{quote(r['policies'][p['PolicyName']])}</PolicyDocument>")
            if action == "PutRolePolicy":
                need("RoleName", "PolicyName", "PolicyDocument")
                try:
                    json.loads(p["PolicyDocument"])
                except ValueError:
                    raise AwsError(400, "MalformedPolicyDocument", "Syntax errors in policy.")
                role(p["RoleName"])["policies"][p["PolicyName"]] = p["PolicyDocument"]
                return answer()
            if action == "GetInstanceProfile":
                need("InstanceProfileName")
                profile(p["InstanceProfileName"])
                return answer(profile_xml(p["InstanceProfileName"]))
            if action == "CreateInstanceProfile":
                need("InstanceProfileName")
                name = p["InstanceProfileName"]
                if name in self.iam_profiles:
                    raise AwsError(409, "EntityAlreadyExists", f"Instance Profile {name} already exists.")
                self.iam_profiles[name] = {"id": secrets.token_hex(8).upper(), "roles": [], "tags": tags(),
                                           "arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}", "created": now_iso()}
                return answer(profile_xml(name))
            if action == "AddRoleToInstanceProfile":
                need("InstanceProfileName", "RoleName")
                pr, _ = profile(p["InstanceProfileName"]), role(p["RoleName"])
                if pr["roles"]:
                    raise AwsError(409, "LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
                pr["roles"].append(p["RoleName"])
                return answer()
        raise AwsError(400, "InvalidAction", f"Could not find operation {action} for version 2010-05-08")

    # ----- STS, SSM, Pricing -----
    def sts(self, params, access_key):
        if params.get("Action") != "GetCallerIdentity":
            raise AwsError(400, "InvalidAction", f"Could not find operation {params.get('Action')}")
        user = "spawn-test" if not access_key.startswith("ASIA") else "assumed-role/spawn-instance/i"
        arn = f"arn:aws:iam::{ACCOUNT}:user/{user}" if not access_key.startswith("ASIA") else \
            f"arn:aws:sts::{ACCOUNT}:{user}"
        return (f'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
                f"<Arn>{arn}</Arn><UserId>{escape(access_key)}</UserId><Account>{ACCOUNT}</Account>"
                f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
                f"</GetCallerIdentityResponse>")

    def ssm(self, target, body):
        if target != "AmazonSSM.GetParameter":
            raise AwsError(400, "UnknownOperationException", target)
        name = body.get("Name", "")
        if name not in self.config.ssm_parameters:
            raise AwsError(400, "ParameterNotFound", "")
        return {"Parameter": {"Name": name, "Type": "String", "Value": self.config.ssm_parameters[name], "Version": 1,
                              "ARN": f"arn:aws:ssm:{self.config.region}::parameter{name}", "DataType": "aws:ec2:image"}}

    def pricing(self, target, body):
        """GetProducts for AmazonEC2: per type and region, the Linux shared on-demand product spawn wants and the
        neighbours a missing filter would let through (Windows, dedicated tenancy, SQL Web, unused reservations)."""
        if target != "AWSPriceListService.GetProducts":
            raise AwsError(400, "UnknownOperationException", target)
        if body.get("ServiceCode") != "AmazonEC2":
            raise AwsError(400, "InvalidParameterException", f"Unknown service code {body.get('ServiceCode')}")
        wanted = {}
        for f in body.get("Filters", []):
            if f.get("Type") != "TERM_MATCH":
                raise AwsError(400, "InvalidParameterException", f"Unknown filter type {f.get('Type')}")
            wanted[f["Field"]] = f["Value"]
        variants = [({"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}, 1.0),
                    ({"operatingSystem": "Windows", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}, 1.8),
                    ({"operatingSystem": "Linux", "tenancy": "Dedicated", "preInstalledSw": "NA", "capacitystatus": "Used"}, 1.1),
                    ({"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "SQL Web", "capacitystatus": "Used"}, 1.3),
                    ({"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
                      "capacitystatus": "UnusedCapacityReservation"}, 1.0)]
        regions = [wanted["regionCode"]] if "regionCode" in wanted else sorted(catalog.load()[1])
        products = []
        for region in regions:
            for name, offer in sorted(self.offers(region).items()):
                if offer["od"] is None:
                    continue
                for attributes, factor in variants:
                    attributes = dict(attributes, instanceType=name, regionCode=region, servicecode="AmazonEC2",
                                      vcpu=str(catalog.load()[0][name]["vcpus"]), licenseModel="No License required")
                    if any(attributes.get(k) != v for k, v in wanted.items()):
                        continue
                    price = offer["od"] * factor if attributes["capacitystatus"] == "Used" else 0.0
                    sku = f"{region}-{name}-{len(products)}"
                    products.append(json.dumps({
                        "product": {"productFamily": "Compute Instance", "sku": sku, "attributes": attributes},
                        "serviceCode": "AmazonEC2",
                        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {"sku": sku, "priceDimensions": {
                            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": "Hrs", "description": f"${price:.4f} per On Demand Linux {name} Instance Hour",
                                "pricePerUnit": {"USD": f"{price:.10f}"}}}}}}}))
        size = int(body.get("MaxResults", 100))
        if not 1 <= size <= 100:
            raise AwsError(400, "InvalidParameterException", "MaxResults must be between 1 and 100")
        start = 0
        if body.get("NextToken"):
            try:
                start = int(base64.b64decode(body["NextToken"]).decode().split(":")[1])
            except Exception:
                raise AwsError(400, "InvalidNextTokenException", "The next token is invalid")
        out = {"FormatVersion": "aws_v1", "PriceList": products[start:start + size]}
        if start + size < len(products):
            out["NextToken"] = base64.b64encode(f"pricing:{start + size}".encode()).decode()
        return out

    # ----- IMDS -----
    def imds(self, method, instance_id, path, headers):
        with self.lock:
            inst = self.instances.get(instance_id)
            if not inst or inst.state not in ("pending", "running", "shutting-down", "stopping"):
                return 404, "text/plain", b"Not Found"
            if method == "PUT" and path == "/latest/api/token":
                ttl = headers.get("x-aws-ec2-metadata-token-ttl-seconds")
                if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                    return 400, "text/plain", b"Bad Request"
                token = secrets.token_urlsafe(32)
                inst.imds_tokens.add(token)
                return 200, "text/plain", token.encode()
            if method != "GET":
                return 405, "text/plain", b"Method Not Allowed"
            token = headers.get("x-aws-ec2-metadata-token")
            if token not in inst.imds_tokens and (inst.http_tokens == "required" or token is not None):
                return 401, "text/plain", b"Unauthorized"
            if path == "/latest/user-data":
                return (200, "application/octet-stream", inst.user_data) if inst.user_data else (404, "text/plain", b"Not Found")
            prefix = "/latest/meta-data/"
            if not path.startswith(prefix):
                return 404, "text/plain", b"Not Found"
            key = path[len(prefix):]
            values = {
                "instance-id": inst.id, "ami-id": inst.image_id, "ami-launch-index": str(inst.launch_index),
                "instance-type": inst.instance_type, "placement/availability-zone": inst.zone,
                "placement/region": self.config.region, "placement/group-name": inst.placement_group or None,
                "local-ipv4": inst.private_ip, "local-hostname": f"ip-{inst.private_ip.replace('.', '-')}.ec2.internal",
                "hostname": f"ip-{inst.private_ip.replace('.', '-')}.ec2.internal", "reservation-id": inst.reservation_id,
                "instance-life-cycle": "spot" if inst.spot else "on-demand",
            }
            if key == "":
                return 200, "text/plain", "\n".join(sorted({k.split("/")[0] + ("/" if "/" in k else "") for k in values})).encode()
            if key in values and values[key] is not None:
                return 200, "text/plain", values[key].encode()
            if key == "spot/instance-action":
                if inst.spot_action:
                    return 200, "application/json", json.dumps(inst.spot_action).encode()
                return 404, "text/plain", b"Not Found"
            if key.startswith("tags/instance/"):
                tag = key[len("tags/instance/"):]
                if tag == "":
                    return 200, "text/plain", "\n".join(inst.tags).encode()
                return (200, "text/plain", inst.tags[tag].encode()) if tag in inst.tags else (404, "text/plain", b"Not Found")
            if key.startswith("iam/security-credentials/") and inst.iam_profile:
                role = key[len("iam/security-credentials/"):]
                if role == "":
                    return 200, "text/plain", inst.iam_profile.encode()
                if role != inst.iam_profile:
                    return 404, "text/plain", b"Not Found"
                if not inst.role_credentials:
                    access = "ASIA" + secrets.token_hex(8).upper()
                    inst.role_credentials = {"Code": "Success", "LastUpdated": now_iso(), "Type": "AWS-HMAC",
                                             "AccessKeyId": access, "SecretAccessKey": secrets.token_urlsafe(30),
                                             "Token": secrets.token_urlsafe(60), "Expiration": now_iso(6 * 3600)}
                    self.config.credentials[access] = inst.role_credentials["SecretAccessKey"]
                return 200, "application/json", json.dumps(inst.role_credentials).encode()
            return 404, "text/plain", b"Not Found"

    # ----- control API (JSON) -----
    def control(self, method, path, body):
        parts = [p for p in path.split("/") if p][1:]  # after _spawn
        if parts == ["instances"] and method == "GET":
            with self.lock:
                return {"instances": [self.instances[i].public() for i in self.order]}
        if len(parts) >= 2 and parts[0] == "instances":
            iid = parts[1]
            with self.lock:
                if iid not in self.instances:
                    raise AwsError(404, "NotFound", f"no instance {iid}")
            if len(parts) == 2 and method == "GET":
                with self.lock:
                    return self.instances[iid].public()
            if parts[2:] == ["interrupt"] and method == "POST":
                self.interrupt_spot(iid, body.get("notice_seconds"))
                return {"result": "notice posted"}
            if parts[2:] == ["power"] and method == "POST":
                return self.power_request(iid, body.get("command", ""), body.get("args", []))
        if parts == ["faults"] and method == "POST":
            self.add_fault(body)
            return {"result": "fault added"}
        if parts == ["faults"] and method == "DELETE":
            with self.lock:
                self.faults = {"capacity": [], "partial": [], "throttle": [], "drop": 0, "errors": [], "delay": [], "cut": []}
            return {"result": "faults cleared"}
        if parts == ["calls"] and method == "GET":
            with self.lock:
                return {"calls": list(self.calls)}
        if parts == ["config"] and method == "POST":
            with self.lock:
                for k, v in body.items():
                    if not hasattr(self.config, k):
                        raise AwsError(400, "InvalidParameter", f"no config key {k}")
                    setattr(self.config, k, v)
                self.run_bucket = TokenBucket(self.config.run_bucket_capacity, self.config.run_bucket_refill)
                self.describe_bucket = TokenBucket(self.config.describe_bucket_capacity, self.config.describe_bucket_refill)
            return {"result": "configured"}
        raise AwsError(404, "NotFound", f"{method} {path}")


# ----- SigV4 -----
AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                     r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})")


def canonical_query(raw):
    pairs = []
    for part in raw.split("&") if raw else []:
        k, _, v = part.partition("=")
        pairs.append((urllib.parse.quote(urllib.parse.unquote_plus(k), safe="-_.~"),
                      urllib.parse.quote(urllib.parse.unquote_plus(v), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


class PresignMatch:
    """The groups of AUTH_RE, taken from a presigned URL's query instead of the Authorization header."""
    def __init__(self, groups):
        self.groups_ = groups

    def group(self, n):
        return self.groups_[n - 1]

    def groups(self):
        return self.groups_


def expected_signature(secret, method, raw_path, raw_query, headers, signed, body, date, scope_date, region, service,
                       payload=None):
    canonical_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed.split(";"))
    payload = payload or headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    creq = "\n".join([method, raw_path, canonical_query(raw_query), canonical_headers, signed, payload])
    scope = f"{scope_date}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (scope_date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class RequestHandler(http.server.BaseHTTPRequestHandler):
    endpoint: Endpoint = None
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid the 40 ms delayed-ACK stall

    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, status, content_type, body, headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        length = (headers or {}).get("Content-Length", str(len(body)))
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the caller is gone (a sandbox that powered itself off)

    def _error(self, service, err):
        if service == "ec2":
            body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{escape(err.code)}</Code>"
                    f"<Message>{escape(err.message)}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>")
            self._send(err.status, "text/xml;charset=UTF-8", body)
        elif service in ("sts", "iam"):
            ns = "https://sts.amazonaws.com/doc/2011-06-15/" if service == "sts" else IAM_NS
            body = (f'<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type>'
                    f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message></Error>"
                    f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
            self._send(err.status, "text/xml", body)
        elif service in ("ssm", "pricing", "control"):
            self._send(err.status, "application/x-amz-json-1.1",
                       json.dumps({"__type": f"com.amazonaws.{service}#{err.code}", "message": err.message}))
        else:
            body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{escape(err.code)}</Code>'
                    f"<Message>{escape(err.message)}</Message><RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>")
            self._send(err.status, "application/xml", body)

    def _handle(self):
        ep = self.endpoint
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw_path, _, raw_query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        if raw_path.startswith("/imds/"):
            _, _, iid, *rest = raw_path.split("/", 3)
            status, ctype, data = ep.imds(self.command, iid, "/" + (rest[0] if rest else ""), headers)
            return self._send(status, ctype, data)
        if raw_path.startswith("/_spawn/"):
            try:
                return self._send(200, "application/json",
                                  json.dumps(ep.control(self.command, raw_path, json.loads(body or b"{}"))))
            except AwsError as e:
                return self._error("control", e)
        with ep.lock:
            if ep.faults["drop"] > 0:
                ep.faults["drop"] -= 1
                self.close_connection = True
                self.connection.shutdown(2)  # no answer at all: a network error for the client
                return
        auth = headers.get("authorization", "")
        m = AUTH_RE.match(auth)
        presigned = None
        if not m and "X-Amz-Signature=" in raw_query:
            presigned = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
            pm = re.fullmatch(r"([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request", presigned.get("X-Amz-Credential", ""))
            if presigned.get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" and pm and presigned.get("X-Amz-SignedHeaders"):
                m = PresignMatch(pm.groups() + (presigned["X-Amz-SignedHeaders"], presigned.get("X-Amz-Signature", "")))
        service = m.group(4) if m else "s3"
        if not m:
            return self._error(service, AwsError(403, "MissingAuthenticationToken" if service != "s3" else "AccessDenied",
                                                 "Request is missing Authentication Token"))
        access_key, scope_date, region, service, signed, signature = m.groups()
        action = ""
        params = {}
        if service in ("ec2", "sts", "iam"):
            params = {k: v for k, v in urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)}
            action = params.get("Action", "")
        elif service in ("ssm", "pricing"):
            action = headers.get("x-amz-target", "").split(".")[-1]
        else:
            action = f"{self.command} {raw_path}"
        ep.local.region = region
        call = {"service": service, "action": action, "access_key": access_key, "region": region, "query": raw_query,
                "security_token": "x-amz-security-token" in headers, "presigned": presigned is not None,
                "time": time.time()}
        if service == "ec2":
            call["params"] = {k: v for k, v in params.items() if k != "UserData"}  # what tests may inspect
        try:
            secret = ep.config.credentials.get(access_key)
            if secret is None and ep.config.require_known_keys:
                raise AwsError(401 if service != "s3" else 403, "AuthFailure" if service == "ec2" else "InvalidClientTokenId",
                               "AWS was not able to validate the provided access credentials")
            if presigned is not None:
                # Query-string authentication (a presigned URL): valid until X-Amz-Date + X-Amz-Expires.
                stamp = datetime.datetime.strptime(presigned.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ").replace(
                    tzinfo=datetime.timezone.utc)
                expires = int(presigned.get("X-Amz-Expires", "0"))
                if not 1 <= expires <= 604800:
                    raise AwsError(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be 1..604800")
                if datetime.datetime.now(datetime.timezone.utc) > stamp + datetime.timedelta(seconds=expires):
                    raise AwsError(403, "AccessDenied", "Request has expired")
                if secret is not None and ep.config.verify_signatures:
                    query = "&".join(part for part in raw_query.split("&") if not part.startswith("X-Amz-Signature="))
                    want = expected_signature(secret, self.command, raw_path, query, headers, signed, body,
                                              presigned["X-Amz-Date"], scope_date, region, service,
                                              payload="UNSIGNED-PAYLOAD")
                    if not hmac.compare_digest(want, signature):
                        raise AwsError(403, "SignatureDoesNotMatch", "The request signature we calculated does not "
                                       "match the signature you provided. Check your key and signing method.")
            elif secret is not None and ep.config.verify_signatures:
                want = expected_signature(secret, self.command, raw_path, raw_query, headers, signed, body,
                                          headers.get("x-amz-date", ""), scope_date, region, service)
                if not hmac.compare_digest(want, signature):
                    raise AwsError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match "
                                   "the signature you provided.")
            if service == "s3" and "x-amz-content-sha256" not in headers and presigned is None:
                raise AwsError(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
            if service == "ec2":
                status, ctype, out, extra = 200, "text/xml;charset=UTF-8", ep.ec2(action, params, access_key), {}
            elif service == "iam":
                status, ctype, out, extra = 200, "text/xml", ep.iam(action, params), {}
            elif service == "sts":
                status, ctype, out, extra = 200, "text/xml", ep.sts(params, access_key), {}
            elif service in ("ssm", "pricing"):
                handler = ep.ssm if service == "ssm" else ep.pricing
                out = json.dumps(handler(headers.get("x-amz-target", ""), json.loads(body or b"{}")))
                status, ctype, extra = 200, "application/x-amz-json-1.1", {}
            elif service == "s3":
                query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
                s3_key = raw_path.lstrip("/").partition("/")[2]
                call["operation"] = ep.s3_operation(self.command, s3_key, query)
                if ep._consume("throttle", lambda f: f.get("action") in (None, "s3")):
                    raise AwsError(503, "SlowDown", "Please reduce your request rate.")
                with ep.lock:
                    ep.s3_in_flight += 1
                    call["in_flight"] = ep.s3_in_flight  # this one and those being answered alongside it
                try:
                    status, extra, out = ep.s3(self.command, raw_path, query, headers, body)
                    rate = ep.config.s3_stream_bytes_per_second
                    wait = ep.config.s3_latency_seconds + ((len(body) + len(out or b"")) / rate if rate > 0 else 0.0)
                    if wait > 0:
                        time.sleep(wait)
                finally:
                    with ep.lock:
                        ep.s3_in_flight -= 1
                ctype = extra.pop("Content-Type", "application/xml" if out else None)
                cut = self.command == "GET" and ep._consume("cut", lambda f: f.get("action") in (None, action))
                if cut:
                    call["status"], call["cut"] = status, True
                    with ep.lock:
                        ep.calls.append(call)
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out[:int(cut.get("bytes", 0))])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
            else:
                raise AwsError(400, "UnknownService", f"service {service} is not simulated")
            call["status"] = status
            with ep.lock:
                ep.calls.append(call)
            self._send(status, ctype, out, extra)
        except AwsError as e:
            call["status"], call["code"] = e.status, e.code
            with ep.lock:
                ep.calls.append(call)
            self._error(service, e)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port-file", help="write the chosen port here once listening")
    parser.add_argument("--state-dir", help="S3 objects and instance sandboxes live here")
    parser.add_argument("--config", default="{}", help="JSON object of Config fields")
    args = parser.parse_args()
    ep = Endpoint(Config(**json.loads(args.config)), args.state_dir).start(args.port, args.host)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(ep.port))
        os.replace(tmp, args.port_file)
    print(f"listening on {ep.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        ep.stop()


if __name__ == "__main__":
    main()
