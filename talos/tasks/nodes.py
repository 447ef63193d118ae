"""Driving the nodes: bootstrap, kubeconfig, reboot, reset; and choosing them.

Nodes are chosen with ``--node NAME`` (repeatable), ``--role``, or all of them; a node
declared without an IP is found among the cluster's members by hostname. Every task
honours Invoke's ``--dry``: talosctl commands that change a node are printed, not run.
Sending configs to the nodes (``apply``, ``diff``) is :mod:`talos.tasks.apply`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.context import Context

from talos.adapters.confirm import confirm_by_name
from talos.core.table import render_table
from talos.errors import SelectionError
from talos.tasks.runtime import (
    NODE_HELP,
    ROLE_HELP,
    SKIP_ETCD_CHECK_HELP,
    check_timeout,
    connect,
    guarded,
    is_dry,
    print_json,
    say,
    settings_of,
    task,
)

if TYPE_CHECKING:
    from talos.adapters.talosctl import Talosctl
    from talos.core.cluster import Cluster, Node
    from talos.ops.apply import TargetLike
    from talos.ops.targets import Target

DRY_DONE = "dry run: the talosctl commands above were printed, not run; nothing changed"


def quiet(line: str) -> None:
    """Outcome lines are not said in a dry run: nothing happened."""


def outcome(c: Context) -> Callable[[str], None]:
    return quiet if is_dry(c) else say


def selected_nodes(cluster: Cluster, node: Sequence[str] | None, role: str | None
                   ) -> tuple[Node, ...]:
    nodes = cluster.select(node or (), role or None)
    if not nodes:
        among = f" among {', '.join(node)}" if node else ""
        raise SelectionError(f"no {role} node{among}; nothing to do")
    return nodes


def selected_targets(
    cluster: Cluster, talosctl: Talosctl, node: Sequence[str] | None, role: str | None
) -> list[Target]:
    from talos.ops.targets import resolve_targets  # lazy: 8 ms at start-up

    return resolve_targets(cluster, selected_nodes(cluster, node, role), talosctl)


def etcd_gate(cluster: Cluster, talosctl: Talosctl) -> Callable[[TargetLike], None]:
    """After a control plane is back: wait until etcd is healthy before the next node."""
    from talos.ops.etcd import wait_until_healthy  # lazy: 48 ms at start-up

    def gate(target: TargetLike) -> None:
        wait_until_healthy(cluster, talosctl)

    return gate


def default_kubeconfig(cluster: Cluster) -> Path:
    return cluster.output_dir / "kubeconfig"


def kubeconfig_path(cluster: Cluster, given: str | None) -> Path:
    return Path(given).expanduser() if given else default_kubeconfig(cluster)


def merges_kubeconfig(cluster: Cluster, path: Path) -> bool:
    """Our own clusterconfig/kubeconfig is replaced; any other file is the user's: merged."""
    return path.absolute() != default_kubeconfig(cluster).absolute()


@task(
    help={"kubeconfig": "where to write the kubeconfig afterwards (default "
                        "clusterconfig/kubeconfig, replaced; another existing file is "
                        "merged into)"},
)
def bootstrap(c: Context, kubeconfig: str | None = None) -> None:
    """Bootstrap etcd on the first control plane, then write the kubeconfig.

    On a cluster already bootstrapped this says so and succeeds.
    """
    from talos.ops.nodeops import bootstrap as bootstrap_etcd  # lazy: 41 ms at start-up
    from talos.ops.nodeops import write_kubeconfig

    settings = settings_of(c)
    cluster, talosctl = connect(c, settings)
    (target,) = selected_targets(cluster, talosctl, [cluster.first_controlplane.name], None)
    path = kubeconfig_path(cluster, kubeconfig)
    say(f"bootstrap etcd on {target.node.name} ({target.address}), then write {path}")
    if is_dry(c):
        bootstrap_etcd(target, talosctl)
        write_kubeconfig(target, talosctl, path, merge=merges_kubeconfig(cluster, path))
        say(DRY_DONE)
        return
    with guarded(settings, cluster, talosctl, "bootstrap",
                 touches_controlplane=False):
        say(bootstrap_etcd(target, talosctl))
        say(write_kubeconfig(target, talosctl, path, merge=merges_kubeconfig(cluster, path)))


@task(
    help={
        "path": "file to write (default clusterconfig/kubeconfig, replaced); another "
                "existing file, such as ~/.kube/config, gets this cluster's entries merged in",
        "node": "control plane to ask (default: the first one)",
    },
)
def kubeconfig(c: Context, path: str | None = None, node: str | None = None) -> None:
    """Fetch the cluster's admin kubeconfig from a control plane."""
    from talos.ops.nodeops import write_kubeconfig  # lazy: 41 ms at start-up

    cluster, talosctl = connect(c, settings_of(c))
    chosen = cluster.node(node) if node else cluster.first_controlplane
    if not chosen.is_controlplane:
        raise SelectionError(f"{chosen.name} is a worker: the kubeconfig comes from a "
                             "control plane; name one with --node")
    (target,) = selected_targets(cluster, talosctl, [chosen.name], None)
    chosen_path = kubeconfig_path(cluster, path)
    merge = merges_kubeconfig(cluster, chosen_path)
    outcome(c)(write_kubeconfig(target, talosctl, chosen_path, merge=merge))
    if is_dry(c):
        say(DRY_DONE)


