"""Upgrades: Talos on the nodes (rolling, resumable) and Kubernetes on the cluster."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.context import Context

from talos.adapters.interrupts import signal_name, signal_number
from talos.core.compat import kubernetes_problem
from talos.core.table import colour, render_table
from talos.core.wording import count, short_id
from talos.errors import Interrupted, RolloutError, UsageError
from talos.tasks.runtime import (
    ROLE_HELP,
    SKIP_ETCD_CHECK_HELP,
    guarded,
    is_dry,
    load_cluster,
    print_json,
    settings_of,
    task,
)

if TYPE_CHECKING:
    from talos.adapters.talosctl import Talosctl
    from talos.core.cluster import Cluster, Node
    from talos.ops.safety import Output
    from talos.ops.upgrade import Event, Observed, Plan, Report, RolloutOptions

_K8S_VERSION = re.compile(r"^v?\d+\.\d+\.\d+$")


@task(
    iterable=["node"],
    help={
        "node": "upgrade this node (repeatable); default: every node of the role, or all",
        "role": ROLE_HELP,
        "parallel": "workers upgraded at once (default 1); control planes always go one by one",
        "stage": "stage the upgrade and apply it on the next boot (talosctl upgrade --stage)",
        "timeout": "how long to wait for each node, a duration like 30m (default 30m)",
        "force": "talosctl upgrade --force: the node skips its own etcd health and member "
                 "checks (does not skip this task's pre-flight: --skip-etcd-check does)",
        "skip_etcd_check": SKIP_ETCD_CHECK_HELP,
        "preserve": "talosctl upgrade --preserve, as the old recipes passed it: data is always "
                    "kept since Talos 1.8; it does not skip the etcd pre-checks",
        "yes": "do not ask for confirmation (for scripts; without a terminal it is required)",
        "no_snapshot": "do not take an etcd snapshot before upgrading control planes",
        "json": "print the plan and the outcome as one JSON document on stdout",
    },
)
def upgrade(
    c: Context, node: list[str] | None = None, role: str | None = None, parallel: str | int = "1",
    stage: bool = False, timeout: str | None = None, force: bool = False,
    skip_etcd_check: bool = False, preserve: bool = False, yes: bool = False,
    no_snapshot: bool = False, json: bool = False,
) -> None:
    """Upgrade Talos where a node's version or schematic differs from the cluster file.

    Plan (each node asked what it runs), pre-flight (versions; for control planes: every
    control plane a healthy etcd member), confirm (--yes), etcd snapshot (control planes;
    --no-snapshot), then roll: control planes one at a time with health checks, workers
    --parallel at a time. Ctrl-C/SIGTERM: no new node starts, those in flight are waited
    for and named, exit 130/143.
    """
    from talos.ops.client import talosctl_for
    from talos.ops.safety import Output
    from talos.ops.upgrade import (
        RolloutOptions,
        health_expectations,
        observe,
        plan_upgrade,
        wanted_state,
    )

    if not str(parallel).strip().isdigit():
        raise UsageError(f"--parallel {parallel!r}: give a number of workers, like 2")
    options = RolloutOptions(parallel=int(parallel), stage=stage, force=force,
                             preserve=preserve, timeout=timeout)
    settings = settings_of(c)
    cluster = load_cluster(settings)
    selected = cluster.select(node or (), role)
    dry = is_dry(c)
    out = Output(json)
    printer = ProgressPrinter(out)
    talosctl = talosctl_for(cluster, dry=dry, progress=printer.talosctl_line, settings=settings)
    # Every node is asked, selected or not: the health check after a control plane
    # must expect exactly the nodes that are up.
    addresses, missing = locate(cluster, cluster.nodes, talosctl)
    everything = {w.name: w for w in wanted_state(cluster, cluster.nodes, addresses)}
    observed = {**missing, **observe(talosctl, list(everything.values()))}
    plan = plan_upgrade([everything[n.name] for n in selected], observed)
    out.say(plan_report(cluster, plan))
    document: dict[str, Any] = {"plan": plan_json(plan), "dry_run": dry, "snapshot": None,
                                "outcome": None}
    try:
        check_versions(cluster, plan, talosctl)
        if dry:
            out.say("Dry run: nothing upgraded.")
            return
        if not plan.upgrades:
            check_unreachable(plan)
            return
        control_planes, workers = health_expectations(list(everything.values()), observed)
        with guarded(settings, cluster, talosctl, "upgrade", out=out,
                     touches_controlplane=bool(plan.controlplane_upgrades),
                     skip_etcd_check=skip_etcd_check,
                     snapshot=not no_snapshot) as guard:
            guard.confirm(f"Upgrade {count(len(plan.upgrades), 'node')}?", yes=yes)
            document["snapshot"] = guard.take_snapshot()
            printer.start({w.address: w.name for w in everything.values() if w.address})
            report = run_rollout(plan, talosctl, control_planes, workers, options, printer)
        document["outcome"] = report.as_json()
        out.say(summary(report, snapshot=guard.snapshot_path))
        check_report(report)
    finally:
        if json:
            print_json(document)


@task(
    help={
        "to": "Kubernetes version, vX.Y.Z (default: kubernetesVersion of the cluster file)",
        "skip_etcd_check": SKIP_ETCD_CHECK_HELP,
    },
)
def upgrade_k8s(c: Context, to: str | None = None, skip_etcd_check: bool = False) -> None:
    """Upgrade Kubernetes to the cluster file's version, through the first control plane.

    Refused when the Talos version does not support it, and (unless --skip-etcd-check)
    when a
    control plane or etcd member is not healthy.
    """
    from talos.ops.client import talosctl_for
    from talos.ops.safety import Output
    from talos.ops.targets import resolve_targets

    settings = settings_of(c)
    cluster = load_cluster(settings)
    version = to or cluster.kubernetes_version
    if not _K8S_VERSION.match(version):
        raise UsageError(f"--to {version!r} is not a Kubernetes version like v1.35.0")
    problem = kubernetes_problem(version, cluster.talos_version)
    if problem:
        raise RolloutError(f"pre-flight refused upgrade-k8s: {problem}. Nothing was changed")
    talosctl = talosctl_for(cluster, dry=is_dry(c), progress=print_line, settings=settings)
    [target] = resolve_targets(cluster, [cluster.first_controlplane], talosctl)
    out = Output(False)
    with guarded(settings, cluster, talosctl, "upgrade-k8s", out=out, touches_controlplane=True,
                 skip_etcd_check=skip_etcd_check, snapshot=False):
        print(f"{cluster.name}: upgrading Kubernetes to {version} through "
              f"{target.node.name} ({target.address})", flush=True)
        talosctl.upgrade_k8s(target.address, version)


def register(ns: Collection) -> None:
    ns.add_task(upgrade)
    ns.add_task(upgrade_k8s)


def check_versions(cluster: Cluster, plan: Plan, talosctl: Talosctl) -> None:
    """The version pre-flight: refuse jumps Talos does not allow, a Kubernetes version the
    target does not run, a talosctl of another minor."""
    from talos.ops.preflight import require_versions, version_problems

    steps = plan.upgrades
    if not steps:
        return
    client = talosctl.client_version()
    problems = version_problems(
        [(s.name, s.observed.talos_version, s.wanted.talos_version) for s in steps],
        kubernetes=cluster.kubernetes_version, client=client)
    require_versions(problems, action="the upgrade")


def run_rollout(plan: Plan, talosctl: Talosctl, control_planes: list[str], workers: list[str],
                options: RolloutOptions, printer: ProgressPrinter) -> Report:
    from talos.ops.upgrade import rollout

    return rollout(plan, talosctl, control_planes=control_planes, workers=workers,
                   options=options, progress=printer.event)


def plan_json(plan: Plan) -> list[dict[str, Any]]:
    return [
        {
            "node": s.name,
            "role": s.wanted.node.role,
            "address": s.wanted.address,
            "running": {"talos": s.observed.talos_version, "schematic": s.observed.schematic_id}
            if s.observed.reachable else None,
            "wanted": {"talos": s.wanted.talos_version, "schematic": s.wanted.schematic_id,
                       "image": s.wanted.image},
            "action": s.action,
            "reason": s.reason,
        }
        for s in plan.steps
    ]


# -- locating nodes ----------------------------------------------------------------------


def locate(
    cluster: Cluster, nodes: Sequence[Node], talosctl: Talosctl
) -> tuple[dict[str, str], dict[str, Observed]]:
    """Addresses of the nodes that can be found; the others, with why, as unreachable.

    A node without an IP in the cluster file is looked up among the members; one that
    is not found must not stop the upgrade of the others.
    """
    from talos.ops.targets import locate as locate_targets
    from talos.ops.upgrade import Observed

    found, missing = locate_targets(cluster, nodes, talosctl)
    return (
        {target.node.name: target.address for target in found},
        {item.node.name: Observed(reachable=False, error=item.reason) for item in missing},
    )


# -- what is printed -----------------------------------------------------------------------


def plan_report(cluster: Cluster, plan: Plan) -> str:
    from talos.ops.upgrade import UPGRADE

    def running(step_observed: Observed) -> str:
        if not step_observed.reachable:
            return "-"
        return f"{step_observed.talos_version} {short_id(step_observed.schematic_id, 8)}"

    rows = [
        [s.name, s.wanted.node.role, s.wanted.address or "-", running(s.observed),
         f"{s.wanted.talos_version} {short_id(s.wanted.schematic_id, 8)}",
         s.action,
         s.reason if s.action != "current" else ""]
        for s in plan.steps
    ]
    cps, workers = len(plan.controlplane_upgrades), len(plan.worker_upgrades)
    counts = [f"{len(plan.upgrades)} to upgrade ({cps} control plane"
              f"{'' if cps == 1 else 's'}, {workers} worker{'' if workers == 1 else 's'})",
              f"{len(plan.current)} current"]
    if plan.unreachable:
        counts.append(f"{len(plan.unreachable)} unreachable")
    lines = [f"{cluster.name}: upgrade plan: {', '.join(counts)}",
             render_table(["NODE", "ROLE", "ADDRESS", "RUNNING", "WANTED", "ACTION", "WHY"],
                          rows)]
    images = dict.fromkeys(s.wanted.image for s in plan.steps if s.action == UPGRADE)
    if images:
        lines.append("Installer images: " + ", ".join(images))
    if not plan.upgrades:
        lines.append("Nothing to upgrade.")
    return "\n".join(lines)


class ProgressPrinter:
    """Prints the rollout's progress: each node's phase and, under it, talosctl's own
    progress lines for that node (``"192.168.0.204": unavailable, retrying...``)."""

    _NODE_LINE = re.compile(r'^"(?P<address>[^"]+)":\s*(?P<message>.*)$')

    def __init__(self, out: Output | None = None) -> None:
        self.names: dict[str, str] = {}
        self.began: float | None = None
        self.say = print_line if out is None else out.say

    def start(self, names: dict[str, str]) -> None:
        self.names = names
        self.began = time.monotonic()

    def event(self, event: Event) -> None:
        from talos.ops.upgrade import STARTING, format_seconds

        detail = f" to {event.detail}" if event.phase == STARTING else (
            f": {event.detail}" if event.detail else "")
        self.say(f"[{format_seconds(event.elapsed):>6}] {event.node}: {event.phase}{detail}")

    def talosctl_line(self, line: str) -> None:
        """Only the upgrade tracker's lines, which name their node; the health checks'
        and the version-skew warnings' (expected mid-upgrade) are left out."""
        from talos.ops.upgrade import format_seconds

        match = self._NODE_LINE.match(line.strip())
        if self.began is None or match is None:
            return
        name = self.names.get(match["address"], match["address"])
        elapsed = format_seconds(time.monotonic() - self.began)
        self.say(f"[{elapsed:>6}] {name}:   talosctl: {match['message']}")


