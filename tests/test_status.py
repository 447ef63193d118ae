"""`inv status` and `inv health`: facts from the nodes, rows for a person and for scripts."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import TALOSCTL

from talos.adapters.talosctl import Answers, MachineStatus, Member, Talosctl
from talos.core.cluster import Cluster, Node, load_cluster_file
from talos.errors import CommandError, SelectionError
from talos.ops.health import check_health, health_line, summarise_health
from talos.ops.status import (
    Desired,
    NodeFacts,
    NodeStatus,
    collect_facts,
    desired_state,
    probe_many,
    status_cells,
    status_exit_code,
    status_json,
    status_rows,
    status_summary,
    status_table,
)
from talos.ops.upgrade import Wanted, observe

REPO = Path(__file__).resolve().parents[1]
OLD_SCHEMATIC = "a862538d" + "0" * 56


@pytest.fixture(scope="module")
def pitower() -> Cluster:
    return load_cluster_file(REPO / "cluster.yaml")


def mixed_facts(cluster: Cluster) -> dict[str, NodeFacts]:
    """Every node fine but: worker-04 unreachable, worker-pi-02 on an old version and
    schematic, worker-06 not among the members, worker-03's config outdated."""
    desired = desired_state(cluster)
    facts = {}
    for node in cluster.nodes:
        address = node.ip or {"worker-05": "192.168.0.205"}.get(node.name)
        want = desired[node.name]
        facts[node.name] = NodeFacts(address, True, want.talos_version, want.schematic, "current")
    facts["worker-04"] = NodeFacts(
        "192.168.0.204", False, config="current", problem="connection refused"
    )
    facts["worker-pi-02"] = NodeFacts("192.168.0.212", True, "v1.11.5", OLD_SCHEMATIC, "current")
    facts["worker-06"] = NodeFacts(None, False, config="missing", problem="not found: worker-06")
    facts["worker-03"] = NodeFacts(
        "192.168.0.203", True, "v1.12.4", desired["worker-03"].schematic, "outdated"
    )
    return facts


def rows_of(cluster: Cluster) -> list[NodeStatus]:
    return status_rows(cluster.nodes, desired_state(cluster), mixed_facts(cluster))


def table_by_node(text: str) -> dict[str, list[str]]:
    lines = text.splitlines()
    assert lines[0].split() == ["NODE", "ROLE", "ADDRESS", "REACHABLE", "READY", "TALOS",
                                "SCHEMATIC", "CONFIG"]
    return {line.split()[0]: line.split() for line in lines[1:]}


def test_the_table_has_a_row_per_node_in_the_cluster_files_order(pitower: Cluster) -> None:
    text = status_table(rows_of(pitower))
    assert [line.split()[0] for line in text.splitlines()[1:]] == [n.name for n in pitower.nodes]


def test_a_node_running_what_is_wanted_shows_the_version_and_schematic_once(
    pitower: Cluster,
) -> None:
    row = table_by_node(status_table(rows_of(pitower)))["worker-01"]
    assert row == ["worker-01", "controlplane", "192.168.0.201", "yes", "-", "v1.12.4",
                   desired_state(pitower)["worker-01"].schematic[:12], "current"]


def test_an_outdated_node_shows_running_then_wanted(pitower: Cluster) -> None:
    row = table_by_node(status_table(rows_of(pitower)))["worker-pi-02"]
    wanted = desired_state(pitower)["worker-pi-02"].schematic[:12]
    assert row[3:] == ["yes", "-", "v1.11.5", "->", "v1.12.4", OLD_SCHEMATIC[:12], "->",
                       wanted, "current"]


def test_an_unreachable_node_is_a_row_not_a_failure(pitower: Cluster) -> None:
    row = table_by_node(status_table(rows_of(pitower)))["worker-04"]
    assert row[2:6] == ["192.168.0.204", "no", "-", "?"]


def test_a_node_not_among_the_members_says_so(pitower: Cluster) -> None:
    text = status_table(rows_of(pitower))
    line = next(line for line in text.splitlines() if line.startswith("worker-06"))
    assert "not found" in line
    assert line.split()[-1] == "missing"


