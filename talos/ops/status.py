"""The cluster at a glance: what each node runs against what the cluster file wants.

Facts are gathered in three talosctl calls for all nodes (:func:`collect_facts`), then
turned into rows by a pure function (:func:`status_rows`), so the table and ``--json`` say
the same thing and tests feed facts in directly. A node that cannot be reached or located is a row
saying so, never a failure of the whole table. ``inv health`` is :mod:`talos.ops.health`.

    collect_facts(cluster, nodes, talosctl, config=...)      -> {name: NodeFacts}
    config_judge(cluster)                -> (cluster, node) -> current | outdated | missing
    desired_state(cluster)               -> {name: Desired}    Talos version, schematic ID
    status_rows(nodes, desired, facts)   -> [NodeStatus]       pure
    status_table(rows) / status_summary(rows) / status_json(rows)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from talos.adapters.talosctl import running
from talos.core.schematic import node_schematic, schematic_id
from talos.core.table import colour, render_table
from talos.core.wording import count, short_id_plain
from talos.errors import TalosError
from talos.ops.client import require_talosconfig
from talos.ops.genconfig import config_is_current, config_path, load_state
from talos.ops.targets import NOT_FOUND, locations

if TYPE_CHECKING:
    from pathlib import Path

    from talos.adapters.talosctl import Talosctl
    from talos.core.cluster import Cluster, Node

NOT_READY = "not ready"
CURRENT, OUTDATED, MISSING, UNKNOWN = "current", "outdated", "missing", "unknown"
#: What the summary says of troubled nodes, in its order (:attr:`NodeStatus.troubles`).
TROUBLES = ("unreachable", "not found among the members", NOT_READY, "on another Talos version",
            "on another schematic", "without a generated config", "with an outdated config")


@dataclass(frozen=True)
class NodeFacts:
    """What was observed of one node. ``None`` where nothing could be learnt."""

    address: str | None
    reachable: bool
    talos_version: str | None = None
    schematic: str | None = None
    config: str = UNKNOWN  # current | outdated | missing | unknown
    problem: str | None = None
    ready: bool | None = None  # machine status: running and ready (None: not learnt)
    stage: str | None = None


class Desired(NamedTuple):
    """What the cluster file wants a node to run."""

    talos_version: str
    schematic: str


@dataclass(frozen=True)
class NodeStatus:
    """One row of ``inv status``."""

    node: str
    role: str
    address: str | None
    reachable: bool
    talos_running: str | None
    talos_desired: str
    schematic_running: str | None
    schematic_desired: str
    config: str
    problem: str | None
    ready: bool | None = None
    stage: str | None = None

    @property
    def found(self) -> bool:
        return self.address is not None

    @property
    def talos_current(self) -> bool | None:
        return None if self.talos_running is None else self.talos_running == self.talos_desired

    @property
    def schematic_current(self) -> bool | None:
        if self.schematic_running is None:
            return None
        return self.schematic_running == self.schematic_desired

    @property
    def state(self) -> str:
        """``ok``, ``not found``, ``unreachable``, ``not ready`` or ``outdated`` (version,
        schematic, config)."""
        if not self.found:
            return NOT_FOUND
        if not self.reachable:
            return "unreachable"
        if self.ready is False:
            return NOT_READY
        if self.talos_current is False or self.schematic_current is False:
            return "outdated"
        if self.config in (OUTDATED, MISSING):
            return "outdated"
        return "ok"

    @property
    def troubles(self) -> list[str]:
        """What the summary says of this node (words of :data:`TROUBLES`); none when fine."""
        found = (  # in the order of TROUBLES
            self.found and not self.reachable, not self.found, self.ready is False,
            self.talos_current is False, self.schematic_current is False,
            self.config == MISSING, self.config == OUTDATED,
        )
        return [what for what, true in zip(TROUBLES, found, strict=True) if true]

    def as_json(self) -> dict[str, Any]:
        plain = ("node", "role", "address", "reachable", "ready", "stage")
        return {
            **{key: getattr(self, key) for key in plain},
            "talos": _versus(self.talos_running, self.talos_desired, self.talos_current),
            "schematic": _versus(
                self.schematic_running, self.schematic_desired, self.schematic_current
            ),
            "config": self.config,
            "state": self.state,
            "problem": self.problem,
        }


def _versus(running: str | None, desired: str, current: bool | None) -> dict[str, Any]:
    return {"running": running, "desired": desired, "current": current}


# -- facts (these run talosctl) ---------------------------------------------------------


def probe_many(talosctl: Talosctl, addresses: Sequence[str]) -> dict[str, NodeFacts]:
    """What each node runs and whether it is ready (:func:`talos.adapters.talosctl.running`: three
    talosctl calls for all of them). A node that does not answer is unreachable with
    talosctl's message for it."""
    facts: dict[str, NodeFacts] = {}
    for address, seen in running(talosctl, addresses,
                                 statuses=talosctl.machine_statuses).items():
        if seen.version is None:
            facts[address] = NodeFacts(address, reachable=False, problem=seen.problem)
        elif seen.status is None:
            facts[address] = NodeFacts(address, True, seen.version, seen.schematic,
                                       problem=seen.problem)
        else:
            status = seen.status
            ready = status.stage.lower() == "running" and status.ready
            unready: str | None = None if ready else f"stage {status.stage}, not ready" + (
                f" ({'; '.join(status.unmet)})" if status.unmet else "")
            facts[address] = NodeFacts(address, True, seen.version, seen.schematic,
                                       problem=unready, ready=ready, stage=status.stage)
    return facts


