"""The instance types the local endpoint knows (a small, realistic subset; on-demand USD/hour in us-east-1)."""
TYPES = {
    "t3.micro": {"vcpus": 2, "mib": 1024, "arch": "x86_64", "od": 0.0104},
    "t3.large": {"vcpus": 2, "mib": 8192, "arch": "x86_64", "od": 0.0832},
    "c5.large": {"vcpus": 2, "mib": 4096, "arch": "x86_64", "od": 0.085},
    "c5.xlarge": {"vcpus": 4, "mib": 8192, "arch": "x86_64", "od": 0.17},
    "c5.2xlarge": {"vcpus": 8, "mib": 16384, "arch": "x86_64", "od": 0.34},
    "c6i.large": {"vcpus": 2, "mib": 4096, "arch": "x86_64", "od": 0.085},
    "m5.large": {"vcpus": 2, "mib": 8192, "arch": "x86_64", "od": 0.096},
    "m5.xlarge": {"vcpus": 4, "mib": 16384, "arch": "x86_64", "od": 0.192},
    "r5.large": {"vcpus": 2, "mib": 16384, "arch": "x86_64", "od": 0.126},
    "c6g.large": {"vcpus": 2, "mib": 4096, "arch": "arm64", "od": 0.068},
    "c5n.18xlarge": {"vcpus": 72, "mib": 196608, "arch": "x86_64", "od": 3.888, "efa": True, "net": "100 Gigabit"},
    "hpc7g.16xlarge": {"vcpus": 64, "mib": 131072, "arch": "arm64", "od": 1.6832, "efa": True, "net": "200 Gigabit"},
    "g4dn.xlarge": {"vcpus": 4, "mib": 16384, "arch": "x86_64", "od": 0.526, "gpus": 1, "gpu_name": "T4", "gpu_mib": 15360},
    "g5.xlarge": {"vcpus": 4, "mib": 16384, "arch": "x86_64", "od": 1.006, "gpus": 1, "gpu_name": "A10G", "gpu_mib": 22888},
    "p3.2xlarge": {"vcpus": 8, "mib": 62464, "arch": "x86_64", "od": 3.06, "gpus": 1, "gpu_name": "V100", "gpu_mib": 16384},
    "p4d.24xlarge": {"vcpus": 96, "mib": 1179648, "arch": "x86_64", "od": 32.7726, "gpus": 8, "gpu_name": "A100",
                     "gpu_mib": 40960, "efa": True, "net": "4x 100 Gigabit"},
    "m4.large": {"vcpus": 2, "mib": 8192, "arch": "x86_64", "od": 0.1, "current": False},
}


# ----- The full catalog: every type of spawn's catalog file, with its prices per region and zone -----
# The endpoint answers DescribeInstanceTypes, DescribeSpotPriceHistory and the Price List from it, so a refresh
# against the endpoint sees AWS's real shapes and sizes (about 900 types in us-east-1). Facts AWS reports that the
# catalog encodes its own way are translated back (model names, where each accelerator kind is listed).
import os as _os

CATALOG_FILE = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "..", "..", "data", "catalog",
                             "aws-ec2.catalog")
_loaded = None


def _money(text):
    return None if text == "-" else float(text)


def load():
    """(facts, prices): facts[type] = dict like TYPES' entries plus accelerator and flag fields;
    prices[region][type] = {"od": float or None, "spot": {zone_id: float or None}}."""
    global _loaded
    if _loaded is None:
        facts, prices, current = {}, {}, None
        with open(CATALOG_FILE) as f:
            for line in f:
                fields = line.split()
                if not fields or fields[0].startswith("#"):
                    continue
                if fields[0] == "type":
                    name, family, arch, vcpus, mib, kind, count, model, gmem, flags = fields[1:11]
                    flags = flags.split(",")
                    current = name
                    facts[name] = {"vcpus": int(vcpus), "mib": int(mib), "arch": arch, "accel_kind": kind,
                                   "accel_count": int(count), "accel_model": model.replace("_", " "),
                                   "accel_mib": int(gmem), "burstable": "burstable" in flags,
                                   "current": "previous" not in flags, "macos": "macos" in flags}
                elif fields[0] == "price":
                    zones = dict(z.split("=", 1) for z in fields[3:])
                    prices.setdefault(fields[1], {})[current] = {
                        "od": _money(fields[2]), "spot": {z: _money(p) for z, p in zones.items()}}
        for name, t in TYPES.items():  # the hand table adds network facts (EFA) the catalog does not carry
            facts.setdefault(name, {"vcpus": t["vcpus"], "mib": t["mib"], "arch": t["arch"], "accel_kind": "none",
                                    "accel_count": 0, "accel_model": "-", "accel_mib": 0, "burstable": False,
                                    "current": t.get("current", True), "macos": False})
            facts[name].update({k: t[k] for k in ("efa", "net") if k in t})
        _loaded = (facts, prices)
    return _loaded


