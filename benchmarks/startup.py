"""How long `inv --list` takes to start, against Python importing Invoke alone.

`inv --list` imports every task module (through ``tasks.py``) to list the tasks, so what
those modules import at their top is paid by every `inv` call, including the listing and
each tab completion. The goal is at most 1.5 times the cost of ``import invoke``.

Both are run as fresh interpreters, alternately, several times; the figure kept is the
median of each, measured as CPU time of the child (user + system: it is what the program
costs, and barely moved by other work on the machine) and as wall time.

    python benchmarks/startup.py [--runs 15]

It also prints the modules `inv --list` imports beyond Invoke itself, by their own import
time (``python -X importtime``), so a slow newcomer is easy to find.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMPORT_INVOKE = [sys.executable, "-c", "import invoke"]
INV_LIST = [sys.executable, "-c", "from invoke.main import program; program.run()",
            "--search-root", str(REPO), "--list"]


# Start-up as a user sees it, with the modules' bytecode cached: an environment that
# forbids writing the cache would have every run compile the package again.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def measure(argv: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=REPO, env=ENV)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def own_imports(limit: int = 12) -> list[tuple[int, str]]:
    """The slowest modules `inv --list` imports that ``import invoke`` does not
    (microseconds of their own import time, name)."""
    def imported(argv: list[str]) -> dict[str, int]:
        result = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=REPO,
                                capture_output=True, text=True, check=True, env=ENV)
        times: dict[str, int] = {}
        for line in result.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, _, name = line.removeprefix("import time:").split("|")
            times[name.strip()] = int(own)
        return times

    base = imported(IMPORT_INVOKE)
    extra = {name: own for name, own in imported(INV_LIST).items() if name not in base}
    return sorted(((own, name) for name, own in extra.items()), reverse=True)[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    env_note = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    for argv_ in (IMPORT_INVOKE, INV_LIST):  # warm the caches (bytecode, page cache)
        measure(argv_)
    invoke_runs, list_runs = [], []
    for _ in range(args.runs):
        invoke_runs.append(measure(IMPORT_INVOKE))
        list_runs.append(measure(INV_LIST))
    cpu_invoke = statistics.median(cpu for cpu, _ in invoke_runs)
    cpu_list = statistics.median(cpu for cpu, _ in list_runs)
    wall_invoke = statistics.median(wall for _, wall in invoke_runs)
    wall_list = statistics.median(wall for _, wall in list_runs)
    print(f"median of {args.runs} runs each ({env_note})")
    print(f"  import invoke   cpu {cpu_invoke * 1000:6.1f} ms   wall {wall_invoke * 1000:6.1f} ms")
    print(f"  inv --list      cpu {cpu_list * 1000:6.1f} ms   wall {wall_list * 1000:6.1f} ms")
    print(f"  ratio           cpu {cpu_list / cpu_invoke:6.2f}x     wall "
          f"{wall_list / wall_invoke:6.2f}x    (goal: at most 1.5x)")
    print("slowest imports of inv --list beyond invoke (own import time):")
    for own, name in own_imports():
        print(f"  {own / 1000:6.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
