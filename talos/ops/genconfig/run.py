"""One run of ``inv genconfig``: plan from the record, then build and commit what changed.

    generate(cluster, talosctl=..., decrypt=..., nodes=None, force=False, validate=False,
             dry=False, progress=None)   -> GenerationReport   .written / .unchanged names
    version_skew(cluster, client_version) -> str | None        talosctl of another minor
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from talos.adapters.fileset import recover
from talos.adapters.interrupts import interruptible
from talos.adapters.sops import require_encrypted
from talos.errors import Interrupted, TalosError
from talos.ops.genconfig.plan import PatchFiles, shown
from talos.ops.genconfig.record import (
    STATE_FILE,
    TALOSCONFIG,
    Inputs,
    config_path,
    digest,
    entry,
    file_problem,
    inputs_change,
    load_state,
    orphan_configs,
    recorded,
    state_text,
    talosconfig_path,
    with_version,
)

if TYPE_CHECKING:
    from talos.core.cluster import Cluster, Node
    from talos.ops.genconfig.staging import ConfigTool, Decrypter, Progress


@dataclass
class GenerationReport:
    """What a run wrote (or, dry, would write) and what it left alone, with reasons."""

    output_dir: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    talosconfig_written: bool = False
    dry: bool = False
    #: ``*.yaml`` files of the output folder that belong to no node of the cluster file
    orphans: list[str] = field(default_factory=list)
    #: the talosctl client's version (``v1.12.4``)
    client_version: str = ""
    #: nodes merged by ``talosctl machineconfig patch`` (:mod:`talos.ops.fallback`), and why
    merged_by_talosctl: list[str] = field(default_factory=list)
    merge_note: str = ""

    @property
    def nothing_to_do(self) -> bool:
        return not self.written and not self.talosconfig_written


def version_skew(cluster: Cluster, client_version: str) -> str | None:
    """A warning when talosctl's minor version is not the cluster's: configs follow the
    client's version contract, so they would be shaped for another Talos."""
    def minor(version: str) -> str:
        return ".".join(version.lstrip("v").split(".")[:2])

    if not client_version or minor(client_version) == minor(cluster.talos_version):
        return None
    return (f"talosctl is {client_version} but the cluster runs {cluster.talos_version}; "
            f"install talosctl v{minor(cluster.talos_version)} with `inv tools.install` "
            "(or point TALOSCTL at it)")


def generate(
    cluster: Cluster,
    *,
    talosctl: ConfigTool,
    decrypt: Decrypter,
    nodes: Iterable[Node] | None = None,
    force: bool = False,
    validate: bool = False,
    dry: bool = False,
    progress: Progress | None = None,
    client_version: Callable[[], str] | None = None,
) -> GenerationReport:
    """Write ``clusterconfig/<node>.yaml`` for each node whose inputs changed (all with
    ``force``) and ``clusterconfig/talosconfig``; ``dry`` plans and writes nothing.
    ``decrypt`` reads the secrets bundle, only when something is to be written.
    ``client_version`` gives ``talosctl``'s version when it was asked already (see
    :func:`talos.ops.client.client_version_early`); else ``talosctl`` is asked."""
    selected = list(cluster.nodes if nodes is None else nodes)
    tell = progress or (lambda name, what: None)
    report = GenerationReport(output_dir=cluster.output_dir, dry=dry)
    if not dry:
        recover(cluster.output_dir)
    require_encrypted(cluster.secrets_file, shown(cluster, cluster.secrets_file))
    state = load_state(cluster)

    # Everything but talosctl's version is checked first: when that version was asked
    # early, the program answers while this process reads and hashes every config.
    known = Inputs(cluster, None)
    output = os.fspath(cluster.output_dir)  # each node's file, named without a Path each
    inputs: dict[str, dict[str, str]] = {}
    problems: dict[str, str | None] = {}
    for node in selected:
        inputs[node.name] = known.of(node)
        problems[node.name] = file_problem(entry(state, node.name),
                                           os.path.join(output, f"{node.name}.yaml"))
    tc_inputs = known.talosconfig()
    tc_problem = file_problem(entry(state, TALOSCONFIG), talosconfig_path(cluster))
    report.orphans = orphan_configs(cluster)
    patches = PatchFiles(cluster)
    if any(problems.values()) or tc_problem:
        # Written whatever talosctl's version: the patches of those nodes are read (the
        # merger imported) while its answer comes. A patch that does not load is left
        # to the plan, which knows what to make of it once the version is known.
        with contextlib.suppress(TalosError):
            for node in selected:
                if problems[node.name]:
                    patches.of(node)
    version = report.client_version = (client_version or talosctl.client_version)()

    todo: list[Node] = []
    for node in selected:
        with_version(inputs[node.name], version)
        reason = problems[node.name] or inputs_change(entry(state, node.name),
                                                      inputs[node.name])
        if force:
            reason = "forced"
        if reason is None:
            report.unchanged.append(node.name)
            tell(node.name, "unchanged")
        else:
            todo.append(node)
            report.reasons[node.name] = reason
    with_version(tc_inputs, version)
    tc_reason = tc_problem or inputs_change(entry(state, TALOSCONFIG), tc_inputs)
    if force and nodes is None:
        tc_reason = "forced"
    if tc_reason is not None:
        report.reasons[TALOSCONFIG] = tc_reason

    if not todo and tc_reason is None:
        return report
    # Imported once there is something to write: making configs (the merger's rules,
    # schematics, talosctl's merge route, the secrets' redaction) costs 9 ms of imports
    # (process time, min of 7, after talos.tasks), which a run with nothing to write
    # does without.
    from talos.ops.fallback import plan_route
    from talos.ops.genconfig.staging import build, commit

    # Every patch is read now: a broken one fails the plan (dry runs too), before
    # anything is decrypted. What the merger's rules do not know may send a node to
    # talosctl's merge instead (talos.ops.fallback).
    by_name = {node.name: node for node in todo}
    route = plan_route(
        [(node.name, cluster.talos_version_of(node)) for node in todo], client_version=version,
        load=lambda name: patches.of(by_name[name]),
    )
    report.merged_by_talosctl = [node.name for node in todo if node.name in route.by_talosctl]
    report.merge_note = route.note
    if dry:
        for node in todo:
            tell(node.name, f"would write ({report.reasons[node.name]})")
        report.written = [n.name for n in todo]
        report.talosconfig_written = tc_reason is not None
        return report

    where = shown(cluster, cluster.output_dir)
    switched: list[bool] = []
    try:
        with interruptible("genconfig"):
            staged = build(
                cluster, talosctl, decrypt, todo, patches, with_talosconfig=tc_reason is not None,
                by_talosctl=report.merged_by_talosctl, validate=validate,
                tell=lambda name, what: tell(name, f"{what} ({report.reasons[name]})"),
            )
            files = recorded(state)
            for node in todo:
                files[node.name] = {"inputs": inputs[node.name],
                                    "output": digest(staged[config_path(cluster, node)])}
            if tc_reason is not None:
                files[TALOSCONFIG] = {"inputs": tc_inputs,
                                      "output": digest(staged[talosconfig_path(cluster)])}
            staged[cluster.output_dir / STATE_FILE] = state_text(files)
            commit(cluster, staged, switched=lambda: switched.append(True))
    except Interrupted as exc:
        exc.message = (f"{exc.message} after {where}/ had switched to the new configs"
                       if switched else f"{exc.message}; {where}/ was left as it was")
        exc.args = (exc.message,)
        raise
    report.written = [n.name for n in todo]
    report.talosconfig_written = tc_reason is not None
    return report