def print_line(line: str) -> None:
    print(line, flush=True)


def summary(report: Report, *, snapshot: str | None = None) -> str:
    from talos.ops.upgrade import format_seconds

    def names(items: Sequence[str]) -> str:
        return ", ".join(items) or "-"

    lines = [f"Upgraded in {format_seconds(report.elapsed)}: {names(report.upgraded)}"]
    for name, message in report.check_failed.items():
        lines.append(colour(f"Health check failed after {name} (upgraded): {message}", "red",
                            sys.stdout))
    for name, message in report.failed.items():
        lines.append(colour(f"Failed: {name}: {message}", "red", sys.stdout))
    if report.in_flight:
        lines.append(colour(f"In flight when interrupted: {names(report.in_flight)} (check "
                            "them with inv status)", "red", sys.stdout))
    if report.not_touched:
        lines.append(f"Not touched: {names(report.not_touched)}")
    if report.current:
        lines.append(f"Already current: {names(report.current)}")
    for name, reason in report.unreachable.items():
        lines.append(colour(f"Unreachable: {name}: {reason}", "red", sys.stdout))
    if snapshot:
        lines.append(f"etcd snapshot taken before: {snapshot}")
    return "\n".join(lines)


def check_unreachable(plan: Plan) -> None:
    if plan.unreachable:
        names = ", ".join(s.name for s in plan.unreachable)
        raise RolloutError(f"{names} could not be reached; run inv upgrade again when they "
                           "are up")


def check_report(report: Report) -> None:
    if report.interrupted is not None:
        flying = ", ".join(report.in_flight) or "none"
        raise Interrupted(
            f"upgrade interrupted ({signal_name(report.interrupted)}): no new node was "
            f"started; in flight: {flying}; run inv upgrade again to resume",
            signal_number=signal_number(report.interrupted))
    if report.failed:
        raise RolloutError(
            f"upgrade stopped: {', '.join(report.failed)} failed; fix the cause and run "
            "inv upgrade again (upgraded nodes are skipped)"
        )
    if report.check_failed:
        raise RolloutError(
            f"upgrade stopped: the health check failed after {', '.join(report.check_failed)}"
            " (which runs its new version); fix the cluster's health (inv health), then run "
            "inv upgrade again"
        )
    if report.unreachable:
        raise RolloutError(
            f"not upgraded: {', '.join(report.unreachable)} could not be reached; run "
            "inv upgrade again when they are up"
        )
