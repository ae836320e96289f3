"""What the spawn integration suites share: an environment per test (SPAWN_HOME in its own temporary directory),
running the spawn binary there, polling with deadlines, and the small test driver the suites use.

Deadlines scale with SPAWN_TEST_TIME_SCALE (scripts/test.sh sets it for the sanitizer pass, where the binary is
several times slower): a wait that is generous for a normal build stays generous under ASan+UBSan.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

EXIT_SKIP = 77


def time_scale() -> float:
    try:
        return max(1.0, float(os.environ.get("SPAWN_TEST_TIME_SCALE", "1")))
    except ValueError:
        return 1.0


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise AssertionError(message)


def wait_until(what: Callable, timeout: float = 60, step: float = 0.1):
    """Polls what() until it returns something true (and returns that); raises after timeout x SPAWN_TEST_TIME_SCALE."""
    deadline = time.time() + timeout * time_scale()
    while time.time() < deadline:
        value = what()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout * time_scale():.0f}s waiting for {what}")


class SpawnEnv:
    """A temporary directory with its own SPAWN_HOME; commands run there with the given environment."""

    def __init__(self, spawn: str, prefix: str, env: dict[str, str], timeout: float = 120) -> None:
        self.spawn = spawn
        self.tmp = tempfile.TemporaryDirectory(prefix=prefix)
        self.dir = Path(self.tmp.name)
        os.chmod(self.dir, 0o755)
        self.env = dict(env, SPAWN_HOME=str(self.dir / "home"))
        self.env.pop("SPAWN_CONFIG", None)
        self.timeout = timeout

    def script(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.write_text(text)
        return path

    def run(self, *args: str, check: bool = False, timeout: float | None = None,
            env: dict | None = None) -> subprocess.CompletedProcess:
        limit = (timeout or self.timeout) * time_scale()
        r = subprocess.run([self.spawn, *args], cwd=self.dir, env=env or self.env, capture_output=True, text=True,
                           timeout=limit, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"spawn {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def status(self, job: int | str) -> dict:
        return json.loads(self.run("status", str(job), "--json", check=True).stdout)

    def wait_until(self, what: Callable, timeout: float = 60, step: float = 0.1):
        return wait_until(what, timeout, step)

    def close(self) -> None:
        self.tmp.cleanup()


def run_tests(namespace: dict, pattern: str, after_each: Callable[[], None] | None = None) -> int:
    """Runs every test_* function of namespace whose name contains pattern; prints ok/FAIL lines; 1 if any failed."""
    tests = [(name, fn) for name, fn in sorted(namespace.items()) if name.startswith("test_") and pattern in name]
    failed = 0
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
            print(f"ok    {name} ({time.time() - t0:.1f}s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL  {name} ({time.time() - t0:.1f}s)", flush=True)
            traceback.print_exc()
        if after_each:
            after_each()
    print(f"{len(tests) - failed}/{len(tests)} passed")
    return 1 if failed else 0