def test_the_table_is_aligned_and_plain_off_a_terminal(pitower: Cluster) -> None:
    text = status_table(rows_of(pitower))
    assert "\033[" not in text
    lines = text.splitlines()
    column = lines[0].index("REACHABLE")
    assert all(line[column - 2:column] == "  " for line in lines)


def test_the_summary_names_every_node_that_needs_attention(pitower: Cluster) -> None:
    summary = status_summary(rows_of(pitower))
    assert summary.startswith("9 nodes: ")
    assert "worker-04 unreachable" in summary
    assert "worker-06 not found" in summary
    assert "worker-pi-02 on another Talos version" in summary
    assert "worker-pi-02 on another schematic" in summary
    assert "worker-06 without a generated config" in summary
    assert "worker-03 with an outdated config" in summary
    first, *why = summary.splitlines()
    assert first.endswith("(inv genconfig)")
    assert why == ["  worker-04: connection refused", "  worker-06: not found: worker-06"]


def test_the_summary_of_a_healthy_cluster_is_short() -> None:
    row = NodeStatus("a", "controlplane", "10.0.0.1", True, "v1.12.4", "v1.12.4", "x", "x",
                     "current", None)
    assert status_summary([row]) == (
        "1 node: all reachable and ready, running what the cluster file says")


def test_json_parses_and_holds_the_same_facts_as_the_table(pitower: Cluster) -> None:
    rows = rows_of(pitower)
    data = {entry["node"]: entry for entry in json.loads(status_json(rows))}
    assert list(data) == [n.name for n in pitower.nodes]
    assert data["worker-04"]["reachable"] is False
    assert data["worker-04"]["state"] == "unreachable"
    assert data["worker-04"]["problem"] == "connection refused"
    assert data["worker-pi-02"]["talos"] == {
        "running": "v1.11.5", "desired": "v1.12.4", "current": False
    }
    assert data["worker-pi-02"]["schematic"]["running"] == OLD_SCHEMATIC
    assert data["worker-pi-02"]["schematic"]["current"] is False
    assert data["worker-06"]["address"] is None
    assert data["worker-06"]["state"] == "not found"
    assert data["worker-01"]["state"] == "ok"
    assert data["worker-03"]["config"] == "outdated"
    assert data["worker-03"]["state"] == "outdated"


def test_a_node_without_facts_is_not_found() -> None:
    node = Node(name="a", role="worker", ip=None, schematic="s")
    (row,) = status_rows([node], {"a": Desired("v1.12.4", "x")}, {})
    assert row.state == "not found"


# -- health --------------------------------------------------------------------------------

HEALTHY = """discovered nodes: ["192.168.0.201" "192.168.0.202"]
waiting for etcd to be healthy: ...
waiting for etcd to be healthy: OK
waiting for apid to be ready: ...
waiting for apid to be ready: OK
waiting for kube-proxy to report ready: ...
waiting for kube-proxy to report ready: SKIP
waiting for coredns to report ready: ...
waiting for coredns to report ready: SKIP
waiting for all k8s nodes to report schedulable: ...
waiting for all k8s nodes to report schedulable: OK
"""

UNHEALTHY = """waiting for etcd to be healthy: ...
waiting for etcd to be healthy: OK
waiting for all k8s nodes to report: ...
waiting for all k8s nodes to report: expected 9 nodes, got 8
rpc error: code = DeadlineExceeded desc = context deadline exceeded
"""


def test_a_healthy_run_is_summarised_with_counts_and_skips() -> None:
    summary = summarise_health(HEALTHY)
    assert summary.passed == ["etcd to be healthy", "apid to be ready",
                              "all k8s nodes to report schedulable"]
    assert health_line(summary, healthy=True) == (
        "healthy: 3 of 5 checks passed, skipped: kube-proxy to report ready, "
        "coredns to report ready"
    )


def test_an_unhealthy_run_names_the_failing_check_and_its_reason() -> None:
    line = health_line(summarise_health(UNHEALTHY), healthy=False)
    assert line == (
        "unhealthy: all k8s nodes to report: expected 9 nodes, got 8 (1 of 2 checks passed)"
    )


# -- collecting facts, with a fake talosctl at the adapter's seam ------------------------


T = TypeVar("T")


