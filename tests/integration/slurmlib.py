"""Helpers for test suites that drive a real Slurm (Debian slurm-wlm 22.05, started by scripts/start-slurm.sh).

Python 3 standard library only. Nothing here knows about spawn; suites import it to
  - find out whether Slurm is reachable (and start it when running as root),
  - submit batch scripts (held, to the powered-down `cloud` partition by default) and cancel them,
  - read `scontrol show job -o` records into dicts, and decode the values Slurm prints
    (time limits, memory sizes, TRES lists, array specs, dependencies, stdout paths).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

REPO = Path(__file__).resolve().parents[2]
START_SCRIPT = REPO / "scripts" / "start-slurm.sh"

# Exit status CTest treats as "skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt).
EXIT_SKIP = 77

# Every key `scontrol show job -o` (22.05) may print. Values may contain spaces (JobName, WorkDir, StdOut,
# Comment, Command), so a record is split on these names rather than on whitespace.
JOB_KEYS = frozenset(
    """JobId ArrayJobId ArrayTaskId ArrayTaskThrottle HetJobId HetJobOffset HetJobIdSet JobName UserId GroupId
    MCS_label Priority Nice Account QOS WCKey JobState Reason Dependency Requeue Restarts BatchFlag Reboot ExitCode
    DerivedExitCode RunTime TimeLimit TimeMin SubmitTime EligibleTime AccrueTime StartTime EndTime Deadline
    PreemptEligibleTime PreemptTime SuspendTime SecsPreSuspend LastSchedEval Scheduler Partition AllocNode:Sid
    ReqNodeList ExcNodeList NodeList BatchHost NumNodes NumCPUs NumTasks CPUs/Task ReqB:S:C:T TRES Socks/Node
    NtasksPerN:B:S:C CoreSpec ThreadSpec JOB_GRES Nodes CPU_IDs Mem GRES MinCPUsNode MinMemoryNode MinMemoryCPU
    MinTmpDiskNode Features Prefer ClusterFeatures Reservation DelayBoot OverSubscribe Contiguous Licenses Network
    Command WorkDir AdminComment SystemComment Comment StdErr StdIn StdOut BatchScript BurstBuffer
    BurstBufferState CpusPerTres MemPerTres TresBind TresFreq TresPerJob TresPerNode TresPerSocket TresPerTask
    MailUser MailType NtasksPerTRES Power Switches Wait-for-Switch KillOInInvalidDependent SiblingsActive
    SiblingsViable FedOrigin FedViableSiblings FedActiveSiblings ResvPorts CronJob CrontabSpec Container
    ContainerID LicensesAlloc OverTimeLimit Profile""".split()
)

# The value scontrol prints for %a (and ArrayTaskId of a non-array job): NO_VAL - 1.
NO_ARRAY_TASK = 4294967294

_KEY_RE = re.compile(r"([A-Za-z][A-Za-z0-9_/:-]*)=")


# ---------------------------------------------------------------- reachability


def slurm_commands_present() -> bool:
    return all(shutil.which(c) for c in ("sbatch", "scontrol", "scancel"))


def ping() -> bool:
    """True when slurmctld answers `scontrol ping`."""
    if not slurm_commands_present():
        return False
    try:
        r = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and "is UP" in r.stdout


def ensure_slurm(start: bool = True) -> bool:
    """True when Slurm is reachable; as root and with start=True, runs scripts/start-slurm.sh first if it is not."""
    if ping():
        return True
    if start and os.geteuid() == 0 and START_SCRIPT.exists() and slurm_commands_present():
        subprocess.run(["bash", str(START_SCRIPT)], capture_output=True, text=True, timeout=180)
        return ping()
    return False


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment without SBATCH_*/SLURM_* input variables (SLURM_CONF kept), plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("SBATCH_") or (k.startswith("SLURM_") and k != "SLURM_CONF"))
    }
    env.update(extra or {})
    return env


# ---------------------------------------------------------------- submitting


@dataclass
class Submission:
    returncode: int
    stdout: str
    stderr: str
    job_id: str | None  # None when sbatch rejected the script

    @property
    def accepted(self) -> bool:
        return self.returncode == 0 and self.job_id is not None


_SUBMITTED_RE = re.compile(r"Submitted batch job (\d+)")


def sbatch(
    script: str | os.PathLike,
    args: Iterable[str] = (),
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    hold: bool = True,
    partition: str | None = "cloud",
    timeout: float = 60,
) -> Submission:
    """Runs `sbatch [--hold] [-p partition] ARGS SCRIPT`; env replaces the environment (see clean_environment)."""
    cmd = ["sbatch"]
    if hold:
        cmd.append("--hold")
    if partition:
        cmd += ["-p", partition]
    cmd += list(args)
    cmd.append(str(script))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    m = _SUBMITTED_RE.search(r.stdout)
    return Submission(r.returncode, r.stdout, r.stderr, m.group(1) if m else None)


def scancel(*job_ids: str) -> None:
    ids = [j for j in job_ids if j]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------- reading job records


def parse_job_line(line: str) -> dict[str, str]:
    """One `scontrol show job -o` line -> {key: value}, splitting on known keys only (values keep their spaces)."""
    record: dict[str, str] = {}
    key = None
    parts: list[str] = []
    for token in line.strip().split(" "):
        m = _KEY_RE.match(token)
        if m and m.group(1) in JOB_KEYS and (key is None or m.group(1) not in record):
            if key is not None:
                record[key] = " ".join(parts).rstrip()
            key = m.group(1)
            parts = [token[m.end():]]
        elif key is not None:
            parts.append(token)
    if key is not None:
        record[key] = " ".join(parts).rstrip()
    return record


def show_job(job_id: str) -> list[dict[str, str]]:
    """All records `scontrol show job -o ID` prints (array meta record / het components first). [] if none."""
    r = subprocess.run(["scontrol", "show", "job", "-o", str(job_id)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return []
    return [parse_job_line(l) for l in r.stdout.splitlines() if l.strip()]


def main_record(records: list[dict[str, str]], job_id: str) -> dict[str, str] | None:
    """The record describing the submission: the one whose JobId is the submitted id (array meta / het leader)."""
    for rec in records:
        if rec.get("JobId") == str(job_id):
            return rec
    return records[0] if records else None


# ---------------------------------------------------------------- decoding values


def time_limit_minutes(text: str) -> int | None:
    """`UNLIMITED` -> None; `[D-]HH:MM:SS` (or MM:SS) -> minutes, seconds rounded up."""
    if text in ("UNLIMITED", "INFINITE", "Partition_Limit", "NONE"):
        return None
    days = 0
    if "-" in text:
        d, text = text.split("-", 1)
        days = int(d)
    parts = [int(p) for p in text.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts
    return days * 1440 + h * 60 + m + (1 if s else 0)


_MEM_RE = re.compile(r"^(\d+(?:\.\d+)?)([KMGTP]?)$")
_MEM_FACTOR = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024**2, "P": 1024**3}


def memory_mb(text: str) -> int:
    """Slurm's printed size (`16G`, `8000M`, `2.50G`, `0`) -> MB (rounded to the nearest MB)."""
    m = _MEM_RE.match(text.strip())
    if not m:
        raise ValueError(f"unrecognised memory size {text!r}")
    return round(float(m.group(1)) * _MEM_FACTOR[m.group(2)])


