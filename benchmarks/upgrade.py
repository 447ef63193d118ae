"""How long a rolling upgrade takes, against the ideal schedule and a sequential loop.

Runs the real rollout (:func:`talos.ops.upgrade.rollout` through the talosctl adapter) against
the stand-in ``tests/bin/talosctl``, where every node takes a fixed time T to upgrade, for
a cluster of C control planes and W workers, at several worker parallelisms K:

    node alone     one node's rollout by itself, checks included: a control plane
                   (upgrade, machine status, health) and a worker (upgrade, machine status);
                   so each talosctl call's own cost (the stand-in's start-up) is counted
    ideal          C control-plane slots + ceil(W / K) worker slots, each as long as that
                   node alone: control planes one by one, workers K at a time, nothing lost
                   between them
    bare ideal     the same slots, each exactly T (calls free)
    loop           a plain loop of ``talosctl upgrade`` over every node, no checks: (C + W)
                   times one bare upgrade call

It prints, for each K, the makespan, its ratio to the ideal (goals at W = 30: at most
1.15 at K = 8 and 1.05 at K = 1; at K = 1 the ideal is the loop plus the checks the
rollout adds), to the bare ideal, and its speed-up over the loop; the CPU seconds of this
process and its children (user + system; what the machine is asked for, which its other
work disturbs less than the wall time) and how many talosctl processes the rollout
started. Every figure is the minimum of ``--repeat`` runs, the runs of every K
interleaved so that a change in load hits them alike.

    python benchmarks/upgrade.py [--controlplanes 3] [--workers 30] [--seconds 3]
                                 [--parallel 1,2,4,8] [--repeat 5] [--latency 0.0]
                                 [--in-process]

The stand-in runs as a program, as the tests run it when they start programs: this
virtualenv's python first on PATH (a shell shim for ``python3`` would add its own
start-up to every call) and bytecode kept between calls, as for a user.
``--in-process`` replaces the stand-in by a client in this process whose calls cost
nothing: the schedule alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from talos.adapters.talosctl import Answers, MachineStatus, Talosctl
from talos.core.cluster import Node
from talos.ops.upgrade import Client, RolloutOptions, Wanted, observe, plan_upgrade, rollout

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "tests" / "bin" / "talosctl"
OLD, NEW = "v1.12.3", "v1.12.4"
SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
IMAGE = f"factory.talos.dev/installer/{SCHEMATIC}:{NEW}"
TALOSCONFIG = "context: bench\ncontexts:\n  bench:\n    endpoints: []\n    nodes: []\n"


def cluster(controlplanes: int, workers: int) -> list[Wanted]:
    nodes = [Node(f"cp-{i + 1:02d}", "controlplane", f"10.5.0.{i + 1}", "vanilla")
             for i in range(controlplanes)]
    nodes += [Node(f"worker-{i + 1:02d}", "worker", f"10.5.{1 + i // 250}.{i % 250 + 1}",
                   "vanilla") for i in range(workers)]
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


class InProcess:
    """A client whose upgrade sleeps ``seconds`` and whose other calls cost nothing: what
    the schedule alone costs, without the stand-in's process start-ups."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.versions: dict[str, str] = {}

    def server_versions(self, nodes: Sequence[str]) -> Answers[str]:
        return Answers({n: self.versions.get(n, OLD) for n in nodes}, {})

    def installed_schematics(self, nodes: Sequence[str]) -> Answers[str | None]:
        return Answers(dict.fromkeys(nodes, SCHEMATIC), {})

    def upgrade(self, node: str, image: str, *, stage: bool = False, force: bool = False,
                preserve: bool = False, wait: bool = True, timeout: str | None = None) -> None:
        time.sleep(self.seconds)
        self.versions[node] = NEW

    def machine_statuses(self, nodes: Sequence[str]) -> Answers[MachineStatus]:
        return Answers(dict.fromkeys(nodes, MachineStatus("running", True)), {})

    def health(self, node: str, *, control_planes: Sequence[str], workers: Sequence[str],
               timeout: str = "5m") -> str:
        return "ok"