class FakeTalosctl(Talosctl):
    """Answers from a table of nodes; records every call and how many ran at once."""

    def __init__(self, talosconfig: Path, nodes: dict[str, dict[str, Any]],
                 delay: float = 0.0) -> None:
        super().__init__(talosconfig)
        self.nodes = nodes
        self.delay = delay
        self.calls: list[tuple[str, str]] = []
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()

    def _answer(self, what: str, address: str) -> dict[str, Any]:
        with self.lock:
            self.calls.append((what, address))
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(self.delay)
            node = self.nodes.get(address)
            if node is None or not node.get("reachable", True):
                raise CommandError(f"talosctl {what} on {address} failed: connection refused")
            return node
        finally:
            with self.lock:
                self.running -= 1

    def server_version(self, node: str) -> str:
        return str(self._answer("version", node)["version"])

    def installed_schematic(self, node: str) -> str | None:
        return self._answer("extensions", node).get("schematic")

    def machine_status(self, node: str) -> MachineStatus:
        facts = self._answer("machinestatus", node)
        return MachineStatus(facts.get("stage", "running"), facts.get("ready", True))

    def server_versions(self, nodes: Sequence[str]) -> Answers[str]:
        return self._many("versions", self.server_version, nodes)

    def installed_schematics(self, nodes: Sequence[str]) -> Answers[str | None]:
        return self._many("schematics", self.installed_schematic, nodes)

    def machine_statuses(self, nodes: Sequence[str]) -> Answers[MachineStatus]:
        return self._many("statuses", self.machine_status, nodes)

    def _many(self, what: str, ask: Callable[[str], T], nodes: Sequence[str]) -> Answers[T]:
        """One talosctl call for several nodes: per-node answers and per-node errors."""
        with self.lock:
            self.calls.append((what, ",".join(nodes)))
        answered: dict[str, T] = {}
        failed: dict[str, str] = {}
        for node in nodes:
            try:
                answered[node] = ask(node)
            except CommandError as exc:
                failed[node] = str(exc)
        return Answers(answered, failed)

    def members(self, node: str) -> list[Member]:
        self._answer("members", node)
        return [
            Member(facts["hostname"], (address,), "worker", facts["version"])
            for address, facts in self.nodes.items()
            if facts.get("member", True)
        ]

    def health(self, node: str, *, control_planes: Sequence[str], workers: Sequence[str],
               timeout: str = "5m") -> str:
        self.calls.append(("health-args", f"{node} cp={','.join(control_planes)} "
                                     f"w={','.join(workers)} t={timeout}"))
        facts = self._answer("health", node)
        if facts.get("unhealthy"):
            raise CommandError("talosctl health failed", stderr=UNHEALTHY)
        return HEALTHY


def pitower_nodes(cluster: Cluster) -> dict[str, dict[str, Any]]:
    desired = desired_state(cluster)
    addresses = {n.name: n.ip for n in cluster.nodes}
    addresses.update({"worker-05": "192.168.0.205", "worker-06": "192.168.0.206"})
    return {
        address: {"hostname": name, "version": "v1.12.4",
                  "schematic": desired[name].schematic}
        for name, address in addresses.items()
        if address
    }


@pytest.fixture
def talosconfig(tmp_path: Path) -> Path:
    path = tmp_path / "talosconfig"
    path.write_text("context: pitower\n")
    return path


def fresh(cluster: Cluster, node: Node) -> str:
    return "current"


def test_facts_come_from_one_call_per_question_for_every_node(
    pitower: Cluster, talosconfig: Path
) -> None:
    fake = FakeTalosctl(talosconfig, pitower_nodes(pitower))
    facts = collect_facts(pitower, pitower.nodes, fake, config=fresh)
    batched = sorted(what for what, _ in fake.calls if what in ("versions", "schematics",
                                                                 "statuses"))
    assert batched == ["schematics", "statuses", "versions"]
    everyone = next(nodes for what, nodes in fake.calls if what == "versions")
    assert len(everyone.split(",")) == 9
    assert all(f.reachable for f in facts.values())
    assert facts["worker-05"].address == "192.168.0.205"


