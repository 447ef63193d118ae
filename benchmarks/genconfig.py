"""How long `inv genconfig` takes: a full run against a run with nothing to do.

Builds a copy of the pitower cluster (cluster.yaml, patches/, extensions/) with a fresh
age key and encrypted secrets, then, for each size N (pitower's 9 nodes, and pitower
with extra workers up to N), times with the real sops and the talosctl stand-in:

    full      the first run: decrypt, gen config, merge and write N configs
    no-op     the same run again: every input unchanged, nothing decrypted or written
    one node  after changing one node's patch: that node only

A no-op run's cost is mostly one ``talosctl version --client`` (the client version is an
input); the stand-in is a Python script, so that call costs more than the real binary's.

Figures are the median of ``--repeat`` runs of :func:`talos.genconfig.generate` in
process (``inv`` adds its own start-up, about the same for every run).

    python benchmarks/genconfig.py [--nodes 9,100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from sopskit import pitower_project, project_env, sops_path  # noqa: E402

from talos.cluster import Cluster, load_cluster_file  # noqa: E402
from talos.genconfig import GenerationReport, generate  # noqa: E402
from talos.talosctl import Talosctl  # noqa: E402
from talos.targets import talosctl_for  # noqa: E402

STANDIN = REPO / "tests" / "bin" / "talosctl"


def grow(root: Path, total: int) -> None:
    """Add workers to the copy's cluster.yaml until it declares ``total`` nodes."""
    extra = total - 9
    if extra <= 0:
        return
    lines = [
        f"  - name: worker-x{i:03d}\n    role: worker\n    ip: 10.1.{i // 250}.{i % 250 + 1}\n"
        "    schematic: intel\n"
        for i in range(extra)
    ]
    with (root / "cluster.yaml").open("a", encoding="utf-8") as handle:
        handle.write("\n" + "".join(lines))


def timed(cluster: Cluster, talosctl: Talosctl) -> tuple[float, GenerationReport]:
    start = time.perf_counter()
    report = generate(cluster, talosctl=talosctl)
    return time.perf_counter() - start, report


def measure(total: int, repeat: int) -> tuple[float, float, float, float]:
    full: list[float] = []
    noop: list[float] = []
    one: list[float] = []
    version: list[float] = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as work:
            root = pitower_project(Path(work))
            grow(root, total)
            os.environ.update(project_env(root))
            cluster = load_cluster_file(root / "cluster.yaml")
            assert len(cluster.nodes) == total, len(cluster.nodes)
            talosctl = talosctl_for(cluster)
            seconds, report = timed(cluster, talosctl)
            assert len(report.written) == total
            full.append(seconds)
            seconds, report = timed(cluster, talosctl)
            assert report.nothing_to_do
            noop.append(seconds)
            start = time.perf_counter()
            talosctl.client_version()
            version.append(time.perf_counter() - start)
            patch = root / "patches" / "nodes" / "worker-04.patch"
            patch.write_text(patch.read_text().replace("media-home", "media"))
            seconds, report = timed(cluster, talosctl)
            assert report.written == ["worker-04"], report.written
            one.append(seconds)
    return (statistics.median(full), statistics.median(noop), statistics.median(one),
            statistics.median(version))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="9,100", help="cluster sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()
    if not STANDIN.exists():
        sys.exit(f"the talosctl stand-in {STANDIN} is missing")
    os.environ["TALOSCTL"] = str(STANDIN)
    os.environ["PATH"] = sops_path()
    with tempfile.TemporaryDirectory() as state:
        os.environ.setdefault("TALOSCTL_STANDIN_STATE", str(Path(state) / "state.json"))
        os.environ.setdefault("TALOSCTL_STANDIN_LOG", str(Path(state) / "log.jsonl"))
        print(f"{'nodes':>5}  {'full run':>9}  {'no-op run':>9}  {'ratio':>6}  {'one node':>9}"
              "  (no-op: talosctl version --client / the rest)")
        for total in (int(n) for n in args.nodes.split(",")):
            full, noop, one, version = measure(total, args.repeat)
            print(f"{total:>5}  {full:>8.3f}s  {noop:>8.3f}s  {noop / full:>6.1%}  {one:>8.3f}s"
                  f"  ({version:.3f}s / {max(noop - version, 0.0):.3f}s)")


if __name__ == "__main__":
    main()
