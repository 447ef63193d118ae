"""How long a rolling upgrade takes, against the ideal schedule and a sequential loop.

Runs the real rollout (:func:`talos.ops.upgrade.rollout` through the talosctl adapter) against
the stand-in ``tests/bin/talosctl``, where every node takes a fixed time T to upgrade, for
a cluster of C control planes and W workers, at several worker parallelisms K:

    ideal          (C + ceil(W / K)) slots of T: control planes one by one, workers K at a time
    ideal+checks   the same slots, each as long as one node alone takes with the checks
                   the rollout makes after it (machine status; health after a control plane)
    sequential     every node after the other, checks included, as the old recipes looped

It prints the measured makespan, its ratio to both ideals (goal: at most 1.1 against the
ideal with checks: what the schedule loses; against the bare ideal the ratio also holds
the checks, whose cost is the stand-in's start-up here and seconds against a real cluster
whose upgrades take minutes) and the speed-up over the sequential loop. One run each.

    python benchmarks/upgrade.py [--controlplanes 3] [--workers 8] [--seconds 3]
                                 [--parallel 1,2,4,8] [--latency 0.0] [--in-process]

``--in-process`` replaces the stand-in by a client in this process whose checks cost
nothing: the schedule alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from talos.adapters.talosctl import Answers, Talosctl  # noqa: E402
from talos.core.cluster import Node  # noqa: E402
from talos.ops.upgrade import (  # noqa: E402
    Client,
    RolloutOptions,
    Wanted,
    observe,
    plan_upgrade,
    rollout,
)

OLD, NEW = "v1.12.3", "v1.12.4"
SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
IMAGE = f"factory.talos.dev/installer/{SCHEMATIC}:{NEW}"
TALOSCONFIG = "context: bench\ncontexts:\n  bench:\n    endpoints: []\n    nodes: []\n"


def cluster(controlplanes: int, workers: int) -> list[Wanted]:
    nodes = [Node(f"cp-{i + 1:02d}", "controlplane", f"10.5.0.{i + 1}", "vanilla")
             for i in range(controlplanes)]
    nodes += [Node(f"worker-{i + 1:02d}", "worker", f"10.5.1.{i + 1}", "vanilla")
              for i in range(workers)]
    return [Wanted(node=n, address=n.ip, image=IMAGE, talos_version=NEW,
                   schematic_id=SCHEMATIC) for n in nodes]


def standin_state(wanted: list[Wanted], seconds: float, latency: float) -> dict[str, object]:
    return {
        "latency": latency,
        "nodes": {
            w.address: {
                "hostname": w.name, "role": w.node.role, "talos_version": OLD,
                "schematic": SCHEMATIC, "config": None, "reachable": True,
                "bootstrapped": True, "upgrade_seconds": seconds, "fail_upgrade": None,
            }
            for w in wanted
        },
    }


@dataclass(frozen=True)
class Status:
    stage: str = "running"
    ready: bool = True


class InProcess:
    """A client whose upgrade sleeps ``seconds`` and whose checks cost nothing: what the
    schedule alone costs, without the stand-in's process start-ups."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.versions: dict[str, str] = {}

    def server_version(self, node: str) -> str:
        return self.versions.get(node, OLD)

    def installed_schematic(self, node: str) -> str | None:
        return SCHEMATIC

    def server_versions(self, nodes: Sequence[str]) -> Answers[str]:
        return Answers({n: self.server_version(n) for n in nodes}, {})

    def installed_schematics(self, nodes: Sequence[str]) -> Answers[str | None]:
        return Answers({n: self.installed_schematic(n) for n in nodes}, {})

    def upgrade(self, node: str, image: str, *, stage: bool = False, force: bool = False,
                preserve: bool = False, wait: bool = True, timeout: str | None = None) -> None:
        time.sleep(self.seconds)
        self.versions[node] = NEW

    def machine_status(self, node: str) -> Status:
        return Status()

    def health(self, node: str, *, control_planes: Sequence[str], workers: Sequence[str],
               timeout: str = "5m") -> str:
        return "ok"


