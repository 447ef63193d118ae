"""The guard every task that changes nodes runs inside: lock, pre-flight, confirm, snapshot.

    with guarded(cluster, talosctl, "upgrade", out=..., touches_controlplane=True,
                 skip_etcd_check=False, snapshot=True) as guard:
        guard.confirm("Upgrade 3 nodes?", yes=yes)     # y/N on a terminal, --yes otherwise
        guard.take_snapshot()                          # etcd snapshot, when control planes
        ... the changes ...

In order: the working copy's rollout lock (:mod:`talos.adapters.lock`); when control
planes are touched, the etcd pre-flight (:mod:`talos.ops.preflight`; ``skip_etcd_check``
goes on, saying what it skips); then the body, where SIGTERM interrupts like Ctrl-C.
An interruption that reaches the guard (before any change) becomes
:class:`Interrupted` (exit 130 or 143).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from talos.adapters.confirm import confirm_plan
from talos.adapters.interrupts import signal_name, signal_number, sigterm_as_interrupt
from talos.adapters.lock import rollout_lock
from talos.errors import Interrupted
from talos.ops.etcd import inspect, take_snapshot
from talos.ops.preflight import require_healthy_etcd

if TYPE_CHECKING:
    from talos.adapters.talosctl import Talosctl
    from talos.core.cluster import Cluster
    from talos.ops.etcd import EtcdHealth


@dataclass
class Output:
    """Where a task's prose goes: stdout, or stderr when stdout carries ``--json``."""

    json: bool = False

    @property
    def stream(self) -> TextIO:
        return sys.stderr if self.json else sys.stdout

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


@dataclass
class Guard:
    cluster: Cluster
    talosctl: Talosctl
    action: str
    out: Output
    touches_controlplane: bool
    snapshot: bool
    keep: int
    health: EtcdHealth | None = None
    snapshot_path: str | None = None
    notes: list[str] = field(default_factory=list)

    def confirm(self, question: str, *, yes: bool, stdin: TextIO | None = None) -> None:
        confirm_plan(question, yes=yes, stdin=stdin, stdout=self.out.stream)

    def take_snapshot(self) -> str | None:
        """An etcd snapshot before control planes change (unless told not to)."""
        if not self.touches_controlplane:
            return None
        if not self.snapshot:
            self.out.say("--no-snapshot: no etcd snapshot taken before changing control planes")
            return None
        taken = take_snapshot(self.cluster, self.talosctl, health=self.health, keep=self.keep)
        self.snapshot_path = str(taken.path)
        self.out.say(f"etcd snapshot from {taken.node}: {taken.path} ({taken.size} bytes)")
        return self.snapshot_path


@contextmanager
def guarded(
    cluster: Cluster,
    talosctl: Talosctl,
    action: str,
    *,
    out: Output,
    touches_controlplane: bool,
    skip_etcd_check: bool = False,
    snapshot: bool = True,
    keep: int = 5,
) -> Iterator[Guard]:
    with sigterm_as_interrupt():
        try:
            with rollout_lock(cluster.output_dir, action, say=out.say):
                guard = Guard(cluster, talosctl, action, out, touches_controlplane,
                              snapshot, keep)
                if touches_controlplane:
                    guard.health = inspect(cluster, talosctl)
                    require_healthy_etcd(guard.health, action=action, skip=skip_etcd_check,
                                         say=out.say)
                yield guard
        except KeyboardInterrupt as exc:
            raise Interrupted(f"{action} interrupted ({signal_name(exc)}) before it changed "
                              "anything", signal_number=signal_number(exc)) from None
