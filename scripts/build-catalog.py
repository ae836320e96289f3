#!/usr/bin/env python3
"""Turns a SkyPilot-style AWS VM snapshot (vms.csv) into spawn's own catalog, data/catalog/aws-ec2.catalog.

Run by a developer when the snapshot changes; neither the build nor the tests run it:

    scripts/build-catalog.py /work/shared/data/aws-ec2-vms.csv [--snapshot 2026-11-28] [-o data/catalog/aws-ec2.catalog]

The output is deterministic (same input, same bytes) and its format is described in docs/catalog.md. The facts that
the source does not carry (architecture, burstable, previous generation, accelerator kind) are derived here, so the
C++ side reads them from the catalog and keeps no family lists of its own; a later `spawn catalog refresh` gets the
same facts from DescribeInstanceTypes (ProcessorInfo, BurstablePerformanceSupported, CurrentGeneration).
"""
import argparse
import ast
import csv
import hashlib
import pathlib
import re
import sys
from decimal import Decimal, ROUND_HALF_UP

FORMAT_VERSION = 1

# Graviton (arm64) families carry a 'g' right after the generation digit(s): c6g, c6gd, c6gn, c7g, c7gd, c7gn, c8g,
# c8gd, g5g, hpc7g, i4g, i8g, im4gn, is4gen, m6g, m6gd, m7g, m7gd, m8g, m8gd, r6g, r6gd, r7g, r7gd, r8g, r8gd, t4g,
# x2gd, x8g; plus a1 (the first Graviton). Checked by hand against every family in the snapshot (see check below):
# g4dn, g4ad, g5, g6, g6e, gr6 are x86_64 GPU families whose leading 'g' is the family letter, not Graviton.
ARM64_FAMILY = re.compile(r"^(a1|[a-z]+[0-9]+g[a-z]*|[a-z]+[0-9]+g[a-z]*-flex|mac2(-.*)?)$")
ARM64_EXPECTED = {
    "a1", "c6g", "c6gd", "c6gn", "c7g", "c7gd", "c7gn", "c8g", "c8gd", "g5g", "hpc7g", "i4g", "i8g", "im4gn",
    "is4gen", "m6g", "m6gd", "m7g", "m7gd", "m8g", "m8gd", "r6g", "r6gd", "r7g", "r7gd", "r8g", "r8gd", "t4g", "x2gd",
    "x8g", "mac2", "mac2-m1ultra", "mac2-m2", "mac2-m2pro",
}

# Burstable (CPU credit) families: a sustained batch job on them runs at the baseline, a fraction of a vCPU.
BURSTABLE = {"t1", "t2", "t3", "t3a", "t4g"}

# Previous generation, following AWS's "Previous generation instances" list in the EC2 User Guide (its
# instance-types page) and aws.amazon.com/ec2/previous-generation, which name A1, C1, C3, C4, D2, G2, G3, G3s, I2,
# M1, M2, M3, M4, P2, R3, R4 and T1 (DescribeInstanceTypes reports CurrentGeneration=false for them). Families
# AWS still calls current although old (p3, i3, x1, x1e, h1, z1d, t2, f1) stay current here; a refresh from the live
# API replaces this judgement with AWS's own flag. Families listed that are absent from a snapshot are harmless.
PREVIOUS_GENERATION = {
    "a1", "c1", "c3", "c4", "cc1", "cc2", "cg1", "cr1", "d2", "g2", "g3", "g3s", "hi1", "hs1", "i2", "m1", "m2",
    "m3", "m4", "p2", "r3", "r4", "t1",
}

# macOS families run only on Dedicated Hosts with a 24-hour minimum allocation; spawn never picks them on its own.
MACOS_FAMILY = re.compile(r"^mac[0-9]")

