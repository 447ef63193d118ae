"""Applying machine configs to nodes: the plan (pure), then the run, node by node.

- :func:`plan_apply` turns resolved targets into :class:`ApplyStep` s: control planes
  first, in the cluster file's order, each with its generated config file and the
  apply mode. It checks the options and touches nothing.
- :func:`run_in_turn` runs one action per item, one item at a time, and stops at the
  first failure; the :class:`Rollout` it returns says what was done, what failed and
  what was not attempted. Apply and reboot both go through it, so a broken control
  plane never takes the next one down with it.
- :func:`run_apply` and :func:`run_diff` drive ``talosctl apply-config`` (for real, or
  ``--dry-run`` for a diff) through any object with an ``apply_config`` method.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from talos.adapters.interrupts import signal_name, signal_number
from talos.core import readiness
from talos.core.cluster import Node
from talos.core.readiness import MachineStatusLike, Polling
from talos.errors import Interrupted, NotReady, RolloutError, TalosError, UsageError

MODES = ("auto", "no-reboot", "reboot", "staged", "try")
# A node in maintenance mode has no running config to keep or to stage against.
MAINTENANCE_REFUSED = ("no-reboot", "staged")

T = TypeVar("T")


# The Protocols here and talos.core.readiness.MachineStatusLike share a shape (two
# read-only properties) and nothing else: each names what one caller reads of another
# layer's object, so that tests can hand in fakes; they are deliberately not merged.
class TargetLike(Protocol):
    """A node and the address talosctl reaches it at (``talos.ops.targets.Target``)."""

    @property
    def node(self) -> Node: ...

    @property
    def address(self) -> str: ...


class ApplyResultLike(Protocol):
    """What ``apply-config`` reported for one node (``talos.adapters.talosctl.ApplyResult``)."""

    @property
    def changed(self) -> bool: ...

    @property
    def reboot(self) -> bool: ...

    @property
    def diff(self) -> str: ...

    @property
    def message(self) -> str: ...


class ConfigApplier(Protocol):
    """The part of the talosctl adapter that applies configs and watches nodes come back."""

    def apply_config(
        self, node: str, config: Path, *, mode: str = ..., insecure: bool = ...,
        dry_run: bool = ...,
    ) -> ApplyResultLike: ...

    def machine_status(self, node: str) -> MachineStatusLike: ...


def shown(target: TargetLike) -> str:
    """``worker-03 (192.168.0.203)``: how a node is named in every message."""
    return f"{target.node.name} ({target.address})"


def rollout_order(targets: Sequence[TargetLike]) -> list[TargetLike]:
    """Control planes first, then workers; otherwise the order given."""
    return sorted(targets, key=lambda t: 0 if t.node.is_controlplane else 1)


# -- the plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyStep:
    """Apply ``config`` to one node with ``mode``."""

    target: TargetLike
    config: Path
    mode: str = "auto"
    insecure: bool = False
    #: The user asked for the config to go out even to a node already running it.
    force: bool = False
    #: The file talosctl is given: a copy of ``config`` taken at plan time
    #: (:mod:`talos.ops.pinned`), so what is applied is what was shown; else ``config``.
    file: Path | None = None
    #: The sha256 of that copy, shown in the plan.
    sha256: str | None = None

    @property
    def name(self) -> str:
        return self.target.node.name

    @property
    def source(self) -> Path:
        return self.file or self.config

    def describe(self, root: Path | None = None) -> str:
        config = self.config
        if root is not None and config.is_relative_to(root):
            config = config.relative_to(root)
        how = f"mode {self.mode}"
        if self.insecure:
            how += ", maintenance mode (--insecure)"
        elif self.force:
            how += ", even if unchanged (--force)"
        digest = f" (sha256 {self.sha256[:12]})" if self.sha256 else ""
        return f"{shown(self.target)}: {config}{digest}, {how}"


def check_mode(mode: str, *, insecure: bool = False) -> None:
    if mode not in MODES:
        raise UsageError(f"--mode {mode!r} is not one of {', '.join(MODES)}")
    if insecure and mode in MAINTENANCE_REFUSED:
        raise UsageError(
            f"--mode {mode} is refused for nodes in maintenance mode (--insecure): "
            "they have no running config; use auto, reboot or try"
        )


def plan_apply(
    targets: Sequence[TargetLike],
    *,
    config_for: Callable[[Node], Path],
    mode: str = "auto",
    insecure: bool = False,
    force: bool = False,
) -> list[ApplyStep]:
    """One step per target, control planes first; ``config_for`` names each node's file.

    Which nodes need their config is decided by the diff (:func:`run_diff`) before the
    run; ``force`` only marks the steps as going out even to unchanged nodes.
    """
    check_mode(mode, insecure=insecure)
    return [
        ApplyStep(target=t, config=config_for(t.node), mode=mode, insecure=insecure,
                  force=force)
        for t in rollout_order(targets)
    ]


# -- running, one at a time --------------------------------------------------------------


@dataclass
class Rollout(Generic[T]):
    """What happened to each item of a one-at-a-time run."""

    done: list[tuple[T, str]] = field(default_factory=list)
    failed: tuple[T, TalosError] | None = None
    not_attempted: list[T] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed is None


def run_in_turn(
    items: Sequence[T],
    action: Callable[[T], str],
    *,
    name: Callable[[T], str],
    doing: str = "working",
    progress: Callable[[str], None] = lambda line: None,
    settle: Callable[[T], None] | None = None,
) -> Rollout[T]:
    """Run ``action`` on each item in order; stop at the first :class:`TalosError`.

    ``progress`` hears ``<name>: <doing> ...`` before each action and ``<name>: <account>``
    after, ``action`` returning that short account of what it did. Ctrl-C (or SIGTERM
    made an interruption) stops the run like a failure (exit code 130 or 143), so the
    account of what was done is not lost: the item in flight is named, and ``settle``
    waits for it to be back (a second Ctrl-C stops waiting). Any other exception is a
    bug and propagates.
    """
    rollout: Rollout[T] = Rollout()
    for index, item in enumerate(items):
        progress(f"{name(item)}: {doing} ...")
        try:
            account = action(item)
        except (TalosError, KeyboardInterrupt) as caught:
            exc = caught if isinstance(caught, TalosError) else _interrupted(caught)
            progress(f"{name(item)}: FAILED: {exc}")
            if isinstance(exc, Interrupted) and settle is not None:
                progress(f"{name(item)}: in flight; waiting until it is back (Ctrl-C again "
                         "to stop waiting) ...")
                try:
                    settle(item)
                    progress(f"{name(item)}: back and ready")
                except (TalosError, KeyboardInterrupt):
                    progress(f"{name(item)}: not waited for; check it")
            rollout.failed = (item, exc)
            rollout.not_attempted = list(items[index + 1:])
            return rollout
        progress(f"{name(item)}: {account}")
        rollout.done.append((item, account))
    return rollout


def _interrupted(caught: BaseException) -> Interrupted:
    return Interrupted(f"interrupted ({signal_name(caught)}) while in flight; no other node "
                       "was started; check this node's state",
                       signal_number=signal_number(caught))


def rollout_rows(
    rollout: Rollout[T], *, name: Callable[[T], str], done_as: str
) -> list[list[str]]:
    """Rows ``[node, outcome]``: ``done_as`` / FAILED / not attempted."""
    rows = [[name(item), done_as] for item, _ in rollout.done]
    if rollout.failed is not None:
        rows.append([name(rollout.failed[0]), "FAILED"])
    rows.extend([name(item), "not attempted"] for item in rollout.not_attempted)
    return rows


def rollout_error(rollout: Rollout[T], *, name: Callable[[T], str], verb: str) -> TalosError:
    """One line for a stopped rollout: where it stopped, why, what was and was not done;
    its exit code is that of the error the rollout stopped at."""
    assert rollout.failed is not None
    item, exc = rollout.failed
    parts = [f"{verb} stopped at {name(item)}: {exc}"]
    if rollout.done:
        parts.append(f"{verb} done: {', '.join(name(i) for i, _ in rollout.done)}")
    if rollout.not_attempted:
        parts.append(f"not attempted: {', '.join(name(i) for i in rollout.not_attempted)}")
    if isinstance(exc, Interrupted):
        parts.append(f"in flight: {name(item)}; run again to finish")
        return Interrupted("; ".join(parts), signal_number=exc.signal_number)
    parts.append(f"fix {name(item)} and run again")
    return RolloutError("; ".join(parts), stopped_by=exc)


def rollout_json(rollout: Rollout[T], *, name: Callable[[T], str], done_as: str,
                 address: Callable[[T], str]) -> list[dict[str, object]]:
    """The rows of :func:`rollout_rows` for ``--json``: node, address, result, message."""
    rows: list[dict[str, object]] = [
        {"node": name(item), "address": address(item),
         "result": done_as, "message": account}
        for item, account in rollout.done
    ]
    if rollout.failed is not None:
        item, exc = rollout.failed
        rows.append({"node": name(item), "address": address(item),
                     "result": "interrupted" if isinstance(exc, Interrupted) else "failed",
                     "message": str(exc)})
    rows.extend({"node": name(item), "address": address(item), "result": "not attempted",
                 "message": ""} for item in rollout.not_attempted)
    return rows


def step_name(step: ApplyStep) -> str:
    return step.name


def run_apply(
    steps: Sequence[ApplyStep],
    talosctl: ConfigApplier,
    *,
    progress: Callable[[str], None] = lambda line: None,
    waiting: Polling | None = None,
    gate: Callable[[TargetLike], None] | None = None,
) -> Rollout[ApplyStep]:
    """Apply each step's config in turn; stop at the first node that fails.

    Nodes with nothing to change were left out when planning (:func:`run_diff`). A node
    that reboots to take its config is waited for (running and ready) before the next is
    touched, so two control planes are never down at once. Nodes installed from maintenance mode
    (``--insecure``) are not waited for: a first control plane is not ready until
    ``inv bootstrap``. ``gate`` runs after a control plane that rebooted is back (the
    tasks wait there until etcd is healthy again).
    """
    waiting = waiting or Polling()

    def apply(step: ApplyStep) -> str:
        result = talosctl.apply_config(
            step.target.address, step.source, mode=step.mode, insecure=step.insecure
        )
        said = _first_line(result.message) or "applied"
        if result.reboot and not step.insecure:
            progress(f"{step.name}: {said}; waiting for it to be back ...")
            wait_until_ready(talosctl, step.target, waiting)
            if gate is not None and step.target.node.is_controlplane:
                progress(f"{step.name}: back; waiting for etcd to be healthy ...")
                gate(step.target)
            return f"{said}; back and ready"
        return said

    def settle(step: ApplyStep) -> None:
        wait_until_ready(talosctl, step.target, waiting)

    return run_in_turn(steps, apply, name=step_name, doing="applying", progress=progress,
                       settle=settle)


def wait_until_ready(talosctl: ConfigApplier, target: TargetLike, waiting: Polling) -> None:
    """Wait until the node is running and ready again (it may not answer for a while as
    it reboots); a :class:`NotReady` saying what to do after ``waiting.timeout``."""
    try:
        readiness.wait_until_ready(talosctl, target.address, waiting)
    except readiness.NotReady as exc:
        raise NotReady(exc.address, exc.timeout, exc.last, message=(
            f"{shown(target)} is not back {waiting.timeout:.0f}s after applying its "
            f"config (last: {exc.last}); check it (talosctl dmesg), then run apply again"
        )) from exc


# -- diff --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeDiff:
    """What applying would change on one node (``diff`` already redacted)."""

    target: TargetLike
    changed: bool = False
    reboot: bool = False
    diff: str = ""
    message: str = ""
    error: str | None = None


@dataclass(frozen=True)
class DiffReport:
    diffs: tuple[NodeDiff, ...]

    @property
    def errors(self) -> list[NodeDiff]:
        return [d for d in self.diffs if d.error is not None]

    @property
    def changed(self) -> list[NodeDiff]:
        return [d for d in self.diffs if d.error is None and d.changed]

    @property
    def exit_code(self) -> int:
        """1 when a node could not be compared, 2 when anything would change, else 0."""
        if self.errors:
            return 1
        return 2 if self.changed else 0

    def rows(self) -> list[list[str]]:
        rows = []
        for d in self.diffs:
            if d.error is not None:
                rows.append([d.target.node.name, d.target.address, "ERROR", "-"])
            else:
                rows.append([
                    d.target.node.name, d.target.address,
                    "changes" if d.changed else "no changes",
                    ("yes" if d.reboot else "no") if d.changed else "-",
                ])
        return rows

    def summary(self) -> str:
        if self.errors:
            failed = ", ".join(f"{d.target.node.name}: {d.error}" for d in self.errors)
            return f"diff failed on {len(self.errors)} of {len(self.diffs)} node(s): {failed}"
        if self.changed:
            names = ", ".join(d.target.node.name for d in self.changed)
            return f"{len(self.changed)} of {len(self.diffs)} node(s) would change: {names}"
        return f"no changes on {len(self.diffs)} node(s)"


DIFF_HEADERS = ["NODE", "ADDRESS", "CONFIG", "REBOOT"]


def run_diff(
    steps: Sequence[ApplyStep],
    talosctl: ConfigApplier,
    *,
    redact: Callable[[str], str],
) -> DiffReport:
    """``apply-config --dry-run`` on every node; a node that fails does not stop the rest.

    Everything that came from a node (diff, message, error) goes through ``redact``
    before it is kept: talosctl prints the diff with every key and token in clear.
    """
    diffs = []
    for step in steps:
        try:
            result = talosctl.apply_config(
                step.target.address, step.source, mode=step.mode, insecure=step.insecure,
                dry_run=True,
            )
        except TalosError as exc:
            diffs.append(NodeDiff(step.target, error=redact(str(exc))))
            continue
        diffs.append(NodeDiff(
            step.target, changed=result.changed, reboot=result.reboot,
            diff=redact(result.diff), message=redact(result.message),
        ))
    return DiffReport(tuple(diffs))


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""
