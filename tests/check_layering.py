#!/usr/bin/env python3
"""Fails when a source file includes a header from a stage it may not depend on (docs/ARCHITECTURE.md)."""
import pathlib
import re
import sys

ALLOWED = {
    "util": set(),
    "core": {"util"},
    "slurm": {"core", "util"},
    "config": {"core", "util"},
    "catalog": {"core", "config", "util"},
    "plan": {"core", "config", "slurm", "catalog", "util"},
    "runtime": {"core", "util"},
    "engine": {"core", "util"},
    "aws": {"core", "util"},
    "providers": {"aws", "engine", "runtime", "core", "util"},
    "cli": {"providers", "aws", "engine", "runtime", "plan", "catalog", "slurm", "config", "core", "util"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')

root = pathlib.Path(sys.argv[1])
problems = []
for folder in sorted(p for p in root.iterdir() if p.is_dir()):
    if folder.name not in ALLOWED:
        problems.append(f"{folder}: stage not listed in tests/check_layering.py")
        continue
    for path in sorted(folder.rglob("*.[ch]pp")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            m = INCLUDE.match(line)
            if m and m.group(1) != folder.name and m.group(1) not in ALLOWED[folder.name]:
                problems.append(f"{path}:{number}: {folder.name}/ may not include {m.group(1)}/")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