# AcceleratorName in the source -> (kind, model as written in the catalog). Every name must be listed: an unknown
# accelerator stops the script instead of being guessed.
ACCELERATORS = {
    "T4": ("nvidia-gpu", "T4"),
    "T4g": ("nvidia-gpu", "T4g"),
    "A10G": ("nvidia-gpu", "A10G"),
    "L4": ("nvidia-gpu", "L4"),
    "L40S": ("nvidia-gpu", "L40S"),
    "V100": ("nvidia-gpu", "V100"),
    "V100-32GB": ("nvidia-gpu", "V100-32GB"),
    "A100": ("nvidia-gpu", "A100"),
    "A100-80GB": ("nvidia-gpu", "A100-80GB"),
    "H100": ("nvidia-gpu", "H100"),
    "H200": ("nvidia-gpu", "H200"),
    "Radeon Pro V520": ("amd-gpu", "Radeon Pro V520"),
    "Inferentia": ("inferentia", "Inferentia"),
    "Inferentia2": ("inferentia", "Inferentia2"),
    "Trainium": ("trainium", "Trainium"),
    "Trainium2": ("trainium", "Trainium2"),
    "Gaudi HL-205": ("gaudi", "Gaudi HL-205"),
    "Qualcomm AI100": ("other", "Qualcomm AI100"),
    "Virtex UltraScale (VU9P)": ("fpga", "Virtex UltraScale (VU9P)"),
    "Virtex UltraScale+ (VU47P)": ("fpga", "Virtex UltraScale+ (VU47P)"),
    "Xilinx U30": ("video", "Xilinx U30"),
}
# Types whose accelerators the source leaves unnamed: vt1 carries Xilinx U30 video transcoding cards (AWS lists 1, 2
# and 8 per size). A vt1 size not listed here stops the script.
UNNAMED_ACCELERATORS = {
    "vt1.3xlarge": ("video", "Xilinx U30", 1),
    "vt1.6xlarge": ("video", "Xilinx U30", 2),
    "vt1.24xlarge": ("video", "Xilinx U30", 8),
}
UNNAMED_ACCELERATOR_FAMILIES = {"vt1"}

MICRO = Decimal("0.000001")


def family_of(instance_type):
    return instance_type.split(".", 1)[0]


def money(text):
    """USD/hour as the catalog writes it: at most 6 decimals, no trailing zeros; None for an empty field."""
    text = text.strip()
    if not text:
        return None
    value = Decimal(text).quantize(MICRO, rounding=ROUND_HALF_UP)
    if value < 0:
        raise ValueError(f"negative price {text!r}")
    out = format(value, "f").rstrip("0").rstrip(".")
    return out if out else "0"


def whole(text, what, row):
    value = Decimal(text)
    if value != value.to_integral_value():
        raise ValueError(f"{row['InstanceType']}: {what} {text!r} is not whole")
    return int(value)