@dataclass(frozen=True, order=True)
class Tres:
    name: str
    type: str | None
    count: int


def parse_tres_list(text: str | None) -> list[Tres]:
    """`gres:gpu:a100:2,gres:gpu:1` (TresPerNode/Job/Task, CpusPerTres, MemPerTres) -> [Tres]."""
    out: list[Tres] = []
    if not text or text in ("(null)", "N/A"):
        return out
    for item in text.split(","):
        fields = item.split(":")
        if fields and fields[0] == "gres":
            fields = fields[1:]
        if len(fields) == 3:
            out.append(Tres(fields[0], fields[1], int(fields[2])))
        elif len(fields) == 2:
            if fields[1].isdigit():
                out.append(Tres(fields[0], None, int(fields[1])))
            else:
                out.append(Tres(fields[0], fields[1], 1))
        elif len(fields) == 1:
            out.append(Tres(fields[0], None, 1))
        else:
            raise ValueError(f"unrecognised TRES entry {item!r}")
    return out


def parse_array_spec(spec: str) -> tuple[list[int], int | None]:
    """`0-15%4`, `1,3,5`, `0-90:10%3`, `7` -> (sorted indices, throttle or None)."""
    throttle = None
    if "%" in spec:
        spec, t = spec.rsplit("%", 1)
        throttle = int(t)
    indices: set[int] = set()
    for part in spec.split(","):
        step = 1
        if ":" in part:
            part, s = part.split(":", 1)
            step = int(s)
        if "-" in part:
            a, b = part.split("-", 1)
            indices.update(range(int(a), int(b) + 1, step))
        else:
            indices.add(int(part))
    return sorted(indices), throttle


@dataclass(frozen=True, order=True)
class DepTarget:
    type: str
    job_id: str | None  # None for singleton
    task: str | None  # None: whole job (Slurm prints `_*` for a whole array)
    minutes: int | None


@dataclass
class Dependency:
    mode: str  # "all" (`,`) or "any" (`?`)
    targets: list[DepTarget] = field(default_factory=list)
    states: list[str] = field(default_factory=list)


_DEP_ITEM_RE = re.compile(r"^(?P<type>[a-z]+)(?::(?P<job>\d+)(?:_(?P<task>\*|\d+))?(?:\+(?P<min>\d+))?)?"
                          r"(?:\((?P<state>[^)]*)\))?$")


def parse_dependency(text: str | None) -> Dependency | None:
    """scontrol's `afterok:12(unfulfilled),afterany:7_*+5(unfulfilled)` / `a?b` / `singleton(unfulfilled)`."""
    if not text or text == "(null)":
        return None
    mode = "any" if "?" in text else "all"
    dep = Dependency(mode)
    for item in re.split(r"[,?]", text):
        m = _DEP_ITEM_RE.match(item)
        if not m:
            raise ValueError(f"unrecognised dependency element {item!r} in {text!r}")
        task = m.group("task")
        dep.targets.append(
            DepTarget(
                m.group("type"),
                m.group("job"),
                None if task in (None, "*") else task,
                int(m.group("min")) if m.group("min") else None,
            )
        )
        dep.states.append(m.group("state") or "")
    return dep


def scontrol_stdio_path(pattern: str, job_id: str, array_job_id: str | None, array_task_id: int | None,
                        user: str, job_name: str, work_dir: str) -> str:
    """What scontrol prints as StdOut/StdErr for a path pattern (22.05 api/job_info.c _fname_format): only %A, %a,
    %j, %u and %x are replaced, in that order, by plain substring substitution (no %%, no %N, no padding, and
    backslashes do not disable it); a relative result is prefixed with WorkDir."""
    s = pattern
    s = s.replace("%A", array_job_id or job_id)
    s = s.replace("%a", str(NO_ARRAY_TASK if array_task_id is None else array_task_id))
    s = s.replace("%j", job_id)
    s = s.replace("%u", user)
    s = s.replace("%x", job_name)
    if not s.startswith("/"):
        s = work_dir.rstrip("/") + "/" + s
    return s


def user_name() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
