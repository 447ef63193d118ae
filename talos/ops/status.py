"""The cluster at a glance: what each node runs against what the cluster file wants.

Facts are gathered in three talosctl calls for all nodes (:func:`collect_facts`), then
turned into rows by a pure function (:func:`status_rows`), so the table and ``--json`` say
the same thing and tests feed facts in directly. A node that cannot be reached or located is a row
saying so, never a failure of the whole table.

    locate(cluster, nodes, talosctl)     -> {name: Location}   address or why there is none
    collect_facts(cluster, nodes, talosctl, config=...)      -> {name: NodeFacts}
    desired_state(cluster)               -> {name: Desired}    Talos version, schematic ID
    status_rows(nodes, desired, facts)   -> [NodeStatus]       pure
    status_table(rows) / status_summary(rows) / status_json(rows)
    summarise_health(text)               -> HealthSummary      pure
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from talos.core.table import colour, render_table
from talos.core.wording import count, short_id_plain
from talos.errors import CommandError, SelectionError, TalosError, ToolMissingError

if TYPE_CHECKING:
    from pathlib import Path

    from talos.adapters.talosctl import Talosctl
    from talos.core.cluster import Cluster, Node

# Nodes asked at once where a question must go to each node alone (images, usage).
MAX_WORKERS = 16

NOT_FOUND = "not found"
NOT_READY = "not ready"
CURRENT, OUTDATED, MISSING, UNKNOWN = "current", "outdated", "missing", "unknown"


@dataclass(frozen=True)
class Location:
    """Where a node answers, or why it could not be located."""

    address: str | None
    problem: str | None = None


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


@dataclass(frozen=True)
class Desired:
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

    def as_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "role": self.role,
            "address": self.address,
            "reachable": self.reachable,
            "ready": self.ready,
            "stage": self.stage,
            "talos": {
                "running": self.talos_running,
                "desired": self.talos_desired,
                "current": self.talos_current,
            },
            "schematic": {
                "running": self.schematic_running,
                "desired": self.schematic_desired,
                "current": self.schematic_current,
            },
            "config": self.config,
            "state": self.state,
            "problem": self.problem,
        }


# -- facts (these run talosctl) ---------------------------------------------------------


def locate(cluster: Cluster, nodes: Sequence[Node], talosctl: Talosctl) -> dict[str, Location]:
    """Each node's address: declared, else found among the members by hostname.

    A node that cannot be found is reported as such instead of failing the others.
    """
    from talos.ops.targets import locate as locate_targets

    found, missing = locate_targets(cluster, nodes, talosctl)
    located = {target.node.name: Location(target.address) for target in found}
    for unlocated in missing:
        located[unlocated.node.name] = Location(None, f"{NOT_FOUND}: {unlocated.reason}")
    return located


def probe_many(talosctl: Talosctl, addresses: Sequence[str]) -> dict[str, NodeFacts]:
    """What each node runs and whether it is ready (:func:`talos.adapters.talosctl.running`: three
    talosctl calls for all of them). A node that does not answer is unreachable with
    talosctl's message for it."""
    from talos.adapters.talosctl import running

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
    """:func:`config_state` for many nodes: genconfig's record read once, and each shared
    input (secrets, role patches) hashed once."""
    from talos.ops.genconfig import load_state

    state = load_state(cluster)
    seen: dict[Path, str] = {}
    return lambda cluster, node: config_state(cluster, node, state=state, seen=seen)