def config_judge(cluster: Cluster) -> Callable[[Cluster, Node], str]:
    """Whether a node's generated config reflects the cluster file and patches as they
    are: ``current``, ``outdated``, ``missing`` or ``unknown`` (an input cannot be read).
    For many nodes: genconfig's record is read once, each shared input hashed once."""
    record = load_state(cluster)
    seen: dict[Path, str] = {}

    def judge(cluster: Cluster, node: Node) -> str:
        if not config_path(cluster, node).exists():
            return MISSING
        try:
            current = config_is_current(cluster, node, state=record, seen=seen)
        except TalosError:
            return UNKNOWN
        return CURRENT if current else OUTDATED

    return judge


def collect_facts(
    cluster: Cluster,
    nodes: Sequence[Node],
    talosctl: Talosctl,
    *,
    config: Callable[[Cluster, Node], str] | None = None,
) -> dict[str, NodeFacts]:
    """Every node's facts from a fixed number of talosctl calls (:func:`probe_many`)."""
    require_talosconfig(talosctl)
    if not nodes:
        return {}
    located = locations(cluster, nodes, talosctl)
    judge = config or config_judge(cluster)
    addresses = list(dict.fromkeys(a for n in nodes if (a := located[n.name].address)))
    probed = probe_many(talosctl, addresses)
    facts: dict[str, NodeFacts] = {}
    for node in nodes:
        state = judge(cluster, node)
        where = located[node.name]
        if where.address is None:
            facts[node.name] = NodeFacts(None, False, config=state, problem=where.problem)
        else:
            facts[node.name] = replace(probed[where.address], config=state)
    return facts


def desired_state(cluster: Cluster, nodes: Iterable[Node] | None = None) -> dict[str, Desired]:
    """What the cluster file wants each node to run."""
    return {
        node.name: Desired(
            cluster.talos_version_of(node), schematic_id(node_schematic(cluster, node))
        )
        for node in (cluster.nodes if nodes is None else nodes)
    }


# -- rows (pure) ------------------------------------------------------------------------


def status_rows(
    nodes: Sequence[Node], desired: Mapping[str, Desired], facts: Mapping[str, NodeFacts]
) -> list[NodeStatus]:
    """One row per node, in the cluster file's order."""
    rows = []
    for node in nodes:
        want = desired[node.name]
        seen = facts.get(node.name) or NodeFacts(None, False, problem=NOT_FOUND)
        rows.append(NodeStatus(
            node=node.name, role=node.role, address=seen.address, reachable=seen.reachable,
            talos_running=seen.talos_version, talos_desired=want.talos_version,
            schematic_running=seen.schematic, schematic_desired=want.schematic,
            config=seen.config, problem=seen.problem, ready=seen.ready, stage=seen.stage,
        ))
    return rows


STATUS_HEADERS = ["NODE", "ROLE", "ADDRESS", "REACHABLE", "READY", "TALOS", "SCHEMATIC",
                  "CONFIG"]
_STATE_COLOURS = {"ok": "green", "outdated": "yellow", NOT_READY: "yellow", "unreachable": "red",
                  NOT_FOUND: "red"}


def running_vs_desired(running: str | None, desired: str, shown: Callable[[str], str]) -> str:
    """``desired`` when it runs; ``running -> desired`` when not; ``? -> desired`` unknown."""
    if running == desired:
        return shown(desired)
    return f"{'?' if running is None else shown(running)} -> {shown(desired)}"


def status_cells(row: NodeStatus) -> list[str]:
    reachable = ("yes" if row.reachable else "no") if row.found else NOT_FOUND
    ready = "-" if row.ready is None else ("yes" if row.ready else f"no ({row.stage})")
    return [
        row.node,
        row.role,
        row.address or "-",
        reachable,
        ready,
        running_vs_desired(row.talos_running, row.talos_desired, str),
        running_vs_desired(row.schematic_running, row.schematic_desired, short_id_plain),
        row.config,
    ]


def status_table(rows: Sequence[NodeStatus]) -> str:
    """The aligned table; on a terminal each row takes the colour of its state.

    Whole lines are coloured, after alignment, so escape codes never skew the columns.
    """
    text = render_table(STATUS_HEADERS, [status_cells(row) for row in rows])
    header, *lines = text.splitlines()
    painted = [colour(header, "bold")]
    for line, row in zip(lines, rows, strict=True):
        painted.append(colour(line, _STATE_COLOURS[row.state]))
    return "\n".join(painted)


def status_summary(rows: Sequence[NodeStatus]) -> str:
    """What needs attention, one line, then why each troubled node is: one line each."""
    total = count(len(rows), "node")
    troubled: dict[str, list[str]] = {what: [] for what in TROUBLES}
    for row in rows:
        for what in row.troubles:
            troubled[what].append(row.node)
    everyone = [r.node for r in rows]
    said = [
        f"{'every node' if names == everyone and len(names) > 1 else ', '.join(names)} {what}"
        for what, names in troubled.items()
        if names
    ]
    if not said:
        return f"{total}: all reachable and ready, running what the cluster file says"
    lines = [f"{total}: " + "; ".join(said)]
    if any(r.config in (MISSING, OUTDATED) for r in rows):
        lines[0] += " (inv genconfig)"
    lines += [f"  {r.node}: {r.problem}" for r in rows if r.problem and r.state != "ok"]
    return "\n".join(lines)


def status_json(rows: Sequence[NodeStatus]) -> str:
    return json.dumps([row.as_json() for row in rows], indent=2)


def status_exit_code(rows: Sequence[NodeStatus]) -> int:
    """0: every node reachable, ready and running what the cluster file says; 1: a node
    cannot be asked (unreachable, not found); 2: something differs."""
    if any(not r.found or not r.reachable for r in rows):
        return 1
    return 0 if all(r.state == "ok" for r in rows) else 2
