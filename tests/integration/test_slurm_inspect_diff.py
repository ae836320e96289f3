#!/usr/bin/env python3
"""Differential test: `spawn slurm inspect --json` against what a real Slurm 22.05 records.

For every batch script in tests/data/corpus (optionally filtered with -k), the script is submitted to the real
Slurm with `sbatch --hold -p cloud [case args] SCRIPT` (powered-down cloud nodes: nothing ever runs), its record
is read with `scontrol show job -o` and the job cancelled; then `spawn slurm inspect [case args] SCRIPT --json`
runs on the same bytes, in the same directory, with the same environment, and the two are compared field by field.

  sbatch rejects  => spawn must exit non-zero, print nothing on stdout and a message on stderr.
  sbatch accepts  => spawn must exit 0 and agree on every field below (see compare()).

A sidecar NAME.sbatch.case.json may give {"args": [...], "env": {...}}; args go before the script on both sides.
Placeholders {JOB1} {JOB2} {JOB3} (held plain jobs) and {ARRAY1} (a held array job) in a script, its args or env
are replaced with ids of jobs the test submits first, because dependencies are best tested against real jobs.
Scripts named reject_*.sbatch must be rejected by sbatch and all others accepted (a check of the corpus itself).

Usage: test_slurm_inspect_diff.py --spawn build/spawn [-k PATTERN]... [--slurm-only] [--dump FILE] [-v]
Exit: 0 all agree, 1 disagreements, 77 Slurm unreachable (unless SPAWN_TEST_SLURM=1: then 1).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slurmlib as sl  # noqa: E402

CORPUS = sl.REPO / "tests" / "data" / "corpus"
PLACEHOLDER_RE = re.compile(r"\{(JOB[1-3]|ARRAY1)\}")
CONTRACT_KEYS = (
    "script job_name time_limit_minutes time_unlimited nodes_min nodes_max ntasks ntasks_per_node cpus_per_task "
    "mem_per_node_mb mem_per_cpu_mb mem_per_gpu_mb gpus_per_node gpus_per_job gpus_per_task cpus_per_gpu gres array "
    "dependency exclusive exclusive_mode partition account qos constraint output error chdir directives "
    "spawn_directives body_line warnings"
).split()
SLURM_SHOWN = (
    "JobName TimeLimit NumNodes NumTasks CPUs/Task NtasksPerN:B:S:C MinMemoryNode MinMemoryCPU MemPerTres TresPerNode "
    "TresPerJob TresPerTask CpusPerTres ArrayTaskId ArrayTaskThrottle Dependency OverSubscribe Account Features "
    "WorkDir StdOut StdErr"
).split()


# ---------------------------------------------------------------- corpus


class Case:
    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        side = path.with_name(path.name + ".case.json")
        spec = json.loads(side.read_text()) if side.exists() else {}
        self.args: list[str] = [str(a) for a in spec.get("args", [])]
        self.env: dict[str, str] = {k: str(v) for k, v in spec.get("env", {}).items()}
        self.data = path.read_bytes()
        self.expect_reject = path.name.startswith("reject_")

    def placeholders(self) -> set[str]:
        text = self.data.decode("latin-1") + " ".join(self.args) + " ".join(self.env.values())
        return set(PLACEHOLDER_RE.findall(text))

    def materialise(self, ids: dict[str, str], root: Path) -> tuple[Path, list[str], dict[str, str]]:
        def sub(s: str) -> str:
            return PLACEHOLDER_RE.sub(lambda m: ids[m.group(1)], s)

        work = root / self.path.stem
        work.mkdir(parents=True, exist_ok=True)
        data = re.sub(rb"\{(JOB[1-3]|ARRAY1)\}", lambda m: ids[m.group(1).decode()].encode(), self.data)
        (work / self.name).write_bytes(data)
        return work, [sub(a) for a in self.args], {k: sub(v) for k, v in self.env.items()}


def select_cases(patterns: list[str]) -> list[Case]:
    paths = sorted(CORPUS.glob("*.sbatch"))
    if patterns:
        paths = [p for p in paths if any(fnmatch.fnmatch(p.name, f"*{k}*") or k in p.name for k in patterns)]
    return [Case(p) for p in paths]


def submit_targets(names: set[str], root: Path, env: dict[str, str]) -> dict[str, str]:
    """Held jobs that dependency scripts point at: JOBn plain, ARRAY1 an array of 4."""
    ids: dict[str, str] = {}
    target = root / "dependency-target.sbatch"
    target.write_text("#!/bin/sh\n#SBATCH -J dependency-target -t 1\ntrue\n")
    for name in sorted(names):
        args = ["--array=1-4"] if name.startswith("ARRAY") else []
        s = sl.sbatch(target, args, env=env, cwd=root)
        if not s.accepted:
            raise RuntimeError(f"cannot submit dependency target {name}: {s.stderr.strip()}")
        ids[name] = s.job_id
    return ids


# ---------------------------------------------------------------- running both sides


class Result:
    def __init__(self, case: Case):
        self.case = case
        self.sbatch: sl.Submission | None = None
        self.record: dict[str, str] | None = None
        self.records: list[dict[str, str]] = []
        self.work: Path | None = None
        self.spawn_rc: int | None = None
        self.spawn_out = ""
        self.spawn_err = ""


def run_slurm(case: Case, ids: dict[str, str], root: Path, base_env: dict[str, str]) -> Result:
    res = Result(case)
    work, args, env = case.materialise(ids, root)
    res.work = work
    full_env = dict(base_env, **env)
    res.sbatch = sl.sbatch(case.name, args, env=full_env, cwd=work)
    if res.sbatch.accepted:
        res.records = sl.show_job(res.sbatch.job_id)
        res.record = sl.main_record(res.records, res.sbatch.job_id)
        sl.scancel(res.sbatch.job_id)
    res.args, res.env = args, full_env
    return res


def run_spawn(res: Result, spawn: str) -> None:
    cmd = [spawn, "slurm", "inspect", *res.args, res.case.name, "--json"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=res.env, cwd=res.work, timeout=60)
        res.spawn_rc, res.spawn_out, res.spawn_err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        res.spawn_rc, res.spawn_out, res.spawn_err = -1, "", "timed out after 60 s"
    except OSError as e:
        res.spawn_rc, res.spawn_out, res.spawn_err = -1, "", f"cannot run spawn: {e}"


# ---------------------------------------------------------------- comparing


def fmt_minutes(m: int | None) -> str:
    if m is None:
        return "UNLIMITED"
    d, rest = divmod(m, 1440)
    h, mi = divmod(rest, 60)
    return f"{d}-{h:02d}:{mi:02d}:00" if d else f"{h:02d}:{mi:02d}:00"


def gpu_spec(v) -> sl.Tres | None:
    """spawn's {"type": t, "count": n} (or a bare count) -> Tres."""
    if v is None:
        return None
    if isinstance(v, dict):
        return sl.Tres("gpu", v.get("type"), int(v.get("count")))
    return sl.Tres("gpu", None, int(v))


