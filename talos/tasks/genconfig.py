"""Generating the nodes' configs from the encrypted secrets, and creating those secrets.

``inv genconfig`` is the main job: ``clusterconfig/<node>.yaml`` (0600) for every node
whose inputs changed, and ``clusterconfig/talosconfig``. ``inv secrets.init`` creates
the encrypted bundle once. Both honour Invoke's ``--dry``: they say what they would
write and write nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context

from talos.adapters.interrupts import interruptible
from talos.adapters.lock import refuse_during_rollout
from talos.core.wording import count
from talos.tasks.runtime import is_dry, load_cluster, say, settings_of, task

if TYPE_CHECKING:
    from talos.ops.genconfig import GenerationReport


@task(
    iterable=["node"],
    help={
        "node": "only this node (repeatable); default: every node",
        "force": "regenerate even the configs whose inputs did not change",
        "validate": "check each generated config with `talosctl validate --mode metal`",
    },
)
def genconfig(
    c: Context, node: list[str] | None = None, force: bool = False, validate: bool = False
) -> None:
    """Generate clusterconfig/<node>.yaml from the secrets and patches (changed nodes only)."""
    from talos.ops.client import client_version_early, talosctl_for

    settings = settings_of(c)
    # talosctl's version is asked first, when the settings alone say which talosctl that
    # is: the program runs while the rest is imported, the cluster file read and every
    # config checked.
    with client_version_early(settings) as early:
        # Imported when the task runs, as the operations are: the sops adapter loads
        # sh, which `inv --list` must not wait for.
        from talos.adapters.sops import decrypt_file
        from talos.ops.genconfig import generate, version_skew
        from talos.ops.preflight import require_cluster_versions

        cluster = load_cluster(settings)
        require_cluster_versions(cluster)  # a Kubernetes version the nodes' Talos cannot run
        dry = is_dry(c)
        nodes = cluster.select(node) if node else None
        # Refused while a rollout from this working copy runs: it is not to be handed
        # configs it did not show.
        refuse_during_rollout(cluster.output_dir, "genconfig")
        talosctl = talosctl_for(cluster, dry=dry, settings=settings)
        with interruptible("genconfig"):
            report = generate(
                cluster, talosctl=talosctl, decrypt=decrypt_file, nodes=nodes,
                force=force, validate=validate, dry=dry, progress=progress_line,
                client_version=early.for_binary(talosctl.binary) if early else None,
            )
    if report.merge_note:
        say(f"note: {report.merge_note}")
    shown_dir = f"{report.output_dir.name}/"
    say(summary(report, shown_dir=shown_dir))
    skew = version_skew(cluster, report.client_version)
    if skew:
        say(f"warning: {skew}")
    for name in report.orphans:
        say(f"note: {shown_dir}{name} belongs to no node of {cluster.path.name}; "
            "delete it if that node is gone")


def progress_line(name: str, what: str) -> None:
    if what != "unchanged":
        say(f"  {name:<14} {what}")


def summary(report: GenerationReport, *, shown_dir: str) -> str:
    """One line: what was written (or would be), what was left alone."""
    unchanged = (f"; {count(len(report.unchanged), 'config')} unchanged"
                 if report.unchanged else "")
    if report.nothing_to_do:
        return (f"Nothing to do: {count(len(report.unchanged), 'config')} in {shown_dir} "
                "up to date (--force regenerates).")
    parts = []
    if report.written:
        parts.append(f"{count(len(report.written), 'config')} ({', '.join(report.written)})")
    if report.talosconfig_written:
        parts.append("talosconfig")
    what = " and ".join(parts)
    if report.dry:
        return f"Dry run: would write {what} to {shown_dir}{unchanged}; nothing written."
    return f"Wrote {what} to {shown_dir} (mode 0600){unchanged}."


@task(
    name="init",
    iterable=["recipient"],
    help={
        "recipient": "encrypt for this age public key (repeatable); default: the creation "
                     "rules of .sops.yaml",
        "no_verify": "keep the bundle even when the age key at hand cannot open it (it is "
                     "for others only)",
    },
)
def init_secrets(c: Context, recipient: list[str] | None = None,
                 no_verify: bool = False) -> None:
    """Create the encrypted secrets bundle once (refuses to replace an existing one).

    Recipients must be age public keys (the placeholder of .sops.yaml.example is
    refused). When an age key is at hand (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY or sops's
    default keys file), the new bundle is decrypted with it and removed again if it
    cannot be, unless --no-verify.
    """
    from talos.ops.client import talosctl_for
    from talos.ops.secrets import create_bundle

    settings = settings_of(c)
    cluster = load_cluster(settings)
    dry = is_dry(c)
    with interruptible("secrets.init"):
        target = create_bundle(
            cluster, talosctl=talosctl_for(cluster, dry=dry, settings=settings),
            recipients=recipient or (), dry=dry, verify=not no_verify,
        )
    shown = target.name if target.parent == cluster.root else str(target)
    if dry:
        say(f"Dry run: would create {shown} (talosctl gen secrets, encrypted with sops); "
            "nothing written.")
    else:
        say(f"Created {shown}, encrypted with sops: commit it; keep the age key safe, "
            "it is the only way to read it.")


def register(ns: Collection) -> None:
    ns.add_task(genconfig)
    secrets = Collection("secrets")
    secrets.add_task(init_secrets)
    ns.add_collection(secrets)
