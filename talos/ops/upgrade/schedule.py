"""Rolling a plan out: which node goes when, and the checks between them.

    rollout(plan, client, ...) -> Report    upgraded / failed / not touched

It runs nothing itself: it calls an injected client with the methods of
:class:`talos.adapters.talosctl.Talosctl` it needs (:class:`Client`), so tests drive it
with fakes.

Safety:

- control planes strictly one at a time; after each, wait until the node is back
  (machine status ``running`` and ready) and etcd is healthy (``talosctl health`` on the
  control planes) before the next;
- then workers, at most ``parallel`` upgrades at once: a new one starts as soon as a
  slot frees, while another thread waits for the upgraded worker to be ready (its
  check is off the critical path; checks that run at the same time share their
  talosctl calls, :mod:`.statuses`);
- the first failure stops the rollout: no new node starts, running ones finish;
- Ctrl-C or SIGTERM (:mod:`talos.adapters.interrupts`) stops it the same way: the nodes in flight
  are waited for until they answer again (a second Ctrl-C stops waiting) and named;
- a node that runs its wanted version counts as upgraded even when the etcd health check
  after it failed; that failure stops the rollout and names the node.

Waiting for a node asks at once, then every ``poll_interval`` seconds while it answers
(it is booting); while it does not answer (it is rebooting), the pause doubles up to
:data:`POLL_MOST`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from talos.adapters.interrupts import signal_name
from talos.adapters.talosctl import Answers, Asker, MachineStatus
from talos.core import readiness
from talos.core.readiness import Polling
from talos.core.units import parse_duration as go_duration
from talos.errors import NotReady, TalosError, UsageError
from talos.ops.upgrade import events
from talos.ops.upgrade.plan import CURRENT, UNREACHABLE, Plan, Step, observe, plan_upgrade
from talos.ops.upgrade.statuses import SharedStatuses

DEFAULT_TIMEOUT = "30m"  # talosctl upgrade's own default
HEALTH_TIMEOUT = "5m"
POLL_INTERVAL = 2.0
POLL_MOST = 15.0  # the longest pause between questions to a node that does not answer


class Client(Asker, Protocol):
    """What observing and rolling out need from :class:`talos.adapters.talosctl.Talosctl`."""

    def upgrade(
        self, node: str, image: str, *, stage: bool = False, force: bool = False,
        preserve: bool = False, wait: bool = True, timeout: str | None = None,
    ) -> None: ...

    def machine_statuses(self, nodes: Sequence[str]) -> Answers[MachineStatus]: ...

    def health(
        self, node: str, *, control_planes: Sequence[str], workers: Sequence[str],
        timeout: str = HEALTH_TIMEOUT,
    ) -> str: ...


@dataclass(frozen=True)
class RolloutOptions:
    """How to upgrade: passed to talosctl (stage, force, preserve, timeout) and to the
    rollout (parallel workers, polling)."""

    parallel: int = 1
    stage: bool = False
    force: bool = False
    preserve: bool = False
    timeout: str | None = None  # a Go duration (``30m``); bounds each wait too
    poll_interval: float = POLL_INTERVAL

    def __post_init__(self) -> None:
        if self.parallel < 1:
            raise UsageError(f"--parallel must be 1 or more, not {self.parallel}")
        if self.timeout is not None:
            parse_duration(self.timeout)


@dataclass
class Report:
    """What the rollout did, in plan order."""

    upgraded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # node -> talosctl's message
    not_touched: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)
    #: Upgraded nodes after which the health check failed: node -> the check's message.
    check_failed: dict[str, str] = field(default_factory=dict)
    #: Nodes whose upgrade was under way when the rollout was interrupted (and that did
    #: not come back on their wanted version while waited for).
    in_flight: list[str] = field(default_factory=list)
    #: The interruption (a ``KeyboardInterrupt`` or :class:`talos.adapters.interrupts.Terminated`).
    interrupted: BaseException | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return (not self.failed and not self.unreachable and not self.check_failed
                and self.interrupted is None)

    def as_json(self) -> dict[str, object]:
        return {
            "upgraded": list(self.upgraded),
            "failed": dict(self.failed),
            "check_failed": dict(self.check_failed),
            "in_flight": list(self.in_flight),
            "not_touched": list(self.not_touched),
            "current": list(self.current),
            "unreachable": dict(self.unreachable),
            "interrupted": None if self.interrupted is None else signal_name(self.interrupted),
            "elapsed_seconds": round(self.elapsed, 3),
            "ok": self.ok,
        }


def rollout(
    plan: Plan,
    client: Client,
    *,
    control_planes: Sequence[str],
    workers: Sequence[str] = (),
    options: RolloutOptions | None = None,
    progress: events.Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """Upgrade the plan's nodes: control planes one by one, then workers ``parallel`` at
    once; stop at the first failure.

    ``control_planes`` and ``workers`` are the addresses of the cluster's nodes that the
    health check after each control plane expects: all its control planes (etcd must be
    healthy on each) and the workers that are up (Kubernetes must report exactly those).
    """
    return _Rollout(plan, client, control_planes, workers, options or RolloutOptions(),
                    progress, clock, sleep).run()


class _Rollout:
    def __init__(
        self, plan: Plan, client: Client, control_planes: Sequence[str],
        workers: Sequence[str], options: RolloutOptions, progress: events.Progress | None,
        clock: Callable[[], float], sleep: Callable[[float], None],
    ) -> None:
        self.plan = plan
        self.client = client
        self.statuses = SharedStatuses(client)
        self.control_planes = tuple(control_planes)
        self.workers = tuple(workers)
        self.options = options
        self.progress = progress
        self.clock = clock
        self.sleep = sleep
        self.wait_seconds = parse_duration(options.timeout or DEFAULT_TIMEOUT)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.started: set[str] = set()
        self.upgraded: set[str] = set()
        self.failed: dict[str, str] = {}
        self.check_failed: dict[str, str] = {}
        self.finished: set[str] = set()
        self.bug: BaseException | None = None
        self.interrupted: BaseException | None = None
        self.threads: list[threading.Thread] = []
        self.checkers: list[threading.Thread] = []
        self.began = 0.0

    def run(self) -> Report:
        self.began = self.clock()
        try:
            for step in self.plan.controlplane_upgrades:
                if self.stop.is_set():
                    break
                self.upgrade_node(step)
            workers = self.plan.worker_upgrades
            if workers and not self.stop.is_set():
                self.run_pool(workers, self.options.parallel)
            for checker in list(self.checkers):
                checker.join()
        except KeyboardInterrupt as exc:
            self.stop.set()
            self.interrupted = exc
            self.wait_for_in_flight()
        if self.bug is not None:
            raise self.bug
        return self.report()

    def in_flight(self) -> list[Step]:
        with self.lock:
            return [s for s in self.plan.upgrades
                    if s.name in self.started and s.name not in self.finished]

    def wait_for_in_flight(self) -> None:
        """After an interruption: let the running workers finish, and wait until each node
        left mid-upgrade answers again, then see what those run (in one question for
        all). A second interruption stops the waiting."""
        try:
            for step in self.in_flight():
                self.emit(step.name, events.INTERRUPTED)
            for thread in [*self.threads, *self.checkers]:
                thread.join()
            back = []
            for step in self.in_flight():
                try:
                    self.wait_until_ready(address_of(step))
                except TalosError:
                    continue
                back.append(step.wanted)
            if not back:
                return
            try:
                now = plan_upgrade(back, observe(self.client, back))
            except TalosError:
                return
            for step in now.current:  # it runs what it should: the upgrade went through
                self.succeeded(step)
                self.emit(step.name, events.DONE)
        except KeyboardInterrupt:
            return

    def run_pool(self, steps: Sequence[Step], slots: int) -> None:
        """At most ``slots`` nodes at once; each slot takes the next node when it frees."""
        queue = iter(steps)

        def slot() -> None:
            while True:
                with self.lock:
                    if self.stop.is_set():
                        return
                    step = next(queue, None)
                if step is None:
                    return
                self.upgrade_node(step)

        count = min(slots, len(steps))
        threads = [threading.Thread(target=slot, daemon=True) for _ in range(count)]
        self.threads = threads
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except KeyboardInterrupt:  # start no other node; the running ones are waited for
            self.stop.set()
            raise

    def upgrade_node(self, step: Step) -> None:
        """Upgrade one node; a control plane is then checked here, before the next node
        may start, a worker by a thread of its own while its slot takes the next one."""
        with self.lock:
            self.started.add(step.name)

        def upgrade() -> None:
            self.emit(step.name, events.STARTING, step.wanted.image)
            self.client.upgrade(
                address_of(step), step.wanted.image, stage=self.options.stage,
                force=self.options.force, preserve=self.options.preserve, wait=True,
                timeout=self.options.timeout,
            )

        if not self.attempt(step, upgrade):
            return
        if step.is_controlplane:
            self.check_controlplane(step)
            return
        checker = threading.Thread(target=self.check_worker, args=(step,), daemon=True)
        with self.lock:
            self.checkers.append(checker)
        checker.start()

    def check_worker(self, step: Step) -> None:
        """Wait until an upgraded worker is running and ready; a failure stops the rollout
        (no new node starts) as any other."""
        if self.attempt(step, lambda: self.wait_until_back(step)):
            self.succeeded(step)
            self.emit(step.name, events.DONE)

    def check_controlplane(self, step: Step) -> None:
        """Wait until an upgraded control plane is running and ready, then until etcd and
        the cluster are healthy."""
        if not self.attempt(step, lambda: self.wait_until_back(step)):
            return
        # The node runs its new version: upgraded, whatever the check after it says.
        self.succeeded(step)
        self.emit(step.name, events.CHECKING_ETCD)
        try:
            self.client.health(
                address_of(step), control_planes=self.control_planes, workers=self.workers,
                timeout=self.options.timeout or HEALTH_TIMEOUT,
            )
        except TalosError as exc:
            message = events.failure_message(exc)
            with self.lock:
                self.check_failed[step.name] = message
                self.stop.set()
            self.emit(step.name, events.CHECK_FAILED, message)
            return
        self.emit(step.name, events.DONE)

    def attempt(self, step: Step, action: Callable[[], None]) -> bool:
        """Run one of ``step``'s actions; False when it failed, which is then recorded as
        the node's failure and stops the rollout. An unexpected error (a bug) stops the
        rollout too and is re-raised once it has ended."""
        try:
            action()
        except TalosError as exc:
            self.node_failed(step, events.failure_message(exc))
            return False
        except KeyboardInterrupt:
            self.stop.set()
            raise
        except BaseException as exc:
            self.node_failed(step, f"unexpected error: {exc!r}", bug=exc)
            return False
        return True

    def succeeded(self, step: Step) -> None:
        with self.lock:
            self.upgraded.add(step.name)
            self.finished.add(step.name)

    def node_failed(self, step: Step, message: str, *, bug: BaseException | None = None) -> None:
        """Record ``step`` as failed and stop the rollout (no new node starts); a ``bug`` is
        re-raised once the rollout has ended and is not reported as a node's event."""
        with self.lock:
            self.failed[step.name] = message
            self.finished.add(step.name)
            if bug is not None:
                self.bug = self.bug or bug
            self.stop.set()
        if bug is None:
            self.emit(step.name, events.FAILED, message)

    def wait_until_back(self, step: Step) -> None:
        self.emit(step.name, events.WAITING)
        self.wait_until_ready(address_of(step))

    def wait_until_ready(self, address: str) -> None:
        """Poll the machine status until it is ``running`` and ready (it may not answer
        while it reboots)."""
        interval = self.options.poll_interval
        polling = Polling(timeout=self.wait_seconds, first=interval,
                          most=max(interval, POLL_MOST), clock=self.clock, sleep=self.sleep)
        try:
            readiness.wait_until_ready(self.statuses, address, polling,
                                       explain=events.failure_message)
        except readiness.NotReady as exc:
            waited = events.format_seconds(self.wait_seconds)
            raise NotReady(address, self.wait_seconds, exc.last, message=(
                f"{address} is not running and ready after {waited} ({exc.last}); check it "
                "with talosctl dmesg, then run the upgrade again"
            )) from exc

    def emit(self, node: str, phase: str, detail: str = "") -> None:
        if self.progress is not None:
            self.progress(events.Event(node, phase, self.clock() - self.began, detail))

    def report(self) -> Report:
        report = Report(elapsed=self.clock() - self.began)
        for step in self.plan.steps:
            if step.action == CURRENT:
                report.current.append(step.name)
            elif step.action == UNREACHABLE:
                report.unreachable[step.name] = step.reason
            elif step.name in self.failed:
                report.failed[step.name] = self.failed[step.name]
            elif step.name in self.upgraded:
                report.upgraded.append(step.name)
                if step.name in self.check_failed:
                    report.check_failed[step.name] = self.check_failed[step.name]
            elif step.name in self.started:
                report.in_flight.append(step.name)
            else:
                report.not_touched.append(step.name)
        report.interrupted = self.interrupted
        return report


def address_of(step: Step) -> str:
    """The address of a node the plan upgrades (a node without one plans unreachable)."""
    address = step.wanted.address
    assert address is not None, f"{step.name} is to be upgraded but has no address"
    return address


def parse_duration(text: str) -> float:
    """Seconds in a positive Go duration such as ``30m``, ``1h30m`` or ``90s``: the text
    goes to talosctl's ``--timeout`` as given, so Go's rules decide what it is."""
    try:
        nanoseconds = go_duration(text)
    except ValueError:
        nanoseconds = 0
    if nanoseconds <= 0:
        raise UsageError(f"{text!r} is not a duration like 30m, 1h30m or 90s")
    return nanoseconds / 1e9
