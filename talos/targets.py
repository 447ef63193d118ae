"""Where to reach each node: its address from the cluster file, else from the members.

A node declared without ``ip`` is found at run time: the control planes that have an
address are asked for the cluster's members (``talosctl get members``), the first that
answers is believed, and the member whose hostname is the node's gives its address.
Members are asked once per call, and only when a node needs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from talos.cluster import Cluster, Node
from talos.command import Runner
from talos.errors import CommandError, SelectionError, ToolMissingError
from talos.talosctl import Member, Talosctl

TALOSCONFIG_VARIABLE = "TALOS_TASKS_TALOSCONFIG"


@dataclass(frozen=True)
class Target:
    """A node and the address talosctl reaches it at."""

    node: Node
    address: str


def talosconfig_path(cluster: Cluster) -> Path:
    """``$TALOS_TASKS_TALOSCONFIG`` if set, else the generated ``clusterconfig/talosconfig``."""
    named = os.environ.get(TALOSCONFIG_VARIABLE)
    return Path(named) if named else cluster.output_dir / "talosconfig"


def show_progress(line: str) -> None:
    """Pass a line of talosctl's progress to the user (stderr, where talosctl puts it)."""
    print(f"  {line}", file=sys.stderr, flush=True)


def talosctl_for(
    cluster: Cluster,
    *,
    dry: bool = False,
    progress: Callable[[str], None] | None = show_progress,
) -> Talosctl:
    """The talosctl adapter for ``cluster``; ``dry`` echoes changes instead of making them.

    The binary is ``$TALOSCTL`` or ``talosctl`` on PATH. ``progress`` receives the output
    of long operations (upgrade, reboot, reset, health) line by line as it comes; by
    default it goes to stderr; ``None`` keeps them quiet.
    """
    return Talosctl(talosconfig_path(cluster), runner=Runner(dry=dry), progress=progress)


def resolve_targets(cluster: Cluster, nodes: Sequence[Node], talosctl: Talosctl) -> list[Target]:
    """The address of each of ``nodes``, in order (see the module docstring).

    A node without an address in the cluster file and not among the members is a
    :class:`SelectionError` naming it.
    """
    members: _Members | None = None
    targets = []
    for node in nodes:
        if node.ip:
            targets.append(Target(node, node.ip))
            continue
        if members is None:
            members = _Members.ask(cluster, talosctl, node)
        targets.append(Target(node, members.address_of(cluster, node)))
    return targets


@dataclass(frozen=True)
class _Members:
    """The members as one control plane reported them."""

    asked: Node
    members: tuple[Member, ...]

    @classmethod
    def ask(cls, cluster: Cluster, talosctl: Talosctl, needing: Node) -> _Members:
        file = cluster.path.name
        askable = [cp for cp in cluster.controlplanes if cp.ip]
        if not askable:
            raise SelectionError(
                f"{needing.name} has no IP in {file} and no control plane has one to ask "
                f"for the members; add its ip"
            )
        failures = []
        for controlplane in askable:
            assert controlplane.ip is not None
            try:
                return cls(controlplane, tuple(talosctl.members(controlplane.ip)))
            except ToolMissingError:
                raise
            except CommandError as exc:
                failures.append(str(exc))
        raise SelectionError(
            f"{needing.name} has no IP in {file} and no control plane answered for the "
            f"members ({'; '.join(failures)}); add its ip or check the control planes"
        )

    def address_of(self, cluster: Cluster, node: Node) -> str:
        for member in self.members:
            if _same_host(member.hostname, node.hostname) and member.address:
                return member.address
        raise SelectionError(
            f"{node.name} has no IP in {cluster.path.name} and no member named "
            f"{node.hostname} was found on {self.asked.name}; add its ip"
        )


def _same_host(reported: str, wanted: str) -> bool:
    reported, wanted = reported.lower().rstrip("."), wanted.lower().rstrip(".")
    return reported == wanted or reported.split(".", 1)[0] == wanted