def run_once(wanted: list[Wanted], parallel: int, seconds: float, latency: float,
             folder: Path | None) -> float:
    """One rollout of every node from OLD to NEW; its makespan in seconds.

    ``folder`` holds the stand-in's state; None runs in process instead.
    """
    client: Client
    if folder is None:
        client = InProcess(seconds)
    else:
        (folder / "state.json").write_text(json.dumps(standin_state(wanted, seconds, latency)))
        talosconfig = folder / "talosconfig"
        talosconfig.write_text(TALOSCONFIG)
        client = Talosctl(talosconfig, binary=str(REPO / "tests" / "bin" / "talosctl"))
    plan = plan_upgrade(wanted, observe(client, wanted))
    assert len(plan.upgrades) == len(wanted), "every node should need the upgrade"
    report = rollout(
        plan, client,
        control_planes=[w.address or "" for w in wanted if w.node.is_controlplane],
        workers=[w.address or "" for w in wanted if not w.node.is_controlplane],
        options=RolloutOptions(parallel=parallel, poll_interval=0.05),
    )
    assert report.ok and len(report.upgraded) == len(wanted), report
    return report.elapsed


def one_node(role: str, seconds: float, latency: float, folder: Path | None) -> float:
    """What upgrading a single node of ``role`` takes, checks included (best of two)."""
    wanted = cluster(1, 0) if role == "controlplane" else cluster(0, 1)
    return min(run_once(wanted, 1, seconds, latency, folder) for _ in range(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--controlplanes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="upgrade time of a node")
    parser.add_argument("--parallel", default="1,2,4,8", help="values of K, comma-separated")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="the stand-in's delay for every call")
    parser.add_argument("--in-process", action="store_true",
                        help="a client in this process instead of the stand-in: the schedule alone")
    args = parser.parse_args()
    c, w, t = args.controlplanes, args.workers, args.seconds
    wanted = cluster(c, w)
    with tempfile.TemporaryDirectory(prefix="upgrade-bench-") as tmp:
        os.environ["TALOSCTL_STANDIN_STATE"] = str(Path(tmp) / "state.json")
        os.environ["TALOSCTL_STANDIN_LOG"] = str(Path(tmp) / "calls.jsonl")
        os.environ["TALOS_HOME"] = str(Path(tmp) / "talos-home")
        folder = None if args.in_process else Path(tmp)
        cp_cost = one_node("controlplane", t, args.latency, folder)
        worker_cost = one_node("worker", t, args.latency, folder)
        where = "in process" if folder is None else "stand-in"
        print(f"C={c} control planes, W={w} workers, upgrade time T={t:g}s per node "
              f"({where}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
        print(f"one node alone, checks included: control plane {cp_cost:.2f}s "
              f"(upgrade, machine status, health), worker {worker_cost:.2f}s "
              f"(upgrade, machine status)")
        print(f"sequential loop: {(c + w) * t:.1f}s in slots of T, "
              f"{c * cp_cost + w * worker_cost:.1f}s with the checks")
        print()
        print(f"{'K':>3} {'slots':>5} {'ideal':>7} {'ideal+checks':>12} {'measured':>9} "
              f"{'/ideal':>7} {'/ideal+checks':>13} {'vs sequential':>13}")
        for k in [int(part) for part in args.parallel.split(",")]:
            slots = c + math.ceil(w / k)
            ideal = slots * t
            ideal_checked = c * cp_cost + math.ceil(w / k) * worker_cost
            sequential = c * cp_cost + w * worker_cost
            makespan = run_once(wanted, k, t, args.latency, folder)
            print(f"{k:>3} {slots:>5} {ideal:>6.1f}s {ideal_checked:>11.1f}s {makespan:>8.2f}s "
                  f"{makespan / ideal:>6.2f}x {makespan / ideal_checked:>12.2f}x "
                  f"{sequential / makespan:>12.2f}x")


if __name__ == "__main__":
    main()