def config_state(
    cluster: Cluster,
    node: Node,
    *,
    state: Mapping[str, Any] | None = None,
    seen: dict[Path, str] | None = None,
) -> str:
    """Whether the node's generated config reflects the cluster file and patches as they are."""
    from talos.ops.genconfig import config_is_current, config_path

    if not config_path(cluster, node).exists():
        return MISSING
    try:
        current = config_is_current(cluster, node, state=state, seen=seen)
    except TalosError:
        return UNKNOWN
    return CURRENT if current else OUTDATED


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
    located = locate(cluster, nodes, talosctl)
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
    from talos.core.schematic import node_schematic, schematic_id

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
        rows.append(
            NodeStatus(
                node=node.name,
                role=node.role,
                address=seen.address,
                reachable=seen.reachable,
                talos_running=seen.talos_version,
                talos_desired=want.talos_version,
                schematic_running=seen.schematic,
                schematic_desired=want.schematic,
                config=seen.config,
                problem=seen.problem,
                ready=seen.ready,
                stage=seen.stage,
            )
        )
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
    problems = [
        ([r.node for r in rows if r.found and not r.reachable], "unreachable"),
        ([r.node for r in rows if not r.found], "not found among the members"),
        ([r.node for r in rows if r.ready is False], "not ready"),
        ([r.node for r in rows if r.talos_current is False], "on another Talos version"),
        ([r.node for r in rows if r.schematic_current is False], "on another schematic"),
        ([r.node for r in rows if r.config == MISSING], "without a generated config"),
        ([r.node for r in rows if r.config == OUTDATED], "with an outdated config"),
    ]
    everyone = [r.node for r in rows]
    said = [
        f"{'every node' if names == everyone and len(names) > 1 else ', '.join(names)} {what}"
        for names, what in problems
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


# -- health (pure) ----------------------------------------------------------------------


@dataclass(frozen=True)
class HealthSummary:
    """The checks ``talosctl health`` reported, each with its last outcome."""

    checks: tuple[tuple[str, str], ...]

    @property
    def passed(self) -> list[str]:
        return [name for name, outcome in self.checks if outcome == "OK"]

    @property
    def skipped(self) -> list[str]:
        return [name for name, outcome in self.checks if outcome == "SKIP"]

    @property
    def failing(self) -> list[tuple[str, str]]:
        return [(n, o) for n, o in self.checks if o not in ("OK", "SKIP")]


def summarise_health(text: str) -> HealthSummary:
    """Each ``waiting for CHECK: OUTCOME`` line, the last outcome of each check kept.

    An outcome may go on over indented lines (talosctl's multi-errors: ``2 errors
    occurred:`` then ``\t* ...`` per error); those are joined into one line.
    """
    outcomes: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("waiting for ") and ": " in line:
            name, _, outcome = line[len("waiting for "):].partition(": ")
            current = outcomes[name] = [outcome.strip()]
        elif current is not None and raw[:1].isspace() and line:
            current.append(line.removeprefix("* "))
        else:
            current = None
    return HealthSummary(tuple((name, _joined(parts)) for name, parts in outcomes.items()))


def _joined(parts: list[str]) -> str:
    head, *details = parts
    if details and re.fullmatch(r"\d+ errors? occurred:", head):
        return "; ".join(details)
    return " ".join([head, *details])


def health_line(summary: HealthSummary, *, healthy: bool) -> str:
    passed = f"{len(summary.passed)} of {count(len(summary.checks), 'check')} passed"
    skipped = f", skipped: {', '.join(summary.skipped)}" if summary.skipped else ""
    if healthy:
        return f"healthy: {passed}{skipped}"
    failing = summary.failing
    if failing:
        name, outcome = failing[-1]
        reason = "did not finish" if outcome == "..." else outcome
        return f"unhealthy: {name}: {reason} ({passed}{skipped})"
    return f"unhealthy ({passed}{skipped})"


def check_health(
    cluster: Cluster,
    talosctl: Talosctl,
    *,
    timeout: str = "5m",
    transcript: Sequence[str] | None = None,
) -> str:
    """``talosctl health`` from the first control plane, told every node; one summary line.

    ``transcript``: the lines talosctl printed, as the adapter's progress callback
    collected them (otherwise the error's stderr tail is summarised). Raises
    :class:`CommandError` naming the failing check when the cluster is unhealthy, and
    :class:`SelectionError` when a node of the cluster file is not among the members.
    """
    require_talosconfig(talosctl)
    located = locate(cluster, cluster.nodes, talosctl)
    missing = [name for name, where in located.items() if where.address is None]
    controlplanes = [a for n in cluster.controlplanes if (a := located[n.name].address)]
    workers = [a for n in cluster.workers if (a := located[n.name].address)]
    if not controlplanes:
        raise SelectionError("no control plane could be located; check the cluster file's IPs")
    node = answering(talosctl, controlplanes)
    try:
        text = talosctl.health(
            node, control_planes=controlplanes, workers=workers, timeout=timeout
        )
    except ToolMissingError:
        raise
    except CommandError as exc:
        said = "\n".join(transcript) if transcript else exc.stderr or str(exc)
        summary = summarise_health(said)
        verdict = health_line(summary, healthy=False) if summary.checks else (
            f"unhealthy: {first_line(exc)}"
        )
        raise CommandError(
            f"{verdict}, asked {node}",
            command=exc.command, exit_code=exc.returncode, stderr=exc.stderr,
        ) from exc
    line = f"{health_line(summarise_health(text), healthy=True)}, asked {node}"
    if missing:
        raise SelectionError(f"{line}; but {', '.join(missing)} not found among the members")
    return line


def answering(talosctl: Talosctl, controlplanes: Sequence[str]) -> str:
    """The first control plane that answers: the checks are run from it.

    Asked from a control plane that is down, talosctl could only say it is down; from
    one that is up, it says which checks that node's absence breaks.
    """
    failures = []
    for address in controlplanes:
        try:
            talosctl.server_version(address)
        except ToolMissingError:
            raise
        except CommandError as exc:
            failures.append(first_line(exc))
        else:
            return address
    raise CommandError(
        f"unhealthy: no control plane answers ({'; '.join(failures)})",
        hint="check the control planes are powered and on the network",
    )


def require_talosconfig(talosctl: Talosctl) -> None:
    """Without a talosconfig every node would look unreachable: say what is missing instead."""
    path = talosctl.talosconfig
    if path is None or not path.is_file():
        raise CommandError(
            f"no talosconfig at {path or '(none given)'}",
            hint="run `inv genconfig` first, or point TALOS_TASKS_TALOSCONFIG at one",
        )


# -- words ------------------------------------------------------------------------------


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