def test_a_mixed_cluster_gives_one_row_per_node(pitower: Cluster, talosconfig: Path) -> None:
    nodes = pitower_nodes(pitower)
    nodes["192.168.0.204"]["reachable"] = False
    nodes["192.168.0.212"].update(version="v1.11.5", schematic=OLD_SCHEMATIC)
    nodes["192.168.0.206"]["member"] = False
    fake = FakeTalosctl(talosconfig, nodes)
    facts = collect_facts(pitower, pitower.nodes, fake, config=fresh)
    rows = {r.node: r for r in status_rows(pitower.nodes, desired_state(pitower), facts)}
    assert rows["worker-04"].state == "unreachable"
    assert "connection refused" in (rows["worker-04"].problem or "")
    assert rows["worker-pi-02"].state == "outdated"
    assert rows["worker-pi-02"].talos_running == "v1.11.5"
    assert rows["worker-06"].state == "not found"
    assert rows["worker-05"].state == "ok"
    assert [r.node for r in rows.values() if r.state == "ok"] == [
        "worker-01", "worker-02", "worker-03", "worker-05", "worker-pi-01", "worker-pi-03"
    ]
    # an unreachable node is asked nothing after its version failed
    assert ("extensions", "192.168.0.204") not in fake.calls


def test_without_a_talosconfig_it_says_so_instead_of_every_node_unreachable(
    pitower: Cluster, tmp_path: Path
) -> None:
    fake = FakeTalosctl(tmp_path / "nowhere", pitower_nodes(pitower))
    with pytest.raises(CommandError, match=r"no talosconfig at .*inv genconfig"):
        collect_facts(pitower, pitower.nodes, fake, config=fresh)
    assert fake.calls == []


def test_health_asks_the_first_control_plane_naming_every_node(
    pitower: Cluster, talosconfig: Path
) -> None:
    fake = FakeTalosctl(talosconfig, pitower_nodes(pitower))
    line = check_health(pitower, fake, timeout="2m")
    assert line.startswith("healthy: 3 of 5 checks passed")
    assert line.endswith("asked 192.168.0.201")
    (asked,) = [detail for what, detail in fake.calls if what == "health-args"]
    assert asked == (
        "192.168.0.201 cp=192.168.0.201,192.168.0.202,192.168.0.203 "
        "w=192.168.0.204,192.168.0.205,192.168.0.206,192.168.0.211,192.168.0.212,"
        "192.168.0.213 t=2m"
    )


def test_an_unhealthy_cluster_is_one_line_naming_the_check(
    pitower: Cluster, talosconfig: Path
) -> None:
    nodes = pitower_nodes(pitower)
    nodes["192.168.0.201"]["unhealthy"] = True
    with pytest.raises(CommandError) as caught:
        check_health(pitower, FakeTalosctl(talosconfig, nodes))
    assert str(caught.value) == (
        "unhealthy: all k8s nodes to report: expected 9 nodes, got 8 (1 of 2 checks passed), "
        "asked 192.168.0.201"
    )


def test_health_names_a_node_missing_from_the_members(
    pitower: Cluster, talosconfig: Path
) -> None:
    nodes = pitower_nodes(pitower)
    nodes["192.168.0.205"]["member"] = False
    with pytest.raises(SelectionError, match=r"healthy: .*but worker-05 not found"):
        check_health(pitower, FakeTalosctl(talosconfig, nodes))