@dataclass(frozen=True)
class Run:
    """One measured run: wall seconds, CPU seconds of this process and its children, and
    the talosctl processes it started."""

    wall: float
    cpu: float
    calls: int


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Bench:
    """The stand-in's folder (or None: in process), T and the latency."""

    def __init__(self, folder: Path | None, seconds: float, latency: float) -> None:
        self.folder = folder
        self.seconds = seconds
        self.latency = latency

    def client(self, wanted: list[Wanted]) -> Client:
        if self.folder is None:
            return InProcess(self.seconds)
        state = standin_state(wanted, self.seconds, self.latency)
        (self.folder / "state.json").write_text(json.dumps(state))
        (self.folder / "calls.jsonl").unlink(missing_ok=True)
        talosconfig = self.folder / "talosconfig"
        talosconfig.write_text(TALOSCONFIG)
        return Talosctl(talosconfig, binary=str(STANDIN))

    def calls(self) -> int:
        if self.folder is None:
            return 0
        log = self.folder / "calls.jsonl"
        return len(log.read_text().splitlines()) if log.exists() else 0

    def rollout(self, wanted: list[Wanted], parallel: int) -> Run:
        """One rollout of every node from OLD to NEW (planning not counted)."""
        client = self.client(wanted)
        plan = plan_upgrade(wanted, observe(client, wanted))
        assert len(plan.upgrades) == len(wanted), "every node should need the upgrade"
        planned = self.calls()
        cpu = cpu_seconds()
        report = rollout(
            plan, client,
            control_planes=[w.address or "" for w in wanted if w.node.is_controlplane],
            workers=[w.address or "" for w in wanted if not w.node.is_controlplane],
            options=RolloutOptions(parallel=parallel, poll_interval=0.05),
        )
        assert report.ok and len(report.upgraded) == len(wanted), report
        return Run(report.elapsed, cpu_seconds() - cpu, self.calls() - planned)

    def bare_upgrade(self) -> Run:
        """One ``talosctl upgrade`` call and nothing else: a step of the plain loop."""
        [node] = cluster(0, 1)
        client = self.client([node])
        cpu, began = cpu_seconds(), time.monotonic()
        client.upgrade(node.address or "", IMAGE, wait=True)
        return Run(time.monotonic() - began, cpu_seconds() - cpu, self.calls())


def best(runs: list[Run]) -> Run:
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs), min(r.calls for r in runs))


def measure(repeat: int, jobs: dict[str, Callable[[], Run]]) -> dict[str, Run]:
    """The best of ``repeat`` runs of each job, the jobs interleaved."""
    runs: dict[str, list[Run]] = {name: [] for name in jobs}
    for _ in range(repeat):
        for name, job in jobs.items():
            runs[name].append(job())
    return {name: best(found) for name, found in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--controlplanes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=3.0, help="upgrade time of a node")
    parser.add_argument("--parallel", default="1,2,4,8", help="values of K, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (best kept)")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="the stand-in's delay for every call")
    parser.add_argument("--in-process", action="store_true",
                        help="a client in this process instead of the stand-in: the schedule alone")
    args = parser.parse_args()
    c, w, t = args.controlplanes, args.workers, args.seconds
    ks = [int(part) for part in args.parallel.split(",")]
    wanted = cluster(c, w)
    with tempfile.TemporaryDirectory(prefix="upgrade-bench-") as tmp:
        os.environ["TALOSCTL_STANDIN_STATE"] = str(Path(tmp) / "state.json")
        os.environ["TALOSCTL_STANDIN_LOG"] = str(Path(tmp) / "calls.jsonl")
        os.environ["TALOS_HOME"] = str(Path(tmp) / "talos-home")
        # As the tests run the stand-in program (tests/conftest.py): this python first
        # on PATH, bytecode kept between calls.
        os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                              os.environ.get("PATH", "")])
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        bench = Bench(None if args.in_process else Path(tmp), t, args.latency)
        load_before = os.getloadavg()
        jobs: dict[str, Callable[[], Run]] = {
            "loop step": bench.bare_upgrade,
            "control plane": partial(bench.rollout, cluster(1, 0), 1),
            "worker": partial(bench.rollout, cluster(0, 1), 1),
        }
        for k in ks:
            jobs[f"K={k}"] = partial(bench.rollout, wanted, k)
        found = measure(args.repeat, jobs)
        load_after = os.getloadavg()
    where = "in process" if args.in_process else "stand-in"
    step, cp, worker = found["loop step"], found["control plane"], found["worker"]
    print(f"C={c} control planes, W={w} workers, upgrade time T={t:g}s ({where}); "
          f"best of {args.repeat}; {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after")
    print(f"node alone, checks included: control plane {cp.wall:.2f}s ({cp.cpu:.2f}s CPU, "
          f"{cp.calls} calls), worker {worker.wall:.2f}s ({worker.cpu:.2f}s CPU, "
          f"{worker.calls} calls); one bare talosctl upgrade {step.wall:.2f}s "
          f"({step.cpu:.2f}s CPU)")
    loop = (c + w) * step.wall
    print(f"loop of talosctl upgrade over every node: {loop:.1f}s "
          f"({(c + w) * step.cpu:.1f}s CPU)")
    print()
    print(f"{'K':>3} {'slots':>5} {'ideal':>7} {'measured':>9} {'/ideal':>7} {'/bare':>6} "
          f"{'vs loop':>8} {'CPU':>6} {'/ideal':>7} {'calls':>6}")
    for k in ks:
        worker_slots = math.ceil(w / k)
        ideal = c * cp.wall + worker_slots * worker.wall
        ideal_cpu = c * cp.cpu + w * worker.cpu
        bare = (c + worker_slots) * t
        run = found[f"K={k}"]
        print(f"{k:>3} {c + worker_slots:>5} {ideal:>6.1f}s {run.wall:>8.2f}s "
              f"{run.wall / ideal:>6.2f}x {run.wall / bare:>5.2f}x {loop / run.wall:>7.2f}x "
              f"{run.cpu:>5.2f}s {run.cpu / ideal_cpu if ideal_cpu else 0:>6.2f}x "
              f"{run.calls:>6}")


if __name__ == "__main__":
    main()
