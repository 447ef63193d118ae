"""Shared fixtures: ``standin``, the simulated talosctl and its cluster.

``standin`` puts ``tests/bin`` first on PATH and points ``TALOSCTL`` at the stand-in, so
code under test finds it exactly as it would find the real binary; the code under test's
runner then runs it inside the test's process (``tests/inprocess.py``), while a program
the test starts (talosctl, ``inv``) runs the binary. The cluster it simulates is a JSON
state file; every invocation is logged as a JSON line.

Markers (registered in pyproject.toml; unknown ones are an error):

    e2e    the test runs a real program across a process boundary (``inv``, the talosctl
           stand-in, sops) or uses the ``standin`` fixture (marked here), whether it
           reaches the stand-in as a program or in this process
    slow   the test takes a second or more by design (it waits on a simulated upgrade or
           reboot, or tries many generated examples)

The suite runs on every core (pytest-xdist): a test owns its ``tmp_path``, reads no file
another test writes, and takes any port from the OS (``("127.0.0.1", 0)``).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import shlex
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

# Every config written during the tests (in process or through `inv`) is also dumped by
# PyYAML's dumper and compared with the fast emitter's bytes (talos/core/merge/yamlemit.py).
os.environ.setdefault("TALOS_TASKS_YAML_CROSSCHECK", "1")

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "tests" / "bin"
TALOSCTL = BIN / "talosctl"

# A run starts about a thousand interpreters (the stand-in, inv): each must find the
# modules compiled rather than compile them again, which costs a quarter of a stand-in
# call. PYTHONDONTWRITEBYTECODE (set by some shells and CI images) forbids that cache; for
# the tests it goes to a folder of the virtualenv instead, so the source tree stays as
# the setting wants it. Set here, before pytest-xdist starts its workers: they and every
# program they start inherit it.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(Path(sys.prefix) / "pycache"))
    sys.pycache_prefix = os.environ["PYTHONPYCACHEPREFIX"]
    sys.dont_write_bytecode = False

# The reference cluster as the nodes report it: (hostname, role, ip).
PITOWER_NODES = (
    ("worker-01", "controlplane", "192.168.0.201"),
    ("worker-02", "controlplane", "192.168.0.202"),
    ("worker-03", "controlplane", "192.168.0.203"),
    ("worker-04", "worker", "192.168.0.204"),
    ("worker-05", "worker", "192.168.0.205"),
    ("worker-06", "worker", "192.168.0.206"),
    ("worker-pi-01", "worker", "192.168.0.211"),
    ("worker-pi-02", "worker", "192.168.0.212"),
    ("worker-pi-03", "worker", "192.168.0.213"),
)

_NODE_FIELDS = frozenset({
    "hostname", "role", "talos_version", "kubernetes_version", "schematic", "config",
    "staged_config", "reachable", "maintenance", "member", "bootstrapped", "stage", "ready",
    "boots", "upgrade_seconds", "reboot_seconds", "fail_upgrade", "extensions", "images",
    "usage",
})


@functools.cache
def _pitower_schematics() -> tuple[tuple[str, str], ...]:
    from talos.core.cluster import load_cluster_file
    from talos.core.schematic import node_schematic, schematic_id

    cluster = load_cluster_file(REPO / "cluster.yaml")
    return tuple((node.name, schematic_id(node_schematic(cluster, node)))
                 for node in cluster.nodes)


def pitower_schematics() -> dict[str, str]:
    """Each pitower node's schematic ID, computed from the repository's cluster file (once
    per test process: the file is not changed by any test)."""
    return dict(_pitower_schematics())


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers per core. Many e2e tests spend their time waiting on a
    simulated reboot or upgrade; a second worker per core runs another test meanwhile
    (on 2 cores, measured when every stand-in call was a program: 111 s instead of
    171 s for the same CPU time)."""
    return 2 * (os.cpu_count() or 1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the stand-in runs talosctl as a program: it is end to end."""
    for item in items:
        if "standin" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


@dataclass
class Standin:
    """Handle on the simulated talosctl: its state file and its call log."""

    state_path: Path
    log_path: Path

    def set_state(self, data: dict[str, Any]) -> None:
        temp = self.state_path.with_name(self.state_path.name + ".new")
        temp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(temp, self.state_path)

    def state(self) -> dict[str, Any]:
        """The state as the next call would see it (reboots and upgrades that are due
        finished)."""
        from standin.state import settle

        result: dict[str, Any] = json.loads(self.state_path.read_text())
        settle(result)
        return result

    def log(self) -> list[dict[str, Any]]:
        """Every logged invocation: argv, env_talosconfig, time, end, exit, pid."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]

    def calls(self) -> list[list[str]]:
        """The argv (after the program name) of every invocation, in order of completion."""
        return [entry["argv"] for entry in self.log()]

    def node(self, ip: str) -> dict[str, Any]:
        result: dict[str, Any] = self.state()["nodes"][ip]
        return result

    def pitower(self, **overrides: Any) -> dict[str, Any]:
        """Set and return the state of the nine pitower nodes (all reachable, Talos v1.12.4,
        not bootstrapped; worker-05/06 at .205/.206, known only through members).

        Overrides: a node field (``bootstrapped=True``) applies to every node; a hostname
        with ``_`` for ``-`` (``worker_05={"reachable": False}``) changes one node; anything
        else (``latency=0.2``, ``client_version="v1.12.5"``) is a top-level state key.
        """
        schematics = pitower_schematics()
        nodes: dict[str, dict[str, Any]] = {}
        for hostname, role, ip in PITOWER_NODES:
            nodes[ip] = {
                "hostname": hostname, "role": role, "talos_version": "v1.12.4",
                "kubernetes_version": "1.35.0", "schematic": schematics[hostname],
                "config": None, "reachable": True, "bootstrapped": False,
                "upgrade_seconds": 0.0, "fail_upgrade": None,
            }
        data: dict[str, Any] = {
            "nodes": nodes, "latency": 0.0,
            "cluster": {"name": "pitower", "endpoint": "https://192.168.0.200:6443"},
        }
        by_host = {hostname.replace("-", "_"): ip for hostname, _, ip in PITOWER_NODES}
        for key, value in overrides.items():
            if key in by_host:
                nodes[by_host[key]].update(copy.deepcopy(value))
            elif key in _NODE_FIELDS:
                for node in nodes.values():
                    node[key] = copy.deepcopy(value)
            else:
                data[key] = copy.deepcopy(value)
        self.set_state(data)
        return data


class _Spawns:
    """What the running test started with subprocess that only an e2e test may start
    (seen through the ``subprocess.Popen`` audit event; programs sh starts are not)."""

    e2e = True
    seen: ClassVar[list[str]] = []


def _e2e_program(argv: object) -> str | None:
    """``inv``, ``talosctl`` or ``sops`` when ``argv`` runs one of them, else None."""
    if isinstance(argv, (str, bytes)):  # a shell line (shell=True) or a lone program
        try:
            argv = shlex.split(os.fsdecode(argv))
        except ValueError:
            return None
    elif isinstance(argv, os.PathLike):
        argv = [argv]
    if not isinstance(argv, (list, tuple)) or not argv:
        return None
    words = [os.fsdecode(word) if isinstance(word, (str, bytes, os.PathLike)) else ""
             for word in argv]
    name = Path(words[0]).name
    if name in ("inv", "invoke", "talosctl", "sops"):
        return "inv" if name == "invoke" else name
    if name.startswith("python"):
        if any("invoke" in word for word in words[1:3]):
            return "inv"
        if len(words) > 1 and Path(words[1]).name == "talosctl":
            return "talosctl"
    return None


def _watch_spawns(event: str, args: tuple[Any, ...]) -> None:
    if event == "subprocess.Popen" and not _Spawns.e2e:
        program = _e2e_program(args[1])
        if program is not None:
            _Spawns.seen.append(program)


sys.addaudithook(_watch_spawns)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test whose body starts inv, talosctl or sops must be marked e2e, or `-m "not
    e2e"` would not be the quick loop it promises: such a test fails, saying so. Only
    the body counts: fixtures may make shared material once (the run's encrypted bundle)
    in whichever test comes first."""
    _Spawns.e2e = item.get_closest_marker("e2e") is not None
    _Spawns.seen.clear()
    try:
        outcome = yield
    finally:
        _Spawns.e2e = True
    if _Spawns.seen:
        programs = ", ".join(sorted(set(_Spawns.seen)))
        pytest.fail(f"this test runs {programs}: mark it @pytest.mark.e2e", pytrace=False)
    return outcome


@pytest.fixture(autouse=True, scope="session")
def interruptible() -> Iterator[None]:
    """Ctrl-C is KeyboardInterrupt in the tests and in the programs they start, even when
    the suite was started with SIGINT ignored (a background job of a non-interactive
    shell, some CI runners): the interruption tests would otherwise wait in vain."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Standin:
    """The talosctl stand-in on PATH and in ``TALOSCTL``, with an empty cluster."""
    home = tmp_path / "standin"
    home.mkdir()
    state_path, log_path = home / "state.json", home / "calls.jsonl"
    state_path.write_text(json.dumps({"nodes": {}, "latency": 0.0}) + "\n")
    path = os.pathsep.join([str(BIN), str(Path(sys.executable).parent),
                            os.environ.get("PATH", "")])
    monkeypatch.setenv("PATH", path)
    monkeypatch.setenv("TALOSCTL", str(TALOSCTL))
    monkeypatch.setenv("TALOSCTL_STANDIN_STATE", str(state_path))
    monkeypatch.setenv("TALOSCTL_STANDIN_LOG", str(log_path))
    # A talosctl run without --talosconfig creates its default file: keep it out of $HOME.
    monkeypatch.setenv("TALOS_HOME", str(home / "talos-home"))
    monkeypatch.delenv("TALOSCONFIG", raising=False)
    # The code under test runs the stand-in in this process (its runner's boundary); a
    # program the test starts runs it as a program. Imported here: it imports sh.
    from inprocess import patch_runner

    patch_runner(monkeypatch)
    return Standin(state_path, log_path)