def tres_str(items) -> str:
    items = sorted(items, key=lambda t: (t.name, t.type or "", t.count))
    return ",".join(f"{t.name}:{t.type + ':' if t.type else ''}{t.count}" for t in items) or "(none)"


def spawn_dep_targets(dep: dict) -> list[sl.DepTarget]:
    out = []
    for item in dep.get("items", []):
        typ = str(item.get("type", "")).lower()
        if typ == "singleton":
            out.append(sl.DepTarget("singleton", None, None, None))
            continue
        targets = item.get("targets")
        if targets is None:
            targets = [{"job_id": j, "task": None, "minutes": None} for j in item.get("job_ids", [])]
        for t in targets:
            task = t.get("task")
            out.append(sl.DepTarget(typ, str(t.get("job_id")), None if task is None else str(task),
                                    None if t.get("minutes") is None else int(t["minutes"])))
    return out


def dep_str(targets: list[sl.DepTarget], mode: str) -> str:
    parts = []
    for t in sorted(targets, key=lambda t: (t.type, t.job_id or "", t.task or "", t.minutes or 0)):
        if t.job_id is None:
            parts.append(t.type)
        else:
            parts.append(f"{t.type}:{t.job_id}{'_' + t.task if t.task else ''}{'+' + str(t.minutes) if t.minutes else ''}")
    return ("?" if mode == "any" else ",").join(parts) or "(null)"


class Comparison:
    def __init__(self, name: str):
        self.name = name
        self.fields = 0
        self.problems: list[str] = []

    def check(self, field: str, slurm, spawn, equal: bool | None = None) -> None:
        self.fields += 1
        ok = (slurm == spawn) if equal is None else equal
        if not ok:
            self.problems.append(f"{self.name}: {field}: slurm={slurm} spawn={spawn}")

    def fail(self, field: str, message: str) -> None:
        self.fields += 1
        self.problems.append(f"{self.name}: {field}: {message}")


