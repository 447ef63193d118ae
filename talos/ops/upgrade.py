"""Rolling Talos upgrades: plan from wanted vs observed state, then roll out safely.

    wanted_state(cluster, nodes, addresses) -> [Wanted]          image, version, schematic per node
    observe(client, wanted)                 -> {name: Observed}  two talosctl calls for all nodes
    plan_upgrade(wanted, observed)          -> Plan              upgrade / current / unreachable
    health_expectations(wanted, observed)   -> (cps, workers)    what health checks expect
    rollout(plan, client, ...)              -> Report            upgraded / failed / not touched

Planning is pure. Observing and rolling out run nothing themselves: they call an injected
client with the methods of :class:`talos.adapters.talosctl.Talosctl` they need (:class:`Client`),
so tests drive them with fakes.

Safety of the rollout:

- control planes strictly one at a time; after each, wait until the node is back
  (machine status ``running`` and ready) and etcd is healthy (``talosctl health`` on the
  control planes) before the next;
- then workers, at most ``parallel`` upgrades at once: a new one starts as soon as a
  slot frees, while another thread waits for the upgraded worker to be ready (its
  check is off the critical path);
- the first failure stops the rollout: no new node starts, running ones finish;
- Ctrl-C or SIGTERM (:mod:`talos.adapters.interrupts`) stops it the same way: the nodes in flight
  are waited for until they answer again (a second Ctrl-C stops waiting) and named;
- a node that runs its wanted version counts as upgraded even when the etcd health check
  after it failed; that failure stops the rollout and names the node.

Nodes already at their wanted version and schematic plan as current, so running the
rollout again after a failure resumes where it stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from talos.core import readiness
from talos.core.readiness import MachineStatusLike, Polling
from talos.core.schematic import VANILLA_ID
from talos.core.units import parse_duration as go_duration
from talos.core.wording import short_id
from talos.errors import NotReady, TalosError, UsageError

if TYPE_CHECKING:
    from talos.adapters.talosctl import Answers
    from talos.core.cluster import Cluster, Node

UPGRADE = "upgrade"
CURRENT = "current"
UNREACHABLE = "unreachable"

DEFAULT_TIMEOUT = "30m"  # talosctl upgrade's own default
HEALTH_TIMEOUT = "5m"
POLL_INTERVAL = 2.0

# Phases reported to the progress callback, in the order a node goes through them.
STARTING = "upgrading"
WAITING = "waiting until running and ready"
CHECKING_ETCD = "checking etcd health"
DONE = "upgraded"
FAILED = "failed"
CHECK_FAILED = "upgraded, but the health check failed"
INTERRUPTED = "interrupted; waiting until it answers again (Ctrl-C again to stop waiting)"


# ---------------------------------------------------------------------------------------
# The client: the part of the talosctl adapter the rollout uses


class Client(Protocol):
    """What observing and rolling out need from :class:`talos.adapters.talosctl.Talosctl`."""

    def server_version(self, node: str) -> str: ...

    def installed_schematic(self, node: str) -> str | None: ...

    def server_versions(self, nodes: Sequence[str]) -> Answers[str]: ...

    def installed_schematics(self, nodes: Sequence[str]) -> Answers[str | None]: ...

    def upgrade(
        self, node: str, image: str, *, stage: bool = False, force: bool = False,
        preserve: bool = False, wait: bool = True, timeout: str | None = None,
    ) -> None: ...

    def machine_status(self, node: str) -> MachineStatusLike: ...

    def health(
        self, node: str, *, control_planes: Sequence[str], workers: Sequence[str],
        timeout: str = HEALTH_TIMEOUT,
    ) -> str: ...


# ---------------------------------------------------------------------------------------
# Planning (pure)


@dataclass(frozen=True)
class Wanted:
    """What a node should run, from the cluster file."""

    node: Node
    address: str | None  # None: not found among the cluster's members
    image: str
    talos_version: str
    schematic_id: str

    @property
    def name(self) -> str:
        return self.node.name


@dataclass(frozen=True)
class Observed:
    """What a node runs, as it answered; ``reachable`` False with the reason otherwise."""

    talos_version: str | None = None
    schematic_id: str | None = None
    reachable: bool = True
    error: str = ""


@dataclass(frozen=True)
class Step:
    """One node's entry in the plan: what to do and why."""

    wanted: Wanted
    observed: Observed
    action: str  # UPGRADE, CURRENT or UNREACHABLE
    reason: str

    @property
    def name(self) -> str:
        return self.wanted.node.name

    @property
    def is_controlplane(self) -> bool:
        return self.wanted.node.is_controlplane


