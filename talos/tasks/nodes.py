"""Driving the nodes: apply, diff, bootstrap, kubeconfig, reboot, reset.

Nodes are chosen with ``--node NAME`` (repeatable), ``--role``, or all of them; a node
declared without an IP is found among the cluster's members by hostname. Every task
honours Invoke's ``--dry``: talosctl commands that change a node are printed, not run.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit

from talos.tasks.runtime import (
    JSON_HELP,
    NODE_HELP,
    ROLE_HELP,
    SKIP_ETCD_CHECK_HELP,
    connect,
    is_dry,
    json_text,
    print_json,
    say,
    task,
)

if TYPE_CHECKING:
    from talos.adapters.talosctl import Talosctl
    from talos.core.cluster import Cluster, Node
    from talos.ops.apply import ApplyStep, TargetLike
    from talos.ops.safety import Output
    from talos.ops.targets import Target

MODE_HELP = "apply mode: auto (default; reboots only if needed), no-reboot, reboot, staged, try"
DRY_DONE = "dry run: the talosctl commands above were printed, not run; nothing changed"


def quiet(line: str) -> None:
    """Outcome lines are not said in a dry run: nothing happened."""


def outcome(c: Context) -> Callable[[str], None]:
    return quiet if is_dry(c) else say


def check_timeout(timeout: str | None, flag: str = "--timeout") -> None:
    """Refuse a timeout that is not a positive Go duration before anything is called
    (talosctl would refuse it only after the work began)."""
    from talos.core.units import parse_duration
    from talos.errors import UsageError

    if timeout is None:
        return
    try:
        positive = parse_duration(timeout) > 0
    except ValueError:
        positive = False
    if not positive:
        raise UsageError(f"{flag} {timeout!r} is not a duration (e.g. 30s, 5m, 1h30m)")


def selected_nodes(cluster: Cluster, node: Sequence[str] | None, role: str | None
                   ) -> tuple[Node, ...]:
    from talos.errors import SelectionError

    nodes = cluster.select(node or (), role or None)
    if not nodes:
        among = f" among {', '.join(node)}" if node else ""
        raise SelectionError(f"no {role} node{among}; nothing to do")
    return nodes


def selected_targets(
    cluster: Cluster, talosctl: Talosctl, node: Sequence[str] | None, role: str | None
) -> list[Target]:
    from talos.ops.targets import resolve_targets

    return resolve_targets(cluster, selected_nodes(cluster, node, role), talosctl)


def make_configs_current(c: Context, cluster: Cluster, nodes: Sequence[Node], *,
                         out: Output | None = None) -> None:
    """Regenerate the configs of ``nodes`` whose inputs changed (and the talosconfig the
    next steps need to reach the nodes). Done for real under ``--dry`` too: it writes
    only local files, and a plan made against stale configs would hide changes. Refused
    while another process holds the rollout lock."""
    from talos.adapters.lock import refuse_during_rollout
    from talos.adapters.sops import decrypt_file
    from talos.ops.genconfig import generate
    from talos.ops.targets import talosctl_for

    refuse_during_rollout(cluster.output_dir, "regenerating the configs")
    report = generate(cluster, talosctl=talosctl_for(cluster), decrypt=decrypt_file, nodes=nodes)
    if report.written:
        line = f"configs out of date, regenerated: {', '.join(report.written)}"
        if out is None:
            say(line)
        else:
            out.say(line)


@task(
    iterable=["node"],
    help={
        "node": NODE_HELP,
        "role": ROLE_HELP,
        "mode": MODE_HELP,
        "insecure": "the nodes are in maintenance mode (first install): no talosconfig, "
                    "reached at their IP",
        "force": "apply even to nodes whose running config is already the file's",
        "skip_etcd_check": SKIP_ETCD_CHECK_HELP,
        "yes": "do not ask for confirmation (for scripts; without a terminal it is required)",
        "no_snapshot": "do not take an etcd snapshot before changing control planes",
        "json": "print the plan and the outcome as one JSON document on stdout",
    },
)
def apply(
    c: Context, node: list[str] | None = None, role: str | None = None, mode: str = "auto",
    insecure: bool = False, force: bool = False, skip_etcd_check: bool = False,
    yes: bool = False, no_snapshot: bool = False, json: bool = False,
) -> None:
    """Apply each node's config: plan (diff), confirm, then one node at a time.

    The configs are first brought up to date (as `inv genconfig`, also under --dry), then
    each node is asked what would change (apply-config --dry-run): that is the plan,
    printed with the diffs (secrets redacted); `inv --dry apply` ends there. Nodes with
    nothing to change are left alone (unless --force). After confirmation (--yes for
    scripts) and, when control planes change, the etcd pre-flight and a snapshot, the
    configs go out control planes first, one node at a time: a node that reboots is back
    and ready (a control plane: etcd healthy) before the next. The first failure or
    Ctrl-C stops the run; the table says what was applied and what was not.

    Example: inv apply --node worker-03
    """
    from talos.ops.apply import check_mode
    from talos.ops.safety import Output

    check_mode(mode, insecure=insecure)
    out = Output(json)
    cluster, talosctl = connect(c)
    talosctl.runner.echo = out.say  # a dry run's commands are prose too
    nodes = selected_nodes(cluster, node, role)
    make_configs_current(c, cluster, nodes, out=out)
    document: dict[str, Any] = {"plan": [], "dry_run": is_dry(c), "snapshot": None,
                                "nodes": None}
    try:
        apply_planned(c, cluster, talosctl, nodes, out=out, document=document, mode=mode,
                      insecure=insecure, force=force, skip_etcd_check=skip_etcd_check,
                      yes=yes, snapshot=not no_snapshot)
    finally:
        if json:
            print_json(document)


def apply_planned(
    c: Context, cluster: Cluster, talosctl: Talosctl, nodes: Sequence[Node], *, out: Output,
    document: dict[str, Any], mode: str, insecure: bool, force: bool, skip_etcd_check: bool,
    yes: bool, snapshot: bool,
) -> None:
    """Plan, show, confirm and apply, each node getting the config bytes read at plan
    time (private copies, removed however this ends)."""
    from functools import partial

    from talos.adapters.interrupts import sigterm_as_interrupt
    from talos.ops.apply import plan_apply
    from talos.ops.genconfig import config_path
    from talos.ops.pinned import pinned_configs
    from talos.ops.targets import resolve_targets

    targets = resolve_targets(cluster, nodes, talosctl)
    planned = plan_apply(targets, config_for=partial(config_path, cluster), mode=mode,
                         insecure=insecure, force=force)
    with sigterm_as_interrupt(), pinned_configs(planned) as steps:
        apply_pinned(c, cluster, talosctl, steps, out=out, document=document,
                     insecure=insecure, force=force, skip_etcd_check=skip_etcd_check,
                     yes=yes, snapshot=snapshot)


def apply_pinned(
    c: Context, cluster: Cluster, talosctl: Talosctl, steps: Sequence[ApplyStep], *,
    out: Output, document: dict[str, Any], insecure: bool, force: bool,
    skip_etcd_check: bool, yes: bool, snapshot: bool,
) -> None:

    from talos.core.table import render_table
    from talos.errors import RolloutError
    from talos.ops.apply import (
        DIFF_HEADERS,
        rollout_error,
        rollout_json,
        rollout_rows,
        run_apply,
        run_diff,
        step_name,
    )
    from talos.ops.secrets import Redactor
    from talos.tasks.runtime import guarded

    # talosctl's diffs, messages and errors can quote config content: secrets are masked.
    hide = Redactor.for_cluster(cluster)
    if insecure:  # maintenance mode: nothing to compare with, every node is installed
        chosen = list(steps)
        document["plan"] = [{"node": s.name, "address": s.target.address, "changes": True,
                             "reboot": True, "error": None} for s in steps]
    else:
        report = run_diff(steps, talosctl, redact=hide)
        for d in report.diffs:
            if d.changed and d.diff.strip():
                out.say(f"== {d.target.node.name} ({d.target.address})")
                out.say(d.diff.rstrip())
        out.say(render_table(DIFF_HEADERS, report.rows()))
        document["plan"] = [{"node": d.target.node.name, "address": d.target.address,
                             "changes": d.changed, "reboot": d.reboot, "error": d.error}
                            for d in report.diffs]
        if report.errors:
            raise RolloutError(f"cannot plan the apply: {report.summary()}; nothing was "
                               "changed")
        changed = {d.target.node.name for d in report.changed}
        chosen = [s for s in steps if force or s.name in changed]
        for s in steps:
            if s not in chosen:
                out.say(f"{s.name}: nothing to change; not touched")
    if not chosen:
        out.say("Nothing to apply.")
        return
    steps_to_run = chosen
    out.say(f"apply, one node at a time ({len(steps_to_run)}):")
    for step in steps_to_run:
        out.say(f"  {step.describe(cluster.root)}")
    if is_dry(c):
        run_apply(steps_to_run, talosctl, progress=quiet)  # prints the commands, runs none
        out.say(DRY_DONE)
        return
    touches_cp = any(s.target.node.is_controlplane for s in steps_to_run) and not insecure
    with guarded(c, cluster, talosctl, "apply", out=out, touches_controlplane=touches_cp,
                 skip_etcd_check=skip_etcd_check, snapshot=snapshot) as guard:
        guard.confirm(f"Apply to {len(steps_to_run)} node"
                      f"{'' if len(steps_to_run) == 1 else 's'}?", yes=yes)
        document["snapshot"] = guard.take_snapshot()
        rollout = run_apply(steps_to_run, talosctl, progress=lambda line: out.say(hide(line)),
                            gate=etcd_gate(cluster, talosctl) if touches_cp else None)
    document["nodes"] = [{**row, "message": hide(str(row["message"]))} for row in
                         rollout_json(rollout, name=step_name, done_as="applied",
                                      address=lambda s: s.target.address)]
    out.say(render_table(["NODE", "RESULT"], rollout_rows(rollout, name=step_name,
                                                          done_as="applied")))
    if guard.snapshot_path:
        out.say(f"etcd snapshot taken before: {guard.snapshot_path}")
    if not rollout.ok:
        raise hide.error(rollout_error(rollout, name=step_name, verb="apply"))


def etcd_gate(cluster: Cluster, talosctl: Talosctl) -> Callable[[TargetLike], None]:
    """After a control plane is back: wait until etcd is healthy before the next node."""
    from talos.ops.etcd import wait_until_healthy

    def gate(target: TargetLike) -> None:
        wait_until_healthy(cluster, talosctl)

    return gate


@task(
    iterable=["node"],
    help={"node": NODE_HELP, "role": ROLE_HELP,
          "mode": MODE_HELP + "; decides whether the REBOOT column says yes",
          "format": "text (default) or markdown: a summary table and each node's diff in "
                    "a collapsible section, for a pull-request comment",
          "output": "write the report to this file instead (replaced atomically; "
                    "a regular file only)",
          "json": JSON_HELP},
)
def diff(c: Context, node: list[str] | None = None, role: str | None = None,
         mode: str = "auto", format: str = "text", output: str | None = None,
         json: bool = False) -> None:
    """Show what apply would change per node, secrets redacted; exit 2 on changes.

    Runs `talosctl apply-config --dry-run` per node (configs brought up to date first) and
    prints each diff with every secret replaced by <redacted> (the values at secret
    config paths, whatever they are, and any value of the secrets bundle), then a table.
    Exit code: 0 nothing would change, 2 something would, 1 a node could not be compared
    (for CI). --format markdown and --json keep these codes.
    """
    from functools import partial

    from talos.ops.apply import plan_apply, run_diff
    from talos.ops.diffreport import check_format, diff_document, render, write_report
    from talos.ops.genconfig import config_path
    from talos.ops.secrets import redact, secret_values
    from talos.ops.targets import resolve_targets

    check_format(format)
    document_only = json or output is not None or format != "text"
    # Prose (configs regenerated, nodes found) goes to stderr when stdout is the document.
    with contextlib.redirect_stdout(sys.stderr if document_only else sys.stdout):
        cluster, talosctl = connect(c)
        nodes = selected_nodes(cluster, node, role)
        make_configs_current(c, cluster, nodes)
        targets = resolve_targets(cluster, nodes, talosctl)
        steps = plan_apply(targets, config_for=partial(config_path, cluster), mode=mode)
        secrets = secret_values(cluster)
        # Masks the values at secret paths too: a node may hold another bundle's secrets.
        report = run_diff(steps, talosctl, redact=lambda text: redact(text, secrets))
    text = json_text(diff_document(report)) if json else render(report, format, cluster.name)
    if output is not None:
        write_report(Path(output), text)
        print(f"diff written to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    if report.exit_code:
        raise Exit(report.summary(), code=report.exit_code)
    print(report.summary(), file=sys.stderr if document_only else sys.stdout)


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
    from talos.ops.nodeops import bootstrap as bootstrap_etcd
    from talos.ops.nodeops import write_kubeconfig
    from talos.ops.safety import Output
    from talos.tasks.runtime import guarded

    cluster, talosctl = connect(c)
    (target,) = selected_targets(cluster, talosctl, [cluster.first_controlplane.name], None)
    path = kubeconfig_path(cluster, kubeconfig)
    say(f"bootstrap etcd on {target.node.name} ({target.address}), then write {path}")
    if is_dry(c):
        bootstrap_etcd(target, talosctl)
        write_kubeconfig(target, talosctl, path, merge=merges_kubeconfig(cluster, path))
        say(DRY_DONE)
        return
    with guarded(c, cluster, talosctl, "bootstrap", out=Output(False),
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
    from talos.errors import SelectionError
    from talos.ops.nodeops import write_kubeconfig

    cluster, talosctl = connect(c)
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
    from talos.core.readiness import Polling
    from talos.core.table import render_table
    from talos.ops.apply import rollout_error, rollout_json, rollout_order, rollout_rows
    from talos.ops.apply import wait_until_ready as wait_back
    from talos.ops.nodeops import reboot_in_turn, target_name
    from talos.ops.safety import Output
    from talos.tasks.runtime import guarded

    out = Output(json)
    check_timeout(timeout)
    cluster, talosctl = connect(c)
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
        with guarded(c, cluster, talosctl, "reboot", out=out, touches_controlplane=touches_cp,
                     skip_etcd_check=skip_etcd_check, snapshot=not no_snapshot) as guard:
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
    from talos.adapters.confirm import confirm_by_name
    from talos.errors import SelectionError
    from talos.ops.nodeops import check_wipe, describe_reset
    from talos.ops.nodeops import reset as reset_node
    from talos.ops.safety import Output
    from talos.tasks.runtime import guarded

    if not node:
        raise SelectionError("inv reset needs --node NAME: the one node to reset")
    labels = check_wipe(wipe or [])
    cluster, talosctl = connect(c)
    (target,) = selected_targets(cluster, talosctl, [node], None)
    action = describe_reset(target, wipe=labels, graceful=graceful, reboot=reboot)
    if is_dry(c):
        say(f"dry run, not asking: would {action}")
        reset_node(target, talosctl, wipe=labels, graceful=graceful, reboot=reboot)
        say(DRY_DONE)
        return
    with guarded(c, cluster, talosctl, "reset", out=Output(False),
                 touches_controlplane=target.node.is_controlplane,
                 skip_etcd_check=skip_etcd_check,
                 snapshot=False):
        confirm_by_name(target.node.name, action=action, yes=yes, stdin=sys.stdin)
        say(reset_node(target, talosctl, wipe=labels, graceful=graceful, reboot=reboot))


def register(ns: Collection) -> None:
    ns.add_task(apply)
    ns.add_task(diff)
    ns.add_task(bootstrap)
    ns.add_task(kubeconfig)
    ns.add_task(reboot)
    ns.add_task(reset)
