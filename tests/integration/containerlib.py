"""A private Docker daemon and a tiny image for the container tests, made offline.

Daemon: Debian's dockerd (docker.io) started as root with its own data root, exec root and socket in a temporary
directory, no bridge and no iptables rules (the tests run containers with --network host only), so it touches
nothing of the machine's own Docker, if there is one, nor its network. Tests reach it through DOCKER_HOST.

Image: no registry is reachable, so the image is imported from a root filesystem made here: Debian's busybox-static
(every applet) and bash with its libraries, an /etc/os-release naming it, and a marker file only the image has.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

IMAGE_OS_ID = "spawn-test-image"
IMAGE_MARKER = "/spawn-image-marker"


def docker_env(host: str) -> dict:
    return dict(os.environ, DOCKER_HOST=host)


def daemon_or_skip(image: str) -> "Daemon":
    """A running private daemon with the test image imported as image; unittest.SkipTest (with the reason) when no
    daemon can start here. For a test class's setUpClass; stop() it in tearDownClass."""
    daemon = Daemon()
    if not daemon.start():
        why = daemon.why
        daemon.stop()
        raise unittest.SkipTest("no Docker daemon can run here: " + why)
    daemon.build_image(image)
    return daemon


class Daemon:
    """Start with start(); host is the DOCKER_HOST value; why says why it could not start (None when it runs)."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="spawn-dockerd-")
        self.host = "unix://" + os.path.join(self.dir, "docker.sock")
        self.process = None
        self.why = None

    def docker(self, *args: str, check: bool = True, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
        r = subprocess.run(["docker", *args], env=docker_env(self.host), capture_output=True, text=True,
                           timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return r

    def start(self) -> bool:
        if os.geteuid() != 0:
            self.why = "a private dockerd needs root"
            return False
        for tool, package in (("dockerd", "docker.io"), ("docker", "docker.io"), ("busybox", "busybox-static")):
            if not shutil.which(tool):
                self.why = f"{tool} is not installed (Debian's {package}; scripts/install-deps.sh installs it)"
                return False
        for driver in ("overlay2", "vfs"):
            if self._start_with(driver):
                return True
        return False

    def _start_with(self, driver: str) -> bool:
        d = self.dir
        log_path = os.path.join(d, f"dockerd-{driver}.log")
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                ["dockerd", "--data-root", f"{d}/data-{driver}", "--exec-root", f"{d}/exec", "--pidfile",
                 f"{d}/dockerd.pid", "-H", self.host, "--iptables=false", "--ip6tables=false", "--bridge=none",
                 "--storage-driver", driver],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                break
            if self.docker("version", "--format", "{{.Server.Version}}", check=False, timeout=30).returncode == 0:
                return True
            time.sleep(0.2)
        self._kill()
        with open(log_path, errors="replace") as f:
            tail = [line.strip() for line in f.read().splitlines() if line.strip()][-1:]
        self.why = f"dockerd ({driver} storage) did not start: {tail[0] if tail else 'no output'}"
        return False

    def _kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def containers(self) -> list[str]:
        """Every container of the daemon, running or not: "NAME STATUS" lines."""
        out = self.docker("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout
        return [line for line in out.splitlines() if line.strip()]

    def build_image(self, tag: str, path: str = "/usr/local/bin:/usr/bin:/bin") -> None:
        """Imports the test image as tag (with PATH as its environment)."""
        root = os.path.join(self.dir, "rootfs")
        shutil.rmtree(root, ignore_errors=True)
        for sub in ("bin", "etc", "tmp", "usr/local/bin", "usr/bin"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        os.chmod(os.path.join(root, "tmp"), 0o1777)
        busybox = shutil.which("busybox")
        shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
        for applet in applets:
            link = os.path.join(root, "bin", applet)
            if not os.path.lexists(link):
                os.symlink("busybox", link)
        shutil.copy("/bin/bash", os.path.join(root, "bin", "bash"))
        libs = subprocess.run(["ldd", "/bin/bash"], capture_output=True, text=True, check=True).stdout
        for word in libs.split():
            if word.startswith("/") and os.path.exists(word):
                target = os.path.join(root, word.lstrip("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy(os.path.realpath(word), target)
        with open(os.path.join(root, "etc", "os-release"), "w") as f:
            f.write(f'ID={IMAGE_OS_ID}\nNAME="spawn test image"\n')
        with open(os.path.join(root, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n")
        with open(root + IMAGE_MARKER, "w") as f:
            f.write("inside the image\n")
        tarball = os.path.join(self.dir, "rootfs.tar")
        subprocess.run(["tar", "-C", root, "-cf", tarball, "."], capture_output=True, check=True)
        self.docker("import", "-c", f"ENV PATH={path}", tarball, tag)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            ids = self.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False)
        self._kill()
        # dockerd unmounts its layers on the way out; what it may have left mounted is unmounted before removal.
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f if line.split()[1].startswith(self.dir)]
        for m in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