@dataclass(frozen=True)
class Plan:
    """Every selected node, control planes first, each with its action."""

    steps: tuple[Step, ...]

    def with_action(self, action: str) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action == action)

    @property
    def upgrades(self) -> tuple[Step, ...]:
        return self.with_action(UPGRADE)

    @property
    def controlplane_upgrades(self) -> tuple[Step, ...]:
        return tuple(s for s in self.upgrades if s.is_controlplane)

    @property
    def worker_upgrades(self) -> tuple[Step, ...]:
        return tuple(s for s in self.upgrades if not s.is_controlplane)

    @property
    def current(self) -> tuple[Step, ...]:
        return self.with_action(CURRENT)

    @property
    def unreachable(self) -> tuple[Step, ...]:
        return self.with_action(UNREACHABLE)


def wanted_state(
    cluster: Cluster, nodes: Sequence[Node], addresses: Mapping[str, str]
) -> list[Wanted]:
    """Each node's installer image, Talos version and schematic ID, from the cluster file.

    ``addresses`` maps node names to the address to reach them at; a node missing from
    it could not be located and will plan as unreachable.
    """
    from talos.core.schematic import node_installer_image, node_schematic, schematic_id

    return [
        Wanted(
            node=node,
            address=addresses.get(node.name),
            image=node_installer_image(cluster, node),
            talos_version=cluster.talos_version_of(node),
            schematic_id=schematic_id(node_schematic(cluster, node)),
        )
        for node in nodes
    ]


def plan_upgrade(wanted: Sequence[Wanted], observed: Mapping[str, Observed]) -> Plan:
    """Compare what each node runs with what it should: upgrade, current or unreachable.

    Control planes come first (in the order given), then workers.
    """
    steps = [_step(w, observed.get(w.name)) for w in wanted]
    ordered = [s for s in steps if s.is_controlplane] + [s for s in steps if not s.is_controlplane]
    return Plan(tuple(ordered))


def _step(wanted: Wanted, seen: Observed | None) -> Step:
    if seen is None:
        reason = "not found among the cluster's members" if wanted.address is None else (
            "not asked")
        return Step(wanted, Observed(reachable=False, error=reason), UNREACHABLE, reason)
    if not seen.reachable:
        return Step(wanted, seen, UNREACHABLE, seen.error or "did not answer")
    # A stock installer image carries no schematic entry: it is the vanilla schematic.
    running_schematic = seen.schematic_id or VANILLA_ID
    differences = []
    if seen.talos_version != wanted.talos_version:
        differences.append(f"Talos {seen.talos_version or '?'} -> {wanted.talos_version}")
    if running_schematic != wanted.schematic_id:
        differences.append(
            f"schematic {short_id(running_schematic)} -> {short_id(wanted.schematic_id)}"
        )
    if not differences:
        return Step(wanted, seen, CURRENT, f"runs {wanted.talos_version} with its schematic")
    return Step(wanted, seen, UPGRADE, "; ".join(differences))


def health_expectations(
    wanted: Sequence[Wanted], observed: Mapping[str, Observed]
) -> tuple[list[str], list[str]]:
    """The addresses the health check after a control plane expects, from every node of
    the cluster: all control planes that could be located (etcd must be healthy on each,
    so one that is down stops the rollout) and the workers that answered (Kubernetes
    must report exactly the nodes listed)."""
    control_planes = [w.address for w in wanted if w.address and w.node.is_controlplane]
    workers = [
        w.address for w in wanted
        if w.address and not w.node.is_controlplane
        and (seen := observed.get(w.name)) is not None and seen.reachable
    ]
    return control_planes, workers


# ---------------------------------------------------------------------------------------
# Observing


def observe(client: Client, wanted: Sequence[Wanted]) -> dict[str, Observed]:
    """Ask every located node what it runs (:func:`talos.adapters.talosctl.running`: two
    talosctl calls for all of them, not two per node). A node that fails to answer is
    unreachable with talosctl's message for it; a missing talosctl is raised."""
    from talos.adapters.talosctl import running as ask_running

    located = [w for w in wanted if w.address is not None]
    running = ask_running(client, [w.address for w in located if w.address is not None])
    seen: dict[str, Observed] = {}
    for item in located:
        assert item.address is not None
        facts = running[item.address]
        if facts.version is None or not facts.extensions_answered:
            seen[item.name] = Observed(reachable=False,
                                       error=" ".join((facts.problem or "").split()))
        else:
            seen[item.name] = Observed(talos_version=facts.version,
                                       schematic_id=facts.schematic)
    return seen


# ---------------------------------------------------------------------------------------
# Rolling out


@dataclass(frozen=True)
class Event:
    """Progress: ``node`` entered ``phase``, ``elapsed`` seconds after the rollout began."""

    node: str
    phase: str
    elapsed: float
    detail: str = ""


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
        from talos.adapters.interrupts import signal_name

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


Progress = Callable[[Event], None]


