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
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit

from talos.tasks.runtime import (
    JSON_HELP,
    NODE_HELP,
    ROLE_HELP,
    connect,
    is_dry,
    json_text,
    say,
    task,
)

if TYPE_CHECKING:
    from talos.cluster import Cluster, Node
    from talos.talosctl import Talosctl
    from talos.targets import Target

MODE_HELP = "apply mode: auto (default; reboots only if needed), no-reboot, reboot, staged, try"
DRY_DONE = "dry run: the talosctl commands above were printed, not run; nothing changed"


def quiet(line: str) -> None:
    """Outcome lines are not said in a dry run: nothing happened."""


def outcome(c: Context) -> Callable[[str], None]:
    return quiet if is_dry(c) else say


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
    from talos.targets import resolve_targets

    return resolve_targets(cluster, selected_nodes(cluster, node, role), talosctl)


def make_configs_current(c: Context, cluster: Cluster, talosctl: Talosctl,
                         nodes: Sequence[Node]) -> None:
    """Regenerate the configs of ``nodes`` whose inputs changed (and the talosconfig the
    next steps need to reach the nodes)."""
    from talos.genconfig import generate

    report = generate(cluster, talosctl=talosctl, nodes=nodes, dry=is_dry(c))
    if report.written:
        verb = "would regenerate" if is_dry(c) else "regenerated"
        say(f"configs out of date, {verb}: {', '.join(report.written)}")


@task(  # type: ignore[untyped-decorator]  # runtime.task returns Any when given options
    iterable=["node"],
    help={
        "node": NODE_HELP,
        "role": ROLE_HELP,
        "mode": MODE_HELP,
        "insecure": "the nodes are in maintenance mode (first install): no talosconfig, "
                    "reached at their IP",
        "force": "apply even to nodes whose running config is already the file's "
                 "(normally left alone)",
    },
)
def apply(
    c: Context, node: list[str] | None = None, role: str | None = None, mode: str = "auto",
    insecure: bool = False, force: bool = False,
) -> None:
    """Apply each node's config, control planes first, one node at a time.

    Each selected node's config is first brought up to date (as `inv genconfig` would, a
    no-op when nothing changed), then sent with `talosctl apply-config`; a node whose
    running config is already the file's (asked with --dry-run) is left alone unless
    --force. Control planes go first, then workers, one node at a time: a node that
    reboots to take its config is back and ready before the next is touched. The first
    failure stops the run, and the table says what was applied, what failed and what was
    not attempted.
    Nodes without an IP in the cluster file are found among the members by hostname.
    `inv --dry apply ...` prints the talosctl commands instead of running them.

    Example: inv apply --node worker-03
    """
    from functools import partial

    from talos.apply import (
        check_mode,
        plan_apply,
        rollout_error,
        rollout_rows,
        run_apply,
        step_name,
    )
    from talos.genconfig import config_path
    from talos.secrets import Redactor
    from talos.table import render_table
    from talos.targets import resolve_targets

    check_mode(mode, insecure=insecure)
    cluster, talosctl = connect(c)
    nodes = selected_nodes(cluster, node, role)
    make_configs_current(c, cluster, talosctl, nodes)
    targets = resolve_targets(cluster, nodes, talosctl)
    steps = plan_apply(targets, config_for=partial(config_path, cluster), mode=mode,
                       insecure=insecure, force=force)
    say(f"apply, one node at a time ({len(steps)}):")
    for step in steps:
        say(f"  {step.describe(cluster.root)}")
    # talosctl's messages and errors can quote config content: secrets are masked.
    hide = Redactor.for_cluster(cluster)
    progress = outcome(c)
    rollout = run_apply(steps, talosctl, progress=lambda line: progress(hide(line)))
    if len(steps) > 1 or not rollout.ok or is_dry(c):
        done_as = "would apply" if is_dry(c) else "applied"
        say(render_table(["NODE", "RESULT"], rollout_rows(rollout, name=step_name,
                                                          done_as=done_as)))
    if not rollout.ok:
        raise hide.error(rollout_error(rollout, name=step_name, verb="apply"))
    if is_dry(c):
        say(DRY_DONE)