def test_a_multi_error_outcome_is_joined_into_one_line() -> None:
    text = (
        "waiting for apid to be ready: ...\n"
        "waiting for apid to be ready: 2 errors occurred:\n"
        "\t* 10.0.0.3: connection refused\n"
        "\t* 10.0.0.4: no route to host\n"
        "\n"
        "rpc error: code = DeadlineExceeded desc = context deadline exceeded\n"
    )
    assert summarise_health(text).failing == [
        ("apid to be ready", "10.0.0.3: connection refused; 10.0.0.4: no route to host")
    ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_rows_take_their_states_colour_and_stay_aligned(
    pitower: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stdout", Terminal())
    rows = rows_of(pitower)
    coloured = status_table(rows)
    lines = dict(zip([r.node for r in rows], coloured.splitlines()[1:], strict=True))
    assert lines["worker-01"].startswith("\033[32m")  # green: as wanted
    assert lines["worker-04"].startswith("\033[31m")  # red: unreachable
    assert lines["worker-pi-02"].startswith("\033[33m")  # yellow: outdated
    plain = re.sub(r"\033\[[0-9;]*m", "", coloured)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert plain == status_table(rows)


def row_of(*, reachable: bool = True, ready: bool | None = True, found: bool = True,
           running: str = "v1.12.4") -> NodeStatus:
    return NodeStatus("a", "worker", "10.0.0.1" if found else None, reachable, running,
                      "v1.12.4", "x", "x", "current", None, ready=ready, stage="booting"
                      if ready is False else "running")


def test_a_node_that_answers_but_is_not_ready_is_not_fine() -> None:

    row = row_of(ready=False)
    assert row.state == "not ready"
    assert status_cells(row)[4] == "no (booting)"
    assert "a not ready" in status_summary([row])


@pytest.mark.parametrize(("rows", "code"), [
    ([row_of()], 0),
    ([row_of(), row_of(ready=False)], 2),
    ([row_of(), row_of(running="v1.12.3")], 2),
    ([row_of(ready=False), row_of(reachable=False, ready=None)], 1),
    ([row_of(), row_of(found=False, reachable=False, ready=None)], 1),
])
def test_status_exit_codes_say_fine_differs_or_cannot_ask(
    rows: list[NodeStatus], code: int
) -> None:

    assert status_exit_code(rows) == code


def test_a_booting_node_is_read_from_its_machine_status(tmp_path: Path) -> None:

    config = tmp_path / "talosconfig"
    config.write_text("context: a\n")
    fake = FakeTalosctl(config, {"10.0.0.1": {"version": "v1.12.4", "stage": "booting",
                                              "ready": False}})
    facts = probe_many(fake, ["10.0.0.1"])["10.0.0.1"]
    assert facts.reachable and facts.ready is False and facts.stage == "booting"
    assert facts.problem == "stage booting, not ready"


# -- a node that hangs ------------------------------------------------------------------------


def hanging_talosctl(tmp_path: Path, hung: str) -> Path:
    """talosctl as seen through a network where ``hung`` never answers: any call that asks
    it waits until it is stopped; the others go to the stand-in."""
    script = tmp_path / "talosctl-hung"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        "argv = sys.argv[1:]\n"
        "if '--nodes' in argv and "
        f"{hung!r} in argv[argv.index('--nodes') + 1].split(','):\n"
        "    time.sleep(600)\n"
        f"os.execv({str(TALOSCTL)!r}, [{str(TALOSCTL)!r}, *argv])\n")
    script.chmod(0o755)
    return script


@pytest.mark.slow  # waits out the hung node's read timeout four times
def test_one_hung_node_leaves_the_others_reported_by_status_and_upgrade_planning(
    standin: Any, tmp_path: Path, pitower: Cluster
) -> None:
    standin.pitower()
    out = tmp_path / "gen"
    made = subprocess.run([str(TALOSCTL), "gen", "config", "pitower",
                           "https://192.168.0.200:6443", "-o", str(out)],
                          capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    hung, others = "192.168.0.203", ["192.168.0.201", "192.168.0.204"]
    talosctl = Talosctl(out / "talosconfig", binary=str(hanging_talosctl(tmp_path, hung)))
    # Long enough for two interpreter starts (the wrapper, then the stand-in) on a loaded
    # machine: the nodes that answer must answer within it.
    talosctl.read_timeout = 4.0
    facts = probe_many(talosctl, [others[0], hung, others[1]])
    assert not facts[hung].reachable
    assert "version on 192.168.0.203 did not finish in time" in str(facts[hung].problem)
    for address in others:
        assert facts[address].reachable and facts[address].talos_version == "v1.12.4"
        assert facts[address].ready
    nodes = {n.ip: n for n in pitower.nodes}
    seen = observe(talosctl, [Wanted(nodes[a], a, "image", "v1.12.4", "s")
                              for a in [others[0], hung, others[1]]])
    assert not seen["worker-03"].reachable
    assert "did not finish in time" in str(seen["worker-03"].error)
    assert seen["worker-01"].talos_version == seen["worker-04"].talos_version == "v1.12.4"
