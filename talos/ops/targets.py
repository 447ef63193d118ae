"""Where to reach each node: its address from the cluster file, else from the members.

A node declared without ``ip`` is found at run time: the control planes that have an
address are asked for the cluster's members (``talosctl get members``), the first that
answers is believed, and the member whose hostname is the node's gives its address.
Members are asked once per call, and only when a node needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from talos.core.cluster import Cluster, Node
from talos.errors import CommandError, SelectionError, ToolMissingError

if TYPE_CHECKING:
    from talos.adapters.talosctl import Member, Talosctl

#: How a node that could not be located is shown, before the reason.
NOT_FOUND = "not found"


@dataclass(frozen=True)
class Target:
    """A node and the address talosctl reaches it at."""

    node: Node
    address: str


@dataclass(frozen=True)
class Unlocated:
    """A node without an address in the cluster file that could not be found; ``reason``
    says why (no member of that name, or no control plane answered)."""

    node: Node
    reason: str


def locate(
    cluster: Cluster, nodes: Sequence[Node], talosctl: Talosctl
) -> tuple[list[Target], list[Unlocated]]:
    """The address of each of ``nodes`` that can be found, and the others with why.

    For views of the whole cluster (status, images, the upgrade plan), where one node
    that cannot be found must not hide the others. Members are asked at most once.
    """
    members: _Members | None = None
    unanswered: _NoAnswer | None = None
    found: list[Target] = []
    missing: list[Unlocated] = []
    for node in dict.fromkeys(nodes):
        if node.ip:
            found.append(Target(node, node.ip))
            continue
        if members is None and unanswered is None:
            try:
                members = _Members.ask(cluster, talosctl)
            except _NoAnswer as exc:
                unanswered = exc
        if members is None:
            assert unanswered is not None
            missing.append(Unlocated(node, unanswered.about(cluster, node)))
            continue
        try:
            found.append(Target(node, members.address_of(cluster, node)))
        except SelectionError as exc:
            missing.append(Unlocated(node, str(exc)))
    return found, missing


@dataclass(frozen=True)
class Location:
    """Where a node answers, or why it could not be located."""

    address: str | None
    problem: str | None = None


def locations(
    cluster: Cluster, nodes: Sequence[Node], talosctl: Talosctl
) -> dict[str, Location]:
    """:func:`locate` by node name: each node's address, or why it has none (``not found:
    ...``), for views that show a row per node."""
    found, missing = locate(cluster, nodes, talosctl)
    located = {target.node.name: Location(target.address) for target in found}
    for unlocated in missing:
        located[unlocated.node.name] = Location(None, f"{NOT_FOUND}: {unlocated.reason}")
    return located


def resolve_targets(cluster: Cluster, nodes: Sequence[Node], talosctl: Talosctl) -> list[Target]:
    """The address of each of ``nodes``, in order (see the module docstring).

    A node without an address in the cluster file and not among the members is a
    :class:`SelectionError` naming it.
    """
    found, missing = locate(cluster, nodes, talosctl)
    if missing:
        raise SelectionError(missing[0].reason)
    by_name = {target.node.name: target for target in found}
    return [by_name[node.name] for node in nodes]


@dataclass(frozen=True)
class _Members:
    """The members as one control plane reported them."""

    asked: Node
    members: tuple[Member, ...]

    @classmethod
    def ask(cls, cluster: Cluster, talosctl: Talosctl) -> _Members:
        askable = [cp for cp in cluster.controlplanes if cp.ip]
        if not askable:
            raise _NoAnswer("no control plane has one to ask for the members", "add its ip")
        failures = []
        for controlplane in askable:
            assert controlplane.ip is not None
            try:
                return cls(controlplane, tuple(talosctl.members(controlplane.ip)))
            except ToolMissingError:
                raise
            except CommandError as exc:
                failures.append(str(exc))
        raise _NoAnswer(
            f"no control plane answered for the members ({'; '.join(failures)})",
            "add its ip or check the control planes",
        )

    def address_of(self, cluster: Cluster, node: Node) -> str:
        for member in self.members:
            if same_host(member.hostname, node.hostname) and member.address:
                return member.address
        raise SelectionError(
            f"{node.name} has no IP in {cluster.path.name} and no member named "
            f"{node.hostname} was found on {self.asked.name}; add its ip"
        )


class _NoAnswer(Exception):
    """No control plane could say who the members are."""

    def __init__(self, why: str, todo: str) -> None:
        super().__init__(why)
        self.why = why
        self.todo = todo

    def about(self, cluster: Cluster, node: Node) -> str:
        return f"{node.name} has no IP in {cluster.path.name} and {self.why}; {self.todo}"


def same_host(reported: str, wanted: str) -> bool:
    """Same name, or one is the short form of the other (``worker-05`` / ``worker-05.lan``)."""
    reported, wanted = reported.lower().rstrip("."), wanted.lower().rstrip(".")
    short_reported, short_wanted = reported.split(".", 1)[0], wanted.split(".", 1)[0]
    return reported == wanted or short_reported == wanted or short_wanted == reported