@task(  # type: ignore[untyped-decorator]
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

    from talos.apply import plan_apply, run_diff
    from talos.diffreport import check_format, diff_document, render, write_report
    from talos.genconfig import config_path
    from talos.secrets import redact, secret_values
    from talos.targets import resolve_targets

    check_format(format)
    document_only = json or output is not None or format != "text"
    # Prose (configs regenerated, nodes found) goes to stderr when stdout is the document.
    with contextlib.redirect_stdout(sys.stderr if document_only else sys.stdout):
        cluster, talosctl = connect(c)
        nodes = selected_nodes(cluster, node, role)
        make_configs_current(c, cluster, talosctl, nodes)
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


@task(  # type: ignore[untyped-decorator]
    help={"kubeconfig": "where to write the kubeconfig afterwards (default "
                        "clusterconfig/kubeconfig, replaced; another existing file is "
                        "merged into)"},
)
def bootstrap(c: Context, kubeconfig: str | None = None) -> None:
    """Bootstrap etcd on the first control plane, then write the kubeconfig.

    On a cluster already bootstrapped this says so and succeeds.
    """
    from talos.nodeops import bootstrap as bootstrap_etcd
    from talos.nodeops import write_kubeconfig

    cluster, talosctl = connect(c)
    (target,) = selected_targets(cluster, talosctl, [cluster.first_controlplane.name], None)
    path = kubeconfig_path(cluster, kubeconfig)
    say(f"bootstrap etcd on {target.node.name} ({target.address}), then write {path}")
    outcome(c)(bootstrap_etcd(target, talosctl))
    outcome(c)(write_kubeconfig(target, talosctl, path, merge=merges_kubeconfig(cluster, path)))
    if is_dry(c):
        say(DRY_DONE)


@task(  # type: ignore[untyped-decorator]
    help={
        "path": "file to write (default clusterconfig/kubeconfig, replaced); another "
                "existing file, such as ~/.kube/config, gets this cluster's entries merged in",
        "node": "control plane to ask (default: the first one)",
    },
)
def kubeconfig(c: Context, path: str | None = None, node: str | None = None) -> None:
    """Fetch the cluster's admin kubeconfig from a control plane."""
    from talos.errors import SelectionError
    from talos.nodeops import write_kubeconfig

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


@task(  # type: ignore[untyped-decorator]
    iterable=["node"],
    help={
        "node": NODE_HELP,
        "role": ROLE_HELP,
        "timeout": "how long to wait for each node to come back (talosctl duration, "
                   "default 30m)",
    },
)
def reboot(c: Context, node: list[str] | None = None, role: str | None = None,
           timeout: str | None = None) -> None:
    """Reboot nodes one at a time, control planes first, waiting for each."""
    from talos.apply import rollout_error, rollout_order, rollout_rows
    from talos.nodeops import reboot_in_turn, target_name
    from talos.table import render_table

    cluster, talosctl = connect(c)
    targets = selected_targets(cluster, talosctl, node, role)
    order = ", ".join(f"{t.node.name} ({t.address})" for t in rollout_order(targets))
    say(f"reboot one at a time, waiting for each: {order}")
    rollout = reboot_in_turn(targets, talosctl, timeout=timeout, progress=outcome(c))
    if is_dry(c):
        say(DRY_DONE)
        return
    if len(targets) > 1 or not rollout.ok:
        say(render_table(["NODE", "RESULT"],
                         rollout_rows(rollout, name=target_name, done_as="rebooted")))
    if not rollout.ok:
        raise rollout_error(rollout, name=target_name, verb="reboot")


@task(  # type: ignore[untyped-decorator]
    help={
        "node": "the node to reset (one; required)",
        "yes": "do not ask to type the node name (for scripts)",
        "wipe": "system volume to wipe (repeatable): EPHEMERAL, META, STATE; "
                "default EPHEMERAL and META",
        "graceful": "cordon, drain and leave etcd first (default: not, as for a broken node)",
        "reboot": "reboot after the reset (default); --no-reboot powers the node off",
    },
    iterable=["wipe"],
)
def reset(c: Context, node: str | None = None, yes: bool = False,
          wipe: list[str] | None = None, graceful: bool = False, reboot: bool = True) -> None:
    """Reset a node (wipes EPHEMERAL, META) once its name is typed, or with --yes.

    Without a terminal to ask on and without --yes it refuses. `inv --dry reset` shows
    the command without asking and without running it.
    """
    from talos.confirm import confirm_by_name
    from talos.errors import SelectionError
    from talos.nodeops import check_wipe, describe_reset
    from talos.nodeops import reset as reset_node

    if not node:
        raise SelectionError("inv reset needs --node NAME: the one node to reset")
    labels = check_wipe(wipe or [])
    cluster, talosctl = connect(c)
    (target,) = selected_targets(cluster, talosctl, [node], None)
    action = describe_reset(target, wipe=labels, graceful=graceful, reboot=reboot)
    if is_dry(c):
        say(f"dry run, not asking: would {action}")
    else:
        confirm_by_name(target.node.name, action=action, yes=yes, stdin=sys.stdin)
    outcome(c)(reset_node(target, talosctl, wipe=labels, graceful=graceful, reboot=reboot))
    if is_dry(c):
        say(DRY_DONE)


def register(ns: Collection) -> None:
    ns.add_task(apply)
    ns.add_task(diff)
    ns.add_task(bootstrap)
    ns.add_task(kubeconfig)
    ns.add_task(reboot)
    ns.add_task(reset)
