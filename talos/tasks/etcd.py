"""etcd of the cluster: its health (``inv etcd.status``) and snapshots (``inv etcd.snapshot``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit

from talos.core.table import render_table
from talos.tasks.runtime import connect, is_dry, keep_setting, print_json, settings_of, task

if TYPE_CHECKING:
    from talos.ops.etcd import EtcdHealth

STATUS_HEADERS = ["NODE", "ADDRESS", "MEMBER", "LEADER", "DB SIZE", "IN USE", "RAFT TERM",
                  "HEALTH"]


def status_rows(health: EtcdHealth) -> list[list[str]]:
    from talos.ops.images import human_size as human_bytes  # lazy: 46 ms at start-up

    leader = health.leader
    rows = []
    for cp in health.controlplanes:
        status = health.statuses.get(cp.name)
        problem = health.problem_of(cp.name)
        rows.append([
            cp.name,
            cp.address or "-",
            status.member_id if status else "-",
            "yes" if leader == cp.name else "",
            human_bytes(status.db_size) if status else "-",
            human_bytes(status.db_in_use) if status else "-",
            str(status.raft_term) if status else "-",
            "ok" if problem is None else problem,
        ])
    return rows


def health_summary(health: EtcdHealth) -> str:
    if health.healthy:
        count = len(health.members or ())
        return f"etcd healthy: {count} member{'' if count == 1 else 's'}, leader {health.leader}"
    return "etcd unhealthy: " + "; ".join(str(p) for p in health.problems)


@task(
    name="status",
    help={"json": "print JSON for scripts instead of the table"},
)
def etcd_status(c: Context, json: bool = False) -> None:
    """etcd members, leader, DB size and health; exit 0 healthy, 2 unhealthy, 1 no answer.

    Every control plane is asked at once (talosctl etcd status), then the members
    (talosctl etcd members) from the first that answered. Unhealthy: a control plane that
    does not answer, reports errors, is a learner or has no leader; members that follow
    different leaders; members that are not the cluster file's control planes.
    """
    from talos.ops.etcd import inspect  # lazy: 48 ms at start-up

    cluster, talosctl = connect(c, settings_of(c), progress=None)
    health = inspect(cluster, talosctl)
    summary = health_summary(health)
    if json:
        print_json(health.as_json())
    else:
        print(render_table(STATUS_HEADERS, status_rows(health)))
    prose = sys.stderr if json else sys.stdout
    if not health.statuses:
        raise Exit(f"error: {summary}", code=1)
    if not health.healthy:
        raise Exit(summary, code=2)
    print(summary, file=prose)


@task(
    name="snapshot",
    help={
        "node": "the control plane to take it from (default: the first whose etcd is healthy)",
        "keep": "how many snapshots of this cluster to keep, newest first (default: "
                "talos.etcd_keep in invoke.yaml, else 5)",
    },
)
def etcd_snapshot(c: Context, node: str | None = None, keep: int | None = None) -> None:
    """Take an etcd snapshot into clusterconfig/backups/etcd-<cluster>-<UTC time>.db (0600)."""
    from talos.ops.etcd import take_snapshot  # lazy: 48 ms at start-up

    settings = settings_of(c)
    count = keep_setting(settings, keep)
    cluster, talosctl = connect(c, settings, progress=None)
    if node is not None:
        cluster.node(node)  # an unknown name is a SelectionError naming the nodes
    taken = take_snapshot(cluster, talosctl, node=node, keep=count)
    if is_dry(c):
        print(f"dry run: would take an etcd snapshot from {taken.node} into {taken.path}")
        return
    print(f"etcd snapshot from {taken.node}: {taken.path} ({taken.size} bytes)")
    for old in taken.removed:
        print(f"removed old snapshot {old.name} (keeping the newest {count})")


def register(ns: Collection) -> None:
    etcd = Collection("etcd")
    etcd.add_task(etcd_status, name="status")
    etcd.add_task(etcd_snapshot, name="snapshot")
    ns.add_collection(etcd)