def rollout(
    plan: Plan,
    client: Client,
    *,
    control_planes: Sequence[str],
    workers: Sequence[str] = (),
    options: RolloutOptions | None = None,
    progress: Progress | None = None,
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
        workers: Sequence[str], options: RolloutOptions, progress: Progress | None,
        clock: Callable[[], float], sleep: Callable[[float], None],
    ) -> None:
        self.plan = plan
        self.client = client
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
        left mid-upgrade answers again, then see what it runs. A second interruption
        stops the waiting."""
        try:
            for step in self.in_flight():
                self.emit(step.name, INTERRUPTED)
            for thread in [*self.threads, *self.checkers]:
                thread.join()
            for step in self.in_flight():
                address = step.wanted.address
                assert address is not None
                try:
                    self.wait_until_ready(address)
                    running = self.client.server_version(address)
                    schematic = self.client.installed_schematic(address) or VANILLA_ID
                except TalosError:
                    continue
                if running == step.wanted.talos_version and schematic == step.wanted.schematic_id:
                    with self.lock:
                        self.upgraded.add(step.name)
                        self.finished.add(step.name)
                    self.emit(step.name, DONE)
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
        address = step.wanted.address
        assert address is not None
        with self.lock:
            self.started.add(step.name)
        timeout = self.options.timeout
        try:
            self.emit(step.name, STARTING, step.wanted.image)
            self.client.upgrade(
                address, step.wanted.image, stage=self.options.stage, force=self.options.force,
                preserve=self.options.preserve, wait=True, timeout=timeout,
            )
            if not step.is_controlplane:
                # A worker's check is off the critical path: its slot takes the next node
                # while another thread waits for this one to be ready.
                checker = threading.Thread(target=self.check_worker, args=(step,),
                                           daemon=True)
                with self.lock:
                    self.checkers.append(checker)
                checker.start()
                return
            self.emit(step.name, WAITING)
            self.wait_until_ready(address)
        except TalosError as exc:
            self.node_failed(step, failure_message(exc))
            return
        except KeyboardInterrupt:
            self.stop.set()
            raise
        except BaseException as exc:  # a bug: stop the rollout, re-raise once it has ended
            self.node_failed(step, f"unexpected error: {exc!r}", bug=exc)
            return
        # The node runs its new version: upgraded, whatever the check after it says.
        with self.lock:
            self.upgraded.add(step.name)
            self.finished.add(step.name)
        if step.is_controlplane:
            self.emit(step.name, CHECKING_ETCD)
            try:
                self.client.health(
                    address, control_planes=self.control_planes, workers=self.workers,
                    timeout=timeout or HEALTH_TIMEOUT,
                )
            except TalosError as exc:
                message = failure_message(exc)
                with self.lock:
                    self.check_failed[step.name] = message
                    self.stop.set()
                self.emit(step.name, CHECK_FAILED, message)
                return
        self.emit(step.name, DONE)

    def check_worker(self, step: Step) -> None:
        """Wait until an upgraded worker is running and ready; a failure stops the rollout
        (no new node starts) as any other."""
        address = step.wanted.address
        assert address is not None
        self.emit(step.name, WAITING)
        try:
            self.wait_until_ready(address)
        except TalosError as exc:
            self.node_failed(step, failure_message(exc))
            return
        except BaseException as exc:  # a bug: stop the rollout, re-raise once it has ended
            self.node_failed(step, f"unexpected error: {exc!r}", bug=exc)
            return
        with self.lock:
            self.upgraded.add(step.name)
            self.finished.add(step.name)
        self.emit(step.name, DONE)

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
            self.emit(step.name, FAILED, message)

    def wait_until_ready(self, address: str) -> None:
        """Poll the machine status until it is ``running`` and ready (it may not answer
        while it reboots)."""
        interval = self.options.poll_interval
        polling = Polling(timeout=self.wait_seconds, first=interval, most=interval,
                          clock=self.clock, sleep=self.sleep)
        try:
            readiness.wait_until_ready(self.client, address, polling, explain=failure_message)
        except readiness.NotReady as exc:
            raise NotReady(address, self.wait_seconds, exc.last, message=(
                f"{address} is not running and ready after {format_seconds(self.wait_seconds)}"
                f" ({exc.last}); check it with talosctl dmesg, then run the upgrade again"
            )) from exc

    def emit(self, node: str, phase: str, detail: str = "") -> None:
        if self.progress is not None:
            self.progress(Event(node, phase, self.clock() - self.began, detail))

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


# ---------------------------------------------------------------------------------------
# Small pure helpers


def failure_message(exc: TalosError) -> str:
    """The error on one line. The talosctl adapter's messages already carry talosctl's
    own words (tidied); its raw stderr stays on the exception."""
    return " ".join(str(exc).split())


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


def format_seconds(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: elapsed time for a person."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