def compare(res: Result, cmp: Comparison, user: str) -> None:
    rec = res.record or {}
    try:
        j = json.loads(res.spawn_out)
    except json.JSONDecodeError as e:
        cmp.fail("json", f"spawn stdout is not JSON ({e}): {res.spawn_out[:200]!r}")
        return
    missing = [k for k in CONTRACT_KEYS if k not in j]
    if missing:
        cmp.fail("contract", f"spawn --json lacks keys {missing}")
    g = j.get
    job_id = res.sbatch.job_id

    # Name.
    cmp.check("JobName", rec.get("JobName"), g("job_name"))

    # Time limit: no --time => the partition default (cloud: MaxTime=INFINITE, no DefaultTime => UNLIMITED).
    slurm_t = sl.time_limit_minutes(rec.get("TimeLimit", ""))
    spawn_t = None if g("time_unlimited") else g("time_limit_minutes")
    cmp.check("TimeLimit", rec.get("TimeLimit"), fmt_minutes(spawn_t) if spawn_t is not None else "UNLIMITED",
              equal=(slurm_t == spawn_t))

    # Nodes: -N given => `min-max`; not given => a bare estimate without `-`.
    nn = rec.get("NumNodes", "")
    if g("nodes_min") is not None and g("nodes_max") is not None:
        cmp.check("NumNodes", nn, f"{g('nodes_min')}-{g('nodes_max')}")
    elif g("nodes_min") is not None:
        # A node count sbatch derived (from -w/--nodelist) with no maximum: Slurm shows the bare count.
        cmp.check("NumNodes", nn, str(g("nodes_min")))
    else:
        cmp.check("NumNodes", nn, "null (no -N)", equal="-" not in nn)

    # Tasks. Not given: Slurm records one per node (times --ntasks-per-node).
    per_node = g("ntasks_per_node")
    slurm_pn = int(rec.get("NtasksPerN:B:S:C", "0").split(":")[0] or 0)
    cmp.check("NtasksPerNode", slurm_pn, per_node or 0)
    nt = rec.get("NumTasks")
    if g("ntasks") is not None:
        cmp.check("NumTasks", nt, str(g("ntasks")))
    else:
        default = (g("nodes_min") or 1) * (per_node or 1)
        cmp.check("NumTasks", nt, f"null (default {default})", equal=(nt == str(default)))
    cmp.check("CPUs/Task", rec.get("CPUs/Task"), str(g("cpus_per_task") or 1))

    # Memory: MinMemoryCPU with --mem-per-cpu, else MinMemoryNode (0 when --mem not given or --mem=0).
    s_node = sl.memory_mb(rec["MinMemoryNode"]) if "MinMemoryNode" in rec else None
    s_cpu = sl.memory_mb(rec["MinMemoryCPU"]) if "MinMemoryCPU" in rec else None
    if g("mem_per_cpu_mb") is not None:
        cmp.check("MinMemoryCPU", rec.get("MinMemoryCPU"), f"{g('mem_per_cpu_mb')}M", equal=(s_cpu == g("mem_per_cpu_mb")))
    else:
        cmp.check("MinMemoryCPU", rec.get("MinMemoryCPU"), "null", equal=(s_cpu is None))
        want = g("mem_per_node_mb") or 0
        cmp.check("MinMemoryNode", rec.get("MinMemoryNode"), f"{want}M", equal=(s_node == want))
    mpt = [t for t in sl.parse_tres_list(rec.get("MemPerTres")) if t.name == "gpu"]
    cmp.check("MemPerTres", rec.get("MemPerTres", "(none)"), g("mem_per_gpu_mb"),
              equal=([t.count for t in mpt] == ([g("mem_per_gpu_mb")] if g("mem_per_gpu_mb") is not None else [])))

    # GPUs and other generic resources.
    # spawn mirrors a GPU --gres into gpus_per_node; Slurm lists --gpus-per-node and --gres entries side by side,
    # so gpus_per_node adds an entry only when --gpus-per-node itself was given (or no GPU gres explains it).
    want_node = [sl.Tres(x.get("name"), x.get("type"), int(x.get("count"))) for x in (g("gres") or [])]
    gpn = gpu_spec(g("gpus_per_node"))
    gpn_given = any(d.get("option") == "--gpus-per-node" for d in (g("directives") or []))
    if gpn and (gpn_given or not any(t.name == "gpu" for t in want_node)):
        want_node.append(gpn)
    have_node = sl.parse_tres_list(rec.get("TresPerNode"))
    cmp.check("TresPerNode", tres_str(have_node), tres_str(want_node), equal=sorted(have_node) == sorted(want_node))
    for key, jkey in (("TresPerJob", "gpus_per_job"), ("TresPerTask", "gpus_per_task")):
        have = sl.parse_tres_list(rec.get(key))
        want = [gpu_spec(g(jkey))] if g(jkey) is not None else []
        cmp.check(key, tres_str(have), tres_str(want), equal=sorted(have) == sorted(want))
    cpt = [t.count for t in sl.parse_tres_list(rec.get("CpusPerTres")) if t.name == "gpu"]
    cmp.check("CpusPerTres", rec.get("CpusPerTres", "(none)"), g("cpus_per_gpu"),
              equal=(cpt == ([g("cpus_per_gpu")] if g("cpus_per_gpu") is not None else [])))

    # Array.
    arr = g("array")
    if "ArrayTaskId" in rec:
        s_idx, s_thr = sl.parse_array_spec(rec["ArrayTaskId"])
        if s_thr is None and rec.get("ArrayTaskThrottle"):
            s_thr = int(rec["ArrayTaskThrottle"]) or None
        if not arr:
            cmp.check("ArrayTaskId", rec["ArrayTaskId"], "null")
        else:
            idx = sorted(set(arr.get("indices") or []))
            short = lambda L: f"{len(L)} indices {L[:6]}{'...' if len(L) > 6 else ''}"
            cmp.check("ArrayTaskId.indices", f"{rec['ArrayTaskId']} ({short(s_idx)})",
                      f"{arr.get('spec')} ({short(idx)})", equal=(s_idx == idx))
            cmp.check("ArrayTaskId.max_running", s_thr, arr.get("max_running"))
            cmp.check("array.count", len(s_idx), arr.get("count"))
            if arr.get("spec") is not None:
                try:
                    spec_idx, spec_thr = sl.parse_array_spec(arr["spec"])
                    cmp.check("array.spec", rec["ArrayTaskId"], arr["spec"],
                              equal=(spec_idx == s_idx and spec_thr == s_thr))
                except ValueError:
                    cmp.fail("array.spec", f"slurm={rec['ArrayTaskId']} spawn={arr['spec']!r} (unparseable)")
    else:
        cmp.check("ArrayTaskId", "(none)", arr and arr.get("spec"), equal=(arr is None))

    # Dependency: compared as a multiset of (type, job, task, +minutes) plus the `?` mode when it matters.
    s_dep = sl.parse_dependency(rec.get("Dependency"))
    j_dep = g("dependency")
    s_t = sorted(s_dep.targets) if s_dep else []
    j_t = sorted(spawn_dep_targets(j_dep)) if j_dep else []
    s_mode = s_dep.mode if s_dep else "all"
    j_mode = (j_dep or {}).get("mode", "all")
    same = s_t == j_t and (len(s_t) < 2 or s_mode == j_mode)
    cmp.check("Dependency", rec.get("Dependency"), dep_str(j_t, j_mode), equal=same)

    # Exclusivity.
    mode = g("exclusive_mode") or ("exclusive" if g("exclusive") else None)
    oversub = any(d.get("option") in ("--oversubscribe", "-s") for d in (g("directives") or []))
    want = {"exclusive": "NO", "user": "USER", "mcs": "MCS", "oversubscribe": "YES"}.get(mode or "",
                                                                                     "YES" if oversub else "OK")
    cmp.check("OverSubscribe", rec.get("OverSubscribe"), f"{want} (exclusive={g('exclusive')}, mode={mode})",
              equal=(rec.get("OverSubscribe") == want))

    # Working directory and output paths, with scontrol's substitutions applied to spawn's patterns.
    base = str(res.work)
    chdir = g("chdir")
    work_dir = os.path.normpath(os.path.join(base, chdir)) if chdir else base
    cmp.check("WorkDir", rec.get("WorkDir"), work_dir)
    is_array = "ArrayTaskId" in rec
    out_pat = g("output") or ("slurm-%A_%a.out" if is_array else "slurm-%j.out")
    err_pat = g("error") or out_pat
    for key, pat in (("StdOut", out_pat), ("StdErr", err_pat)):
        pat = "/dev/null" if pat == "none" else pat
        want = sl.scontrol_stdio_path(pat, job_id, job_id if is_array else None, None, user,
                                      rec.get("JobName", ""), rec.get("WorkDir", work_dir))
        cmp.check(key, rec.get(key), want)

    # Account and constraint are recorded as given ((null) when absent); QOS shows (null) without accounting.
    cmp.check("Account", rec.get("Account"), g("account") or "(null)")
    cmp.check("Features", rec.get("Features"), g("constraint") or "(null)")


