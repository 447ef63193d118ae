"""Node operations besides apply: bootstrap, kubeconfig, rolling reboot, reset.

Each takes resolved targets and the talosctl adapter (any object with the methods used,
so tests hand in a fake) and returns what it did in words; rollouts go through
:func:`talos.ops.apply.run_in_turn`, one node at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from talos.adapters.talosctl import DEFAULT_WIPE, SYSTEM_LABELS
from talos.errors import UsageError
from talos.ops.apply import Rollout, TargetLike, rollout_order, run_in_turn, shown


class Bootstrapper(Protocol):
    def bootstrap(self, node: str) -> bool: ...

    def kubeconfig(self, node: str, path: Path, *, merge: bool = False) -> None: ...


class Rebooter(Protocol):
    def reboot(self, node: str, *, wait: bool = ..., timeout: str | None = ...) -> None: ...


class Resetter(Protocol):
    def reset(
        self, node: str, *, wipe: Sequence[str] = ..., graceful: bool = ..., reboot: bool = ...
    ) -> None: ...


def bootstrap(target: TargetLike, talosctl: Bootstrapper) -> str:
    """Bootstrap etcd on ``target``; a cluster already bootstrapped is a success."""
    if not target.node.is_controlplane:
        raise UsageError(
            f"cannot bootstrap on {shown(target)}: it is a {target.node.role}; "
            "bootstrap runs on a control plane"
        )
    if talosctl.bootstrap(target.address):
        return f"{shown(target)}: bootstrapped etcd"
    return f"{shown(target)}: already bootstrapped; nothing to do"


def write_kubeconfig(
    target: TargetLike, talosctl: Bootstrapper, path: Path, *, merge: bool = False
) -> str:
    """Fetch the admin kubeconfig from a control plane into ``path`` (``merge``: into it)."""
    talosctl.kubeconfig(target.address, path, merge=merge)
    verb = "merged into" if merge else "written to"
    return f"kubeconfig from {shown(target)} {verb} {path}"


def target_name(target: TargetLike) -> str:
    return target.node.name


def reboot_in_turn(
    targets: Sequence[TargetLike],
    talosctl: Rebooter,
    *,
    timeout: str | None = None,
    progress: Callable[[str], None] = lambda line: None,
    gate: Callable[[TargetLike], None] | None = None,
    settle: Callable[[TargetLike], None] | None = None,
) -> Rollout[TargetLike]:
    """Reboot one node at a time, control planes first, waiting for each to come back;
    after a control plane, ``gate`` (the tasks wait there until etcd is healthy again).
    ``settle`` waits for a node left in flight by an interruption."""

    def reboot(target: TargetLike) -> str:
        talosctl.reboot(target.address, wait=True, timeout=timeout)
        if gate is not None and target.node.is_controlplane:
            progress(f"{target.node.name}: back; waiting for etcd to be healthy ...")
            gate(target)
            return "rebooted and back, etcd healthy"
        return "rebooted and back"

    return run_in_turn(rollout_order(targets), reboot, name=target_name,
                       doing="rebooting, waiting for it to come back", progress=progress,
                       settle=settle)


def check_wipe(labels: Sequence[str]) -> tuple[str, ...]:
    """The volume labels to wipe, upper-cased and checked; the default when none given."""
    if not labels:
        return DEFAULT_WIPE
    wipe = tuple(dict.fromkeys(label.strip().upper() for label in labels))
    unknown = [label for label in wipe if label not in SYSTEM_LABELS]
    if unknown:
        raise UsageError(
            f"--wipe {', '.join(unknown)}: not a system volume label; "
            f"use {', '.join(SYSTEM_LABELS)}"
        )
    return wipe


def describe_reset(
    target: TargetLike, *, wipe: Sequence[str], graceful: bool, reboot: bool
) -> str:
    """``reset worker-03 (192.168.0.203): wipe EPHEMERAL, META, then reboot``."""
    how = "leaving etcd and draining first" if graceful else "without draining (not graceful)"
    after = "reboot" if reboot else "power off"
    text = f"reset {shown(target)}: wipe {', '.join(wipe)} {how}, then {after}"
    if target.node.is_controlplane and not graceful:
        text += (" (a control plane: its etcd member stays listed until removed with "
                 f"talosctl etcd remove-member {target.node.hostname})")
    return text


def reset(
    target: TargetLike, talosctl: Resetter, *, wipe: Sequence[str], graceful: bool, reboot: bool
) -> str:
    talosctl.reset(target.address, wipe=wipe, graceful=graceful, reboot=reboot)
    return f"{shown(target)}: reset ({', '.join(wipe)} wiped)"