def gpu_memory_mib(gpu_info):
    if not gpu_info.strip():
        return 0
    info = ast.literal_eval(gpu_info)
    gpus = info.get("Gpus") or []
    return int(gpus[0]["MemoryInfo"]["SizeInMiB"]) if gpus else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", type=pathlib.Path, help="the vms.csv snapshot (e.g. ../shared/data/aws-ec2-vms.csv)")
    ap.add_argument("-o", "--output", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parent.parent / "data/catalog/aws-ec2.catalog")
    ap.add_argument("--snapshot", default="2026-11-28", help="date of the snapshot (YYYY-MM-DD)")
    ap.add_argument("--source", default="skypilot-org/skypilot-catalog@001367d22a0033fac286a8c71aeac7109e431bcb"
                    " catalogs/v7/aws/vms.csv")
    args = ap.parse_args()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.snapshot):
        sys.exit(f"--snapshot: expected YYYY-MM-DD, got {args.snapshot!r}")

    raw = args.csv.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    rows = list(csv.DictReader(raw.decode("utf-8").splitlines()))

    specs = {}    # type -> spec tuple
    offers = {}   # (type, region) -> {"od": str|None, "zones": {zone: str|None}}
    for row in rows:
        name = row["InstanceType"]
        family = family_of(name)
        accel = row["AcceleratorName"].strip()
        if accel:
            if accel not in ACCELERATORS:
                sys.exit(f"{name}: unknown AcceleratorName {accel!r}: add it to ACCELERATORS")
            kind, model = ACCELERATORS[accel]
            count = whole(row["AcceleratorCount"], "AcceleratorCount", row)
        elif family in UNNAMED_ACCELERATOR_FAMILIES:
            if name not in UNNAMED_ACCELERATORS:
                sys.exit(f"{name}: accelerator count unknown: add it to UNNAMED_ACCELERATORS")
            kind, model, count = UNNAMED_ACCELERATORS[name]
        else:
            kind, model, count = "none", "-", 0
        # p4de.24xlarge has duplicate rows whose GpuInfo says "A100" instead of "A100-80GB"; the accelerator comes
        # from AcceleratorName, and GPU memory is the same in both, so the duplicates agree on every spec.
        spec = (family, "arm64" if ARM64_FAMILY.match(family) else "x86_64",
                whole(row["vCPUs"], "vCPUs", row),
                int(Decimal(row["MemoryGiB"]) * 1024),
                kind, count, model.replace(" ", "_"), gpu_memory_mib(row["GpuInfo"]))
        if Decimal(row["MemoryGiB"]) * 1024 != int(Decimal(row["MemoryGiB"]) * 1024):
            sys.exit(f"{name}: MemoryGiB {row['MemoryGiB']} is not a whole number of MiB")
        if specs.setdefault(name, spec) != spec:
            sys.exit(f"{name}: rows disagree on specs: {specs[name]} vs {spec}")

        offer = offers.setdefault((name, row["Region"]), {"od": None, "zones": {}})
        od = money(row["Price"])
        if od is not None:
            if offer["od"] not in (None, od):
                sys.exit(f"{name} in {row['Region']}: two on-demand prices {offer['od']} and {od}")
            offer["od"] = od
        zone = row["AvailabilityZone"].strip()
        spot = money(row["SpotPrice"])
        # Duplicate (type, zone) rows (p4de.24xlarge): keep a spot price when any duplicate has one.
        if offer["zones"].get(zone) is None:
            offer["zones"][zone] = spot

    families = {s[0] for s in specs.values()}
    arm = {f for f in families if ARM64_FAMILY.match(f)}
    if arm - ARM64_EXPECTED or (ARM64_EXPECTED & families) - arm:
        sys.exit(f"arm64 families differ from the hand-checked list: {sorted(arm ^ (ARM64_EXPECTED & families))}")

    out = []
    out.append("# spawn instance catalog: EC2 instance types, on-demand price per region, spot price per zone.")
    out.append("# Generated by scripts/build-catalog.py; the format is described in docs/catalog.md.")
    out.append(f"spawn-catalog {FORMAT_VERSION}")
    out.append("provider aws")
    out.append(f"snapshot {args.snapshot}")
    out.append(f"source {args.source} sha256:{sha}")
    out.append("# type NAME FAMILY ARCH VCPUS MEMORY_MIB ACCEL_KIND ACCEL_COUNT ACCEL_MODEL ACCEL_MEMORY_MIB FLAGS")
    out.append("# price REGION ON_DEMAND_USD_PER_HOUR ZONE=SPOT_USD_PER_HOUR... (for the type above; - = no price)")
    by_type = {}
    for (name, region), offer in offers.items():
        by_type.setdefault(name, []).append((region, offer))
    for name in sorted(specs):
        family, arch, vcpus, mem, kind, count, model, gmem = specs[name]
        flags = []
        if family in BURSTABLE:
            flags.append("burstable")
        if family in PREVIOUS_GENERATION:
            flags.append("previous")
        if MACOS_FAMILY.match(family):
            flags.append("macos")
        out.append(f"type {name} {family} {arch} {vcpus} {mem} {kind} {count} {model} {gmem} "
                   f"{','.join(flags) if flags else '-'}")
        for region, offer in sorted(by_type[name]):
            zones = " ".join(f"{z}={p if p is not None else '-'}" for z, p in sorted(offer["zones"].items()))
            out.append(f"price {region} {offer['od'] if offer['od'] is not None else '-'} {zones}")
    out.append("end")
    text = "\n".join(out) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"{args.output}: {len(specs)} types, {len(offers)} type-region offers, "
          f"{sum(len(o['zones']) for o in offers.values())} zone prices, {len(text)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