# ---------------------------------------------------------------- main


def first_line(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[0] if lines else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spawn", help="path to the spawn binary")
    ap.add_argument("-k", action="append", default=[], metavar="PATTERN", help="only scripts whose name matches")
    ap.add_argument("--slurm-only", action="store_true", help="only print what real Slurm recorded per script")
    ap.add_argument("--dump", metavar="FILE", help="write Slurm's verdicts and records as JSON")
    ap.add_argument("-v", "--verbose", action="store_true")
    opts = ap.parse_args()
    t0 = time.monotonic()

    require = os.environ.get("SPAWN_TEST_SLURM") == "1"
    if not sl.ensure_slurm(start=require):
        print("test_slurm_inspect_diff: Slurm is not reachable (sbatch missing or `scontrol ping` fails); "
              "run scripts/start-slurm.sh as root", file=sys.stderr)
        return 1 if require else sl.EXIT_SKIP
    if not opts.slurm_only:
        if not opts.spawn or not os.access(opts.spawn, os.X_OK):
            print(f"test_slurm_inspect_diff: --spawn {opts.spawn!r} is not an executable", file=sys.stderr)
            return 2
        opts.spawn = os.path.abspath(opts.spawn)  # spawn runs in each script's own directory

    cases = select_cases(opts.k)
    if not cases:
        print("test_slurm_inspect_diff: no corpus script matches", file=sys.stderr)
        return 2
    user = sl.user_name()
    base_env = sl.clean_environment()
    root = Path(tempfile.mkdtemp(prefix="spawn-inspect-diff-"))
    targets: dict[str, str] = {}
    results: list[Result] = []
    problems: list[str] = []
    fields = 0
    t_slurm = t_spawn = 0.0
    try:
        needed = set().union(*(c.placeholders() for c in cases))
        targets = submit_targets(needed, root, base_env) if needed else {}
        for case in cases:
            t = time.monotonic()
            res = run_slurm(case, targets, root, base_env)
            t_slurm += time.monotonic() - t
            results.append(res)
            sub = res.sbatch
            verdict = "accepted" if sub.accepted else f"rejected (exit {sub.returncode})"
            if sub.accepted == case.expect_reject:
                problems.append(f"{case.name}: corpus: sbatch {verdict} but the name says "
                                f"{'reject' if case.expect_reject else 'accept'}: {first_line(sub.stderr)}")
            if opts.slurm_only or opts.verbose:
                print(f"{case.name}: sbatch {verdict}" + (f": {first_line(sub.stderr)}" if not sub.accepted else ""))
                if res.record:
                    shown = " ".join(f"{k}={res.record[k]}" for k in SLURM_SHOWN if k in res.record)
                    print(f"    {shown}")
                if sub.accepted and sub.stderr.strip():
                    print(f"    sbatch stderr: {sub.stderr.strip()!r}")
            if opts.slurm_only:
                continue
            t = time.monotonic()
            run_spawn(res, opts.spawn)
            t_spawn += time.monotonic() - t
            cmp = Comparison(case.name)
            if not sub.accepted:
                cmp.fields += 1
                if res.spawn_rc == 0 or res.spawn_out.strip() or not res.spawn_err.strip():
                    cmp.problems.append(
                        f"{case.name}: verdict: slurm=rejected (exit {sub.returncode}: {first_line(sub.stderr)}) "
                        f"spawn=exit {res.spawn_rc}, stdout {len(res.spawn_out)} bytes, "
                        f"stderr {first_line(res.spawn_err)!r}")
            elif res.spawn_rc != 0:
                cmp.fail("verdict", f"slurm=accepted spawn=exit {res.spawn_rc}: {first_line(res.spawn_err)}")
            else:
                compare(res, cmp, user)
            fields += cmp.fields
            problems.extend(cmp.problems)
            if opts.verbose and not cmp.problems:
                print(f"    ok ({cmp.fields} fields)")
    finally:
        sl.scancel(*targets.values())
        if opts.dump:
            dump = [{"script": r.case.name, "args": r.case.args, "env": r.case.env,
                     "sbatch_exit": r.sbatch.returncode, "sbatch_stderr": r.sbatch.stderr,
                     "job_id": r.sbatch.job_id, "records": r.records} for r in results if r.sbatch]
            Path(opts.dump).write_text(json.dumps(dump, indent=1) + "\n")
        shutil.rmtree(root, ignore_errors=True)

    for p in problems:
        print(p)
    accepted = sum(1 for r in results if r.sbatch and r.sbatch.accepted)
    elapsed = time.monotonic() - t0
    print(f"summary: {len(results)} scripts ({accepted} accepted, {len(results) - accepted} rejected by sbatch), "
          f"{fields} fields compared, {len(problems)} disagreements")
    print(f"timing: {elapsed:.1f} s total, sbatch+scontrol+scancel {t_slurm:.1f} s, spawn {t_spawn:.1f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
