"""The upgrade plan: what each node should run, what it runs, and so what to do.

    wanted_state(cluster, nodes, addresses) -> [Wanted]          image, version, schematic per node
    observe(client, wanted)                 -> {name: Observed}  two talosctl calls for all nodes
    plan_upgrade(wanted, observed)          -> Plan              upgrade / current / unreachable
    health_expectations(wanted, observed)   -> (cps, workers)    what health checks expect

Everything but :func:`observe` is pure; :func:`observe` asks through the client it is
given. Nodes already at their wanted version and schematic plan as current, so planning
again after a failed rollout resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from talos.adapters.talosctl import Asker, running
from talos.core.schematic import VANILLA_ID, node_installer_image, node_schematic, schematic_id
from talos.core.wording import short_id

if TYPE_CHECKING:
    from talos.core.cluster import Cluster, Node

UPGRADE = "upgrade"
CURRENT = "current"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Wanted:
    """What a node should run, from the cluster file."""

    node: Node
    address: str | None  # None: not found among the cluster's members
    image: str
    talos_version: str
    schematic_id: str

    @property
    def name(self) -> str:
        return self.node.name


@dataclass(frozen=True)
class Observed:
    """What a node runs, as it answered; ``reachable`` False with the reason otherwise."""

    talos_version: str | None = None
    schematic_id: str | None = None
    reachable: bool = True
    error: str = ""


@dataclass(frozen=True)
class Step:
    """One node's entry in the plan: what to do and why."""

    wanted: Wanted
    observed: Observed
    action: str  # UPGRADE, CURRENT or UNREACHABLE
    reason: str

    @property
    def name(self) -> str:
        return self.wanted.node.name

    @property
    def is_controlplane(self) -> bool:
        return self.wanted.node.is_controlplane


@dataclass(frozen=True)
class Plan:
    """Every selected node, control planes first, each with its action."""

    steps: tuple[Step, ...]

    def with_action(self, action: str) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action == action)

    @property
    def upgrades(self) -> tuple[Step, ...]:
        return self.with_action(UPGRADE)

    @property
    def controlplane_upgrades(self) -> tuple[Step, ...]:
        return tuple(s for s in self.upgrades if s.is_controlplane)

    @property
    def worker_upgrades(self) -> tuple[Step, ...]:
        return tuple(s for s in self.upgrades if not s.is_controlplane)

    @property
    def current(self) -> tuple[Step, ...]:
        return self.with_action(CURRENT)

    @property
    def unreachable(self) -> tuple[Step, ...]:
        return self.with_action(UNREACHABLE)


def wanted_state(
    cluster: Cluster, nodes: Sequence[Node], addresses: Mapping[str, str]
) -> list[Wanted]:
    """Each node's installer image, Talos version and schematic ID, from the cluster file.

    ``addresses`` maps node names to the address to reach them at; a node missing from
    it could not be located and will plan as unreachable.
    """
    return [
        Wanted(
            node=node,
            address=addresses.get(node.name),
            image=node_installer_image(cluster, node),
            talos_version=cluster.talos_version_of(node),
            schematic_id=schematic_id(node_schematic(cluster, node)),
        )
        for node in nodes
    ]


def plan_upgrade(wanted: Sequence[Wanted], observed: Mapping[str, Observed]) -> Plan:
    """Compare what each node runs with what it should: upgrade, current or unreachable.

    Control planes come first (in the order given), then workers.
    """
    steps = [_step(w, observed.get(w.name)) for w in wanted]
    ordered = [s for s in steps if s.is_controlplane] + [s for s in steps if not s.is_controlplane]
    return Plan(tuple(ordered))


def _step(wanted: Wanted, seen: Observed | None) -> Step:
    if seen is None:
        reason = "not found among the cluster's members" if wanted.address is None else (
            "not asked")
        return Step(wanted, Observed(reachable=False, error=reason), UNREACHABLE, reason)
    if not seen.reachable:
        return Step(wanted, seen, UNREACHABLE, seen.error or "did not answer")
    # A stock installer image carries no schematic entry: it is the vanilla schematic.
    running_schematic = seen.schematic_id or VANILLA_ID
    differences = []
    if seen.talos_version != wanted.talos_version:
        differences.append(f"Talos {seen.talos_version or '?'} -> {wanted.talos_version}")
    if running_schematic != wanted.schematic_id:
        differences.append(
            f"schematic {short_id(running_schematic)} -> {short_id(wanted.schematic_id)}"
        )
    if not differences:
        return Step(wanted, seen, CURRENT, f"runs {wanted.talos_version} with its schematic")
    return Step(wanted, seen, UPGRADE, "; ".join(differences))


def health_expectations(
    wanted: Sequence[Wanted], observed: Mapping[str, Observed]
) -> tuple[list[str], list[str]]:
    """The addresses the health check after a control plane expects, from every node of
    the cluster: all control planes that could be located (etcd must be healthy on each,
    so one that is down stops the rollout) and the workers that answered (Kubernetes
    must report exactly the nodes listed)."""
    control_planes = [w.address for w in wanted if w.address and w.node.is_controlplane]
    workers = [
        w.address for w in wanted
        if w.address and not w.node.is_controlplane
        and (seen := observed.get(w.name)) is not None and seen.reachable
    ]
    return control_planes, workers


def observe(client: Asker, wanted: Sequence[Wanted]) -> dict[str, Observed]:
    """Ask every located node what it runs (:func:`talos.adapters.talosctl.running`: two
    talosctl calls for all of them, not two per node). A node that fails to answer is
    unreachable with talosctl's message for it; a missing talosctl is raised."""
    located = [(w, w.address) for w in wanted if w.address is not None]
    answers = running(client, [address for _, address in located])
    seen: dict[str, Observed] = {}
    for item, address in located:
        facts = answers[address]
        if facts.version is None or not facts.extensions_answered:
            seen[item.name] = Observed(reachable=False,
                                       error=" ".join((facts.problem or "").split()))
        else:
            seen[item.name] = Observed(talos_version=facts.version,
                                       schematic_id=facts.schematic)
    return seen
