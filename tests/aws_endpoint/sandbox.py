"""Runs one simulated instance's user data where it cannot power off, reboot or reconfigure this machine.

The user data runs under `unshare --mount --pid --uts --ipc --fork --mount-proc` (util-linux) as root, as cloud-init
would run it, with:
  * shutdown, poweroff, halt, reboot, systemctl, init, telinit, kexec and the package managers (apt, apt-get, dpkg,
    dnf, yum, rpm, snap) replaced, inside the namespace only, by a shim (bind-mounted over the real files, and first
    on PATH) that tells the endpoint what the instance asked for: the endpoint then stops/terminates the instance,
    schedules or cancels a timed shutdown, or records the package request;
  * its own PID namespace: even a direct reboot(2) only ends the namespace (the kernel's reboot_pid_ns rule), and
    signals to PID 1 reach the sandbox's own init;
  * /proc/sysrq-trigger covered by /dev/null, its own hostname, TMPDIR and HOME inside the sandbox directory.
Before the user data starts, the init script checks that every shimmed name, by every path and by PATH lookup, is
the shim, and refuses to run anything (exit 97) otherwise. Sandbox.probe() reports the same checks to tests.
"""
import json
import os
import shlex
import shutil
import signal
import subprocess
import threading

MARKER = "SPAWN-SANDBOX-SHIM"
SHIMMED = ["shutdown", "poweroff", "halt", "reboot", "systemctl", "init", "telinit", "kexec",
           "apt", "apt-get", "dpkg", "dnf", "yum", "rpm", "snap"]
DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REFUSED = 97

SHIM = """#!/bin/sh
# {marker}: this command is simulated inside the spawn sandbox; it never touches the machine.
exec /usr/bin/python3 -c '
import json, os, sys, time, urllib.request
name, args = os.path.basename(sys.argv[1]), sys.argv[2:]
request = urllib.request.Request("{url}", data=json.dumps({{"command": name, "args": args}}).encode(),
                                 headers={{"Content-Type": "application/json"}}, method="POST")
result = json.load(urllib.request.urlopen(request, timeout=30)).get("result", "")
print("spawn sandbox: " + name + ": " + result, file=sys.stderr)
if result == "powering off":
    time.sleep(3600)  # the machine is going down: the endpoint ends this sandbox
' "$0" "$@"
"""

INIT = """#!/bin/sh
# PID 1 of the sandbox: shim, verify, then run the user data as cloud-init would, and stay up like a machine.
set -eu
root={root}
shim="$root/shim/spawn-sandbox-shim"
bin="$root/shim/bin"
hostname {hostname}
bound=" "
for name in {names}; do
  for dir in {dirs}; do
    path="$dir/$name"
    [ -e "$path" ] || continue
    real=$(readlink -f "$path")
    case "$bound" in *" $real "*) continue ;; esac
    mount --bind "$shim" "$real"
    bound="$bound$real "
  done
done
if [ -e /proc/sysrq-trigger ]; then mount --bind /dev/null /proc/sysrq-trigger; fi
export PATH="$bin:{path}"
for name in {names}; do
  for dir in {dirs}; do
    path="$dir/$name"
    if [ -e "$path" ] && ! grep -q {marker} "$path"; then
      echo "spawn sandbox: $path is not shimmed; refusing to run user data" >&2; exit {refused}
    fi
  done
  found=$(command -v "$name" || true)
  if [ -z "$found" ] || ! grep -q {marker} "$found"; then
    echo "spawn sandbox: $name resolves to '$found', not the shim; refusing to run user data" >&2; exit {refused}
  fi
done
: > "$root/verified"
cd "$root"
set +e
env -i {environment} "$root/user-data" > "$root/console.log" 2>&1 < /dev/null
echo $? > "$root/exit-code"
while :; do sleep 3600; done
"""

PROBE = """#!/bin/sh
for name in {names}; do
  for dir in {dirs}; do
    path="$dir/$name"
    [ -e "$path" ] || continue
    if grep -q {marker} "$path"; then echo "ok $path"; else echo "BAD $path"; fi
  done
  found=$(command -v "$name" || true)
  if [ -n "$found" ] && grep -q {marker} "$found"; then echo "ok-path $name $found"; else echo "BAD-path $name $found"; fi
done
echo "pid1 $(cat /proc/1/comm)"
echo "hostname $(hostname)"
echo "done"
"""


