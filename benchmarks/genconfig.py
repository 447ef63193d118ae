"""How long `inv genconfig` takes next to the processes it cannot avoid starting.

Builds a copy of the pitower cluster (cluster.yaml, patches/, extensions/) with a fresh
age key and encrypted secrets, grows it with workers to N nodes, and times, as a user
runs them (a new ``inv`` process each time, the real sops, the talosctl stand-in):

    full       ``inv genconfig`` with no clusterconfig/: decrypt, gen config, merge, write N
    no-change  the same again: every input unchanged, nothing decrypted or written

against their process floor, the programs such a run must start at the least:

    full floor       ``import invoke`` + ``sops --decrypt`` of the bundle + the talosctl
                     calls the full run made (read from the stand-in's log and replayed)
    no-change floor  ``import invoke`` + the talosctl calls the no-change run made

Every figure is the minimum of ``--repeat`` runs, the runs of one size interleaved so a
change in load hits them alike. Nothing is deleted while figures are taken: a full run's
previous output is moved aside, and every project is removed at the end. Goals: full
<= 2.0x its floor at 500 nodes, no-change <= 1.3x its floor. A second line per size
gives the same figures in CPU seconds (user + system of the processes and theirs), which
a busy machine disturbs less than wall time; a third the load average when the size was
done.

    python benchmarks/genconfig.py [--nodes 9,100,500,1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from sopskit import pitower_project, project_env  # noqa: E402

STANDIN = REPO / "tests" / "bin" / "talosctl"
INV = [sys.executable, "-c", "from invoke.main import program; program.run()",
       "--search-root", str(REPO)]


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


#: CPU seconds (user + system) of every process run so far, children of children included.
CPU = [0.0]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall seconds of one process; its CPU seconds are added to :data:`CPU`."""
    cpu = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    CPU[0] += _children_cpu() - cpu
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])}... failed: {result.stderr.strip()[-400:]}")
    return seconds


def logged_calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    calls = [json.loads(line)["argv"] for line in log.read_text().splitlines() if line]
    log.unlink()
    return calls


class Project:
    """One grown copy of pitower and the environment its runs need."""

    def __init__(self, work: Path, total: int):
        self.work = work
        self.root = pitower_project(work)
        grow(self.root, total)
        self.log = work / "standin.jsonl"
        self.discarded = itertools.count()
        self.env = {**os.environ, **project_env(self.root), "TALOSCTL": str(STANDIN),
                    "TALOSCTL_STANDIN_STATE": str(work / "standin.json"),
                    "TALOSCTL_STANDIN_LOG": str(self.log)}
        # As a user runs them: Python keeps the bytecode of what it imported (invoke's was
        # compiled when it was installed), so a run does not compile the project's modules
        # or the stand-in's again; the first runs write it and the minimum drops them.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.plain = work / "plain-secrets.yaml"
        with self.plain.open("w") as handle:
            subprocess.run(["sops", "--decrypt", "--input-type", "yaml", "--output-type",
                            "yaml", str(self.root / "secrets.sops.yaml")],
                           env=self.env, stdout=handle, check=True)
        self.plain.chmod(0o600)

    def genconfig(self, fresh: bool) -> tuple[float, list[list[str]]]:
        if fresh:
            # Moved aside, deleted once everything is measured: freeing 500 files is the
            # setup's work, and on the VM these figures come from the file system did it
            # while the next run created its own (up to 0.4 s of that run's system CPU).
            output = self.root / "clusterconfig"
            if output.exists():
                output.rename(self.work / f"old-clusterconfig-{next(self.discarded)}")
        logged_calls(self.log)
        seconds = run([*INV, "genconfig"], self.env, self.root)
        return seconds, logged_calls(self.log)

    def replay(self, call: list[str]) -> float:
        """One talosctl call of a run again, pointed at files that exist now."""
        argv = list(call)
        out = self.work / "replay"
        shutil.rmtree(out, ignore_errors=True)
        for flag, value in (("--with-secrets", str(self.plain)), ("--output", str(out))):
            if flag in argv:
                argv[argv.index(flag) + 1] = value
        return run([str(STANDIN), *argv], self.env, self.work)

    def import_invoke(self) -> float:
        return run([sys.executable, "-c", "import invoke"], self.env, self.work)

    def sops(self) -> float:
        return run(["sops", "--decrypt", "--input-type", "yaml", "--output-type", "yaml",
                    str(self.root / "secrets.sops.yaml")], self.env, self.work)


