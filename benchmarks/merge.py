"""How long merging takes next to plain YAML handling (a measurement, not a test).

For N = 9, 100 and 1000 nodes of a synthetic cluster shaped like pitower (the
repository's patches for every node, plus a patch of its own and the derived install /
HostnameConfig documents), prints the time to merge and write every node config onto
a v1.12-shaped base (each role's base is parsed once, as generation does; and, for
comparison, re-parsed for every node), the time of a libyaml parse + dump of the same
resulting documents (PyYAML's C loader and dumper), and the ratios. Goal: merge + write
at N = 1000 at most 0.5x the libyaml parse + dump. Figures are the best of ``--repeat``
runs, interleaved.

    python benchmarks/merge.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from talos.core import merge
from talos.core.merge.loading import _parse_config  # to measure uncached parses

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "merge"
Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def node_documents(index: int, role: str) -> list[dict[str, Any]]:
    """What the cluster file says of one node, plus a node patch of its own."""
    name = f"node-{index:04d}"
    interface: dict[str, Any] = {"deviceSelector": {"physical": True}, "dhcp": True}
    if role == "controlplane":
        interface["vip"] = {"ip": "192.168.0.200"}
    return [
        {
            "machine": {
                "install": {"image": f"factory.talos.dev/installer/{index:064x}:v1.12.4"},
                "network": {"interfaces": [interface]},
                "nodeLabels": {"topology.kubernetes.io/zone": f"zone-{index % 3}"},
            }
        },
        {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off", "hostname": name},
    ]


def cluster_jobs(count: int) -> list[tuple[str, list[merge.Patch]]]:
    general = merge.load_patch("@patches/general.patch", base_dir=ROOT)
    controlplane = merge.load_patch("@patches/controlplane.patch", base_dir=ROOT)
    jobs: list[tuple[str, list[merge.Patch]]] = []
    for index in range(count):
        role = "controlplane" if index < 3 else "worker"
        own = merge.patch_from_documents(node_documents(index, role), f"node {index}")
        chain = [own, general, *([controlplane] if role == "controlplane" else [])]
        jobs.append((role, chain))
    return jobs


def merge_all(bases: dict[str, str], jobs: list[tuple[str, list[merge.Patch]]],
              reparse: bool = False) -> list[str]:
    outputs = []
    for role, chain in jobs:
        if reparse:
            _parse_config.cache_clear()
        config = merge.parse_config(bases[role], f"{role}.yaml")
        outputs.append(merge.dump_config(merge.apply_patches(config, chain)))
    return outputs


def yaml_all(outputs: list[str]) -> None:
    for text in outputs:
        documents = list(yaml.load_all(text, Loader=Loader))
        yaml.dump_all(documents, Dumper=Dumper, sort_keys=False, default_flow_style=False)


def best(repeat: int, *runs: Callable[[], Any]) -> list[float]:
    """The best time of each run; runs are interleaved so load changes hit them alike."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for index, run in enumerate(runs):
            start = time.perf_counter()
            run()
            times[index].append(time.perf_counter() - start)
    return [min(each) for each in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (best kept)")
    args = parser.parse_args()
    bases = {
        "controlplane": (DATA / "base-controlplane.yaml").read_text(),
        "worker": (DATA / "base-worker.yaml").read_text(),
    }
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"PyYAML {yaml.__version__}, libyaml: {yaml.__with_libyaml__}; best of {args.repeat}")
    print(f"{'nodes':>6} {'merge+write':>13} {'(re-parsing)':>13} {'libyaml load+dump':>15} "
          f"{'ratio':>6} {'(re-parsing)':>12} {'per node':>9}")
    for count in (9, 100, 1000):
        jobs = cluster_jobs(count)
        outputs = merge_all(bases, jobs)
        merged, cold, plain = best(
            args.repeat,
            lambda jobs=jobs: merge_all(bases, jobs),
            lambda jobs=jobs: merge_all(bases, jobs, reparse=True),
            lambda outputs=outputs: yaml_all(outputs),
        )
        print(
            f"{count:>6} {merged * 1000:>11.1f}ms {cold * 1000:>11.1f}ms "
            f"{plain * 1000:>13.1f}ms {merged / plain:>5.2f}x {cold / plain:>11.2f}x "
            f"{merged / count * 1e6:>7.0f}us"
        )


if __name__ == "__main__":
    main()