def available():
    """Why the sandbox cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the sandbox needs root (mount namespaces and bind mounts)"
    if not shutil.which("unshare"):
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(["unshare", "--mount", "--pid", "--uts", "--ipc", "--fork", "--mount-proc",
                            "--propagation", "private", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "unshare failed: " + probe.stderr.strip()
    return None


class Sandbox:
    def __init__(self, root, control_url, hostname="ip-sandbox", environment=None):
        self.root = os.path.abspath(root)
        self.control_url = control_url
        self.hostname = hostname
        self.environment = dict(environment or {})
        self.process = None
        self.lock = threading.Lock()
        self.killed = False

    def _prepare(self, payload: bytes):
        for d in ("shim/bin", "tmp", "home"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        os.chmod(os.path.join(self.root, "tmp"), 0o1777)
        shim = os.path.join(self.root, "shim", "spawn-sandbox-shim")
        with open(shim, "w") as f:
            f.write(SHIM.format(marker=MARKER, url=self.control_url))
        os.chmod(shim, 0o755)
        for name in SHIMMED:
            link = os.path.join(self.root, "shim", "bin", name)
            if not os.path.lexists(link):
                os.symlink(shim, link)
        user_data = os.path.join(self.root, "user-data")
        with open(user_data, "wb") as f:
            f.write(payload)
        os.chmod(user_data, 0o755)
        env = {"PATH": os.path.join(self.root, "shim", "bin") + ":" + STANDARD_PATH, "HOME": os.path.join(self.root, "home"),
               "LANG": "C.UTF-8", "TMPDIR": os.path.join(self.root, "tmp"), "SPAWN_SANDBOX": "1", "SPAWN_SANDBOX_DIR": self.root, **self.environment}
        init = os.path.join(self.root, "init.sh")
        with open(init, "w") as f:
            f.write(INIT.format(root=shlex.quote(self.root), hostname=shlex.quote(self.hostname), names=" ".join(SHIMMED),
                                dirs=" ".join(DIRS), marker=MARKER, refused=REFUSED, path=STANDARD_PATH,
                                environment=" ".join(shlex.quote(f"{k}={v}") for k, v in env.items())))
        return init

    def start(self, payload: bytes):
        """Starts the user data (bytes, already un-gzipped) in a new sandbox; returns at once."""
        reason = available()
        if reason:
            raise RuntimeError("cannot sandbox user data: " + reason)
        init = self._prepare(payload)
        with self.lock, open(os.path.join(self.root, "init.log"), "wb") as log:
            self.process = subprocess.Popen(
                ["unshare", "--mount", "--pid", "--uts", "--ipc", "--fork", "--mount-proc", "--propagation", "private",
                 "/bin/sh", init], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self):
        """Ends every process of the sandbox (its PID namespace dies with its init)."""
        with self.lock:
            self.killed = True
            if self.process and self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()

    def kill_user_data(self, timeout=10.0):
        """Kills every process the user data started (bootstrap, runtime, job) and leaves the sandbox's init up: an
        instance whose software died while the machine stays on, so only a scheduled shutdown can still end it.
        Returns how many processes were killed."""
        import time
        needle = ("SPAWN_SANDBOX_DIR=" + self.root).encode()
        killed, quiet, deadline = 0, 0, time.monotonic() + timeout
        while quiet < 3 and time.monotonic() < deadline:  # until three looks in a row find none (no fork in flight)
            found = []
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/environ", "rb") as f:
                        if needle in f.read().split(b"\0"):
                            found.append(int(pid))
                except OSError:
                    continue
            quiet = 0 if found else quiet + 1
            for pid in found:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        return killed

    def _read(self, name):
        try:
            with open(os.path.join(self.root, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def status(self):
        exit_code = self._read("exit-code")
        init_status = self.process.poll() if self.process else None
        return {"root": self.root, "verified": os.path.exists(os.path.join(self.root, "verified")),
                "user_data_exit_code": int(exit_code) if exit_code and exit_code.strip() else None,
                "running": self.process is not None and init_status is None, "killed": self.killed,
                "refused": init_status == REFUSED, "console": os.path.join(self.root, "console.log")}

    def probe(self, timeout=30):
        """Runs a read-only probe in a sandbox and returns its lines: for every shimmed name and path, ok or BAD."""
        reason = available()
        if reason:
            raise RuntimeError("cannot sandbox user data: " + reason)
        init = self._prepare(PROBE.format(names=" ".join(SHIMMED), dirs=" ".join(DIRS), marker=MARKER).encode())
        process = subprocess.Popen(["unshare", "--mount", "--pid", "--uts", "--ipc", "--fork", "--mount-proc",
                                    "--propagation", "private", "/bin/sh", init], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        deadline_lines = []
        try:
            for _ in range(timeout * 10):
                out = self._read("console.log") or ""
                if "done" in out.splitlines() or process.poll() is not None:
                    break
                threading.Event().wait(0.1)
            deadline_lines = (self._read("console.log") or "").splitlines()
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            init_output = process.communicate()[0].decode(errors="replace")
        if process.returncode == REFUSED or not os.path.exists(os.path.join(self.root, "verified")):
            return ["REFUSED " + init_output.strip()] + deadline_lines
        return deadline_lines


def host_paths_untouched():
    """True when, seen from this (the host's) namespace, no shimmed command is the shim."""
    for name in SHIMMED:
        for d in DIRS:
            p = os.path.join(d, name)
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    if MARKER.encode() in f.read(4096):
                        return False
    return True


if __name__ == "__main__":
    import tempfile
    print(json.dumps(Sandbox(tempfile.mkdtemp(), "http://127.0.0.1:9/none").probe(), indent=1))