def measure(total: int, repeat: int, work: Path) -> dict[str, float]:
    """The figures of one size, its project built in ``work``."""
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, seconds), seconds)

    project = Project(work, total)
    full_calls: list[list[str]] = []
    nochange_calls: list[list[str]] = []
    steps: list[tuple[str, Callable[[], float]]] = []

    def full() -> float:
        seconds, calls = project.genconfig(fresh=True)
        full_calls[:] = calls
        return seconds

    def nochange() -> float:
        seconds, calls = project.genconfig(fresh=False)
        nochange_calls[:] = calls
        return seconds

    steps = [
        ("full", full), ("no-change", nochange), ("invoke", project.import_invoke),
        ("sops", project.sops),
        ("talosctl full", lambda: sum(project.replay(c) for c in full_calls)),
        ("talosctl no-change", lambda: sum(project.replay(c) for c in nochange_calls)),
    ]
    for _ in range(repeat):
        for name, step in steps:
            before = CPU[0]
            keep(name, step())
            keep(f"{name} cpu", CPU[0] - before)
    best["calls full"] = len(full_calls)
    best["calls no-change"] = len(nochange_calls)
    for suffix in ("", " cpu"):
        best[f"floor full{suffix}"] = (best[f"invoke{suffix}"] + best[f"sops{suffix}"]
                                       + best[f"talosctl full{suffix}"])
        best[f"floor no-change{suffix}"] = (best[f"invoke{suffix}"]
                                            + best[f"talosctl no-change{suffix}"])
    return best


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: on a shared machine, what the wall figures
    (and less so the CPU ones) were measured under."""
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="9,100,500,1000", help="cluster sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (minimum kept)")
    args = parser.parse_args()
    if not STANDIN.exists():
        sys.exit(f"the talosctl stand-in {STANDIN} is missing")
    print(f"{platform.node()}: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}; min of {args.repeat}; "
          f"load average {load_average()}")
    print(f"{'nodes':>5}  {'full':>7} {'floor':>7} {'ratio':>6}   {'no-change':>9} {'floor':>7} "
          f"{'ratio':>6}   (floor parts: invoke, sops, talosctl calls)")
    # Every project stays until the end: deleting one is file-system work that would
    # land in the next size's runs.
    with contextlib.ExitStack() as kept:
        for total in (int(n) for n in args.nodes.split(",")):
            work = Path(kept.enter_context(tempfile.TemporaryDirectory()))
            report(total, measure(total, args.repeat, work))


def report(total: int, b: dict[str, float]) -> None:
    """Print the three lines of one size."""
    print(f"{total:>5}  {b['full']:>6.3f}s {b['floor full']:>6.3f}s "
          f"{b['full'] / b['floor full']:>5.2f}x   {b['no-change']:>8.3f}s "
          f"{b['floor no-change']:>6.3f}s {b['no-change'] / b['floor no-change']:>5.2f}x   "
          f"({b['invoke']:.3f}s, {b['sops']:.3f}s, {int(b['calls full'])} calls "
          f"{b['talosctl full']:.3f}s / {int(b['calls no-change'])} call "
          f"{b['talosctl no-change']:.3f}s)", flush=True)
    print(f"{'cpu':>5}  {b['full cpu']:>6.3f}s {b['floor full cpu']:>6.3f}s "
          f"{b['full cpu'] / b['floor full cpu']:>5.2f}x   {b['no-change cpu']:>8.3f}s "
          f"{b['floor no-change cpu']:>6.3f}s "
          f"{b['no-change cpu'] / b['floor no-change cpu']:>5.2f}x   "
          "(CPU seconds, user + system, of the same processes)", flush=True)
    print(f"{'':>5}  load average {load_average()}", flush=True)


if __name__ == "__main__":
    main()
