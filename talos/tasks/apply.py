"""Sending the generated configs to the nodes: ``inv apply`` and ``inv diff``.

Both bring the configs of the chosen nodes up to date first (as ``inv genconfig``), then
ask each node what applying its config would change (``apply-config --dry-run``): that
is ``diff``'s report and ``apply``'s plan. Secrets in talosctl's diffs are redacted.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit

from talos.adapters.interrupts import sigterm_as_interrupt
from talos.adapters.lock import refuse_during_rollout
from talos.adapters.settings import Settings
from talos.core.table import render_table
from talos.errors import RolloutError
from talos.tasks.nodes import DRY_DONE, etcd_gate, quiet, selected_nodes
from talos.tasks.runtime import (
    JSON_HELP,
    NODE_HELP,
    ROLE_HELP,
    SKIP_ETCD_CHECK_HELP,
    connect,
    guarded,
    is_dry,
    json_text,
    print_json,
    say,
    settings_of,
    task,
)

if TYPE_CHECKING:
    from talos.adapters.talosctl import Talosctl
    from talos.core.cluster import Cluster, Node
    from talos.ops.apply import ApplyStep
    from talos.ops.safety import Output

MODE_HELP = "apply mode: auto (default; reboots only if needed), no-reboot, reboot, staged, try"


def make_configs_current(settings: Settings, cluster: Cluster, nodes: Sequence[Node], *,
                         out: Output | None = None) -> None:
    """Regenerate the configs of ``nodes`` whose inputs changed (and the talosconfig the
    next steps need to reach the nodes). Done for real under ``--dry`` too: it writes
    only local files, and a plan made against stale configs would hide changes. Refused
    while another process holds the rollout lock."""
    from talos.adapters.sops import decrypt_file  # lazy: 7 ms at start-up
    from talos.ops.client import talosctl_for  # lazy: 9 ms at start-up
    from talos.ops.genconfig import generate  # lazy: 63 ms at start-up

    refuse_during_rollout(cluster.output_dir, "regenerating the configs")
    report = generate(cluster, talosctl=talosctl_for(cluster, settings=settings),
                      decrypt=decrypt_file, nodes=nodes)
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
    from talos.ops.apply import check_mode  # lazy: 25 ms at start-up
    from talos.ops.safety import Output  # lazy: 48 ms at start-up

    check_mode(mode, insecure=insecure)
    out = Output(json)
    settings = settings_of(c)
    cluster, talosctl = connect(c, settings)
    talosctl.runner.echo = out.say  # a dry run's commands are prose too
    nodes = selected_nodes(cluster, node, role)
    make_configs_current(settings, cluster, nodes, out=out)
    document: dict[str, Any] = {"plan": [], "dry_run": is_dry(c), "snapshot": None,
                                "nodes": None}
    try:
        apply_planned(c, settings, cluster, talosctl, nodes, out=out, document=document,
                      mode=mode, insecure=insecure, force=force,
                      skip_etcd_check=skip_etcd_check, yes=yes, snapshot=not no_snapshot)
    finally:
        if json:
            print_json(document)


def apply_planned(
    c: Context, settings: Settings, cluster: Cluster, talosctl: Talosctl,
    nodes: Sequence[Node], *, out: Output, document: dict[str, Any], mode: str,
    insecure: bool, force: bool, skip_etcd_check: bool, yes: bool, snapshot: bool,
) -> None:
    """Plan, show, confirm and apply, each node getting the config bytes read at plan
    time (private copies, removed however this ends)."""
    # lazy: 25, 63, 25 and 44 ms at start-up
    from talos.ops.apply import plan_apply
    from talos.ops.genconfig import config_path
    from talos.ops.pinned import pinned_configs
    from talos.ops.targets import resolve_targets

    targets = resolve_targets(cluster, nodes, talosctl)
    planned = plan_apply(targets, config_for=partial(config_path, cluster), mode=mode,
                         insecure=insecure, force=force)
    with sigterm_as_interrupt(), pinned_configs(planned) as steps:
        apply_pinned(c, settings, cluster, talosctl, steps, out=out, document=document,
                     insecure=insecure, force=force, skip_etcd_check=skip_etcd_check,
                     yes=yes, snapshot=snapshot)


def apply_pinned(
    c: Context, settings: Settings, cluster: Cluster, talosctl: Talosctl,
    steps: Sequence[ApplyStep], *, out: Output, document: dict[str, Any], insecure: bool,
    force: bool, skip_etcd_check: bool, yes: bool, snapshot: bool,
) -> None:
    """Show the plan (each node's diff), then, unless dry, confirm and apply in turn."""
    from talos.ops.apply import (  # lazy: 25 ms at start-up
        DIFF_HEADERS,
        rollout_error,
        rollout_json,
        rollout_rows,
        run_apply,
        run_diff,
        step_name,
    )
    from talos.ops.secrets import Redactor  # lazy: 10 ms at start-up

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
    with guarded(settings, cluster, talosctl, "apply", out=out, touches_controlplane=touches_cp,
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
    # lazy: 25, 27, 63, 10 and 44 ms at start-up
    from talos.ops.apply import plan_apply, run_diff
    from talos.ops.diffreport import check_format, diff_document, render, write_report
    from talos.ops.genconfig import config_path
    from talos.ops.secrets import redact, secret_values
    from talos.ops.targets import resolve_targets

    check_format(format)
    document_only = json or output is not None or format != "text"
    # Prose (configs regenerated, nodes found) goes to stderr when stdout is the document.
    with contextlib.redirect_stdout(sys.stderr if document_only else sys.stdout):
        settings = settings_of(c)
        cluster, talosctl = connect(c, settings)
        nodes = selected_nodes(cluster, node, role)
        make_configs_current(settings, cluster, nodes)
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


def register(ns: Collection) -> None:
    ns.add_task(apply)
    ns.add_task(diff)