@task(
    iterable=["node"],
    help={
        "node": NODE_HELP,
        "role": ROLE_HELP,
        "timeout": "how long to wait for each node to come back (talosctl duration, "
                   "default 30m)",
        "skip_etcd_check": SKIP_ETCD_CHECK_HELP,
        "yes": "do not ask for confirmation (for scripts; without a terminal it is required)",
        "no_snapshot": "do not take an etcd snapshot before rebooting control planes",
        "json": "print the outcome as one JSON document on stdout",
    },
)
def reboot(c: Context, node: list[str] | None = None, role: str | None = None,
           timeout: str | None = None, skip_etcd_check: bool = False, yes: bool = False,
           no_snapshot: bool = False, json: bool = False) -> None:
    """Reboot nodes one at a time, control planes first, waiting for each (and etcd).

    With control planes: the etcd pre-flight first (every control plane a healthy
    member; --skip-etcd-check goes on), an etcd snapshot (--no-snapshot), and after each control
    plane a wait until etcd is healthy again before the next node.
    """
    # lazy: 25, 41 and 48 ms at start-up
    from talos.core.readiness import Polling  # lazy: 1 ms at start-up
    from talos.ops.apply import rollout_error, rollout_json, rollout_order, rollout_rows
    from talos.ops.apply import wait_until_ready as wait_back
    from talos.ops.nodeops import reboot_in_turn, target_name
    from talos.ops.safety import Output

    out = Output(json)
    check_timeout(timeout)
    settings = settings_of(c)
    cluster, talosctl = connect(c, settings)
    talosctl.runner.echo = out.say  # a dry run's commands are prose too
    targets = selected_targets(cluster, talosctl, node, role)
    order = ", ".join(f"{t.node.name} ({t.address})" for t in rollout_order(targets))
    out.say(f"reboot one at a time, waiting for each: {order}")
    document: dict[str, Any] = {"dry_run": is_dry(c), "snapshot": None, "nodes": None}
    try:
        if is_dry(c):
            reboot_in_turn(targets, talosctl, timeout=timeout, progress=quiet)
            out.say(DRY_DONE)
            return
        touches_cp = any(t.node.is_controlplane for t in targets)
        with guarded(settings, cluster, talosctl, "reboot", out=out,
                     touches_controlplane=touches_cp, skip_etcd_check=skip_etcd_check,
                     snapshot=not no_snapshot) as guard:
            guard.confirm(f"Reboot {len(targets)} node{'' if len(targets) == 1 else 's'}?",
                          yes=yes)
            document["snapshot"] = guard.take_snapshot()
            rollout = reboot_in_turn(
                targets, talosctl, timeout=timeout, progress=out.say,
                gate=etcd_gate(cluster, talosctl) if touches_cp else None,
                settle=lambda t: wait_back(talosctl, t, Polling()))
        document["nodes"] = rollout_json(rollout, name=target_name, done_as="rebooted",
                                         address=lambda t: t.address)
        if len(targets) > 1 or not rollout.ok:
            out.say(render_table(["NODE", "RESULT"],
                                 rollout_rows(rollout, name=target_name, done_as="rebooted")))
        if guard.snapshot_path:
            out.say(f"etcd snapshot taken before: {guard.snapshot_path}")
        if not rollout.ok:
            raise rollout_error(rollout, name=target_name, verb="reboot")
    finally:
        if json:
            print_json(document)


@task(
    help={
        "node": "the node to reset (one; required)",
        "yes": "do not ask to type the node name (for scripts)",
        "wipe": "system volume to wipe (repeatable): EPHEMERAL, META, STATE; "
                "default EPHEMERAL and META",
        "graceful": "cordon, drain and leave etcd first (default: not, as for a broken node)",
        "reboot": "reboot after the reset (default); --no-reboot powers the node off",
        "skip_etcd_check": SKIP_ETCD_CHECK_HELP,
    },
    iterable=["wipe"],
)
def reset(c: Context, node: str | None = None, yes: bool = False,
          wipe: list[str] | None = None, graceful: bool = False, reboot: bool = True,
          skip_etcd_check: bool = False) -> None:
    """Reset a node (wipes EPHEMERAL, META) once its name is typed, or with --yes.

    Without a terminal to ask on and without --yes it refuses. `inv --dry reset` shows
    the command without asking and without running it.
    """
    from talos.ops.nodeops import check_wipe, describe_reset  # lazy: 41 ms at start-up
    from talos.ops.nodeops import reset as reset_node

    if not node:
        raise SelectionError("inv reset needs --node NAME: the one node to reset")
    labels = check_wipe(wipe or [])
    settings = settings_of(c)
    cluster, talosctl = connect(c, settings)
    (target,) = selected_targets(cluster, talosctl, [node], None)
    action = describe_reset(target, wipe=labels, graceful=graceful, reboot=reboot)
    if is_dry(c):
        say(f"dry run, not asking: would {action}")
        reset_node(target, talosctl, wipe=labels, graceful=graceful, reboot=reboot)
        say(DRY_DONE)
        return
    with guarded(settings, cluster, talosctl, "reset",
                 touches_controlplane=target.node.is_controlplane,
                 skip_etcd_check=skip_etcd_check,
                 snapshot=False):
        confirm_by_name(target.node.name, action=action, yes=yes, stdin=sys.stdin)
        say(reset_node(target, talosctl, wipe=labels, graceful=graceful, reboot=reboot))


def register(ns: Collection) -> None:
    ns.add_task(bootstrap)
    ns.add_task(kubeconfig)
    ns.add_task(reboot)
    ns.add_task(reset)