def zone_prefix(region):
    """The zone-id prefix of a region ("use1" for us-east-1), from the catalog's zone ids."""
    for offer in load()[1].get(region, {}).values():
        for zone in offer["spot"]:
            return zone.rsplit("-az", 1)[0]
    return "use1"


def region_offers(region):
    """A fresh, mutable copy of the region's prices (tests change prices in it)."""
    offers = {name: {"od": o["od"], "spot": dict(o["spot"])} for name, o in load()[1].get(region, {}).items()}
    for name, t in TYPES.items():
        if region == "us-east-1":
            offers.setdefault(name, {"od": t["od"], "spot": {}})
    return offers


def type_xml(name):
    """The <item> DescribeInstanceTypes sends for a type."""
    t = load()[0][name]
    accel = ""
    n, model, mib, kind = t["accel_count"], t["accel_model"], t["accel_mib"], t["accel_kind"]
    api_name = {"A100-80GB": "A100", "V100-32GB": "V100"}.get(model, model)
    memory = f"<memoryInfo><sizeInMiB>{mib}</sizeInMiB></memoryInfo>" if mib else ""
    def device(maker):
        maker_xml = f"<manufacturer>{maker}</manufacturer>" if maker else ""
        return f"<item><name>{api_name}</name>{maker_xml}<count>{n}</count>{memory}</item>"
    if kind in ("nvidia-gpu", "amd-gpu", "gaudi", "other"):
        maker = {"nvidia-gpu": "NVIDIA", "amd-gpu": "AMD", "gaudi": "Habana", "other": "Qualcomm"}[kind]
        accel = f"<gpuInfo><gpus>{device(maker)}</gpus><totalGpuMemoryInMiB>{n * mib}</totalGpuMemoryInMiB></gpuInfo>"
    elif kind == "inferentia" and model == "Inferentia":
        accel = (f"<inferenceAcceleratorInfo><accelerators><member><count>{n}</count><name>{api_name}</name>"
                 f"<manufacturer>AWS</manufacturer></member></accelerators></inferenceAcceleratorInfo>")
    elif kind in ("inferentia", "trainium"):
        accel = f"<neuronInfo><neuronDevices>{device('')}</neuronDevices></neuronInfo>"
    elif kind == "fpga":
        accel = f"<fpgaInfo><fpgas>{device('Xilinx')}</fpgas></fpgaInfo>"
    elif kind == "video":
        accel = f"<mediaAcceleratorInfo><accelerators>{device('Xilinx')}</accelerators></mediaAcceleratorInfo>"
    arch = t["arch"] + ("_mac" if t["macos"] else "")
    usage = "<item>on-demand</item>" if t["macos"] else "<item>on-demand</item><item>spot</item>"
    return (f"<item><instanceType>{name}</instanceType><currentGeneration>{str(t['current']).lower()}</currentGeneration>"
            f"<supportedUsageClasses>{usage}</supportedUsageClasses>"
            f"<processorInfo><supportedArchitectures><item>{arch}</item></supportedArchitectures></processorInfo>"
            f"<vCpuInfo><defaultVCpus>{t['vcpus']}</defaultVCpus></vCpuInfo>"
            f"<memoryInfo><sizeInMiB>{t['mib']}</sizeInMiB></memoryInfo>{accel}"
            f"<burstablePerformanceSupported>{str(t['burstable']).lower()}</burstablePerformanceSupported>"
            f"<networkInfo><networkPerformance>{t.get('net', 'Up to 10 Gigabit')}</networkPerformance>"
            f"<efaSupported>{str(t.get('efa', False)).lower()}</efaSupported></networkInfo></item>")
